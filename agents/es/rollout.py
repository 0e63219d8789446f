"""Episode returns of recurrent policies, batched over episodes and a population.

    returns_fn = make_episode_returns(env, policy, num_episodes=16)
    returns = returns_fn(params, key)                       # [16]
    fitness_fn = make_population_fitness(env, policy, 16)
    fitness = fitness_fn(population_params, key)            # [P], mean return per member

`env` is an *unbatched* environment with a time limit (e.g. a transformed
`envs.make(name)`); episodes run for exactly that many steps under `lax.scan`,
and rewards after an episode's end are masked out (no auto-reset, no `cond`).
"""
from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp

from simlab.agents.evaluation import episode_length_of
from simlab.agents.policy import RecurrentPolicy, check_policy_fits
from simlab.engine.env import Env
from simlab.engine.wrappers import VmapWrapper


def make_episode_returns(env: Env, policy: RecurrentPolicy, num_episodes: int,
                         record_rewards: bool = False) -> Callable[[Any, jax.Array], jax.Array]:
    """Returns jittable `returns(params, key) -> [num_episodes]` undiscounted returns.

    With `record_rewards=True` it returns `(returns, rewards [T, num_episodes])`
    where rewards after an episode's end are zero.
    """
    if int(num_episodes) != num_episodes or num_episodes < 1:
        raise ValueError(f"num_episodes must be a positive integer, got {num_episodes!r}")
    check_policy_fits(env, policy)
    horizon = episode_length_of(env)
    batched = VmapWrapper(env, int(num_episodes))
    num_inputs = env.observation_size

    def returns(params, key):
        state = batched.reset(key)
        carry = jax.vmap(lambda _: policy.initial_carry(num_inputs))(jnp.arange(num_episodes))
        act = jax.vmap(policy.step, in_axes=(None, 0, 0))

        def body(loop, _):
            state, carry, alive, total = loop
            carry, action = act(params, carry, state.obs)
            state = batched.step(state, action)
            reward = jnp.where(alive, state.reward, 0.0)
            alive = jnp.logical_and(alive, jnp.logical_not(state.done))
            return (state, carry, alive, total + reward), (reward if record_rewards else None)

        init = (state, carry, jnp.ones(num_episodes, jnp.bool_), jnp.zeros(num_episodes, jnp.float32))
        (_, _, _, totals), rewards = jax.lax.scan(body, init, None, length=horizon)
        return (totals, rewards) if record_rewards else totals

    return returns


def make_population_fitness(env: Env, policy: RecurrentPolicy, num_episodes: int):
    """Returns jittable `fitness(population_params, key) -> [P]` mean returns.

    `population_params` has a leading population axis on every leaf. All members
    see the same `num_episodes` initial states and permutations (common random
    numbers), so differences in fitness come from the parameters.
    """
    returns = make_episode_returns(env, policy, num_episodes)

    def fitness(population_params, key):
        return jax.vmap(lambda p: jnp.mean(returns(p, key)))(population_params)

    return fitness
