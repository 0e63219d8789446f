"""Cart-pole swing-up ("harder" variant of Tang & Ha 2021), pure JAX.

A uniform pole of length `pole_length` hinged at its end on a cart that moves
on a rail. The pole starts roughly hanging down and must be swung up and
balanced while the cart stays near the centre.

Coordinates: `x` cart position (m, positive right); `theta` pole angle (rad),
0 = upright, increasing clockwise (the pole tip moves towards +x for small
positive theta). Equations of motion come from the Lagrangian of a cart of mass
M and a uniform rod of mass m and length L (centre of mass at L/2, inertia about
the hinge m L^2 / 3) with viscous cart friction b and horizontal force F:

    (M + m) x'' + (m L / 2)(theta'' cos theta - theta'^2 sin theta) = F - b x'
    (m L^2 / 3) theta'' + (m L / 2) x'' cos theta = (m g L / 2) sin theta

The paper's integrator is kept (explicit Euler with dt = 0.01: positions are
advanced with the old velocities), so scores are comparable.

| quantity | value |
|---|---|
| observation | `[x, x', cos theta, sin theta, theta']`, float32[5] |
| action | float32[1] in [-1, 1], force = 10 * action (N); out-of-range actions are clamped, like MuJoCo's ctrlrange |
| reward | `(cos theta + 1) / 2 * cos(x / 2.4 * pi / 2)`, in [0, 1] while the cart is within the limits |
| termination | `|x| > 2.4` |
| truncation | 1000 steps (via `envs.make`'s time limit) |
| reset | x ~ U(±2.4), x' ~ U(±10), theta ~ pi + U(±pi/2), theta' ~ U(±10) |
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
class CartPoleParams:
    """Physical constants (SI units). Defaults follow the paper's harder task."""

    gravity: float = 9.82
    cart_mass: float = 0.5
    pole_mass: float = 0.5
    pole_length: float = 0.6
    force_scale: float = 10.0
    friction: float = 0.1
    dt: float = 0.01
    x_limit: float = 2.4
    reset_x: float = 2.4
    reset_x_dot: float = 10.0
    reset_theta: float = np.pi / 2
    reset_theta_dot: float = 10.0


def accelerations(params: CartPoleParams, x_dot, theta, theta_dot, force):
    """Cart and pole accelerations `(x'', theta'')` from the equations above."""
    total_mass = params.cart_mass + params.pole_mass
    half_ml = 0.5 * params.pole_mass * params.pole_length
    sin, cos = jnp.sin(theta), jnp.cos(theta)
    # Solve the 2x2 linear system [[a, c], [c, d]] [x'', theta''] = [r1, r2].
    a = total_mass
    c = half_ml * cos
    d = params.pole_mass * params.pole_length**2 / 3.0
    r1 = force - params.friction * x_dot + half_ml * theta_dot**2 * sin
    r2 = half_ml * params.gravity * sin
    det = a * d - c * c
    x_acc = (d * r1 - c * r2) / det
    theta_acc = (a * r2 - c * r1) / det
    return x_acc, theta_acc


def energy(params: CartPoleParams, sim: jax.Array) -> jax.Array:
    """Total mechanical energy (J) of `sim = [x, x', theta, theta']` (no friction term)."""
    _, x_dot, theta, theta_dot = sim[0], sim[1], sim[2], sim[3]
    m, L = params.pole_mass, params.pole_length
    kinetic = (
        0.5 * (params.cart_mass + m) * x_dot**2
        + 0.5 * m * L * x_dot * theta_dot * jnp.cos(theta)
        + 0.5 * (m * L**2 / 3.0) * theta_dot**2
    )
    potential = m * params.gravity * (L / 2.0) * jnp.cos(theta)
    return kinetic + potential


class CartPoleSwingUp(Env):
    """Cart-pole swing-up, harder variant (Tang & Ha 2021): swing up and balance from wide resets."""

    default_episode_length = 1000

    def __init__(self, params: CartPoleParams | None = None, **overrides):
        self.params = with_overrides(params or CartPoleParams(), overrides, "cartpole_swingup")
        self.dt = self.params.dt

    @property
    def observation_spec(self) -> BoxSpec:
        return BoxSpec(shape=(5,))

    @property
    def action_spec(self) -> BoxSpec:
        return BoxSpec(shape=(1,), low=-1.0, high=1.0)

    def reset(self, key: jax.Array) -> State:
        p = self.params
        half_ranges = jnp.array([p.reset_x, p.reset_x_dot, p.reset_theta, p.reset_theta_dot], jnp.float32)
        offset = jnp.array([0.0, 0.0, np.pi, 0.0], jnp.float32)
        sim = offset + jax.random.uniform(key, (4,), jnp.float32, -1.0, 1.0) * half_ranges
        return initial_state(sim, self._observe(sim), metrics={"reward_upright": jnp.zeros(()),
                                                               "reward_centered": jnp.zeros(())})

    def step(self, state: State, action: jax.Array) -> State:
        p = self.params
        x, x_dot, theta, theta_dot = state.sim[0], state.sim[1], state.sim[2], state.sim[3]
        force = p.force_scale * jnp.clip(action[0], -1.0, 1.0)
        x_acc, theta_acc = accelerations(p, x_dot, theta, theta_dot, force)
        sim = jnp.stack([
            x + x_dot * p.dt,
            x_dot + x_acc * p.dt,
            theta + theta_dot * p.dt,
            theta_dot + theta_acc * p.dt,
        ]).astype(jnp.float32)
        upright = 0.5 * (jnp.cos(sim[2]) + 1.0)
        centered = jnp.cos(sim[0] / p.x_limit * (np.pi / 2))
        terminated = jnp.abs(sim[0]) > p.x_limit
        return state.replace(
            sim=sim,
            obs=self._observe(sim),
            reward=(upright * centered).astype(jnp.float32),
            terminated=terminated,
            truncated=jnp.zeros((), jnp.bool_),
            metrics={"reward_upright": upright, "reward_centered": centered},
        )

    @staticmethod
    def _observe(sim: jax.Array) -> jax.Array:
        x, x_dot, theta, theta_dot = sim[0], sim[1], sim[2], sim[3]
        return jnp.stack([x, x_dot, jnp.cos(theta), jnp.sin(theta), theta_dot]).astype(jnp.float32)

    def render_rgb(self, state: State, width: int = 320, height: int = 240) -> np.ndarray:
        """A side view: rail, cart (blue), pole (orange), limits (red)."""
        p = self.params
        x, theta = float(state.sim[0]), float(state.sim[2])
        canvas = render2d.Canvas(width, height, x_range=(-3.0, 3.0), y_center=0.0)
        canvas.line((-p.x_limit, -0.1), (-p.x_limit, 0.1), (200, 40, 40), 2)
        canvas.line((p.x_limit, -0.1), (p.x_limit, 0.1), (200, 40, 40), 2)
        canvas.line((-3.0, 0.0), (3.0, 0.0), (90, 90, 90), 1)
        canvas.rect((x - 0.25, -0.1), (x + 0.25, 0.1), (40, 90, 200))
        tip = (x + p.pole_length * np.sin(theta), p.pole_length * np.cos(theta))
        canvas.line((x, 0.0), tip, (230, 140, 30), 4)
        canvas.circle((x, 0.0), 0.04, (30, 30, 30))
        return canvas.pixels
