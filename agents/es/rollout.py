"""Fitness of a population of recurrent policies: mean episode returns, batched over the population.

    fitness_fn = make_population_fitness(env, policy, 16)
    fitness = fitness_fn(population_params, key)            # [P], mean return per member

The episodes are `agents.evaluation.make_episode_returns` (one per member, under `vmap`):
`env` is an *unbatched* environment with a time limit (e.g. a transformed `envs.make(name)`).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from simlab.agents.evaluation import make_episode_returns
from simlab.agents.policy import RecurrentPolicy
from simlab.engine.env import Env


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
