"""The learner contract: what every agent hands the one training driver (`simlab.agents.train.train`).

A learner is a small frozen dataclass of pure functions plus what the driver needs to run, evaluate,
checkpoint and log it (PPO, SAC and APG are built that way by `agents.registry.make_agent`):

    state = learner.init(key)                              # a pytree dataclass with `iteration`, `env_steps`
    state, metrics = learner.iteration(state)              # jittable; metrics: {name: scalar}, incl. "train_return"
    act = learner.policy(state, deterministic=True)        # (obs [B, O], key) -> action [B, A], for evaluation

The driver jits `iteration`, evaluates `policy` on `eval_env` every few iterations, writes metrics.csv,
TensorBoard and checkpoints (orbax) of the whole `state`, resumes bit-identically from them, shows a
progress bar and honours time limits. `check_learner` is the boundary check `train` runs first.

Optional: `evaluate(state, key) -> returns [eval_episodes]`, used instead of evaluating `policy` when a
learner's policy carries a state or needs its own episodes (ES, `agents.es.learner`); and
`supports_mesh = False` for learners that cannot shard their batch over devices.
"""
from __future__ import annotations

from typing import Any, Callable, Protocol, runtime_checkable

import jax

from simlab.engine.env import Env


@runtime_checkable
class Learner(Protocol):
    """The attributes and methods the training driver uses (see the module docstring)."""

    name: str                   # the agent's name in run directories and logs, e.g. "ppo"
    env_name: str               # registered environment name
    env_kwargs: dict[str, Any]  # keyword arguments of `envs.make` (stored in config.json, checked on resume)
    config: Any                 # a config dataclass with `num_envs` and `eval_episodes`
    env: Env                    # the batched training environment (its batch may be sharded over a mesh)
    eval_env: Env               # an unbatched, time-limited environment for evaluation

    @property
    def steps_per_iteration(self) -> int:
        """Environment steps that one `iteration` takes (over the whole batch)."""

    def init(self, key: jax.Array) -> Any:
        """The initial training state; it has int32 scalar fields `iteration` and `env_steps`."""

    def iteration(self, state: Any) -> tuple[Any, dict[str, jax.Array]]:
        """One jittable training iteration: `(state, metrics)`; metrics include "train_return"."""

    def policy(self, state: Any, deterministic: bool = True) -> Callable[[jax.Array, jax.Array], jax.Array]:
        """`act(obs [B, O], key) -> action [B, A]` of the current parameters."""


REQUIRED = ("name", "env_name", "env_kwargs", "config", "env", "eval_env", "steps_per_iteration", "init",
            "iteration", "policy")


def check_learner(agent: Any) -> None:
    """Raises TypeError naming what `agent` lacks of the `Learner` contract (before anything is traced)."""
    missing = [name for name in REQUIRED if not hasattr(agent, name)]
    if missing:
        raise TypeError(f"{type(agent).__name__} is not a simlab learner: it lacks {', '.join(missing)} (see "
                        "simlab.agents.learner.Learner; build agents with simlab.agents.registry.make_agent)")
    config_missing = [f for f in ("num_envs", "eval_episodes") if not hasattr(agent.config, f)]
    if config_missing:
        raise TypeError(f"{type(agent).__name__}.config ({type(agent.config).__name__}) lacks "
                        f"{', '.join(config_missing)}, which the training driver reads")
    for method in ("init", "iteration", "policy"):
        if not callable(getattr(agent, method)):
            raise TypeError(f"{type(agent).__name__}.{method} must be callable")
