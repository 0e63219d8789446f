"""The learner contract: what every agent hands the one training driver (`simlab.agents.train.train`).

A learner is a small frozen dataclass of pure functions plus what the driver needs to run, evaluate,
checkpoint and log it (PPO, SAC and APG are built that way by `agents.registry.make_agent`):

    state = learner.init(key)                              # a pytree dataclass with `iteration`, `env_steps`
    state, metrics = learner.iteration(state)              # jittable; metrics: {name: scalar}, incl. "train_return"
    act = learner.policy(state, deterministic=True)        # (obs [B, O], key) -> action [B, A], for evaluation

The driver jits `iteration`, evaluates `policy` on `eval_env` every few iterations, writes metrics.csv,
TensorBoard and checkpoints (orbax) of the whole `state`, resumes bit-identically from them, shows a
progress bar and honours time limits. `check_learner` is the boundary check `train` runs first.

Every learner also deploys its policy as simlab's one policy type: `learner.network` (an
`agents.policy.RecurrentPolicy`; feed-forward ones have an empty carry) with parameters
`learner.params(state)`, so evaluation, behaviour-cloning teachers and tools read any learner the same way
(`DeployedPolicyMixin` derives both for PPO, SAC and APG from their deterministic action).

Optional: `evaluate(state, key) -> returns [eval_episodes]`, used instead of evaluating `policy` when a
learner's policy carries a state or needs its own episodes (ES, `agents.es.learner`);
`select(state) -> (state, metrics)`, which the driver calls (jitted) at every evaluation point before it
evaluates and checkpoints, so that a learner can validate its parameters and keep the best ones in its
own state (behaviour cloning's `keep_best`: checkpointed and resumed with the rest; `metrics` join the row);
and `supports_mesh = False` for learners that cannot shard their batch over devices.
"""
from __future__ import annotations

from typing import Any, Callable, Protocol, runtime_checkable

import jax
import jax.numpy as jnp

from simlab.agents.evaluation import make_episode_returns
from simlab.agents.policy import RecurrentPolicy, feed_forward_policy
from simlab.engine.env import Env
from simlab.engine.struct import pytree_dataclass


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

    @property
    def network(self) -> RecurrentPolicy:
        """The deployed policy as the one policy type (unbatched `step(params, carry, obs [O])`)."""

    def params(self, state: Any) -> Any:
        """The parameters `network` deploys in `state`."""


REQUIRED = ("name", "env_name", "env_kwargs", "config", "env", "eval_env", "steps_per_iteration", "init",
            "iteration", "policy", "network", "params")


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
    for method in ("init", "iteration", "policy", "params"):
        if not callable(getattr(agent, method)):
            raise TypeError(f"{type(agent).__name__}.{method} must be callable")


@pytree_dataclass
class CountedState:
    """The state of a learner built around another algorithm's state (`inner`: ES's, DAgger's), plus the
    driver's counters (int32 scalars)."""

    inner: Any
    iteration: jax.Array
    env_steps: jax.Array

    @classmethod
    def start(cls, inner: Any) -> "CountedState":
        return cls(inner=inner, iteration=jnp.zeros((), jnp.int32), env_steps=jnp.zeros((), jnp.int32))

    def advance(self, inner: Any, steps: int) -> "CountedState":
        """The next iteration's state: `inner` replaced, counters advanced by one iteration of `steps` env steps."""
        return CountedState(inner=inner, iteration=self.iteration + 1, env_steps=self.env_steps + steps)


class DeployedPolicyMixin:
    """For learners with a deterministic feed-forward action `act_from(params, obs [B, O]) -> action [B, A]` of
    `params(state)` (PPO, SAC, APG): the deployed policy as the one policy type, `network`."""

    @property
    def network(self) -> RecurrentPolicy:
        """`step(params, (), obs [O]) -> ((), action [A])`, the deterministic policy in environment units."""
        act_from = self.act_from
        return feed_forward_policy(self.name, self.eval_env.action_size, self.eval_env.observation_size,
                                   lambda key, n: self.params(self.init(key)),
                                   lambda params, obs: act_from(params, obs[None])[0])


class NetworkPolicyMixin:
    """For learners that deploy a `RecurrentPolicy` (`self.network`) with parameters `self.params(state)`:
    the driver's evaluation (`evaluate`, recurrent or not) and, for a feed-forward network, the batched
    `policy`."""

    def evaluate(self, state: Any, key: jax.Array, num_episodes: int | None = None) -> jax.Array:
        """`[num_episodes]` (default `config.eval_episodes`) returns of the deployed parameters on `eval_env`."""
        episodes = num_episodes or self.config.eval_episodes
        return make_episode_returns(self.eval_env, self.network, episodes)(self.params(state), key)

    def policy(self, state: Any, deterministic: bool = True) -> Callable[[jax.Array, jax.Array], jax.Array]:
        """`act(obs [B, O], key) -> action [B, A]` of the deployed parameters (deterministic either way).

        Raises TypeError for a recurrent network, whose action depends on its carried state: use `evaluate`."""
        params, network, num_inputs = self.params(state), self.network, self.eval_env.observation_size
        if not network.is_feed_forward(num_inputs):
            raise TypeError(f"the {self.name} learner's policy {network.name!r} carries a recurrent state, so it "
                            "has no stateless act(obs, key); evaluate it with learner.evaluate(state, key) "
                            "(what `simlab eval` and the training driver do)")

        def act(obs, key):
            return jax.vmap(lambda o: network.step(params, network.initial_carry(num_inputs), o)[1])(obs)

        return act
