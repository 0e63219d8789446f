"""Training the sensory-neuron agent and its MLP baseline with evolution strategies.

    params, history = train_agent("cartpole_swingup", "sensory", generations=2000)

The sensory agent is trained on shuffled observations, half of its episodes
with noise channels (so it meets both input sizes); the MLP baseline on the
plain observation (the paper's FNN). Each generation (population x episodes x
1000 steps) is one jitted program.
"""
from __future__ import annotations

import time
from typing import Any, Callable

import jax
import jax.numpy as jnp

from simlab.agents.bc import BCConfig, make_behaviour_cloning
from simlab.agents.es.strategies import ESConfig, make_es
from simlab.agents.evaluation import make_episode_returns
from simlab.agents.loading import load_run
from simlab.agents.sensory.tasks import SensoryTask, condition_env, task_of

AGENTS = ("sensory", "mlp")
VALIDATION_SEED = 90_000  # validation episodes for checkpoint selection; evaluations use seeds 0, 1, ...


def training_fitness(task: SensoryTask, agent: str, num_episodes: int,
                     episode_length: int | None = None) -> Callable[[Any, jax.Array], jax.Array]:
    """`fitness(population_params, key) -> [P]` mean training return of each member."""
    if agent not in AGENTS:
        raise ValueError(f"unknown agent {agent!r}; choose one of {', '.join(AGENTS)}")
    if agent == "sensory":
        if num_episodes % 2:
            raise ValueError(f"the sensory agent splits its episodes between shuffled and noise: "
                             f"num_episodes must be even, got {num_episodes}")
        policy = task.sensory_policy()
        parts = [make_episode_returns(condition_env(task, c, episode_length), policy, num_episodes // 2)
                 for c in ("shuffled", "noise")]
    else:
        policy = task.mlp_policy()
        parts = [make_episode_returns(condition_env(task, "unshuffled", episode_length), policy, num_episodes)]

    def member(params, key):
        keys = jax.random.split(key, len(parts))
        return jnp.mean(jnp.concatenate([run(params, k) for run, k in zip(parts, keys)]))

    def fitness(population_params, key):
        return jax.vmap(member, in_axes=(0, None))(population_params, key)

    return fitness


def train_agent(task_name: str, agent: str, *, generations: int, config: ESConfig | None = None,
                num_episodes: int = 4, seed: int = 0, time_budget_s: float | None = None,
                initial_params=None, episode_length: int | None = None, log: Callable[[str], None] = print,
                log_every: int = 25, checkpoint: Callable[[Any, dict], None] | None = None):
    """Runs ES for `generations` (or until `time_budget_s`); returns `(mean_params, history)`.

    history: dict of lists `generation`, `fitness_mean`, `fitness_max`, `sigma`, `seconds`.
    `checkpoint(params, history)` is called every `log_every` generations when given.
    """
    task = task_of(task_name)
    config = config or ESConfig()
    policy = task.sensory_policy() if agent == "sensory" else task.mlp_policy()
    init_key, es_key = jax.random.split(jax.random.key(seed))
    if initial_params is None:
        initial_params = jax.tree_util.tree_map(lambda x: 0.0 * x, policy.init(init_key, task.base_env().observation_size)) \
            if config.strategy != "cma_es" else policy.init(init_key, task.base_env().observation_size)
    fitness = training_fitness(task, agent, num_episodes, episode_length)
    es = make_es(fitness, initial_params, config)
    state = es.init(es_key, initial_params)
    step = jax.jit(es.generation)
    history = {"generation": [], "fitness_mean": [], "fitness_max": [], "sigma": [], "seconds": []}
    start = time.perf_counter()
    for gen in range(1, generations + 1):
        state, metrics = step(state)
        if gen % log_every == 0 or gen == generations:
            elapsed = time.perf_counter() - start
            history["generation"].append(gen)
            history["seconds"].append(elapsed)
            for k in ("fitness_mean", "fitness_max", "sigma"):
                history[k].append(float(metrics[k]))
            log(f"[{agent}] gen {gen:5d}  fitness mean {history['fitness_mean'][-1]:8.2f}  "
                f"max {history['fitness_max'][-1]:8.2f}  sigma {history['sigma'][-1]:.4f}  {elapsed:7.1f}s")
            if checkpoint is not None:
                checkpoint(es.mean_params(state), history)
            if time_budget_s is not None and elapsed > time_budget_s:
                log(f"[{agent}] time budget of {time_budget_s:.0f}s reached at generation {gen}")
                break
    return es.mean_params(state), history


def teacher_from_run(run_dir: str):
    """`act(clean_obs [B, O]) -> action [B, A]` of a deterministic policy trained by `simlab train`."""

    teacher, teacher_state, _ = load_run(run_dir)
    act = teacher.policy(teacher_state, deterministic=True)
    unused_key = jax.random.key(0)
    return lambda obs: act(obs, unused_key)


def clone_agent(task_name: str, agent: str, teacher_act, *, iterations: int, config=None, seed: int = 0,
                initial_params=None, log: Callable[[str], None] = print, log_every: int = 10,
                time_budget_s: float | None = None, select_every: int = 0, select_episodes: int = 16):
    """Behaviour-clones `agent` from `teacher_act` on its training conditions; returns `(params, history)`.

    The sensory agent alternates shuffled and noisy-shuffled episodes; the MLP sees
    the plain observation. history: lists `iteration`, `bc_loss`, `beta`, `seconds`.

    select_every: if > 0, every `select_every` iterations (and at the end) the student
    drives `select_episodes` validation episodes of its first training condition (fixed
    validation starts, drawn from a key no evaluation uses) and the parameters with the
    best mean validation return are returned (early stopping); history then also has
    `select_iteration` and `select_return`, and `best_iteration`.
    With `config.ema > 0` the moving average of the parameters is validated and returned.
    """

    task = task_of(task_name)
    if agent not in AGENTS:
        raise ValueError(f"unknown agent {agent!r}; choose one of {', '.join(AGENTS)}")
    policy = task.sensory_policy() if agent == "sensory" else task.mlp_policy()
    conditions = ("shuffled", "noise") if agent == "sensory" else ("unshuffled",)
    envs_ = [condition_env(task, c) for c in conditions]
    obs_size = task.base_env().observation_size
    bc = make_behaviour_cloning(envs_, policy, teacher_act, obs_size, config or BCConfig())
    params = initial_params if initial_params is not None else policy.init(jax.random.key(seed), obs_size)
    state = bc.init(jax.random.key(seed + 1), params)
    step = jax.jit(bc.iteration, static_argnums=1)
    history = {"iteration": [], "bc_loss": [], "beta": [], "seconds": []}
    if select_every < 0 or select_episodes < 1:
        raise ValueError("select_every must be >= 0 and select_episodes >= 1")
    validate = None
    if select_every:
        validation = jax.jit(make_episode_returns(envs_[0], policy, select_episodes))
        validate = lambda p: float(jnp.mean(validation(p, jax.random.key(VALIDATION_SEED + seed))))  # noqa: E731
        best = (validate(params), 0, params)
        history.update(select_iteration=[0], select_return=[best[0]])
    start = time.perf_counter()
    for it in range(1, iterations + 1):
        state, metrics = step(state, (it - 1) % len(envs_))
        at_log = it % log_every == 0 or it == iterations  # the time budget is checked at these iterations only
        last = it == iterations or (at_log and time_budget_s is not None
                                    and time.perf_counter() - start > time_budget_s)
        deployed = state.average if bc.config.ema else state.params
        if validate is not None and (it % select_every == 0 or last):
            score = validate(deployed)
            history["select_iteration"].append(it)
            history["select_return"].append(score)
            if score > best[0]:
                best = (score, it, deployed)
            log(f"[{agent} bc] iter {it:4d}  validation return {score:8.1f}  (best {best[0]:.1f} at {best[1]})")
        if at_log:
            elapsed = time.perf_counter() - start
            history["iteration"].append(it)
            history["bc_loss"].append(float(metrics["bc_loss"]))
            history["beta"].append(float(metrics["beta"]))
            history["seconds"].append(elapsed)
            log(f"[{agent} bc] iter {it:4d}  loss {history['bc_loss'][-1]:.4f}  beta {history['beta'][-1]:.3f}  "
                f"{elapsed:6.1f}s")
            if time_budget_s is not None and elapsed > time_budget_s:
                log(f"[{agent} bc] time budget of {time_budget_s:.0f}s reached at iteration {it}")
                break
    if validate is not None:
        history["best_iteration"] = best[1]
        return best[2], history
    return (state.average if bc.config.ema else state.params), history
