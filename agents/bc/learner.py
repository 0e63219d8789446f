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
import json
from pathlib import Path
from typing import Any, Callable

import jax
import numpy as np

from simlab import envs
from simlab.agents import registry
from simlab.agents.bc.dagger import BCConfig, BehaviourCloning, make_behaviour_cloning
from simlab.agents.config_validation import AT_LEAST_ONE, validate_config
from simlab.agents.evaluation import episode_length_of
from simlab.agents.learner import CountedState, NetworkPolicyMixin
from simlab.agents.loading import load_run
from simlab.agents.policy import RecurrentPolicy, make_mlp_policy
from simlab.engine.env import Env
from simlab.engine.specs import BoxSpec


@dataclasses.dataclass(frozen=True)
class BCLearnerConfig(BCConfig):
    """`BCConfig` (DAgger schedule, optimizer) plus the teacher and the student network.

    teacher: run directory of a `simlab train` run on the same environment (and environment options).
    hidden: the student MLP's hidden layer widths (tanh).
    eval_episodes: episodes of the driver's evaluation of the student.
    """

    teacher: str = ""
    hidden: tuple[int, ...] = (32, 16)
    eval_episodes: int = 16

    def __post_init__(self):
        super().__post_init__()
        validate_config(self, {"eval_episodes": AT_LEAST_ONE, "num_episodes": AT_LEAST_ONE,
                               "updates_per_iteration": AT_LEAST_ONE})

    @property
    def num_envs(self) -> int:
        """Episodes rolled out per iteration."""
        return self.num_episodes


@dataclasses.dataclass(frozen=True)
class BCLearner(NetworkPolicyMixin):
    """Build with `make_bc_learner` (or `agents.registry.make_agent("bc", ...)`)."""

    env_name: str
    env_kwargs: dict[str, Any]
    config: BCLearnerConfig
    env: Env          # unbatched, time-limited: the cloning episodes
    eval_env: Env
    network: RecurrentPolicy  # the student
    bc: BehaviourCloning
    name: str = "bc"
    supports_mesh = False  # one iteration is one program over all its episodes; not sharded

    @property
    def steps_per_iteration(self) -> int:
        per_episode = self.config.segment_steps or episode_length_of(self.env)
        return self.config.num_episodes * per_episode

    def init(self, key: jax.Array) -> CountedState:
        params_key, bc_key = jax.random.split(key)
        return CountedState.start(self.bc.init(bc_key, self.network.init(params_key, self.env.observation_size)))

    def iteration(self, state: CountedState) -> tuple[CountedState, dict[str, jax.Array]]:
        bc_state, metrics = self.bc.iteration(state.inner, 0)
        # The collected episodes' return (teacher and student mixed by beta): reward per step x episode length.
        metrics = {**metrics, "train_return": metrics["reward_per_step"] * episode_length_of(self.env)}
        return state.advance(bc_state, self.steps_per_iteration), metrics

    def params(self, state: CountedState):
        """The deployed student parameters (the moving average with `ema > 0`)."""
        return state.inner.average if self.config.ema else state.inner.params


def _teacher(run_dir: str, env_name: str, env_kwargs: dict[str, Any]) -> Callable[[jax.Array], jax.Array]:
    """The deterministic policy `act(obs [B, O]) -> action [B, A]` of the run in `run_dir`, after checking that
    it was trained on `env_name` with the same environment options."""
    if not run_dir:
        raise ValueError("the bc agent needs a teacher: --set teacher=RUN_DIR (a `simlab train` run of this env)")
    config_path = Path(run_dir) / "config.json"
    if not config_path.is_file():
        raise ValueError(f"teacher={run_dir!r} has no config.json; pass the --out directory of a `simlab train` run")
    trained = json.loads(config_path.read_text())
    if trained.get("env") != env_name or (trained.get("env_kwargs") or {}) != env_kwargs:
        raise ValueError(f"teacher={run_dir!r} was trained on {trained.get('env')!r} with env options "
                         f"{trained.get('env_kwargs') or {}}, not on {env_name!r} with {env_kwargs}")
    teacher, state, _ = load_run(run_dir)
    act, key = teacher.policy(state, deterministic=True), jax.random.key(0)
    return lambda obs: act(obs, key)


def make_bc_learner(env_name: str, config: BCLearnerConfig | None = None, total_steps: int | None = None,
                    **env_kwargs) -> BCLearner:
    """A `BCLearner` cloning `config.teacher` on the registered single-agent, box-action environment `env_name`."""
    config = config or BCLearnerConfig()
    teacher_act = _teacher(config.teacher, env_name, dict(env_kwargs))
    env = envs.make(env_name, **env_kwargs)
    spec = env.action_spec
    if not (isinstance(spec, BoxSpec) and np.all(np.asarray(spec.low) == -1.0) and np.all(np.asarray(spec.high) == 1.0)):
        raise ValueError(f"the bc agent clones actions in [-1, 1]; {env_name!r} has action bounds "
                         f"{getattr(spec, 'low', '?')} to {getattr(spec, 'high', '?')}: train it with ppo, sac or es")
    student = make_mlp_policy(env.observation_size, env.action_size, tuple(config.hidden))
    bc = make_behaviour_cloning([env], student, teacher_act, env.observation_size, config)
    return BCLearner(env_name, dict(env_kwargs), config, env, env, student, bc)


registry.register_agent("bc", make_bc_learner, BCLearnerConfig)
