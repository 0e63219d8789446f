"""Evolution strategies as a `Learner`: `simlab train ENV --agent es` trains through the one driver.

    agent = make_agent("es", "pendulum", {"population_size": 32, "num_episodes": 2})
    result = train(agent, TrainOptions(total_steps=2_000_000, out_dir="runs/es_pendulum"))

One `iteration` is one generation: `population_size` candidate parameter sets of a feed-forward tanh MLP
(`RecurrentPolicy` with an empty carry), each scored by its mean undiscounted return over `num_episodes`
full episodes (`agents.evaluation.make_episode_returns`), then one evosax update (CMA-ES, OpenAI-ES or
PGPE, `agents.es.strategies`). The driver adds what every learner gets: evaluation of the search mean,
metrics.csv, TensorBoard, checkpoints and bit-identical resume, progress and time limits.
Environment steps per iteration count every step of every scanned episode: `P * E * T`.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import jax.numpy as jnp

from simlab import envs
from simlab.agents.config_validation import AT_LEAST_ONE, validate_config
from simlab.agents.es.strategies import ES, ESConfig, make_es
from simlab.agents.evaluation import episode_length_of, make_episode_returns
from simlab.agents.learner import CountedState, NetworkPolicyMixin
from simlab.agents.policy import RecurrentPolicy, make_env_mlp_policy
from simlab.engine.env import Env


@dataclasses.dataclass(frozen=True)
class ESLearnerConfig(ESConfig):
    """`ESConfig` (strategy, population, step sizes) plus what the learner needs around it.

    num_episodes: episodes that score each candidate (its fitness is their mean return).
    hidden: the MLP's hidden layer widths (tanh).
    eval_episodes: episodes of the driver's evaluation of the search mean.
    """

    num_episodes: int = 4
    hidden: tuple[int, ...] = (32, 16)
    eval_episodes: int = 16

    def __post_init__(self):
        super().__post_init__()
        validate_config(self, {"num_episodes": AT_LEAST_ONE, "eval_episodes": AT_LEAST_ONE,
                               "population_size": AT_LEAST_ONE, "sigma_init": None, "learning_rate": None,
                               "pgpe_max_speed": None})

    @property
    def num_envs(self) -> int:
        """Episodes scanned per generation (`population_size * num_episodes`)."""
        return self.population_size * self.num_episodes


@dataclasses.dataclass(frozen=True)
class ESLearner(NetworkPolicyMixin):
    """Build with `make_es_learner` (or `agents.registry.make_agent("es", ...)`)."""

    env_name: str
    env_kwargs: dict[str, Any]
    config: ESLearnerConfig
    env: Env          # unbatched, time-limited: the fitness episodes
    eval_env: Env
    network: RecurrentPolicy
    es: ES
    initial_params: Callable[[jax.Array], Any]
    name: str = "es"
    supports_mesh = False  # one generation is one program over the whole population; not sharded

    @property
    def steps_per_iteration(self) -> int:
        return self.config.num_envs * episode_length_of(self.env)

    def init(self, key: jax.Array) -> CountedState:
        init_key, es_key = jax.random.split(key)
        return CountedState.start(self.es.init(es_key, self.initial_params(init_key)))

    def iteration(self, state: CountedState) -> tuple[CountedState, dict[str, jax.Array]]:
        es_state, metrics = self.es.generation(state.inner)
        metrics = {"train_return": metrics["fitness_mean"], "fitness_max": metrics["fitness_max"],
                   "sigma": metrics["sigma"]}
        return state.advance(es_state, self.steps_per_iteration), metrics

    def params(self, state: CountedState):
        """The search distribution's mean: the parameters the learner deploys."""
        return self.es.mean_params(state.inner)


def make_es_learner(env_name: str, config: ESLearnerConfig | None = None, total_steps: int | None = None,
                    **env_kwargs) -> ESLearner:
    """An `ESLearner` for the registered single-agent, box-action environment `env_name`."""
    config = config or ESLearnerConfig()
    env = envs.make(env_name, **env_kwargs)
    obs_size = env.observation_size
    network = make_env_mlp_policy(env, tuple(config.hidden))  # tanh units mapped to the action bounds
    template = network.init(jax.random.key(0), obs_size)
    fitness = make_episode_returns(env, network, config.num_episodes)

    def population_fitness(population, key):  # [P]: each member's mean return, the same episodes for all
        return jax.vmap(lambda p: jnp.mean(fitness(p, key)))(population)

    def initial_params(key):  # CMA-ES starts from a random network; the gradient-like strategies from zero
        params = network.init(key, obs_size)
        return params if config.strategy == "cma_es" else jax.tree_util.tree_map(jnp.zeros_like, params)

    es = make_es(population_fitness, template, config)
    return ESLearner(env_name, dict(env_kwargs), config, env, env, network, es, initial_params)
