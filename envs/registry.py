"""Name -> environment factory registry.

    envs.register("my_task", MyTask, gym_name="MyTask")
    env = envs.make("my_task", episode_length=500)            # unbatched, time limit
    batch = envs.make("my_task", num_envs=1024)               # + auto-reset + vmap
    envs.names()                                              # sorted names

Every registered environment is also registered with gymnasium as
`simlab/<GymName>-v0` (see `envs.gym_env` / `envs.gym_vector`).
"""
from __future__ import annotations

import dataclasses
import difflib
import inspect
import re
from typing import Any, Callable, Literal

from simlab.engine import mujoco_log
from simlab.engine.env import Env
from simlab.envs import param_checks
from simlab.engine.wrappers import wrap_for_training

_DEFAULT = object()


class UnknownEnvironmentError(KeyError):
    """Raised by `make` for a name that is not registered."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


@dataclasses.dataclass(frozen=True)
class EnvEntry:
    name: str
    factory: Callable[..., Env]
    gym_name: str
    description: str
    gym: bool = True

    @property
    def gym_id(self) -> str:
        return f"simlab/{self.gym_name}-v0"


_REGISTRY: dict[str, EnvEntry] = {}
_LISTENERS: list[Callable[[EnvEntry], None]] = []
_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def register(name: str, factory: Callable[..., Env], *, gym_name: str | None = None,
             description: str = "", gym: bool = True) -> EnvEntry:
    """Registers `factory(**kwargs) -> Env` under `name` (lower_snake_case).

    `gym_name` (default: CamelCase of `name`) names the entry for adapters: the gymnasium layer
    (`envs.gym_registration`) adds it as `simlab/<gym_name>-v0` unless `gym=False` (multi-agent
    environments, whose rewards are per-agent arrays, use their own adapters). Every listener added
    with `on_register` is told. Re-registering a name raises.
    """
    if not _NAME_PATTERN.match(name):
        raise ValueError(f"environment names are lower_snake_case (e.g. 'cartpole_swingup'), got {name!r}")
    if name in _REGISTRY:
        raise ValueError(f"environment {name!r} is already registered (by {_REGISTRY[name].factory!r})")
    if not callable(factory):
        raise TypeError(f"factory for {name!r} must be callable, got {type(factory).__name__}")
    entry = EnvEntry(name, factory, gym_name or _camel(name), description or _first_line(factory), gym)
    _REGISTRY[name] = entry
    for listener in _LISTENERS:
        listener(entry)
    return entry


def on_register(listener: Callable[[EnvEntry], None]) -> None:
    """Calls `listener(entry)` for every entry registered so far, and for each one registered later.

    Adapters use it to mirror the registry (the gymnasium layer adds each entry to gymnasium's own);
    the registry itself knows nothing of them.
    """
    _LISTENERS.append(listener)
    for existing in list(_REGISTRY.values()):
        listener(existing)


def _first_line(obj: Any) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.splitlines()[0] if doc else ""


def names() -> list[str]:
    """All registered environment names, sorted."""
    return sorted(_REGISTRY)


def entry(name: str) -> EnvEntry:
    """The registry entry of `name`; raises `UnknownEnvironmentError` with close matches."""
    if not isinstance(name, str):
        raise TypeError(f"environment name must be a str, got {type(name).__name__}")
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=3, cutoff=0.5)
        by_gym = [e.name for e in _REGISTRY.values() if name in (e.gym_name, e.gym_id)]
        hint = by_gym or close
        msg = f"unknown environment {name!r}."
        if hint:
            msg += f" Did you mean {', '.join(repr(h) for h in hint)}?"
        msg += f" Registered: {', '.join(names())}. Run `simlab envs` for the list."
        raise UnknownEnvironmentError(msg) from None


def make(
    name: str,
    *,
    episode_length: int | None | object = _DEFAULT,
    num_envs: int | None = None,
    auto_reset: Literal["fresh", "cached"] | None = "fresh",
    randomize: Callable | None = None,
    action_rate_penalty: float = 0.0,
    **kwargs: Any,
) -> Env:
    """Creates a registered environment.

    Args:
      name: registered name (see `names()`).
      episode_length: steps before truncation; default: the environment's own
        (`Env.default_episode_length`); `None` disables the time limit.
      num_envs: if given, returns a batched environment (leading axis
        `[num_envs]`) with auto-reset and episode statistics; otherwise an
        unbatched environment with only the time limit.
      auto_reset: for batched environments, "fresh" (new random initial state
        per episode), "cached" (reuse the first) or None (no auto-reset).
      randomize: domain randomization for physics environments, `(sys, key) ->
        {System field: value}`; each environment (and, with fresh auto-reset, each
        episode) draws its own parameters (see `envs.randomization`).
      action_rate_penalty: if > 0, adds `-w * sum((a_t - a_{t-1})^2)` to the reward
        (`envs.shaping.ActionRatePenalty`; training-only shaping for smooth control).
      **kwargs: forwarded to the environment's constructor.

    Raises:
      UnknownEnvironmentError: unknown `name` (lists close matches).
      TypeError: an argument the environment does not accept, or a value of the wrong type for it
        (e.g. `gravity="abc"`; checked against the option's annotation, see `envs.param_checks`).
      ValueError: a value out of range, e.g. a time step `dt <= 0` or `frame_skip < 1`.

    MuJoCo's warnings while building the environment (e.g. deprecated attributes of an installed
    model) are routed to Python's `warnings` instead of the terminal and `MUJOCO_LOG.TXT`.
    """
    spec = entry(name)
    checked = param_checks.check_kwargs(name, spec.factory, kwargs)
    try:
        with mujoco_log.quiet_mujoco():
            env = spec.factory(**kwargs)
    except TypeError as err:
        if "unexpected keyword" in str(err) or "unknown parameter" in str(err):
            raise TypeError(f"envs.make({name!r}): {err}") from None
        raise
    if not isinstance(env, Env):
        raise TypeError(f"factory of {name!r} returned {type(env).__name__}, not an engine.Env")
    param_checks.check_constructed(name, env, kwargs, checked)
    if randomize is not None:
        from simlab.envs.randomization import DomainRandomization

        env = DomainRandomization(env, randomize)
    if action_rate_penalty is not None and action_rate_penalty != 0:  # ActionRatePenalty validates the value
        from simlab.envs.shaping import ActionRatePenalty

        env = ActionRatePenalty(env, action_rate_penalty)
    if episode_length is _DEFAULT:
        episode_length = env.default_episode_length
    if num_envs is None:
        return wrap_for_training(env, None, episode_length, auto_reset=None)
    return wrap_for_training(env, num_envs, episode_length, auto_reset=auto_reset)
