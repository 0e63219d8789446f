"""`lax.scan` rollouts of a policy over a batched environment.

    env = envs.make("cartpole_swingup", num_envs=1024)
    rollout = engine.make_rollout(env, policy, num_steps=128)
    state = env.reset(key)
    state, transitions = jax.jit(rollout)(state, key)    # transitions: [128, 1024, ...]

A policy is `policy(obs, key) -> action` for a *batch*: `obs: [num_envs,
obs_size]`, `action: [num_envs, *action_shape]`. Close over parameters, or use
`functools.partial`.
"""
from __future__ import annotations

from typing import Callable

import chex
import jax
import jax.numpy as jnp
import numpy as np

from simlab.engine.env import Env, State
from simlab.engine.specs import BoxSpec, DiscreteSpec
from simlab.engine.struct import pytree_dataclass

Policy = Callable[[jax.Array, jax.Array], jax.Array]


@pytree_dataclass
class Transition:
    """Stacked experience, time-major: every field is `[num_steps, num_envs, ...]`.

    `next_obs` is the observation the transition reached *before* any
    auto-reset (`info["final_obs"]`), which is what a learner bootstraps from at
    truncation. `obs` of step t+1 differs from `next_obs` of step t exactly where
    an episode ended.
    """

    obs: jax.Array
    action: jax.Array
    reward: jax.Array
    terminated: jax.Array
    truncated: jax.Array
    next_obs: jax.Array
    metrics: dict


def make_rollout(env: Env, policy: Policy, num_steps: int) -> Callable[[State, jax.Array], tuple[State, Transition]]:
    """Returns `rollout(state, key) -> (final_state, transitions)` (pure, jittable).

    Args:
      env: a batched environment (e.g. `envs.make(name, num_envs=n)`).
      policy: `policy(obs[num_envs, ...], key) -> action[num_envs, ...]`.
      num_steps: number of environment steps (a static scan length).
    """
    if int(num_steps) != num_steps or num_steps < 1:
        raise ValueError(f"num_steps must be a positive integer, got {num_steps!r}")

    def one_step(state: State, step_key: jax.Array):
        action = policy(state.obs, step_key)
        chex.assert_shape(action, (*state.obs.shape[:1], *env.action_spec.shape), custom_message=(
            "make_rollout: the policy must return one action of the env's action_spec shape per environment"))
        next_state = env.step(state, action)
        next_obs = next_state.info.get("final_obs", next_state.obs)
        transition = Transition(
            obs=state.obs, action=action, reward=next_state.reward,
            terminated=next_state.terminated, truncated=next_state.truncated,
            next_obs=next_obs, metrics=next_state.metrics,
        )
        return next_state, transition

    def rollout(state: State, key: jax.Array):
        keys = jax.random.split(key, int(num_steps))
        return jax.lax.scan(one_step, state, keys)

    return rollout


def uniform_policy(action_spec: BoxSpec | DiscreteSpec) -> Policy:
    """A policy drawing actions uniformly within `action_spec` (benchmarks, tests).

    Box specs: uniform within the bounds, infinite bounds replaced by [-1, 1] (float32 `[B, *shape]`).
    Discrete specs: uniform over `[0, num_values)` (`[B]` of the spec's integer dtype).
    """
    if isinstance(action_spec, DiscreteSpec):
        def discrete(obs: jax.Array, key: jax.Array) -> jax.Array:
            return jax.random.randint(key, (obs.shape[0],), 0, action_spec.num_values, action_spec.dtype)

        return discrete
    if not isinstance(action_spec, BoxSpec):
        raise TypeError(f"uniform_policy needs a BoxSpec or DiscreteSpec action spec, got "
                        f"{type(action_spec).__name__}")
    finite = np.isfinite(action_spec.low) & np.isfinite(action_spec.high)
    low = jnp.asarray(np.where(finite, action_spec.low, -1.0), jnp.float32)
    high = jnp.asarray(np.where(finite, action_spec.high, 1.0), jnp.float32)

    def policy(obs: jax.Array, key: jax.Array) -> jax.Array:
        shape = (obs.shape[0], *low.shape)
        return jax.random.uniform(key, shape, jnp.float32, low, high)

    return policy
