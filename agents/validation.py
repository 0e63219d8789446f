"""Checks that an (agent, environment) pair can be trained, before anything is compiled.

`agents.registry.make_agent` (and so `simlab train`, `simlab eval` and `agents.loading`) calls
`check_env_kwargs` and `check_trainable` first, so an environment that the single-agent MLP learners
cannot train (multi-agent, pixel observations, discrete actions) is refused at once with what to use
instead, rather than after compilation with a shape error.
"""
from __future__ import annotations

from typing import Any

from simlab import envs
from simlab.engine.specs import BoxSpec

# Keyword arguments of `envs.make` that the agent sets itself, with where to set them instead.
RESERVED_ENV_KWARGS = {
    "num_envs": "the agent's config sets the number of parallel environments: use `--num-envs N` or "
                "`--set num_envs=N` (Python: overrides={'num_envs': N})",
    "auto_reset": "training always uses fresh auto-reset",
}

# What to use instead of an environment the learners cannot train.
ALTERNATIVES = {
    "rendezvous": "use `simlab rendezvous train` / `simlab rendezvous eval` (the decentralized HPP agents), or "
                  "train your own multi-agent learner on `envs.pettingzoo.ParallelRendezvous` (PettingZoo "
                  "parallel API)",
    "pong": "train on `pong_state` (the same game observed through its true state [6]: `simlab train pong_state`), "
            "or use `simlab sensory train pong` (the pixel sensory-neuron agent)",
}


class UntrainableEnvironmentError(ValueError):
    """Raised for an environment that `simlab train`'s learners cannot train."""


def check_env_kwargs(env_kwargs: dict[str, Any] | None) -> None:
    """Raises ValueError for environment keyword arguments that the agent sets itself (e.g. `num_envs`)."""
    for key in sorted(env_kwargs or {}):
        if key in RESERVED_ENV_KWARGS:
            raise ValueError(f"environment option {key!r} cannot be set with --env-set / env_kwargs: "
                             f"{RESERVED_ENV_KWARGS[key]}")


def check_trainable(algo: str, env_name: str, env_kwargs: dict[str, Any] | None = None):
    """Builds the unbatched environment (validating `env_kwargs`) and raises `UntrainableEnvironmentError`
    unless `algo`'s MLP learner can train it: one agent, a flat observation vector and continuous
    (box) actions. Returns the environment."""
    entry = envs.entry(env_name)
    env = envs.make(env_name, **(env_kwargs or {}))
    instead = ALTERNATIVES.get(env_name)
    num_agents = getattr(env, "num_agents", None)
    if not entry.gym or (isinstance(num_agents, int) and num_agents > 1):
        raise UntrainableEnvironmentError(
            f"{env_name!r} is a multi-agent environment (per-agent observations {list(env.observation_spec.shape)} and "
            f"rewards); the {algo} learner of `simlab train` trains one agent. "
            + (instead[0].upper() + instead[1:] if instead else "Use a single-agent environment (`simlab envs`)") + ".")
    shape = tuple(env.observation_spec.shape)
    if len(shape) != 1:
        raise UntrainableEnvironmentError(
            f"{env_name!r} observes {'x'.join(map(str, shape))} arrays (e.g. pixels); the {algo} learner's MLP needs a "
            f"flat observation vector. " + (instead[0].upper() + instead[1:] if instead else
                                           "Use an environment with a vector observation (`simlab envs`)") + ".")
    if not isinstance(env.action_spec, BoxSpec):
        raise UntrainableEnvironmentError(
            f"{env_name!r} has {type(env.action_spec).__name__} actions; the {algo} learner needs continuous "
            f"(box) actions" + (f". {instead[0].upper() + instead[1:]}" if instead else "") + ".")
    return env
