"""Running observation normalization (Welford / Chan parallel update), as a pure pytree."""
from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

from simlab.engine.struct import pytree_dataclass


@pytree_dataclass
class RunningStats:
    """Mean and sum of squared deviations of everything seen so far.

    `mean`, `m2`: `[obs_size]`; `count`: scalar float32 (number of samples).
    """

    mean: jax.Array
    m2: jax.Array
    count: jax.Array

    @property
    def var(self) -> jax.Array:
        return self.m2 / jnp.maximum(self.count, 1.0)

    @property
    def std(self) -> jax.Array:
        return jnp.sqrt(self.var)


def init_stats(obs_size: int) -> RunningStats:
    return RunningStats(jnp.zeros(obs_size), jnp.zeros(obs_size), jnp.zeros(()))


def update_stats(stats: RunningStats, batch: jax.Array) -> RunningStats:
    """Merges `batch: [..., obs_size]` into `stats` (order-independent up to rounding)."""
    chex.assert_axis_dimension(batch, -1, stats.mean.shape[0],
                               custom_message="update_stats: batch [..., obs_size] must match the statistics")
    batch = batch.reshape(-1, batch.shape[-1]).astype(jnp.float32)
    n = jnp.float32(batch.shape[0])
    batch_mean = batch.mean(axis=0)
    batch_m2 = jnp.sum((batch - batch_mean) ** 2, axis=0)
    total = stats.count + n
    delta = batch_mean - stats.mean
    mean = stats.mean + delta * n / total
    m2 = stats.m2 + batch_m2 + delta**2 * stats.count * n / total
    return RunningStats(mean, m2, total)


def normalize(stats: RunningStats, obs: jax.Array, clip: float = 10.0, eps: float = 1e-8) -> jax.Array:
    """`(obs - mean) / std` for `obs: [..., obs_size]`, clipped to `[-clip, clip]`; identity before any data."""
    chex.assert_axis_dimension(obs, -1, stats.mean.shape[0],
                               custom_message="normalize: obs [..., obs_size] must match the statistics")
    seen = stats.count > 0
    z = (obs - stats.mean) / jnp.sqrt(stats.var + eps)
    return jnp.clip(jnp.where(seen, z, obs), -clip, clip)
