"""Deterministic evaluation of a policy over N episodes, as one jitted scan."""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from simlab.engine.env import Env
from simlab.engine.wrappers import TimeLimit, VmapWrapper


def episode_length_of(env: Env) -> int:
    """The time limit of `env` (its outermost `TimeLimit`), or raise if it has none."""
    layer = env
    while layer is not None:
        if isinstance(layer, TimeLimit):
            return layer.episode_length
        layer = getattr(layer, "env", None)
    raise ValueError("evaluation needs a finite episode: create the env with an episode_length (envs.make default)")


def make_evaluator(env: Env, policy: Callable[[jax.Array, jax.Array], jax.Array], num_episodes: int):
    """Returns jittable `evaluate(key) -> returns [num_episodes]` (undiscounted).

    Args:
      env: an *unbatched* env with a time limit (e.g. `envs.make(name)`).
      policy: `policy(obs [N, O], key) -> action [N, ...]`, usually deterministic.
      num_episodes: episodes run in parallel, each from its own fresh reset.
    """
    if num_episodes < 1:
        raise ValueError(f"num_episodes must be >= 1, got {num_episodes}")
    horizon = episode_length_of(env)
    batched = VmapWrapper(env, num_episodes)

    def evaluate(key: jax.Array) -> jax.Array:
        reset_key, policy_key = jax.random.split(key)
        state = batched.reset(reset_key)

        def body(carry, step_key):
            state, alive, total = carry
            next_state = batched.step(state, policy(state.obs, step_key))
            total = total + jnp.where(alive, next_state.reward, 0.0)
            alive = jnp.logical_and(alive, jnp.logical_not(next_state.done))
            return (next_state, alive, total), None

        init = (state, jnp.ones(num_episodes, jnp.bool_), jnp.zeros(num_episodes, jnp.float32))
        (_, _, totals), _ = jax.lax.scan(body, init, jax.random.split(policy_key, horizon))
        return totals

    return evaluate


def summarize(returns) -> dict[str, float]:
    """`{"mean_return", "std_return", "episodes"}` of a returns array."""
    returns = np.asarray(returns, np.float64)
    return {"mean_return": float(returns.mean()), "std_return": float(returns.std()), "episodes": int(returns.size)}


def mean_finished_return(info: dict) -> jax.Array:
    """Mean `last_episode_return` over environments that finished an episode (0 if none).

    `info` is a batched `State.info` from `engine.EpisodeStatistics`.
    """
    finished = info["episodes_finished"] > 0
    return jnp.sum(jnp.where(finished, info["last_episode_return"], 0.0)) / jnp.maximum(jnp.sum(finished), 1)
