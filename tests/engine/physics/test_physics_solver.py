"""The tree-sparse LDLᵀ solve against dense Cholesky, and the choice between them."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from physics_models import brax_asset

from simlab.engine import physics
from simlab.engine.physics import integrator, model as M, pipeline

TWO_BOXES = """
<mujoco>
  <worldbody>
    <geom name="floor" type="plane" size="5 5 0.1"/>
    <body name="a" pos="0 0 0.2"><freejoint/><geom type="sphere" size="0.1"/></body>
    <body name="b" pos="0 0 0.5"><freejoint/><geom type="sphere" size="0.1"/></body>
  </worldbody>
</mujoco>"""


def _tree_sparse_spd(tree: M.Tree, key) -> jnp.ndarray:
    """A random SPD matrix with the dof tree's sparsity: Σ over bodies of Jᵀ B J (B random SPD)."""
    nv = tree.nv
    pattern = M.tree_arrays(tree)["dof_anc"]
    pattern = pattern | pattern.T
    a = jax.random.normal(key, (nv, nv))
    dense = a @ a.T + nv * jnp.eye(nv)
    # Keep the ancestor pattern and make it diagonally dominant, hence SPD.
    sparse = jnp.where(pattern, dense, 0.0)
    return sparse + jnp.eye(nv) * jnp.abs(sparse).sum(axis=1)


@pytest.mark.parametrize("name", ["ant", "humanoid", "half_cheetah", "inverted_double_pendulum"])
def test_tree_solve_matches_dense_cholesky(name):
    sys_ = physics.load_mjcf(brax_asset(name))
    dense_solve = jax.jit(integrator.solve_spd)
    tree_solve = jax.jit(lambda m, r: integrator.solve_tree(m, r, sys_.tree))  # one compile, not op-by-op
    for seed in range(3):
        k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
        matrix = _tree_sparse_spd(sys_.tree, k1)
        rhs = jax.random.normal(k2, (sys_.nv,))
        dense = dense_solve(matrix, rhs)
        tree = tree_solve(matrix, rhs)
        np.testing.assert_allclose(tree, dense, rtol=2e-4, atol=2e-5)
        np.testing.assert_allclose(matrix @ tree, rhs, rtol=1e-3, atol=1e-4)


def test_elimination_plan_groups_leaves_of_the_ant():
    sys_ = physics.load_mjcf(brax_asset("ant"))
    steps, rest = integrator.leaf_elimination_plan(sys_.tree)
    # 4 knees, then 4 hips, then the free joint's 6 dofs one at a time.
    assert [len(group) for group, _ in steps] == [4, 4, 1, 1, 1, 1, 1]
    assert list(rest) == [0]


def test_dense_solve_only_for_contacts_between_moving_bodies():
    assert not pipeline.uses_dense_solve(physics.load_mjcf(brax_asset("ant")))
    two = physics.load_mjcf(TWO_BOXES)
    assert pipeline.uses_dense_solve(two)
    # The dense path still steps correctly: the upper sphere falls onto the lower one and comes to rest on it.
    q = two.qpos0
    state = physics.init(two, q, jnp.zeros(two.nv))
    step = jax.jit(lambda s: physics.step(two, s, jnp.zeros(0)))
    for _ in range(1500):
        state = step(state)
    z_low, z_high = float(state.q[2]), float(state.q[9])
    assert abs(z_low - 0.1) < 5e-3 and abs(z_high - 0.3) < 1e-2, (z_low, z_high)
