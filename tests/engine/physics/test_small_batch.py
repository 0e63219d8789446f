"""The small-batch code path (unbatched calls and vmapped batches below `MATERIALIZE_MIN_BATCH`) equals the
large-batch path: `math.static_matmuls` merges its products there, and the Ant step must not change."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from physics_models import brax_asset

from simlab.engine import physics
from simlab.engine.physics import math as pm

BIG = pm.MATERIALIZE_MIN_BATCH


def _operands(key, batch=()):
    k1, k2, k3 = jax.random.split(key, 3)
    return (jax.random.normal(k1, batch + (5,)), jax.random.normal(k2, batch + (5, 3)),
            jax.random.normal(k3, batch + (5, 3, 3)))


def test_static_matmuls_paths_agree():
    mat = np.triu(np.ones((5, 5), np.float32)) + np.diag(np.arange(5, dtype=np.float32))
    xs = _operands(jax.random.PRNGKey(0))
    want = [np.tensordot(mat, np.asarray(x), axes=1) for x in xs]
    for got in (pm.static_matmuls(mat, *xs), jax.jit(lambda *a: pm.static_matmuls(mat, *a))(*xs)):
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)
    for batch in (1, 3, BIG):  # merged (small) and separate (large) products under vmap
        bx = _operands(jax.random.PRNGKey(1), (batch,))
        got = jax.vmap(lambda *a: pm.static_matmuls(mat, *a))(*bx)
        for g, x in zip(got, bx):
            np.testing.assert_allclose(g, np.einsum("ij,bj...->bi...", mat, np.asarray(x)), rtol=1e-5, atol=1e-5)
    # an unbatched operand next to batched ones (e.g. the body masses beside batched poses)
    bx = _operands(jax.random.PRNGKey(2), (2,))
    got = jax.vmap(lambda b, c: pm.static_matmuls(mat, xs[0], b, c))(bx[1], bx[2])
    np.testing.assert_allclose(got[0], np.broadcast_to(want[0], (2, 5)), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got[1], np.einsum("ij,bjk->bik", mat, np.asarray(bx[1])), rtol=1e-5, atol=1e-5)


def test_static_matmuls_gradients():
    mat = np.tril(np.ones((4, 4), np.float32))
    xs = _operands(jax.random.PRNGKey(3))[1:]
    xs = tuple(x[:4] for x in xs)

    def loss(a, b):
        p, q = pm.static_matmuls(mat, a, b)
        return jnp.sum(jnp.sin(p)) + jnp.sum(q ** 2)

    def ref(a, b):
        return jnp.sum(jnp.sin(jnp.tensordot(mat, a, axes=1))) + jnp.sum(jnp.tensordot(mat, b, axes=1) ** 2)

    for g, w in zip(jax.grad(loss, argnums=(0, 1))(*xs), jax.grad(ref, argnums=(0, 1))(*xs)):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)
    batched = jax.vmap(jax.grad(loss, argnums=(0, 1)))(*(jnp.stack([x, 2 * x]) for x in xs))
    np.testing.assert_allclose(batched[0][0], jax.grad(ref)(*xs), rtol=1e-5, atol=1e-5)


def test_ant_step_small_batch_equals_large_batch():
    sys = physics.load_mjcf(brax_asset("ant"), substeps=1)
    q0 = sys.qpos0.at[7:].set(jnp.array([0.0, 1.0, 0.0, -1.0, 0.0, -1.0, 0.0, 1.0])).at[2].add(-0.16)
    states = jax.vmap(lambda k: physics.init(sys, q0, 0.3 * jax.random.normal(k, (sys.nv,))))(
        jax.random.split(jax.random.PRNGKey(0), BIG))
    ctrl = jax.random.uniform(jax.random.PRNGKey(1), (3, BIG, sys.nu), minval=-1.0, maxval=1.0)

    def rollout(step, state, ctrl):
        def body(s, u):
            s = step(s, u)
            return s, s.qd
        return jax.lax.scan(body, state, ctrl)[1]

    step = lambda s, u: physics.step(sys, s, u)
    large = jax.jit(lambda s, u: rollout(jax.vmap(step), s, u))(states, ctrl)        # [3, BIG, nv]
    first = jax.tree.map(lambda x: x[0], states)
    unbatched = jax.jit(lambda s, u: rollout(step, s, u))(first, ctrl[:, 0])        # [3, nv]
    one = jax.jit(lambda s, u: rollout(jax.vmap(step), s, u))(jax.tree.map(lambda x: x[:1], states), ctrl[:, :1])
    assert bool(jnp.any(states.contact.dist < 0.05))  # some feet near the floor: the contact terms are exercised
    np.testing.assert_allclose(unbatched, large[:, 0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(one[:, 0], large[:, 0], rtol=1e-5, atol=1e-5)
