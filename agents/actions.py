"""Mapping between policy units ([-1, 1] per dimension) and an environment's action bounds."""
from __future__ import annotations

import dataclasses

import chex
import jax
import jax.numpy as jnp
import numpy as np

from simlab.engine.specs import BoxSpec


@dataclasses.dataclass(frozen=True)
class ActionScaler:
    """Affine map `env = center + half_range * policy` (identity for unbounded dimensions)."""

    center: np.ndarray
    half_range: np.ndarray

    @classmethod
    def for_spec(cls, spec) -> "ActionScaler":
        if not isinstance(spec, BoxSpec):
            raise TypeError(f"continuous-control agents need a Box action spec, got {type(spec).__name__}")
        finite = np.isfinite(spec.low) & np.isfinite(spec.high)
        center = np.where(finite, (spec.low + spec.high) / 2.0, 0.0).astype(np.float32)
        half = np.where(finite, (spec.high - spec.low) / 2.0, 1.0).astype(np.float32)
        return cls(center, half)

    def to_env(self, policy_action: jax.Array) -> jax.Array:
        """`[..., A]` in policy units -> `[..., A]` in the environment's bounds."""
        chex.assert_axis_dimension(policy_action, -1, self.center.shape[-1],
                                   custom_message="ActionScaler.to_env: actions [..., A] must match the action spec")
        return jnp.asarray(self.center) + jnp.asarray(self.half_range) * policy_action

    def to_policy(self, env_action: jax.Array) -> jax.Array:
        """`[..., A]` in the environment's bounds -> `[..., A]` in policy units."""
        chex.assert_axis_dimension(env_action, -1, self.center.shape[-1],
                                   custom_message="ActionScaler.to_policy: actions [..., A] must match the action spec")
        return (env_action - jnp.asarray(self.center)) / jnp.asarray(self.half_range)
