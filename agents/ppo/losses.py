"""PPO loss terms, written as pure functions of batched arrays so they can be unit-tested."""
from __future__ import annotations

import chex
import jax
import jax.numpy as jnp


def clipped_policy_loss(log_prob: jax.Array, old_log_prob: jax.Array, advantages: jax.Array,
                        clip_eps: float) -> tuple[jax.Array, jax.Array]:
    """`-mean(min(r A, clip(r, 1 - eps, 1 + eps) A))` with `r = exp(log_prob - old_log_prob)`.

    All inputs `[B]` (checked at trace time by chex). Returns `(loss, clip_fraction)`.
    """
    chex.assert_rank(log_prob, 1, custom_message="clipped_policy_loss: log_prob must be a flat minibatch [B]")
    chex.assert_equal_shape([log_prob, old_log_prob, advantages],
                            custom_message="clipped_policy_loss: log_prob, old_log_prob and advantages must all be [B]")
    ratio = jnp.exp(log_prob - old_log_prob)
    unclipped = ratio * advantages
    clipped = jnp.clip(ratio, 1.0 - clip_eps, 1.0 + clip_eps) * advantages
    clip_fraction = jnp.mean((jnp.abs(ratio - 1.0) > clip_eps).astype(jnp.float32))
    return -jnp.mean(jnp.minimum(unclipped, clipped)), clip_fraction


def value_loss(values: jax.Array, old_values: jax.Array, returns: jax.Array, clip_eps: float) -> jax.Array:
    """`0.5 * mean((V - R)^2)`; with `clip_eps > 0` the pessimistic clipped variant

    `0.5 * mean(max((V - R)^2, (old_V + clip(V - old_V, ±eps) - R)^2))`. All inputs `[B]` (chex-checked).
    """
    chex.assert_rank(values, 1, custom_message="value_loss: values must be a flat minibatch [B]")
    chex.assert_equal_shape([values, old_values, returns],
                            custom_message="value_loss: values, old_values and returns must all be [B]")
    squared = (values - returns) ** 2
    if clip_eps > 0:
        clipped = old_values + jnp.clip(values - old_values, -clip_eps, clip_eps)
        squared = jnp.maximum(squared, (clipped - returns) ** 2)
    return 0.5 * jnp.mean(squared)


def normalize_advantages(advantages: jax.Array, eps: float = 1e-8) -> jax.Array:
    """Zero mean, unit standard deviation over the minibatch."""
    return (advantages - advantages.mean()) / (advantages.std() + eps)
