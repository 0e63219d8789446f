"""UR5e arm reaching random targets with its tool flange.

| quantity | value |
|---|---|
| model | `assets/ur5e.xml`: 6 hinges with the UR5e's public DH kinematics (d1 0.1625, a2 -0.425, a3 -0.3922, d4 0.1333, d5 0.0997, d6 0.0996) and link masses; capsule links |
| observation | float32[21]: joint angles (6, rad), joint velocities (6, rad/s), flange position (3, m), target (3, m), target - flange (3, m) |
| action | float32[6]: joint position targets (rad) within each joint's range, tracked by position servos (kp 3000/3000/2000/300/300/300 N·m/rad, torque limits 150/150/150/28/28/28 N·m as the UR5e's) |
| reward | `-distance(flange, target) + success_bonus * success` |
| metrics | `distance` (m), `success` (1 if distance < `success_tolerance`), `reward_distance`, `reward_success` |
| termination | never; truncation after 100 steps (4 s) |
| reset | joints at the home pose `[0, -pi/2, pi/2, -pi/2, -pi/2, 0]` + U(±`reset_noise`); target uniform in a cylindrical shell: radius U(0.3, 0.7) m, azimuth U(-pi, pi), height U(0.1, 0.6) m |
| control | dt = 0.04 s (8 substeps of 5 ms); gravity on, so the servos sag slightly under load |

Only the flange sphere collides (with the floor); the links pass through each other,
as the task is reaching, not collision avoidance.
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from simlab.engine import physics
from simlab.engine.env import State, initial_state
from simlab.engine.specs import BoxSpec
from simlab.envs.boundary import with_overrides
from simlab.envs.manipulation.base import PhysicsTask, TaskSim, norm
from simlab.envs.mjrender import Camera, Marker

HOME = (0.0, -np.pi / 2, np.pi / 2, -np.pi / 2, -np.pi / 2, 0.0)


@dataclasses.dataclass(frozen=True)
class UR5eParams:
    substeps: int = 8
    success_tolerance: float = 0.05  # m
    success_bonus: float = 1.0
    reset_noise: float = 0.1  # rad, uniform half-width around the home pose
    target_radius: tuple = (0.3, 0.7)  # m, horizontal distance from the base axis
    target_height: tuple = (0.1, 0.6)  # m above the floor


class UR5e(PhysicsTask):
    """UR5e-kinematics arm reaching random targets with position-controlled joints."""

    default_episode_length = 100
    render_track_body = "base"
    render_camera = Camera(distance=2.2, azimuth=140.0, elevation=-25.0, lookat_offset=(0.0, 0.0, 0.35),
                           fit_markers=False)

    def __init__(self, params: UR5eParams | None = None, **overrides):
        self.params = with_overrides(params or UR5eParams(), overrides, "ur5e")
        p = self.params
        if not (0 < p.target_radius[0] <= p.target_radius[1] and 0 <= p.target_height[0] <= p.target_height[1]):
            raise ValueError(f"ur5e: target_radius/target_height must be ordered (low, high) ranges, got "
                             f"{p.target_radius}, {p.target_height}")
        self._load("ur5e.xml", p.substeps)
        self._tool = self.body_index("tool")

    @property
    def observation_spec(self) -> BoxSpec:
        return BoxSpec(shape=(21,))

    @property
    def action_spec(self) -> BoxSpec:
        return self.ctrl_spec()

    def reset(self, key: jax.Array) -> State:
        p = self.params
        joint_key, radius_key, angle_key, height_key, next_key = jax.random.split(key, 5)
        q = jnp.asarray(HOME, jnp.float32) + jax.random.uniform(joint_key, (6,), jnp.float32, -1, 1) * p.reset_noise
        radius = jax.random.uniform(radius_key, (), jnp.float32, *p.target_radius)
        angle = jax.random.uniform(angle_key, (), jnp.float32, -np.pi, np.pi)
        height = jax.random.uniform(height_key, (), jnp.float32, *p.target_height)
        target = jnp.stack([radius * jnp.cos(angle), radius * jnp.sin(angle), height])
        phys = physics.init(self.sys, q, jnp.zeros(6, jnp.float32))
        sim = TaskSim(physics=phys, target=target, key=next_key, count=jnp.zeros((), jnp.int32))
        reward, metrics = self._reward(sim)
        return initial_state(sim, self._observe(sim), {k: jnp.zeros_like(v) for k, v in metrics.items()})

    def step(self, state: State, action: jax.Array) -> State:
        phys = physics.step(self.sys, state.sim.physics, action)
        sim = state.sim.replace(physics=phys)
        reward, metrics = self._reward(sim)
        return state.replace(sim=sim, obs=self._observe(sim), reward=reward, metrics=metrics,
                             terminated=jnp.zeros((), jnp.bool_), truncated=jnp.zeros((), jnp.bool_))

    def _reward(self, sim: TaskSim):
        distance = norm(sim.target - sim.physics.x_pos[self._tool])
        success = (distance < self.params.success_tolerance).astype(jnp.float32)
        reward_success = self.params.success_bonus * success
        metrics = {"distance": distance, "success": success, "reward_distance": -distance,
                   "reward_success": reward_success}
        return (reward_success - distance).astype(jnp.float32), metrics

    def _observe(self, sim: TaskSim) -> jax.Array:
        flange = sim.physics.x_pos[self._tool]
        return jnp.concatenate([sim.physics.q, sim.physics.qd, flange, sim.target,
                                sim.target - flange]).astype(jnp.float32)

    def render_markers(self, state: State):
        return (Marker(pos=tuple(np.asarray(state.sim.target)), size=0.04),)
