"""Domain randomization: per-environment physics parameters carried in the state.

    def randomize(sys, key):                       # sys: engine.physics.System, key: PRNG key
        friction_key, gain_key = jax.random.split(key)
        return {"geom_friction": sys.geom_friction * jax.random.uniform(friction_key, (), minval=0.5, maxval=1.5),
                "act_gain": sys.act_gain * jax.random.uniform(gain_key, sys.act_gain.shape, minval=0.8, maxval=1.2)}

    env = envs.make("ant", num_envs=1024, randomize=randomize)
    # the same: envs.make("ant", num_envs=1024, wrappers=[functools.partial(DomainRandomization, randomize=randomize)])
    state = jax.jit(env.reset)(key)          # state.info["sys_params"]["act_gain"]: [1024, nu]
    state = jax.jit(env.step)(state, action) # one call steps 1024 different systems

Design. `randomize(sys, key)` returns a dict of `System` field overrides (any numeric
field: `body_mass`, `geom_friction`, `act_gain`, `dof_damping`, `timestep`, ...; each
with the field's shape and dtype) — or a whole `System`. `DomainRandomization` wraps an
*unbatched* environment: `reset` draws the overrides and stores them in
`state.info["sys_params"]`; `step` rebuilds the system from them and steps with it. The
parameters are therefore ordinary state leaves: `vmap` gives every environment its own
set, one jitted `step` serves every parameter set without retracing, and with the fresh
auto-reset of `envs.make` every new episode draws new parameters (with
`auto_reset="cached"` each environment keeps its first draw).

Contract for wrapped environments: the system lives in `self.sys` (an
`engine.physics.System`) and `reset`/`step` read physical parameters from it at trace
time. Values an environment copies out of `sys` in its constructor (e.g. a cached
ctrlrange used for clipping) are not randomized; randomize the fields the physics
step reads.
"""
from __future__ import annotations

import copy
import dataclasses
from typing import Any, Callable, Mapping

import jax
import jax.numpy as jnp

from simlab.engine.env import Env, State
from simlab.engine.physics import System
from simlab.engine.wrappers.core import Wrapper

Randomizer = Callable[[System, jax.Array], "Mapping[str, jax.Array] | System"]
INFO_KEY = "sys_params"


def parameter_fields() -> tuple[str, ...]:
    """Names of the numeric (randomizable) `System` fields."""
    return tuple(f.name for f in dataclasses.fields(System) if not f.metadata.get("static"))


class DomainRandomization(Wrapper):
    """Draws `System` parameters per episode with `randomize(sys, key)` and steps with them.

    Args:
      env: an unbatched environment with `env.sys` (see the module docstring);
        put this wrapper innermost, below the time limit, auto-reset and vmap.
      randomize: `(sys, key) -> {field: value}` (or a `System`); values must keep each
        field's shape and dtype. Checked once, abstractly, at construction.

    Adds `state.info["sys_params"]`: the dict of overridden fields.
    """

    def __init__(self, env: Env, randomize: Randomizer):
        super().__init__(env)
        if not isinstance(getattr(env, "sys", None), System):
            raise TypeError(f"domain randomization needs an environment with a physics System in `.sys`; "
                            f"{type(env).__name__} has none (wrap the unwrapped physics env, before TimeLimit/vmap and "
                            "other wrappers: with envs.make, list functools.partial(DomainRandomization, randomize=fn) "
                            "first in wrappers=[...] instead of randomize=fn, which appends it after them)")
        if not callable(randomize):
            raise TypeError(f"randomize must be a function (sys, key) -> dict of System fields, got {randomize!r}")
        self.randomize = randomize
        self.fields = self._check(randomize)

    def _check(self, randomize: Randomizer) -> tuple[str, ...]:
        base = self.env.sys
        try:
            out = jax.eval_shape(lambda key: self._overrides(randomize(base, key)), jax.random.key(0))
        except (TypeError, ValueError) as err:
            raise type(err)(f"randomize(sys, key) failed on the base system: {err}") from None
        valid = parameter_fields()
        for name, value in out.items():
            if name not in valid:
                raise ValueError(f"randomize returned unknown or static System field {name!r}; "
                                 f"randomizable fields: {', '.join(valid)}")
            expected = getattr(base, name)
            if value.shape != expected.shape or value.dtype != expected.dtype:
                raise ValueError(f"randomize returned {name} with shape {value.shape} {value.dtype}; it must keep the "
                                 f"field's shape {expected.shape} {expected.dtype} (one environment's values; "
                                 "the batch axis comes from vmap)")
        return tuple(sorted(out))

    @staticmethod
    def _overrides(result: Any) -> dict[str, jax.Array]:
        if isinstance(result, System):
            return {name: getattr(result, name) for name in parameter_fields()}
        if not isinstance(result, Mapping):
            raise TypeError(f"randomize must return a dict of System fields or a System, got {type(result).__name__}")
        return {name: jnp.asarray(value) for name, value in result.items()}

    def with_params(self, params: Mapping[str, jax.Array]) -> Env:
        """A shallow copy of the wrapped environment whose `sys` carries `params`."""
        clone = copy.copy(self.env)
        clone.sys = self.env.sys.replace(**params)
        return clone

    def reset(self, key: jax.Array) -> State:
        params_key, env_key = jax.random.split(key)
        params = self._overrides(self.randomize(self.env.sys, params_key))
        state = self.with_params(params).reset(env_key)
        return state.replace(info={**state.info, INFO_KEY: params})

    def step(self, state: State, action: jax.Array) -> State:
        params = state.info[INFO_KEY]
        inner = {k: v for k, v in state.info.items() if k != INFO_KEY}
        stepped = self.with_params(params).step(state.replace(info=inner), action)
        return stepped.replace(info={**stepped.info, INFO_KEY: params})

    def __repr__(self) -> str:
        return f"DomainRandomization({self.env!r}, fields={list(self.fields)})"
