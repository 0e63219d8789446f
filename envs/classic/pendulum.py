"""Inverted pendulum swing-up with gymnasium's `Pendulum-v1` semantics, pure JAX.

| quantity | value |
|---|---|
| observation | `[cos theta, sin theta, theta']`, float32[3], bounds [1, 1, 8] |
| action | torque, float32[1] in [-2, 2] N m (clamped, as gymnasium does) |
| reward | `-(angle_normalize(theta)^2 + 0.1 theta'^2 + 0.001 u^2)` |
| termination | never |
| truncation | 200 steps (via `envs.make`'s time limit) |
| reset | theta ~ U(-pi, pi), theta' ~ U(-1, 1) (`reset_theta=0.5` gives a balancing task) |

Dynamics (semi-implicit Euler, dt = 0.05 s, g = 10, m = 1, l = 1):
`theta'' = 3 g / (2 l) sin theta + 3 / (m l^2) u`, `theta'` clipped to [-8, 8].
theta = 0 is upright. Step-for-step equal to gymnasium's implementation up
to float32 rounding (tested).
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from simlab.engine.env import Env, State, initial_state
from simlab.engine.specs import BoxSpec
from simlab.envs import render2d
from simlab.envs.boundary import with_overrides


@dataclasses.dataclass(frozen=True)
class PendulumParams:
    gravity: float = 10.0
    mass: float = 1.0
    length: float = 1.0
    dt: float = 0.05
    max_speed: float = 8.0
    max_torque: float = 2.0
    reset_theta: float = float(np.pi)  # initial angle ~ U(-reset_theta, reset_theta); pi = gymnasium
    reset_theta_dot: float = 1.0


def angle_normalize(theta: jax.Array) -> jax.Array:
    """Wraps an angle to [-pi, pi] (the nearest multiple of 2 pi is subtracted; at +-pi either sign may come
    out, which the squared cost does not see). A round costs less than a floating-point remainder on CPU."""
    return theta - (2 * np.pi) * jnp.round(theta / (2 * np.pi))


class Pendulum(Env):
    """Pendulum swing-up with gymnasium Pendulum-v1 dynamics, reward and limits."""

    default_episode_length = 200

    def __init__(self, params: PendulumParams | None = None, **overrides):
        self.params = with_overrides(params or PendulumParams(), overrides, "pendulum")
        self.dt = self.params.dt

    @property
    def observation_spec(self) -> BoxSpec:
        high = np.array([1.0, 1.0, self.params.max_speed], np.float32)
        return BoxSpec(shape=(3,), low=-high, high=high)

    @property
    def action_spec(self) -> BoxSpec:
        t = self.params.max_torque
        return BoxSpec(shape=(1,), low=-t, high=t)

    def reset(self, key: jax.Array) -> State:
        half_range = jnp.array([self.params.reset_theta, self.params.reset_theta_dot], jnp.float32)
        sim = jax.random.uniform(key, (2,), jnp.float32, -1.0, 1.0) * half_range
        return initial_state(sim, self._observe(sim))

    def step(self, state: State, action: jax.Array) -> State:
        p = self.params
        theta, theta_dot = state.sim[0], state.sim[1]
        torque = jnp.clip(action[0], -p.max_torque, p.max_torque)
        cost = angle_normalize(theta) ** 2 + 0.1 * theta_dot**2 + 0.001 * torque**2
        theta_acc = 3 * p.gravity / (2 * p.length) * jnp.sin(theta) + 3.0 / (p.mass * p.length**2) * torque
        new_theta_dot = jnp.clip(theta_dot + theta_acc * p.dt, -p.max_speed, p.max_speed)
        sim = jnp.stack([theta + new_theta_dot * p.dt, new_theta_dot]).astype(jnp.float32)
        return state.replace(
            sim=sim,
            obs=self._observe(sim),
            reward=(-cost).astype(jnp.float32),
            terminated=jnp.zeros((), jnp.bool_),
            truncated=jnp.zeros((), jnp.bool_),
        )

    @staticmethod
    def _observe(sim: jax.Array) -> jax.Array:
        return jnp.stack([jnp.cos(sim[0]), jnp.sin(sim[0]), sim[1]]).astype(jnp.float32)

    def render_rgb(self, state: State, width: int = 320, height: int = 240) -> np.ndarray:
        """Front view: pivot at the centre, rod (red) pointing up at theta = 0."""
        theta = float(state.sim[0])
        canvas = render2d.Canvas(width, height, x_range=(-2.2, 2.2), y_center=0.0)
        tip = (self.params.length * np.sin(theta), self.params.length * np.cos(theta))
        canvas.line((0.0, 0.0), tip, (200, 60, 60), 8)
        canvas.circle((0.0, 0.0), 0.06, (30, 30, 30))
        return canvas.pixels


def balance_pendulum(**overrides) -> Pendulum:
    """Inverted-pendulum balancing: Pendulum-v1 dynamics started within 0.3 rad of upright."""
    return Pendulum(**{"reset_theta": 0.3, **overrides})
