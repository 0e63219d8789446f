"""The derivative-free optimizer of implicit BC: iterative resampling by the softmax of energies, with
Gaussian noise that shrinks every round.

    samples ~ U[low, high]^A                                   (num_samples of them)
    repeat `iterations` times (k = 0, 1, ...):
        p = softmax(-E(samples) / temperature)
        samples <- clip(resample(samples, p) + N(0, (noise_std * noise_shrink^k * (high - low) / 2)^2), low, high)
    return argmin E(samples)          (`dfo_argmin`; the EBM policy may instead sample by softmax(-E))

The paper's settings: 16,384 samples, 3 iterations, noise std 0.33 (of the half-range, i.e. of the
normalised [-1, 1] box) halved every iteration. Fixed iteration count, no data-dependent branches.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp

from simlab.agents.config_validation import AT_LEAST_ONE, NONNEGATIVE, POSITIVE, validate_config


@dataclasses.dataclass(frozen=True)
class DFOConfig:
    """num_samples: candidate actions; iterations: resample-and-perturb rounds; noise_std: first round's
    noise, as a fraction of the half-range; noise_shrink: factor per round; temperature: of the softmax."""

    num_samples: int = 16384
    iterations: int = 3
    noise_std: float = 0.33
    noise_shrink: float = 0.5
    temperature: float = 1.0

    def __post_init__(self):
        validate_config(self, {"num_samples": AT_LEAST_ONE, "iterations": NONNEGATIVE, "noise_std": NONNEGATIVE,
                               "noise_shrink": NONNEGATIVE, "temperature": POSITIVE})


def resample(key: jax.Array, logits: jax.Array, num: int) -> jax.Array:
    """`[num]` int32 indices drawn from `softmax(logits [K])` by inverting the CDF (binary search): one uniform
    per draw, so K = 16,384 candidates never make a [K, K] array of Gumbel noise."""
    cdf = jnp.cumsum(jax.nn.softmax(logits))
    u = jax.random.uniform(key, (num,), cdf.dtype) * cdf[-1]
    return jnp.minimum(jnp.searchsorted(cdf, u, side="right"), logits.shape[0] - 1).astype(jnp.int32)


def dfo_samples(energy_fn: Callable[[jax.Array], jax.Array], key: jax.Array, low: jax.Array, high: jax.Array,
                config: DFOConfig) -> tuple[jax.Array, jax.Array]:
    """The optimizer's final population `(samples [K, A], energies [K])` in the box `[low, high]` (each `[A]`).

    `energy_fn(samples [K, A]) -> energies [K]`, pure. Unbatched: vmap it over observations.
    """
    low, high = jnp.asarray(low, jnp.float32), jnp.asarray(high, jnp.float32)
    init_key, key = jax.random.split(key)
    samples = jax.random.uniform(init_key, (config.num_samples, low.shape[-1]), jnp.float32, low, high)
    std = config.noise_std * 0.5 * (high - low)
    for k in range(config.iterations):  # a fixed count, unrolled at trace time
        pick_key, noise_key, key = jax.random.split(key, 3)
        index = resample(pick_key, -energy_fn(samples) / config.temperature, config.num_samples)
        noise = jax.random.normal(noise_key, samples.shape) * std * config.noise_shrink ** k
        samples = jnp.clip(samples[index] + noise, low, high)
    return samples, energy_fn(samples)


def dfo_argmin(energy_fn: Callable[[jax.Array], jax.Array], key: jax.Array, low: jax.Array, high: jax.Array,
               config: DFOConfig) -> tuple[jax.Array, jax.Array]:
    """Approximately minimises `energy_fn` over `[low, high]`: `(the final sample of lowest energy [A], energy [])`."""
    samples, energies = dfo_samples(energy_fn, key, low, high, config)
    best = jnp.argmin(energies)
    return samples[best], energies[best]
