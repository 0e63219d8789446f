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
import functools
import inspect
import re
from typing import Any, Callable, Literal, Sequence

import numpy as np

from simlab.engine import mujoco_log
from simlab.engine.devices import env_batch_mesh
from simlab.engine.env import Env
from simlab.engine.wrappers import ActionRatePenalty, wrap_for_training
from simlab.engine.wrappers.randomization import DomainRandomization
from simlab.envs import param_checks

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
    wrappers: Sequence[Callable[[Env], Env]] = (),
    randomize: Callable | None = None,
    action_rate_penalty: float = 0.0,
    devices: Any = "all",
    **kwargs: Any,
) -> Env:
    """Creates a registered environment.

    The stack, innermost first: the environment, `wrappers` in order (then the shortcuts'
    wrappers), `TimeLimit`, and for `num_envs` also `AutoReset`, `EpisodeStatistics`, `VmapWrapper`:

        envs.make("ant", num_envs=64, wrappers=[ShuffleObservation, partial(ActionRatePenalty, weight=0.5)])
        # VmapWrapper(EpisodeStatistics(AutoReset(TimeLimit(ActionRatePenalty(ShuffleObservation(Ant()))))))

    Args:
      name: registered name (see `names()`).
      episode_length: steps before truncation; default: the environment's own
        (`Env.default_episode_length`); `None` disables the time limit.
      num_envs: if given, returns a batched environment (leading axis
        `[num_envs]`) with auto-reset and episode statistics; otherwise an
        unbatched environment with only the time limit.
      auto_reset: for batched environments, "fresh" (new random initial state
        per episode), "cached" (reuse the first) or None (no auto-reset). Fresh initial states
        are drawn ahead and redrawn in small batches, so they cost about as little as cached
        ones (`engine.wrappers.autoreset`).
      devices: for batched environments, the devices the batch is split over: "all" (default:
        every local device; on a CPU host call `engine.use_all_cpu_cores()` first to get one
        device per core; environments with a cheap step, e.g. classic control, use only as many
        devices as get 512 environments each), None or 1 (one device), an int k (the first k) or
        a list of `jax.Device`s. Any `num_envs` works (an indivisible batch is padded); results equal the
        one-device run to float tolerance (`engine.devices`).
      wrappers: callables `env -> env` (wrapper classes of `engine.wrappers`, or
        `functools.partial`s of them for options), applied in order to the unbatched
        environment (obs `[*obs_spec.shape]`, action `[*action_spec.shape]`), before the time
        limit, so with fresh auto-reset every episode starts from a fresh wrapper state.
        Shapes seen by each item are the previous item's specs; the batch axis comes later.
      randomize: shortcut for appending `partial(DomainRandomization, randomize=randomize)`
        to `wrappers`: domain randomization for physics environments, `(sys, key) ->
        {System field: value}`; each environment (and, with fresh auto-reset, each
        episode) draws its own parameters (see `engine.wrappers.randomization`).
        It needs the physics environment itself, so combined with other wrappers list it
        first in `wrappers` instead.
      action_rate_penalty: shortcut for appending `partial(ActionRatePenalty,
        weight=action_rate_penalty)` to `wrappers` when nonzero (it must be >= 0): adds
        `-w * sum((a_t - a_{t-1})^2)` to the reward (`engine.wrappers.shaping`; training-only
        shaping for smooth control).
      **kwargs: forwarded to the environment's constructor.

    Raises:
      UnknownEnvironmentError: unknown `name` (lists close matches).
      TypeError: an argument the environment does not accept, or a value of the wrong type for it
        (e.g. `gravity="abc"`; checked against the option's annotation, see `envs.param_checks`);
        `wrappers` not a list, an item that is not callable, or one that does not return an `engine.Env`.
      ValueError: a value out of range, e.g. a time step `dt <= 0` or `frame_skip < 1`.

    MuJoCo's warnings while building the environment (e.g. deprecated attributes of an installed
    model) are routed to Python's `warnings` instead of the terminal and `MUJOCO_LOG.TXT`.
    """
    spec = entry(name)
    stack = _check_wrappers(name, wrappers)
    if num_envs is not None and (isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer))
                                 or num_envs < 1):
        raise ValueError(f"envs.make({name!r}): num_envs must be a positive int (parallel environments), got "
                         f"{num_envs!r}")
    if randomize is not None:
        stack.append(("randomize=", functools.partial(DomainRandomization, randomize=randomize)))
    if action_rate_penalty is not None and action_rate_penalty != 0:  # ActionRatePenalty validates the value
        stack.append(("action_rate_penalty=", functools.partial(ActionRatePenalty, weight=action_rate_penalty)))
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
    for label, wrap in stack:
        env = _apply(name, label, wrap, env)
    if episode_length is _DEFAULT:
        episode_length = env.default_episode_length
    if num_envs is None:
        return wrap_for_training(env, None, episode_length, auto_reset=None)
    mesh = env_batch_mesh(env, int(num_envs), devices)
    return wrap_for_training(env, int(num_envs), episode_length, auto_reset=auto_reset, mesh=mesh)


_WRAPPER_FIX = ("pass wrapper classes or functools.partial(WrapperClass, option=value) items, e.g. "
                "wrappers=[functools.partial(ActionRatePenalty, weight=0.5)]")


def _describe(item: Any) -> str:
    """A short name for a `wrappers` item: the class or function, or `partial(Class, ...)`."""
    if isinstance(item, functools.partial):
        return f"functools.partial({_describe(item.func)}, ...)"
    return getattr(item, "__qualname__", None) or repr(item)


def _check_wrappers(name: str, wrappers: Any) -> list[tuple[str, Callable[[Env], Env]]]:
    """`wrappers` as `[(label, callable)]`; raises TypeError for a non-sequence or a non-callable item."""
    if isinstance(wrappers, (str, bytes)) or not isinstance(wrappers, Sequence):
        raise TypeError(f"envs.make({name!r}, wrappers=...) takes a list of callables env -> env, got "
                        f"{type(wrappers).__name__} {_describe(wrappers)}; wrap a single wrapper in a list "
                        f"(wrappers=[{_describe(wrappers)}]) or convert an iterable with list(...)")
    stack = []
    for i, item in enumerate(wrappers):
        if not callable(item):
            hint = (" (an already-built wrapper: pass its class, or a functools.partial of it, and let make "
                    "apply it)") if isinstance(item, Env) else ""
            raise TypeError(f"envs.make({name!r}): wrappers[{i}] is {type(item).__name__} {item!r}, not a callable "
                            f"env -> env{hint}; {_WRAPPER_FIX}")
        stack.append((f"wrappers[{i}]", item))
    return stack


def _apply(name: str, label: str, wrap: Callable[[Env], Env], env: Env) -> Env:
    """`wrap(env)`, checked to be an `engine.Env`; `label` names the item in errors."""
    try:
        wrapped = wrap(env)
    except TypeError as err:  # e.g. a wrapper class whose options were not bound; keeps the type and message
        err.add_note(f"(raised by envs.make({name!r}) applying {label} = {_describe(wrap)} to {type(env).__name__}; "
                     f"each item is called as item(env): {_WRAPPER_FIX})")
        raise
    if not isinstance(wrapped, Env):
        raise TypeError(f"envs.make({name!r}): {label} = {_describe(wrap)} returned {type(wrapped).__name__}, not an "
                        f"engine.Env; a wrapper takes the environment and returns the wrapped one "
                        f"(subclass engine.wrappers.Wrapper); {_WRAPPER_FIX}")
    return wrapped
