"""The CEM planner finds the optimum of known scores."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from simlab import engine
from simlab.agents.hpp import cem_plan, init_belief


def test_cem_finds_the_minimum_of_a_quadratic():
    target = jnp.array([1.5, -2.0])
    weights = jnp.array([1.0, 4.0])
    score = lambda g: jnp.sum(weights * (g - target) ** 2, axis=-1)
    belief = init_belief(jnp.zeros(2), jnp.full(2, 3.0))
    plan = jax.jit(lambda b, k: cem_plan(score, b, k, num_samples=128, num_elites=12, iterations=10))
    belief, best = plan(belief, jax.random.key(0))
    np.testing.assert_allclose(best, target, atol=0.05)
    np.testing.assert_allclose(belief.mean, target, atol=0.05)
    assert bool(jnp.all(belief.std < 0.2))  # the belief concentrates


def test_cem_respects_bounds_vmaps_and_is_branch_free():
    score = lambda g: jnp.sum((g - 10.0) ** 2, axis=-1)  # optimum outside the box
    beliefs = init_belief(jnp.zeros((5, 2)), jnp.ones((5, 2)))
    plan = jax.vmap(lambda b, k: cem_plan(score, b, k, iterations=6, low=-1.0, high=1.0))
    _, best = plan(beliefs, jax.random.split(jax.random.key(1), 5))
    np.testing.assert_allclose(best, np.ones((5, 2)), atol=0.05)
    engine.branchfree.assert_branch_free(lambda b, k: cem_plan(score, b, k), init_belief(jnp.zeros(2), jnp.ones(2)),
                                         jax.random.key(0))
    with pytest.raises(ValueError, match="num_elites"):
        cem_plan(score, init_belief(jnp.zeros(2), jnp.ones(2)), jax.random.key(0), num_samples=4, num_elites=8)
