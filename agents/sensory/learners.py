"""The sensory-neuron recipes as learners of the one training driver (`agents.train.train`).

    simlab train cartpole_swingup --agent sensory_bc --set teacher=runs/ppo_cp --set keep_best=true
    simlab train cartpole_swingup --agent sensory_es --set network=mlp --set init_from=OUT/cartpole_swingup_mlp
    simlab train pong --agent pixel_bc

(`simlab sensory train` runs the same learners, one phase after the other, and writes the parameters.)

- `sensory_es`: evolution strategies (`agents.es.learner.ESLearner`) on the task's training conditions: the
  sensory agent's fitness is the mean return over `num_episodes` episodes, half with shuffled observations
  and half with extra noise channels (so it meets both input sizes); the MLP baseline (`network="mlp"`) sees
  the plain observation (the paper's FNN).
- `sensory_bc`: DAgger behaviour cloning (`agents.bc.learner.BCLearner`) from a `simlab train` teacher, the
  iterations cycling through the same conditions; `keep_best` deploys the best-validated parameters.
- `pixel_bc`: the "puzzle Pong" agent cloned per step from the scripted tracking teacher (or a
  `simlab train pong_state` run) on shuffled patches with a random fraction shown (`agents.sensory.pixel_train`).

Every one gets what the driver gives all learners: evaluation, metrics.csv, TensorBoard, checkpoints,
bit-identical resume, progress and time limits. The environment options are the task's
(`agents.sensory.tasks.TASKS`); others are refused.
"""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any, Callable

import jax
import jax.numpy as jnp

from simlab.agents import checkpoint, registry
from simlab.agents.bc.dagger import BCConfig, make_behaviour_cloning
from simlab.agents.bc.learner import BCLearner, check_teacher_run
from simlab.agents.config_validation import AT_LEAST_ONE, validate_config
from simlab.agents.es.learner import ESLearner
from simlab.agents.es.strategies import ESConfig, make_es
from simlab.agents.evaluation import make_episode_returns
from simlab.agents.loading import load_teacher
from simlab.agents.policy import RecurrentPolicy
from simlab.agents.registry import make_agent
from simlab.agents.sensory.pixel import make_pixel_policy
from simlab.agents.sensory.pixel_train import PixelBCConfig, make_pixel_bc
from simlab.agents.sensory.pong import NUM_PATCHES, PONG_CONFIG, pong_patch_env, pong_teacher, teacher_observation
from simlab.agents.sensory.tasks import AGENT_NAMES, SensoryTask, condition_env, task_of
from simlab.agents.train import TrainOptions, train
from simlab.engine.wrappers import TimeLimit, strip_reward_shaping

NETWORKS = AGENT_NAMES  # "sensory" (permutation-invariant) and "mlp" (the fixed-wiring baseline)


def _check_network(network: str) -> None:
    if network not in NETWORKS:
        raise ValueError(f"network={network!r}: choose one of {', '.join(NETWORKS)}")


def _conditions(network: str) -> tuple[str, ...]:
    """The training conditions of each network: the sensory agent meets both input sizes."""
    return ("shuffled", "noise") if network == "sensory" else ("unshuffled",)


def _task_env_kwargs(algo: str, env_name: str, env_kwargs: dict[str, Any]) -> tuple[SensoryTask, dict[str, Any]]:
    """The sensory task of `env_name` and its environment options (given ones must be the task's)."""
    try:
        task = task_of(env_name)
    except ValueError as err:
        raise ValueError(f"the {algo} agent trains the sensory-neuron tasks only: {err}") from None
    want = dict(task.env_kwargs)
    if env_kwargs and env_kwargs != want:
        raise ValueError(f"the {algo} agent trains {env_name!r} with the task's env options {want}, got {env_kwargs}")
    return task, want


def _network_of(task: SensoryTask, network: str) -> RecurrentPolicy:
    return task.sensory_policy() if network == "sensory" else task.mlp_policy()


def _initial_params(init_from: str, fresh: Callable[[jax.Array], Any]) -> Callable[[jax.Array], Any]:
    """`key -> params`: those saved in `init_from` (an `agents.checkpoint.save_params` directory) or `fresh`."""
    if not init_from:
        return fresh
    try:
        params, _ = checkpoint.load_params(Path(init_from))
    except FileNotFoundError:
        raise ValueError(f"init_from={init_from!r} holds no saved parameters (a `simlab sensory train` output "
                         "directory such as OUT/cartpole_swingup_sensory)") from None
    params = jax.tree_util.tree_map(jnp.asarray, params)
    return lambda key: params


def training_fitness(task: SensoryTask, network: str, num_episodes: int,
                     episode_length: int | None = None) -> Callable[[Any, jax.Array], jax.Array]:
    """`fitness(population_params, key) -> [P]`: each member's mean return over its training conditions
    (the sensory agent's `num_episodes` split evenly between shuffled and noisy observations)."""
    _check_network(network)
    conditions = _conditions(network)
    if num_episodes % len(conditions):
        raise ValueError(f"the sensory agent splits its episodes between shuffled and noise: num_episodes must "
                         f"be even, got {num_episodes}")
    policy = _network_of(task, network)
    parts = [make_episode_returns(condition_env(task, c, episode_length), policy, num_episodes // len(conditions))
             for c in conditions]

    def member(params, key):
        keys = jax.random.split(key, len(parts))
        return jnp.mean(jnp.concatenate([run(params, k) for run, k in zip(parts, keys)]))

    def fitness(population_params, key):
        return jax.vmap(member, in_axes=(0, None))(population_params, key)

    return fitness


@dataclasses.dataclass(frozen=True)
class SensoryESConfig(ESConfig):
    """`ESConfig` plus the sensory recipe.

    network: "sensory" or "mlp".
    num_episodes: episodes per candidate (the sensory agent's split between shuffled and noise: even).
    episode_length: the fitness episodes' length (None: the task's).
    eval_episodes: the driver's evaluation episodes (first training condition, full length).
    init_from: a parameter directory to start the search from (e.g. behaviour cloning's output); "" starts
        from zero (CMA-ES: from a random network).
    """

    network: str = "sensory"
    num_episodes: int = 4
    episode_length: int | None = None
    eval_episodes: int = 16
    init_from: str = ""

    def __post_init__(self):
        super().__post_init__()
        _check_network(self.network)
        validate_config(self, {"num_episodes": AT_LEAST_ONE, "eval_episodes": AT_LEAST_ONE})

    @property
    def num_envs(self) -> int:
        """Episodes per generation (`population_size * num_episodes`)."""
        return self.population_size * self.num_episodes


def make_sensory_es_learner(env_name: str, config: SensoryESConfig | None = None, total_steps: int | None = None,
                            **env_kwargs) -> ESLearner:
    """ES on the sensory task `env_name` ("cartpole_swingup", "ant")."""
    config = config or SensoryESConfig()
    task, env_kwargs = _task_env_kwargs("sensory_es", env_name, env_kwargs)
    network = _network_of(task, config.network)
    first = _conditions(config.network)[0]
    env, eval_env = condition_env(task, first, config.episode_length), condition_env(task, first)
    obs_size = task.base_env().observation_size

    def fresh(key):  # CMA-ES starts from a random network; the gradient-like strategies from zero
        params = network.init(key, obs_size)
        return params if config.strategy == "cma_es" else jax.tree_util.tree_map(jnp.zeros_like, params)

    es = make_es(training_fitness(task, config.network, config.num_episodes, config.episode_length),
                 network.init(jax.random.key(0), obs_size), config)
    return ESLearner(env_name, env_kwargs, config, env, eval_env, network, es, _initial_params(config.init_from, fresh),
                     name="sensory_es")


@dataclasses.dataclass(frozen=True)
class SensoryBCConfig(BCConfig):
    """`BCConfig` plus the sensory recipe.

    network: "sensory" or "mlp" (the student).
    teacher: run directory of a `simlab train` run of the task (reward shaping and `solver` may differ).
    eval_episodes: the driver's evaluation (or, with keep_best, validation) episodes, first training condition.
    keep_best: deploy the best-validated parameters (fixed validation episodes at every evaluation).
    init_from: a parameter directory to start from ("": a fresh network).
    """

    network: str = "sensory"
    teacher: str = ""
    eval_episodes: int = 16
    keep_best: bool = False
    init_from: str = ""

    def __post_init__(self):
        super().__post_init__()
        _check_network(self.network)
        validate_config(self, {"eval_episodes": AT_LEAST_ONE})
        if self.feed_executed_action and self.network != "sensory":
            raise ValueError("feed_executed_action: the mlp baseline does not read its previous action")

    @property
    def num_envs(self) -> int:
        return self.num_episodes


def _without_dynamics_options(env_kwargs: dict[str, Any]) -> dict[str, Any]:
    """What a teacher's policy reads: reward shaping and the contact model (`solver`) aside."""
    return {k: v for k, v in strip_reward_shaping(env_kwargs).items() if k != "solver"}


def make_sensory_bc_learner(env_name: str, config: SensoryBCConfig | None = None, total_steps: int | None = None,
                            teacher_act: Callable[[jax.Array], jax.Array] | None = None, **env_kwargs) -> BCLearner:
    """Behaviour cloning of the sensory task `env_name` from `config.teacher` (or `teacher_act`, a jittable
    `clean obs [B, O] -> action [B, A]`, for tests and scripted teachers)."""
    config = config or SensoryBCConfig()
    task, env_kwargs = _task_env_kwargs("sensory_bc", env_name, env_kwargs)
    if teacher_act is None:
        check_teacher_run(config.teacher, task.env_name, env_kwargs, ignore=_without_dynamics_options)
        teacher_act = load_teacher(config.teacher)
    network = _network_of(task, config.network)
    conditions = [condition_env(task, c) for c in _conditions(config.network)]
    obs_size = task.base_env().observation_size
    bc = make_behaviour_cloning(conditions, network, teacher_act, obs_size, config)
    initial = _initial_params(config.init_from, lambda key: network.init(key, obs_size))
    return BCLearner(env_name, env_kwargs, config, conditions[0], conditions[0], network, bc, initial,
                     name="sensory_bc", keep_best=config.keep_best)


@dataclasses.dataclass(frozen=True)
class PixelBCLearnerConfig(PixelBCConfig):
    """`PixelBCConfig` plus the teacher ("scripted", or a `simlab train pong_state` run directory), the
    driver's evaluation episodes (shuffled, every patch shown, `episode_length` steps: the task's 1000 by
    default) and `init_from` (a parameter directory)."""

    teacher: str = "scripted"
    eval_episodes: int = 16
    init_from: str = ""

    def __post_init__(self):
        super().__post_init__()
        validate_config(self, {"eval_episodes": AT_LEAST_ONE})

    @property
    def num_envs(self) -> int:
        return self.num_episodes


def make_pixel_bc_learner(env_name: str, config: PixelBCLearnerConfig | None = None, total_steps: int | None = None,
                          **env_kwargs) -> BCLearner:
    """Per-step behaviour cloning of the pixel sensory agent on "puzzle Pong" (`env_name` must be "pong")."""
    config = config or PixelBCLearnerConfig()
    if env_name != "pong" or env_kwargs:
        raise ValueError(f"the pixel_bc agent trains 'pong' with its default options, got {env_name!r} "
                         f"{env_kwargs or ''}")
    patch_env = pong_patch_env("shuffled")
    bc = make_pixel_bc(patch_env, teacher_observation, pong_teacher(config.teacher), config, PONG_CONFIG)
    network = make_pixel_policy(PONG_CONFIG)
    initial = _initial_params(config.init_from, lambda key: network.init(key, NUM_PATCHES))
    return BCLearner(env_name, {}, config, bc.envs[0], TimeLimit(patch_env, config.episode_length), network, bc,
                     initial, name="pixel_bc")


def run_phase(algo: str, env_name: str, overrides: dict, env_kwargs: dict, iterations: int, args: argparse.Namespace, run_name: str,
              eval_every: int, time_budget_s: float | None):
    """Trains one recipe phase through the one driver (`agents.train`) into `<--runs>/<run_name>`; returns
    `(learner, TrainResult)`. `args` supplies `seed`, `runs` (the parent directory), `overwrite` and
    `no_progress` (the `simlab sensory train` options). Bad options raise SystemExit naming them."""
    try:
        learner = make_agent(algo, env_name, overrides, env_kwargs=env_kwargs)
    except (ValueError, TypeError) as err:
        raise SystemExit(f"simlab sensory train: {err}") from None
    run_dir = Path(args.runs) / run_name
    print(f"[{algo}] {iterations} iterations into {run_dir} (metrics.csv, TensorBoard, checkpoints)", flush=True)
    result = train(learner, TrainOptions(total_steps=iterations * learner.steps_per_iteration, seed=args.seed,
                                         out_dir=str(run_dir), eval_every=max(1, min(eval_every, iterations)),
                                         time_limit_s=time_budget_s, overwrite=args.overwrite,
                                         progress=not args.no_progress))
    return learner, result


def _sensory_task_env(algo: str, env_name: str, env_kwargs: dict[str, Any] | None = None):
    """The registry's trainability check for the sensory learners: a sensory task with its own options."""
    task, kwargs = _task_env_kwargs(algo, env_name, dict(env_kwargs or {}))
    return task.base_env()


def _pong_env(algo: str, env_name: str, env_kwargs: dict[str, Any] | None = None):
    if env_name != "pong":
        raise ValueError(f"the {algo} agent trains 'pong' (the pixel sensory task), not {env_name!r}")
    return pong_patch_env("shuffled")


registry.register_agent("sensory_es", make_sensory_es_learner, SensoryESConfig, check=_sensory_task_env)
registry.register_agent("sensory_bc", make_sensory_bc_learner, SensoryBCConfig, check=_sensory_task_env)
registry.register_agent("pixel_bc", make_pixel_bc_learner, PixelBCLearnerConfig, check=_pong_env)
