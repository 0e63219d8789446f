"""Success rates of trained models (and of oracles) over seeded episodes.

Episode `i` starts from `env.reset(key(first_seed + i))`; the policy draws its randomness from
`fold_in(key(first_seed + i), 1)`, a new key each step. Every episode runs exactly `episode_length`
steps (no resets) under one `lax.scan`, a batch of episodes is vmapped, and success is the task's
metric at the last step. Batches of `episodes_per_call` episodes reuse one compiled program.
"""
from __future__ import annotations

import math
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from simlab.engine.env import Env
from simlab.plugins.ibc.model import BCModel
from simlab.plugins.ibc.normalizer import Normalizer

Policy = Callable[[Any, jax.Array, jax.Array], jax.Array]


def normalized_policy(model: BCModel) -> Policy:
    """`policy((params, normalizer), key, obs [O] env units) -> action [A] env units` of `model`."""

    def policy(policy_params, key, obs):
        params, normalizer = policy_params
        return normalizer.action_from_unit(model.act(params, key, normalizer.obs(obs)))

    return policy


def eval_keys(num_episodes: int, first_seed: int = 0) -> jax.Array:
    """`[num_episodes]` keys `key(first_seed + i)`: evaluation episodes are seeded 0..E-1 by default."""
    return jax.vmap(jax.random.key)(jnp.arange(first_seed, first_seed + num_episodes))


def make_policy_rollout(env: Env, policy: Policy, episode_length: int):
    """A jitted `run(policy_params, keys [E]) -> final metrics {name: [E]}` of `policy` in `env` (unwrapped,
    unbatched; `episode_length` steps)."""

    def episode(policy_params, key):
        state = env.reset(key)
        policy_key = jax.random.fold_in(key, 1)

        def body(state, t):
            action = policy(policy_params, jax.random.fold_in(policy_key, t), state.obs)
            return env.step(state, action), None

        final, _ = jax.lax.scan(body, state, jnp.arange(episode_length))
        return final.metrics

    return jax.jit(jax.vmap(episode, in_axes=(None, 0)))


def success_rate(env: Env, policy: Policy, policy_params: Any, num_episodes: int, episode_length: int | None = None,
                 first_seed: int = 0, success_metric: str = "success",
                 episodes_per_call: int | None = None) -> dict[str, Any]:
    """`{"success_rate", "episodes", "successes" [E] (0/1), "final_metrics" {name: mean at the last step},
    "seconds"}` of `policy` over seeded episodes."""
    if int(num_episodes) != num_episodes or num_episodes < 1:
        raise ValueError(f"the number of episodes must be a positive integer, got {num_episodes!r}")
    length = int(episode_length or env.default_episode_length or 0)
    if length < 1:
        raise ValueError(f"{env!r} has no default episode length; pass episode_length")
    per_call = min(int(episodes_per_call or num_episodes), int(num_episodes))
    run = make_policy_rollout(env, policy, length)
    keys = eval_keys(math.ceil(num_episodes / per_call) * per_call, first_seed)
    start = time.perf_counter()
    batches = [jax.device_get(run(policy_params, keys[i:i + per_call]))  # equal batches: one compiled program
               for i in range(0, int(num_episodes), per_call)]
    metrics = {k: np.concatenate([np.asarray(b[k]) for b in batches])[:num_episodes] for k in batches[0]}
    successes = metrics[success_metric] > 0.5
    return {"success_rate": float(np.mean(successes)), "episodes": int(num_episodes),
            "successes": [int(s) for s in successes],
            "final_metrics": {k: float(np.mean(v)) for k, v in metrics.items()},
            "seconds": time.perf_counter() - start}


def evaluate_model(env: Env, model: BCModel, params: Any, normalizer: Normalizer, num_episodes: int,
                   **kwargs) -> dict[str, Any]:
    """`success_rate` of a trained model (its normalised policy); `kwargs` as for `success_rate`."""
    return success_rate(env, normalized_policy(model), (params, normalizer), num_episodes, **kwargs)
