"""The cross-entropy method over candidate goals, with a Gaussian belief that persists between replans.

    belief = init_belief(mean=jnp.zeros(2), std=jnp.full(2, 3.0))
    belief, best = cem_plan(score_fn, belief, key, num_samples=64, num_elites=8, iterations=4)

`score_fn(goals [N, D]) -> [N]` is *lower is better* (for rendezvous: the
predicted final spread of the team if everyone heads to that goal). All loops
have fixed counts, so the planner jits and vmaps over agents and episodes.
"""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from simlab.engine.struct import pytree_dataclass


@pytree_dataclass
class Belief:
    """A diagonal Gaussian over goals: `mean [D]`, `std [D]`."""

    mean: jax.Array
    std: jax.Array

    def sample(self, key: jax.Array, num: int | None = None) -> jax.Array:
        shape = self.mean.shape if num is None else (num, *self.mean.shape)
        return self.mean + self.std * jax.random.normal(key, shape)


def init_belief(mean: jax.Array, std: jax.Array) -> Belief:
    return Belief(jnp.asarray(mean, jnp.float32), jnp.asarray(std, jnp.float32))


def cem_plan(score_fn: Callable[[jax.Array], jax.Array], belief: Belief, key: jax.Array, num_samples: int = 64,
             num_elites: int = 8, iterations: int = 4, smoothing: float = 0.0, min_std: float = 0.05,
             low: jax.Array | float = -jnp.inf, high: jax.Array | float = jnp.inf) -> tuple[Belief, jax.Array]:
    """Refines `belief` for `iterations` rounds; returns `(belief, best goal seen [D])`.

    Each round samples `num_samples` goals (clipped to `[low, high]`), keeps the
    `num_elites` lowest scores and refits mean and std to them (blended with the
    previous belief by `smoothing`; std floored at `min_std`).
    """
    if not 1 <= num_elites <= num_samples:
        raise ValueError(f"need 1 <= num_elites <= num_samples, got {num_elites} and {num_samples}")

    def round_(carry, round_key):
        belief, best, best_score = carry
        goals = jnp.clip(belief.sample(round_key, num_samples), low, high)
        scores = score_fn(goals)
        _, elite_index = jax.lax.top_k(-scores, num_elites)
        elites = goals[elite_index]
        mean = smoothing * belief.mean + (1 - smoothing) * elites.mean(axis=0)
        std = smoothing * belief.std + (1 - smoothing) * jnp.maximum(elites.std(axis=0), min_std)
        improved = scores[elite_index[0]] < best_score
        best = jnp.where(improved, elites[0], best)
        best_score = jnp.where(improved, scores[elite_index[0]], best_score)
        return (Belief(mean, std), best, best_score), None

    init = (belief, belief.mean, jnp.asarray(jnp.inf, jnp.float32))
    (belief, best, _), _ = jax.lax.scan(round_, init, jax.random.split(key, iterations))
    return belief, best
