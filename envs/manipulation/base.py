"""Shared plumbing of the manipulation tasks: model loading, body lookup, rendering.

Every task here simulates an in-repo MJCF (`envs/manipulation/assets/*.xml`) with
`engine.physics`, keeps its `System` in `self.sys` and reads it only from there
inside `reset`/`step`, so `engine.wrappers.DomainRandomization` can substitute a
per-environment system (masses, friction, gains) without retracing.
"""
from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp

from simlab.engine import physics
from simlab.engine.env import Env
from simlab.engine.specs import BoxSpec
from simlab.engine.struct import pytree_dataclass
from simlab.envs.mjrender import MujocoRenderMixin

ASSETS = Path(__file__).parent / "assets"


def asset_path(name: str) -> str:
    """Absolute path of a model file shipped in `envs/manipulation/assets/`."""
    path = ASSETS / name
    if not path.exists():
        raise FileNotFoundError(f"missing model {path}; reinstall simlab (package data envs/manipulation/assets/*.xml)")
    return str(path)


@pytree_dataclass
class TaskSim:
    """Simulator state of a goal-directed task (unbatched shapes).

    physics: `engine.physics.State`; target: `[3]` goal position (m, world);
    key: PRNG key for draws during the episode (e.g. re-sampled targets);
    count: scalar int32 episode counter (e.g. targets reached).
    """

    physics: physics.State
    target: jax.Array
    key: jax.Array
    count: jax.Array


class PhysicsTask(MujocoRenderMixin, Env):
    """Base of tasks on one in-repo MJCF model (`_load` sets `mjcf_path`, `sys`, `dt`)."""

    mjcf_path: str
    sys: physics.System

    def _load(self, name: str, substeps: int) -> None:
        self.mjcf_path = asset_path(name)
        self.sys = physics.load_mjcf(self.mjcf_path, substeps=substeps)
        self.dt = float(self.sys.timestep) * substeps

    def body_index(self, name: str) -> int:
        """Index of body `name` in `State.x_pos` (MuJoCo order)."""
        try:
            return self.sys.body_names.index(name)
        except ValueError:
            raise ValueError(f"{type(self).__name__}: no body {name!r}; bodies: {self.sys.body_names}") from None

    def ctrl_spec(self) -> BoxSpec:
        """Box of the actuator controls `[nu]` (each actuator's ctrlrange)."""
        rng = jax.device_get(self.sys.act_ctrlrange)
        return BoxSpec(shape=(self.sys.nu,), low=rng[:, 0], high=rng[:, 1])

    def render_q(self, state):
        return jax.device_get(state.sim.physics.q)


def clip_to(spec: BoxSpec, action: jax.Array) -> jax.Array:
    """`action` clamped to the bounds of `spec` (as MuJoCo clamps ctrl to ctrlrange)."""
    return jnp.clip(action, jnp.asarray(spec.low), jnp.asarray(spec.high))


def norm(x: jax.Array) -> jax.Array:
    """Euclidean norm over the last axis, with a finite gradient at 0."""
    return jnp.sqrt(jnp.sum(jnp.square(x), axis=-1) + 1e-12)
