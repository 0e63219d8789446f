"""Evolution strategies (evosax 0.3.2) as a frozen dataclass of pure functions.

    es = make_es(fitness_fn, template_params, ESConfig(strategy="cma_es", population_size=64))
    state = es.init(key, initial_params)
    state, metrics = jax.jit(es.generation)(state)        # ask -> evaluate -> tell, one program
    params = es.mean_params(state)

`fitness_fn(population_params, key) -> [P]` is *maximised*; every leaf of
`population_params` carries a leading population axis. evosax minimises, so
the sign is flipped here and nowhere else.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax

from simlab.agents.config_validation import POSITIVE, Interval, validate_config
from simlab.engine.struct import pytree_dataclass

STRATEGIES = ("cma_es", "open_es", "pgpe")


@dataclasses.dataclass(frozen=True)
class ESConfig:
    """Strategy settings.

    strategy: one of `STRATEGIES`.
    population_size: candidates per generation (even for open_es / pgpe: antithetic pairs).
    sigma_init: initial search standard deviation (the paper's CMA-ES: 0.1).
    learning_rate: mean step size for open_es (Adam) and pgpe (ClipUp); unused by CMA-ES.
    pgpe_max_speed: ClipUp's velocity cap for pgpe.
    """

    strategy: str = "cma_es"
    population_size: int = 64
    sigma_init: float = 0.1
    learning_rate: float = 0.02
    pgpe_max_speed: float = 0.05

    def __post_init__(self):
        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown ES strategy {self.strategy!r}; choose one of {', '.join(STRATEGIES)}")
        validate_config(self, {"population_size": Interval(2, None), "sigma_init": POSITIVE,
                               "learning_rate": POSITIVE, "pgpe_max_speed": POSITIVE})
        if self.strategy != "cma_es" and self.population_size % 2:
            raise ValueError(f"{self.strategy} samples antithetic pairs: population_size must be even, "
                             f"got {self.population_size}")
        if not self.sigma_init > 0 or not self.learning_rate > 0:
            raise ValueError("sigma_init and learning_rate must be > 0")


@pytree_dataclass
class ESState:
    """Strategy state plus the run's key and counters."""

    strategy_state: Any
    key: jax.Array
    generation: jax.Array
    best_fitness: jax.Array


@dataclasses.dataclass(frozen=True)
class ES:
    """An evolution strategy bound to one fitness function. Build with `make_es`."""

    config: ESConfig
    algorithm: Any
    algorithm_params: Any
    fitness_fn: Callable[[Any, jax.Array], jax.Array]

    def init(self, key: jax.Array, initial_params) -> ESState:
        """Starts the search distribution at `initial_params` (a pytree like the template)."""
        init_key, run_key = jax.random.split(key)
        strategy_state = self.algorithm.init(init_key, initial_params, self.algorithm_params)
        return ESState(strategy_state=strategy_state, key=run_key, generation=jnp.zeros((), jnp.int32),
                       best_fitness=jnp.array(-jnp.inf, jnp.float32))

    def generation(self, state: ESState) -> tuple[ESState, dict]:
        """One generation: sample P candidates, evaluate them all, update the distribution."""
        key, ask_key, eval_key, tell_key = jax.random.split(state.key, 4)
        population, strategy_state = self.algorithm.ask(ask_key, state.strategy_state, self.algorithm_params)
        fitness = self.fitness_fn(population, eval_key).astype(jnp.float32)
        strategy_state, _ = self.algorithm.tell(tell_key, population, -fitness, strategy_state,
                                                self.algorithm_params)
        metrics = {"fitness_mean": jnp.mean(fitness), "fitness_max": jnp.max(fitness),
                   "fitness_min": jnp.min(fitness), "sigma": jnp.mean(strategy_state.std)}
        best = jnp.maximum(state.best_fitness, metrics["fitness_max"])
        return ESState(strategy_state=strategy_state, key=key, generation=state.generation + 1,
                       best_fitness=best), metrics

    def mean_params(self, state: ESState):
        """The search distribution's mean, as a parameter pytree."""
        return self.algorithm.get_mean(state.strategy_state)


def make_es(fitness_fn: Callable[[Any, jax.Array], jax.Array], template_params, config: ESConfig) -> ES:
    """Builds an `ES` for `fitness_fn` over parameters shaped like `template_params`."""
    if not jax.tree_util.tree_leaves(template_params):
        raise ValueError("template_params has no arrays to optimise")
    # Lazy: importing evosax creates JAX arrays, which starts JAX's backends and would fix the CPU device count
    # before `simlab train --devices N` can declare it (the registry imports this module).
    from evosax.algorithms import CMA_ES, PGPE, Open_ES
    from evosax.core.optimizer import clipup

    size, template = config.population_size, template_params
    if config.strategy == "cma_es":
        algorithm = CMA_ES(size, template)
        params = algorithm.default_params.replace(std_init=jnp.asarray(config.sigma_init))
    elif config.strategy == "open_es":
        algorithm = Open_ES(size, template, optimizer=optax.adam(config.learning_rate),
                            std_schedule=optax.constant_schedule(config.sigma_init))
        params = algorithm.default_params
    else:
        algorithm = PGPE(size, template, optimizer=clipup(config.learning_rate, config.pgpe_max_speed))
        params = algorithm.default_params.replace(std_init=config.sigma_init)
    return ES(config=config, algorithm=algorithm, algorithm_params=params, fitness_fn=fitness_fn)
