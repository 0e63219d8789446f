"""IBC's loss and action optimisers against hand-computed values: InfoNCE and the gradient penalty, the
derivative-free optimizer on a quadratic energy, and the Langevin sampler's stationary distribution."""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from simlab.plugins.ibc.dfo import DFOConfig, dfo_argmin
from simlab.plugins.ibc.ebm import gradient_penalty, info_nce_loss
from simlab.plugins.ibc.langevin import LangevinConfig, langevin_argmin, langevin_chain, step_sizes


def test_info_nce_matches_a_hand_computed_example():
    # positive energy 1, counter-examples 2 and 3: -log(e^-1 / (e^-1 + e^-2 + e^-3)) = log(1 + e^-1 + e^-2)
    energies = jnp.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    expected = [math.log(1 + math.exp(-1) + math.exp(-2)), math.log(3.0)]
    np.testing.assert_allclose(jax.jit(info_nce_loss)(energies), expected, rtol=1e-6)
    assert expected[0] == pytest.approx(0.4076059644, abs=1e-9)
    # a positive far below its counter-examples costs almost nothing; far above, about the energy gap
    assert float(info_nce_loss(jnp.array([0.0, 30.0]))) == pytest.approx(0.0, abs=1e-9)
    assert float(info_nce_loss(jnp.array([30.0, 0.0]))) == pytest.approx(30.0, abs=1e-6)


def test_gradient_penalty_is_the_squared_excess_of_the_max_norm_over_the_margin():
    grads = jnp.array([[0.5, -2.0], [0.1, 0.2]])  # max-norms 2.0 and 0.2; margin 1 -> (1.0^2 + 0) / 2
    assert float(gradient_penalty(grads, 1.0)) == pytest.approx(0.5)
    assert float(gradient_penalty(grads, 3.0)) == 0.0


def test_dfo_recovers_the_argmin_of_a_quadratic_energy():
    target = jnp.array([0.3, -0.6, 0.85])
    energy = lambda a: 50.0 * jnp.sum((a - target) ** 2, axis=-1)
    low, high = -jnp.ones(3), jnp.ones(3)
    run = jax.jit(lambda key: dfo_argmin(energy, key, low, high, DFOConfig()))
    for seed in range(3):
        best, best_energy = run(jax.random.key(seed))
        assert float(jnp.linalg.norm(best - target)) < 0.02
        assert float(best_energy) == pytest.approx(float(energy(best[None])[0]))


def test_dfo_shrinks_towards_the_optimum_each_round():
    """With no resampling rounds the answer is the best uniform draw; rounds of resampling refine it."""
    target = jnp.array([0.45, -0.2])
    energy = lambda a: 20.0 * jnp.sum((a - target) ** 2, axis=-1)
    low, high = -jnp.ones(2), jnp.ones(2)
    errors = []
    for iterations in (0, 3):
        config = DFOConfig(num_samples=256, iterations=iterations)
        keys = jax.random.split(jax.random.key(0), 64)
        best = jax.jit(jax.vmap(lambda k: dfo_argmin(energy, k, low, high, config)[0]))(keys)
        errors.append(float(jnp.mean(jnp.linalg.norm(best - target, axis=-1))))
    assert errors[1] < 0.5 * errors[0]


def test_langevin_samples_a_1d_gaussian_energy():
    """exp(-E) for E = (a - mu)^2 / (2 sigma^2) is N(mu, sigma^2): the chains' mean and variance within 5 %."""
    mu, sigma = 0.3, 0.5
    energy = lambda a: ((a[:, 0] - mu) ** 2) / (2 * sigma**2)
    config = LangevinConfig(num_steps=600, step_start=0.01, step_end=0.01, power=0.0, step_clip=None,
                            noise_scale=1.0, anneal=False)
    init_key, chain_key = jax.random.split(jax.random.key(0))
    start = jax.random.uniform(init_key, (20000, 1), jnp.float32, -1.0, 1.0)
    samples = jax.jit(lambda k, a: langevin_chain(energy, k, a, -10.0, 10.0, config))(chain_key, start)[:, 0]
    assert float(jnp.mean(samples)) == pytest.approx(mu, rel=0.05)
    assert float(jnp.var(samples)) == pytest.approx(sigma**2, rel=0.05)


def test_langevin_step_sizes_decay_polynomially_and_the_argmin_finds_the_mode():
    sizes = step_sizes(LangevinConfig(num_steps=5, step_start=0.1, step_end=1e-5, power=2.0))
    np.testing.assert_allclose(sizes, [0.1, (0.1 - 1e-5) * 0.5625 + 1e-5, (0.1 - 1e-5) * 0.25 + 1e-5,
                                       (0.1 - 1e-5) * 0.0625 + 1e-5, 1e-5], rtol=1e-5)
    target = jnp.array([-0.4, 0.7])
    energy = lambda a: 10.0 * jnp.sum((a - target) ** 2, axis=-1)
    best, _ = jax.jit(lambda k: langevin_argmin(energy, k, -jnp.ones(2), jnp.ones(2), 16, LangevinConfig()))(
        jax.random.key(1))
    assert float(jnp.linalg.norm(best - target)) < 0.02
