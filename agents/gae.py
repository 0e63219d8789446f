"""Generalized advantage estimation with correct bootstrapping at truncation."""
from __future__ import annotations

import chex
import jax
import jax.numpy as jnp


def compute_gae(rewards: jax.Array, values: jax.Array, next_values: jax.Array, terminated: jax.Array,
                truncated: jax.Array, gamma: float, lam: float) -> tuple[jax.Array, jax.Array]:
    """Advantages and value targets, time-major.

    Args:
      rewards, values, terminated, truncated: `[T, B]`.
      next_values: `[T, B]`, the value of the observation each transition reached
        *before* any auto-reset (`Transition.next_obs`).
      gamma, lam: discount and GAE lambda.

    A terminated transition bootstraps from 0; a truncated one from
    `next_values` (the episode would have continued). The advantage recursion
    stops at every episode end, terminated or truncated.

    Returns:
      advantages `[T, B]`, returns (= advantages + values) `[T, B]`.

    Raises AssertionError (chex, at trace time) when the inputs are not five arrays of one `[T, B]` shape.
    """
    chex.assert_rank(rewards, 2, custom_message="compute_gae: rewards must be time-major [T, B]")
    chex.assert_equal_shape([rewards, values, next_values, terminated, truncated],
                            custom_message="compute_gae: rewards, values, next_values, terminated, truncated: [T, B]")
    not_terminal = 1.0 - terminated.astype(jnp.float32)
    not_done = 1.0 - jnp.logical_or(terminated, truncated).astype(jnp.float32)
    deltas = rewards + gamma * not_terminal * next_values - values

    def backward(carry, inputs):
        delta, cont = inputs
        advantage = delta + gamma * lam * cont * carry
        return advantage, advantage

    _, advantages = jax.lax.scan(backward, jnp.zeros_like(deltas[0]), (deltas, not_done), reverse=True)
    return advantages, advantages + values
