"""Behaviour cloning as a `Learner`: `simlab train ENV --agent bc --set teacher=RUN_DIR` trains through the one driver.

    agent = make_agent("bc", "cartpole_swingup", {"teacher": "runs/ppo_cartpole_swingup_s0"})
    result = train(agent, TrainOptions(total_steps=500_000, out_dir="runs/bc_cartpole"))

A tanh MLP student (`agents.policy.make_mlp_policy`) learns the deterministic policy of a run trained by `simlab train` on the same environment, DAgger-style
(`agents.bc.dagger`): each iteration rolls out `num_episodes` episodes executing the teacher's action with
probability `beta` and the student's otherwise, labels every visited state with the teacher's action, and
takes `updates_per_iteration` Adam steps on the action error. The teacher is loaded from its run directory
when the learner is built (it is not part of the checkpointed state; config.json records its path).
DAgger clones actions in [-1, 1] (`agents.bc.dagger` clips the teacher's), so environments with other action
bounds are refused.
"""
from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from simlab import envs
from simlab.agents import registry
from simlab.agents.bc.dagger import BCConfig, BCState, BehaviourCloning, make_behaviour_cloning
from simlab.agents.config_validation import AT_LEAST_ONE, validate_config
from simlab.agents.evaluation import episode_length_of, make_episode_returns
from simlab.agents.learner import CountedState, NetworkPolicyMixin
from simlab.agents.loading import load_teacher
from simlab.agents.policy import RecurrentPolicy, make_mlp_policy
from simlab.engine.env import Env
from simlab.engine.specs import BoxSpec
from simlab.engine.struct import pytree_dataclass


@dataclasses.dataclass(frozen=True)
class BCLearnerConfig(BCConfig):
    """`BCConfig` (DAgger schedule, optimizer) plus the teacher and the student network.

    teacher: run directory of a `simlab train` run on the same environment (and environment options).
    hidden: the student MLP's hidden layer widths (tanh).
    eval_episodes: episodes of the driver's evaluation of the student.
    keep_best: deploy the best-validated parameters (early stopping) instead of the last ones: at every
        evaluation point the trained parameters drive the same `eval_episodes` validation episodes (drawn
        from the run's seed), and the best mean return so far wins.
    """

    teacher: str = ""
    hidden: tuple[int, ...] = (32, 16)
    eval_episodes: int = 16
    keep_best: bool = False

    def __post_init__(self):
        super().__post_init__()
        validate_config(self, {"eval_episodes": AT_LEAST_ONE, "num_episodes": AT_LEAST_ONE,
                               "updates_per_iteration": AT_LEAST_ONE})

    @property
    def num_envs(self) -> int:
        """Episodes rolled out per iteration."""
        return self.num_episodes


@pytree_dataclass
class BCRunState:
    """DAgger's state plus what `keep_best` selects with.

    best: the best-validated parameters so far (`keep_best`; the initial ones before the first validation).
    best_return: float32 scalar, their mean validation return (the lowest float32 before the first).
    validation_key: the key of the validation episodes every `keep_best` validation drives.
    """

    bc: BCState
    best: Any
    best_return: jax.Array
    validation_key: jax.Array


@dataclasses.dataclass(frozen=True)
class BCLearner(NetworkPolicyMixin):
    """Build with `make_bc_learner` (or `agents.registry.make_agent("bc", ...)`; `bc_learner` for other students).

    With several environments in `bc.envs` (e.g. the sensory agent's shuffled and noisy observations),
    iteration k collects from environment `k mod len(bc.envs)`, as `BehaviourCloning` is meant to be cycled.
    `network` is the deployed policy that `evaluate` drives on `eval_env` (the student itself, or its
    unmasked form for the pixel agent, whose student reads randomly occluded views).
    """

    env_name: str
    env_kwargs: dict[str, Any]
    config: BCLearnerConfig
    env: Env          # unbatched, time-limited: the cloning episodes
    eval_env: Env
    network: RecurrentPolicy  # the deployed student
    bc: BehaviourCloning
    initial_params: Callable[[jax.Array], Any]
    name: str = "bc"
    keep_best: bool = False
    supports_mesh = False  # one iteration is one program over all its episodes; not sharded

    @property
    def steps_per_iteration(self) -> int:
        per_episode = self.config.segment_steps or episode_length_of(self.env)
        return self.config.num_episodes * per_episode

    def init(self, key: jax.Array) -> CountedState:
        params_key, bc_key = jax.random.split(key)
        bc_state = self.bc.init(bc_key, self.initial_params(params_key))
        best = self._trained(bc_state) if self.keep_best else ()
        validation_key = jax.random.fold_in(key, VALIDATION_STREAM)
        return CountedState.start(BCRunState(bc_state, best, jnp.float32(jnp.finfo(jnp.float32).min), validation_key))

    def iteration(self, state: CountedState) -> tuple[CountedState, dict[str, jax.Array]]:
        run = state.inner
        if len(self.bc.envs) == 1:
            bc_state, metrics = self.bc.iteration(run.bc, 0)
        else:  # cycle through the environments: one compiled program, the index read from the counter
            branches = [functools.partial(self.bc.iteration, env_index=i) for i in range(len(self.bc.envs))]
            bc_state, metrics = jax.lax.switch(run.bc.iteration % len(branches), branches, run.bc)
        # The collected episodes' return (teacher and student mixed by beta): reward per step x episode length.
        metrics = {**metrics, "train_return": metrics["reward_per_step"] * episode_length_of(self.env)}
        return state.advance(run.replace(bc=bc_state), self.steps_per_iteration), metrics

    def _trained(self, bc_state: BCState):
        """The parameters training produced (their moving average with `ema > 0`)."""
        return bc_state.average if self.config.ema else bc_state.params

    def params(self, state: CountedState):
        """The deployed student parameters: the best evaluated ones with `keep_best`, else the trained ones."""
        return state.inner.best if self.keep_best else self._trained(state.inner.bc)

    def select(self, state: CountedState) -> tuple[CountedState, dict[str, jax.Array]]:
        """With `keep_best`: drives the trained parameters through the fixed validation episodes and keeps them
        if their mean return beats the best so far (called by the driver at every evaluation point)."""
        run = state.inner
        if not self.keep_best:
            return state, {}
        trained = self._trained(run.bc)
        returns = make_episode_returns(self.eval_env, self.network, self.config.eval_episodes)(trained,
                                                                                               run.validation_key)
        score = jnp.mean(returns).astype(jnp.float32)
        better = score > run.best_return
        best = jax.tree_util.tree_map(lambda new, old: jnp.where(better, new, old), trained, run.best)
        best_return = jnp.maximum(score, run.best_return)
        state = dataclasses.replace(state, inner=run.replace(best=best, best_return=best_return))
        return state, {"validation_return": score, "best_validation_return": best_return}


VALIDATION_STREAM = 90_000  # folded into the run's key for the keep_best validation episodes


def check_teacher_run(run_dir: str, env_name: str, env_kwargs: dict[str, Any],
                      ignore: Callable[[dict[str, Any]], dict[str, Any]] = dict) -> None:
    """Raises ValueError unless `run_dir` is a `simlab train` run of `env_name` with `env_kwargs`
    (both sides passed through `ignore`, which drops options that do not change what the policy reads)."""
    if not run_dir:
        raise ValueError(f"behaviour cloning needs a teacher: --set teacher=RUN_DIR (a `simlab train` run of "
                         f"{env_name!r})")
    config_path = Path(run_dir) / "config.json"
    if not config_path.is_file():
        raise ValueError(f"teacher={run_dir!r} has no config.json; pass the --out directory of a `simlab train` run")
    trained = json.loads(config_path.read_text())
    got, want = ignore(trained.get("env_kwargs") or {}), ignore(env_kwargs)
    if trained.get("env") != env_name or got != want:
        raise ValueError(f"teacher={run_dir!r} was trained on {trained.get('env')!r} with env options {got}, "
                         f"not on {env_name!r} with {want}")


def check_unit_box(env: Env, env_name: str) -> None:
    """DAgger clones actions in [-1, 1] (it clips the teacher's): refuses environments with other bounds."""
    spec = env.action_spec
    if not (isinstance(spec, BoxSpec) and np.all(np.asarray(spec.low) == -1.0) and np.all(np.asarray(spec.high) == 1.0)):
        raise ValueError(f"the bc agent clones actions in [-1, 1]; {env_name!r} has action bounds "
                         f"{getattr(spec, 'low', '?')} to {getattr(spec, 'high', '?')}: train it with ppo, sac or es")


def make_bc_learner(env_name: str, config: BCLearnerConfig | None = None, total_steps: int | None = None,
                    **env_kwargs) -> BCLearner:
    """A `BCLearner` cloning `config.teacher` on the registered single-agent, box-action environment `env_name`."""
    config = config or BCLearnerConfig()
    check_teacher_run(config.teacher, env_name, dict(env_kwargs))
    env = envs.make(env_name, **env_kwargs)
    check_unit_box(env, env_name)
    teacher_act = load_teacher(config.teacher)
    student = make_mlp_policy(env.observation_size, env.action_size, tuple(config.hidden))
    bc = make_behaviour_cloning([env], student, teacher_act, env.observation_size, config)
    return BCLearner(env_name, dict(env_kwargs), config, env, env, student, bc,
                     lambda key: student.init(key, env.observation_size), keep_best=config.keep_best)


registry.register_agent("bc", make_bc_learner, BCLearnerConfig)
