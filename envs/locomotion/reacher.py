"""Reacher: a planar two-link arm that reaches a random target, with gymnasium `Reacher-v5` semantics.

| quantity | value (defaults) |
|---|---|
| model | gymnasium's `reacher.xml` (installed package), 2 substeps of 0.01 s: dt = 0.02 s (v5: frame_skip 2) |
| observation | float32[10]: `cos(qpos[:2])`, `sin(qpos[:2])`, `qpos[2:]` (target x, y), `qvel[:2]`, `(fingertip − target)[:2]` (body origins) |
| action | float32[2] in [-1, 1] (joint torques, gear 200; clamped to ctrlrange) |
| reward | `reward_dist + reward_ctrl`, computed after the step |
| reward_dist | `−1 · ‖fingertip − target‖` (3-D distance of the body origins) |
| reward_ctrl | `−1 · Σ action²` (the action as given) |
| termination | never |
| truncation | 50 steps (via `envs.make`'s time limit) |
| reset | arm `qpos0 + U(−0.1, 0.1)`, target uniform in the open disc of radius 0.2, arm `qvel = U(−0.005, 0.005)`, target velocity 0 |
| metrics | `reward_dist, reward_ctrl, distance` |

Differences from `Reacher-v5`:

| what | gymnasium (MuJoCo C) | here |
|---|---|---|
| dynamics | MuJoCo (RK4 as declared in the model) | `engine.physics`, `solver="mujoco"` (default): MuJoCo's constraint model and the model's integrator in float32 with 6 Newton iterations, agreeing with `mj_step` to 1e-5 or better on MuJoCo's states (docs/physics.md); `solver="penalty"`: semi-implicit Euler, soft penalty contacts and limits (faster; returns do not carry over) |
| target sampling | rejection sampling of U([−0.2, 0.2]²) until inside the disc | the same distribution drawn without a loop (radius 0.2·√u, uniform angle); the same seed gives other samples |
| float precision | float64 | float32 |
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from simlab.engine import physics
from simlab.engine.env import State, initial_state
from simlab.envs.boundary import with_overrides
from simlab.envs.locomotion.base import MjcfTask, model_path, zero_metrics

METRICS = ("reward_dist", "reward_ctrl", "distance")
ARM_POSITION_NOISE = 0.1
ARM_VELOCITY_NOISE = 0.005
TARGET_RADIUS = 0.2


@dataclasses.dataclass(frozen=True)
class ReacherParams:
    """Options of `Reacher` (names and defaults of gymnasium's `Reacher-v5`)."""

    reward_dist_weight: float = 1.0
    reward_control_weight: float = 1.0
    frame_skip: int = 2
    solver: str = "mujoco"  # MuJoCo's constraint model and integrator; "penalty": faster soft contacts (docs/physics.md)
    xml_file: str = "reacher.xml"


class Reacher(MjcfTask):
    """Two-link arm reaching a random target (gymnasium Reacher-v5 observation and reward)."""

    default_episode_length = 50

    def __init__(self, params: ReacherParams | None = None, **overrides):
        p = with_overrides(params or ReacherParams(), overrides, "reacher")
        xml = model_path("gymnasium", p.xml_file)
        super().__init__(xml, substeps=p.frame_skip, solver=p.solver)
        self.params = p
        names = self.sys.body_names
        for needed in ("fingertip", "target"):
            if needed not in names:
                raise ValueError(f"{xml} has no body {needed!r}; the reacher needs 'fingertip' and 'target'")
        self.fingertip, self.target = names.index("fingertip"), names.index("target")
        self._observation_size = 4 + (self.sys.nq - 2) + 2 + 2

    def reset(self, key: jax.Array) -> State:
        arm_key, radius_key, angle_key, velocity_key = jax.random.split(key, 4)
        q = self._qpos0 + jax.random.uniform(arm_key, (self.sys.nq,), jnp.float32,
                                             -ARM_POSITION_NOISE, ARM_POSITION_NOISE)
        radius = TARGET_RADIUS * jnp.sqrt(jax.random.uniform(radius_key, (), jnp.float32))
        angle = jax.random.uniform(angle_key, (), jnp.float32, 0.0, 2 * np.pi)
        q = q.at[-2:].set(radius * jnp.stack([jnp.cos(angle), jnp.sin(angle)]))
        qd = jax.random.uniform(velocity_key, (self.sys.nv,), jnp.float32, -ARM_VELOCITY_NOISE, ARM_VELOCITY_NOISE)
        sim = physics.init(self.sys, q, qd.at[-2:].set(0.0))
        metrics = {**zero_metrics(*METRICS), "distance": self.distance(sim)}
        return initial_state(sim, self._observe(sim), metrics)

    def offset(self, sim) -> jax.Array:
        """`[3]` fingertip origin minus target origin, world [m]."""
        return sim.x_pos[self.fingertip] - sim.x_pos[self.target]

    def distance(self, sim) -> jax.Array:
        return jnp.sqrt(jnp.sum(self.offset(sim) ** 2))

    def step(self, state: State, action: jax.Array) -> State:
        p = self.params
        sim = self.advance(state.sim, action)
        distance = self.distance(sim)
        terms = {"reward_dist": -p.reward_dist_weight * distance,
                 "reward_ctrl": -self.control_cost(action, p.reward_control_weight)}
        metrics = {**terms, "distance": distance}
        return state.replace(
            sim=sim, obs=self._observe(sim), reward=sum(terms.values()).astype(jnp.float32),
            terminated=jnp.zeros((), jnp.bool_), truncated=jnp.zeros((), jnp.bool_),
            metrics={k: v.astype(jnp.float32) for k, v in metrics.items()})

    def _observe(self, sim) -> jax.Array:
        angles = sim.q[:2]
        return jnp.concatenate([jnp.cos(angles), jnp.sin(angles), sim.q[2:], sim.qd[:2],
                                self.offset(sim)[:2]]).astype(jnp.float32)
