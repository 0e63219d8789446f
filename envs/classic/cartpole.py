"""Cart-pole balancing with gymnasium's `CartPole-v1` semantics, pure JAX.

A pole hinged on a cart starts nearly upright; each step pushes the cart left or
right with a fixed force, and the episode ends when the pole tilts past 12
degrees or the cart leaves the track. Dynamics are Florian's (2007) corrected
equations for a frictionless cart and a uniform pole of half-length `l`:

    temp    = (F + m l theta'^2 sin theta) / (M + m)
    theta'' = (g sin theta - cos theta temp) / (l (4/3 - m cos^2 theta / (M + m)))
    x''     = temp - m l theta'' cos theta / (M + m)

integrated with explicit Euler (positions advance with the old velocities),
tau = 0.02 s, as gymnasium's default `kinematics_integrator="euler"`.

| quantity | value |
|---|---|
| observation | `[x, x', theta, theta']`, float32[4], bounds `[±4.8, ±inf, ±24 deg, ±inf]` (gymnasium's) |
| action | int32 scalar in {0, 1} (`DiscreteSpec(2)`): 1 pushes right with 10 N, any other value left |
| reward | 1 for every step, including the one that terminates |
| termination | `|x| > 2.4` or `|theta| > 12 deg` |
| truncation | 500 steps (via `envs.make`'s time limit) |
| reset | `[x, x', theta, theta']` ~ U(-0.05, 0.05) each |

theta = 0 is upright; positive theta tilts the pole towards +x. Equal to
gymnasium's implementation up to float32 rounding (gymnasium keeps a float64
state): tested open-loop for 105 steps (the upright pole is unstable, so the
rounding difference grows about e-fold every 9 steps), one step from each state
of a 500-step episode, and on the terminating step of 16 episodes.
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from simlab.engine.env import Env, State, initial_state
from simlab.engine.specs import BoxSpec, DiscreteSpec
from simlab.envs import render2d
from simlab.envs.boundary import with_overrides


@dataclasses.dataclass(frozen=True)
class CartPoleBalanceParams:
    """Physical constants (SI units); defaults are gymnasium's CartPole-v1."""

    gravity: float = 9.8
    cart_mass: float = 1.0
    pole_mass: float = 0.1
    pole_half_length: float = 0.5
    force_mag: float = 10.0
    dt: float = 0.02
    x_limit: float = 2.4
    theta_limit: float = 12 * 2 * np.pi / 360
    reset_half_range: float = 0.05


class CartPole(Env):
    """Cart-pole balancing with gymnasium CartPole-v1 dynamics, reward, limits and resets."""

    default_episode_length = 500

    def __init__(self, params: CartPoleBalanceParams | None = None, **overrides):
        self.params = with_overrides(params or CartPoleBalanceParams(), overrides, "cartpole")
        self.dt = self.params.dt

    @property
    def observation_spec(self) -> BoxSpec:
        p = self.params
        high = np.array([2 * p.x_limit, np.inf, 2 * p.theta_limit, np.inf], np.float32)
        return BoxSpec(shape=(4,), low=-high, high=high)

    @property
    def action_spec(self) -> DiscreteSpec:
        return DiscreteSpec(2)

    def reset(self, key: jax.Array) -> State:
        h = self.params.reset_half_range
        sim = jax.random.uniform(key, (4,), jnp.float32, -h, h)
        return initial_state(sim, sim)

    def step(self, state: State, action: jax.Array) -> State:
        if jnp.shape(action) != ():  # trace time: a [1]-shaped action would silently broadcast the state
            raise ValueError(f"cartpole takes a scalar action in {{0, 1}} (shape ()), got shape {jnp.shape(action)}")
        p = self.params
        x, x_dot, theta, theta_dot = state.sim[0], state.sim[1], state.sim[2], state.sim[3]
        force = jnp.where(action == 1, p.force_mag, -p.force_mag).astype(jnp.float32)
        total_mass = p.cart_mass + p.pole_mass
        pole_mass_length = p.pole_mass * p.pole_half_length
        sin, cos = jnp.sin(theta), jnp.cos(theta)
        temp = (force + pole_mass_length * theta_dot**2 * sin) / total_mass
        theta_acc = (p.gravity * sin - cos * temp) / (
            p.pole_half_length * (4.0 / 3.0 - p.pole_mass * cos**2 / total_mass))
        x_acc = temp - pole_mass_length * theta_acc * cos / total_mass
        sim = jnp.stack([
            x + p.dt * x_dot,
            x_dot + p.dt * x_acc,
            theta + p.dt * theta_dot,
            theta_dot + p.dt * theta_acc,
        ])
        terminated = jnp.logical_or(jnp.abs(sim[0]) > p.x_limit, jnp.abs(sim[2]) > p.theta_limit)
        return state.replace(
            sim=sim,
            obs=sim,
            reward=jnp.ones((), jnp.float32),
            terminated=terminated,
            truncated=jnp.zeros((), jnp.bool_),
        )

    def render_rgb(self, state: State, width: int = 320, height: int = 240) -> np.ndarray:
        """A side view: rail, cart (blue), pole (orange), track limits (red)."""
        p = self.params
        x, theta = float(state.sim[0]), float(state.sim[2])
        pole_length = 2 * p.pole_half_length
        canvas = render2d.Canvas(width, height, x_range=(-3.0, 3.0), y_center=0.5)
        canvas.line((-p.x_limit, -0.1), (-p.x_limit, 0.1), (200, 40, 40), 2)
        canvas.line((p.x_limit, -0.1), (p.x_limit, 0.1), (200, 40, 40), 2)
        canvas.line((-3.0, 0.0), (3.0, 0.0), (90, 90, 90), 1)
        canvas.rect((x - 0.25, -0.1), (x + 0.25, 0.1), (40, 90, 200))
        tip = (x + pole_length * np.sin(theta), pole_length * np.cos(theta))
        canvas.line((x, 0.0), tip, (230, 140, 30), 4)
        canvas.circle((x, 0.0), 0.04, (30, 30, 30))
        return canvas.pixels
