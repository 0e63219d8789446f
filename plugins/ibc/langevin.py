"""Langevin MCMC over actions, for sampling an energy model `p(a) ∝ exp(-E(a))`.

Each of `num_steps` steps (k = 0, 1, ...) moves every sample by

    delta = -(eps_k / 2) dE/da + noise_k * xi,     xi ~ N(0, I)
    a <- clip(a + clip(delta, -step_clip, step_clip), low, high)

with the noise of one of two kinds:

* `anneal=False`: `noise_k = noise_scale * sqrt(eps_k)`. With `noise_scale` = 1, no clipping and a small
  constant step this is the unadjusted Langevin algorithm, whose stationary density is `exp(-E)`
  (`noise_scale` s samples `exp(-E / s^2)`).
* `anneal=True` (the paper's chains, the default): `noise_k = noise_scale * eps_k`, i.e. the same chain at
  a temperature `eps_k` that falls with the step size, so the samples settle into the energy's modes.

The step size decays polynomially, `eps_k = (start - end) (1 - k / (num_steps - 1))^power + end`.
The paper's particle setting: 50 steps, 0.1 -> 1e-5 with power 2, step clip 0.1 (in the normalised
[-1, 1] action box), noise 1.0. Fixed step count; one `lax.scan`.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from simlab.agents.config_validation import AT_LEAST_ONE, NONNEGATIVE, POSITIVE, validate_config


@dataclasses.dataclass(frozen=True)
class LangevinConfig:
    """num_steps: chain length; step_start/step_end/power: the step-size schedule; step_clip: the largest
    move per element and step (None: no clip); noise_scale and anneal: the noise (module docstring)."""

    num_steps: int = 50
    step_start: float = 0.1
    step_end: float = 1e-5
    power: float = 2.0
    step_clip: float | None = 0.1
    noise_scale: float = 1.0
    anneal: bool = True

    def __post_init__(self):
        validate_config(self, {"num_steps": AT_LEAST_ONE, "step_start": POSITIVE, "step_end": POSITIVE,
                               "power": NONNEGATIVE, "step_clip": POSITIVE, "noise_scale": NONNEGATIVE})


def step_sizes(config: LangevinConfig) -> np.ndarray:
    """`[num_steps]` float32: the polynomially decaying step sizes, from `step_start` to `step_end`."""
    fraction = np.arange(config.num_steps) / max(config.num_steps - 1, 1)
    return ((config.step_start - config.step_end) * (1.0 - fraction) ** config.power
            + config.step_end).astype(np.float32)


def langevin_chain(energy_fn: Callable[[jax.Array], jax.Array], key: jax.Array, samples: jax.Array,
                   low: jax.Array | float, high: jax.Array | float, config: LangevinConfig) -> jax.Array:
    """Runs the chain from `samples [K, A]` and returns the final samples `[K, A]`, inside `[low, high]`.

    `energy_fn(samples [K, A]) -> energies [K]` must treat samples independently (its gradient is taken
    of the sum). Unbatched: vmap it over observations.
    """
    energy_grad = jax.grad(lambda a: jnp.sum(energy_fn(a)))
    clip = np.inf if config.step_clip is None else config.step_clip

    def step(a, inputs):
        eps, step_key = inputs
        noise = jax.random.normal(step_key, a.shape, a.dtype) * (eps if config.anneal else jnp.sqrt(eps))
        delta = -0.5 * eps * energy_grad(a) + config.noise_scale * noise
        return jnp.clip(a + jnp.clip(delta, -clip, clip), low, high), None

    keys = jax.random.split(key, config.num_steps)
    samples, _ = jax.lax.scan(step, samples, (jnp.asarray(step_sizes(config)), keys))
    return samples


def langevin_samples(energy_fn: Callable[[jax.Array], jax.Array], key: jax.Array, low: jax.Array,
                     high: jax.Array, num_samples: int, config: LangevinConfig) -> tuple[jax.Array, jax.Array]:
    """`num_samples` chains from U[low, high]^A (`low`, `high`: [A]); their final `(samples [K, A], energies [K])`."""
    low, high = jnp.asarray(low, jnp.float32), jnp.asarray(high, jnp.float32)
    init_key, chain_key = jax.random.split(key)
    samples = jax.random.uniform(init_key, (num_samples, low.shape[-1]), jnp.float32, low, high)
    samples = langevin_chain(energy_fn, chain_key, samples, low, high, config)
    return samples, energy_fn(samples)


def langevin_argmin(energy_fn: Callable[[jax.Array], jax.Array], key: jax.Array, low: jax.Array,
                    high: jax.Array, num_samples: int, config: LangevinConfig) -> tuple[jax.Array, jax.Array]:
    """`langevin_samples`' final sample of lowest energy, `(action [A], energy [])`."""
    samples, energies = langevin_samples(energy_fn, key, low, high, num_samples, config)
    best = jnp.argmin(energies)
    return samples[best], energies[best]
