"""Episodes of a policy under one fixed-length scan, and the evaluators built on them.

    evaluate = make_evaluator(env, act, num_episodes)           # act(obs [N, O], key) -> action [N, ...]
    returns = evaluate(key)                                     # [num_episodes], PPO / SAC / APG
    returns_fn = make_episode_returns(env, policy, num_episodes)  # policy: a RecurrentPolicy
    returns = returns_fn(params, key)                           # [num_episodes], ES, sensory agents

Both are `make_episode_rollout`: `num_episodes` episodes of an *unbatched* env with a time limit, each from
its own fresh reset, run for exactly that many steps under `lax.scan`, with the rewards after an
episode's end masked out (no auto-reset, no `cond`). Behaviour cloning (`agents.bc`) collects its
demonstrations with the same loop.
"""
from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from simlab.agents.policy import RecurrentPolicy, check_policy_fits
from simlab.engine.env import Env, State
from simlab.engine.wrappers import TimeLimit, VmapWrapper

# act(carry, state, alive [n], step_key) -> (carry, action [n, ...], record)
StepFn = Callable[[Any, State, jax.Array, Any], tuple[Any, jax.Array, Any]]


def episode_length_of(env: Env) -> int:
    """The time limit of `env` (its outermost `TimeLimit`), or raise if it has none."""
    layer = env
    while layer is not None:
        if isinstance(layer, TimeLimit):
            return layer.episode_length
        layer = getattr(layer, "env", None)
    raise ValueError("evaluation needs a finite episode: create the env with an episode_length (envs.make default)")


def make_episode_rollout(env: Env, num_episodes: int):
    """Returns jittable `rollout(act, carry, reset_key, step_key=None) -> (returns [n], records, rewards [T, n])`.

    The `n = num_episodes` episodes start from `batched.reset(reset_key)` and run for the `T` steps of
    `env`'s time limit. At every step `act(carry, state, alive, key) -> (carry, action, record)` sees the
    batched `state` and `alive [n]` (the episodes that have not ended) and gets the step's key, one of
    `split(step_key, T)` (None without a `step_key`). `records` stacks the records over the steps;
    `rewards` are the rewards that followed each step, zero after an episode's end, and `returns` their sums.
    """
    if int(num_episodes) != num_episodes or num_episodes < 1:
        raise ValueError(f"num_episodes must be a positive integer, got {num_episodes!r}")
    num_episodes = int(num_episodes)
    horizon = episode_length_of(env)
    batched = VmapWrapper(env, num_episodes)

    def rollout(act: StepFn, carry, reset_key: jax.Array, step_key: jax.Array | None = None):
        state = batched.reset(reset_key)

        def body(loop, key):
            state, carry, alive, total = loop
            carry, action, record = act(carry, state, alive, key)
            state = batched.step(state, action)
            reward = jnp.where(alive, state.reward, 0.0)
            alive = jnp.logical_and(alive, jnp.logical_not(state.done))
            return (state, carry, alive, total + reward), (record, reward)

        init = (state, carry, jnp.ones(num_episodes, jnp.bool_), jnp.zeros(num_episodes, jnp.float32))
        keys = None if step_key is None else jax.random.split(step_key, horizon)
        (_, _, _, totals), (records, rewards) = jax.lax.scan(body, init, keys, length=horizon)
        return totals, records, rewards

    return rollout


def make_evaluator(env: Env, policy: Callable[[jax.Array, jax.Array], jax.Array], num_episodes: int):
    """Returns jittable `evaluate(key) -> returns [num_episodes]` (undiscounted).

    Args:
      env: an *unbatched* env with a time limit (e.g. `envs.make(name)`).
      policy: `policy(obs [N, O], key) -> action [N, ...]`, usually deterministic.
      num_episodes: episodes run in parallel, each from its own fresh reset.
    """
    rollout = make_episode_rollout(env, num_episodes)

    def act(carry, state, alive, key):
        return carry, policy(state.obs, key), None

    def evaluate(key: jax.Array) -> jax.Array:
        reset_key, policy_key = jax.random.split(key)
        return rollout(act, (), reset_key, policy_key)[0]

    return evaluate


def make_episode_returns(env: Env, policy: RecurrentPolicy, num_episodes: int,
                         record_rewards: bool = False) -> Callable[[Any, jax.Array], jax.Array]:
    """Returns jittable `returns(params, key) -> [num_episodes]` undiscounted returns of a `RecurrentPolicy`.

    The episodes reset from `key` itself. With `record_rewards=True` it returns
    `(returns, rewards [T, num_episodes])` where rewards after an episode's end are zero.
    """
    check_policy_fits(env, policy)
    rollout = make_episode_rollout(env, num_episodes)
    num_inputs = env.observation_size
    step = jax.vmap(policy.step, in_axes=(None, 0, 0))

    def returns(params, key):
        def act(carry, state, alive, _):
            carry, action = step(params, carry, state.obs)
            return carry, action, None

        totals, _, rewards = rollout(act, policy.initial_carries(num_inputs, num_episodes), key)
        return (totals, rewards) if record_rewards else totals

    return returns


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
