"""Observation and action normalisation, fitted to the demonstrations and saved with every model.

Observations: `(o - mean) / std` per element (std floored at `MIN_STD`, for elements that never vary).
Actions: mapped affinely onto [-1, 1] from the demonstrations' per-element range widened by
`margin` (5 %, as in the paper) of that range on each side, so the demonstrated actions lie in about
[-0.91, 0.91] and the EBM's uniform counter-examples and samplers cover the box [-1, 1]^A.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from simlab.engine.struct import pytree_dataclass

MIN_STD = 1e-3
MIN_RANGE = 1e-3
BOUNDARY_MARGIN = 0.05


@pytree_dataclass
class Normalizer:
    """obs_mean, obs_std: [O]; action_low, action_high: [A], the widened action bounds (env units)."""

    obs_mean: jax.Array
    obs_std: jax.Array
    action_low: jax.Array
    action_high: jax.Array

    def obs(self, obs: jax.Array) -> jax.Array:
        """`[..., O]` env units -> normalised."""
        return (obs - self.obs_mean) / self.obs_std

    def action_to_unit(self, action: jax.Array) -> jax.Array:
        """`[..., A]` env units -> [-1, 1] box coordinates."""
        return 2.0 * (action - self.action_low) / (self.action_high - self.action_low) - 1.0

    def action_from_unit(self, unit: jax.Array) -> jax.Array:
        """`[..., A]` [-1, 1] box coordinates -> env units."""
        return self.action_low + 0.5 * (unit + 1.0) * (self.action_high - self.action_low)


def fit_normalizer(obs: np.ndarray, actions: np.ndarray, margin: float = BOUNDARY_MARGIN) -> Normalizer:
    """The normaliser of demonstrations `obs [M, O]`, `actions [M, A]` (host arrays)."""
    obs, actions = np.asarray(obs, np.float64), np.asarray(actions, np.float64)
    if obs.ndim != 2 or actions.ndim != 2 or len(obs) != len(actions) or len(obs) == 0:
        raise ValueError(f"fit_normalizer needs obs [M, O] and actions [M, A] with M > 0, got {obs.shape}, "
                         f"{actions.shape}")
    low, high = actions.min(axis=0), actions.max(axis=0)
    span = np.maximum(high - low, MIN_RANGE)
    centre = 0.5 * (low + high)
    half = 0.5 * span * (1.0 + 2.0 * margin)
    return Normalizer(jnp.asarray(obs.mean(axis=0), jnp.float32),
                      jnp.asarray(np.maximum(obs.std(axis=0), MIN_STD), jnp.float32),
                      jnp.asarray(centre - half, jnp.float32), jnp.asarray(centre + half, jnp.float32))
