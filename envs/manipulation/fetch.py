"""Fetch: a box-bodied quadruped runs to targets placed anywhere around it.

| quantity | value |
|---|---|
| model | `assets/fetch.xml`: 5 kg box torso (0.5 x 0.2 x 0.1 m) on a free joint; 4 legs with hip roll, hip pitch and knee hinges (12 motors, gear 25 N·m); capsule thighs and shins; torso and shins touch the floor |
| observation | float32[41]: torso height (1), torso quaternion (4), joint angles (12), torso linear and angular velocity in the torso frame (3 + 3), joint velocities (12), target offset in the torso frame (3), target direction in the torso frame (2, unit x-y), target distance (1, m) |
| action | float32[12] motor commands in [-1, 1] |
| reward | `(v_xy . unit(target - torso_xy)) - ctrl_cost_weight * |a|^2 + target_bonus * reached` |
| metrics | `velocity_to_target` (m/s), `target_distance` (m), `targets_reached` (count in this episode), and the reward terms |
| termination | never; truncation after 500 steps (25 s) |
| reset | torso at (0, 0, 0.36) with uniform yaw; joints U(±0.1) rad; target at distance U(1, 3) m, uniform bearing |
| target | re-sampled (same distribution, around the torso) as soon as the torso is within `reach_radius` = 0.5 m of it (x-y distance) |
| control | dt = 0.05 s (5 substeps of 10 ms) |
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


def rotate_into_frame(quat: jax.Array, vec: jax.Array) -> jax.Array:
    """`vec` (world) expressed in the frame of orientation `quat` (wxyz, unit): R(quat)^T vec."""
    w, u = quat[0], quat[1:]
    t = 2.0 * jnp.cross(u, vec)
    return vec - w * t + jnp.cross(u, t)


@dataclasses.dataclass(frozen=True)
class FetchParams:
    substeps: int = 5
    reach_radius: float = 0.5  # m (x-y distance to count a target as reached)
    target_distance: tuple = (1.0, 3.0)  # m, range of a new target's distance from the torso
    ctrl_cost_weight: float = 0.01
    target_bonus: float = 1.0
    reset_noise: float = 0.1  # rad, joint angle noise at reset


class Fetch(PhysicsTask):
    """Box-bodied quadruped that must run to targets re-sampled around it."""

    default_episode_length = 500
    render_track_body = "torso"
    render_camera = Camera(distance=2.5, azimuth=135.0, elevation=-30.0)

    def __init__(self, params: FetchParams | None = None, **overrides):
        self.params = with_overrides(params or FetchParams(), overrides, "fetch")
        p = self.params
        if not 0 < p.target_distance[0] <= p.target_distance[1]:
            raise ValueError(f"fetch: target_distance must be an ordered (low, high) range in m, got {p.target_distance}")
        if not 0 < p.reach_radius < p.target_distance[0]:
            raise ValueError(f"fetch: reach_radius must be positive and below target_distance[0], got {p.reach_radius}")
        self._load("fetch.xml", p.substeps)
        self._torso = self.body_index("torso")

    @property
    def observation_spec(self) -> BoxSpec:
        return BoxSpec(shape=(41,))

    @property
    def action_spec(self) -> BoxSpec:
        return self.ctrl_spec()

    def _new_target(self, key: jax.Array, origin: jax.Array) -> jax.Array:
        dist_key, angle_key = jax.random.split(key)
        distance = jax.random.uniform(dist_key, (), jnp.float32, *self.params.target_distance)
        angle = jax.random.uniform(angle_key, (), jnp.float32, -np.pi, np.pi)
        return jnp.stack([origin[0] + distance * jnp.cos(angle), origin[1] + distance * jnp.sin(angle),
                          jnp.zeros((), jnp.float32)])

    def reset(self, key: jax.Array) -> State:
        yaw_key, joint_key, target_key, next_key = jax.random.split(key, 4)
        yaw = jax.random.uniform(yaw_key, (), jnp.float32, -np.pi, np.pi)
        root = jnp.stack([0.0, 0.0, 0.36, jnp.cos(yaw / 2), 0.0, 0.0, jnp.sin(yaw / 2)]).astype(jnp.float32)
        joints = jax.random.uniform(joint_key, (12,), jnp.float32, -1, 1) * self.params.reset_noise
        phys = physics.init(self.sys, jnp.concatenate([root, joints]), jnp.zeros(self.sys.nv, jnp.float32))
        sim = TaskSim(physics=phys, target=self._new_target(target_key, root[:3]), key=next_key,
                      count=jnp.zeros((), jnp.int32))
        metrics = {k: jnp.zeros((), jnp.float32) for k in
                   ("velocity_to_target", "target_distance", "targets_reached", "reward_velocity", "reward_ctrl",
                    "reward_target")}
        metrics["target_distance"] = norm(sim.target[:2] - root[:2])
        return initial_state(sim, self._observe(sim), metrics)

    def step(self, state: State, action: jax.Array) -> State:
        p = self.params
        phys = physics.step(self.sys, state.sim.physics, action)
        torso, velocity = phys.x_pos[self._torso], phys.x_vel[self._torso]
        offset = state.sim.target[:2] - torso[:2]
        distance = norm(offset)
        velocity_to_target = jnp.dot(velocity[:2], offset / distance)
        reached = distance < p.reach_radius
        key, target_key = jax.random.split(state.sim.key)
        target = jnp.where(reached, self._new_target(target_key, torso), state.sim.target)
        count = state.sim.count + reached.astype(jnp.int32)
        sim = TaskSim(physics=phys, target=target, key=key, count=count)
        terms = {"reward_velocity": velocity_to_target,
                 "reward_ctrl": -p.ctrl_cost_weight * jnp.sum(jnp.square(jnp.clip(action, -1.0, 1.0))),
                 "reward_target": p.target_bonus * reached.astype(jnp.float32)}
        reward = terms["reward_velocity"] + terms["reward_ctrl"] + terms["reward_target"]
        metrics = {"velocity_to_target": velocity_to_target, "target_distance": norm(target[:2] - torso[:2]),
                   "targets_reached": count.astype(jnp.float32), **terms}
        return state.replace(sim=sim, obs=self._observe(sim), reward=reward.astype(jnp.float32), metrics=metrics,
                             terminated=jnp.zeros((), jnp.bool_), truncated=jnp.zeros((), jnp.bool_))

    def _observe(self, sim: TaskSim) -> jax.Array:
        phys = sim.physics
        quat = phys.q[3:7]
        torso = phys.x_pos[self._torso]
        to_target = rotate_into_frame(quat, sim.target - jnp.concatenate([torso[:2], jnp.zeros(1)]))
        planar = to_target[:2]
        distance = norm(planar)
        return jnp.concatenate([
            torso[2:3], quat, phys.q[7:], rotate_into_frame(quat, phys.x_vel[self._torso]), phys.qd[3:6],
            phys.qd[6:], to_target, planar / distance, distance[None]]).astype(jnp.float32)

    def render_markers(self, state: State):
        target = np.asarray(state.sim.target)
        return (Marker(pos=(float(target[0]), float(target[1]), 0.1), size=0.1),)
