"""Grasp: a two-finger claw picks up a ball and carries it to a target in the air.

| quantity | value |
|---|---|
| model | `assets/grasp.xml`: claw on an xyz gantry (3 slide joints, position servos kp 300 N/m, gravity-compensated z), two slide fingers (kp 100 N/m, ±8 N); a 0.1 kg ball of radius 3 cm on a free joint; friction 1 |
| observation | float32[27]: grip point (3, m; midpoint between the fingers), wrist velocity (3), finger closures (2, m), finger velocities (2), ball position (3), ball velocity (3), ball - grip point (3), target - ball (3), target (3), finger touches ball (2; 1 left, 1 right) |
| action | float32[4]: wrist motion x, y, z in [-1, 1] (the servo target is the current wrist position + `wrist_step` m x action, within x, y in [-0.3, 0.3] m, z in [0.07, 0.45] m); finger closure target in [0, 0.045] m (0 open, both fingers share it) |
| reward | `reach_weight * (1 - tanh(10 |ball - grip|)) + grasp_bonus * grasped + place_weight * grasped * (1 - tanh(5 |target - ball|)) + success_bonus * success` (all terms >= 0; the place term pays only while the ball is held, so pushing it does not pay) |
| metrics | `grip_distance`, `target_distance` (m), `grasped` (1 if both fingers touch the ball), `success` (1 if the ball is within `success_tolerance` of the target), `ball_height` (m), and the four reward terms |
| termination | never; truncation after 100 steps (4 s) |
| reset | wrist at (0, 0, 0.3) + U(±0.05) m, fingers open; ball at rest on the floor, x, y ~ U(±0.2) m; target x, y ~ U(±0.2) m, z ~ U(0.1, 0.3) m |
| control | dt = 0.04 s (8 substeps of 5 ms) |

The target is always off the floor, so success requires lifting the ball (pushing it
along the floor cannot succeed).
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

BALL_RADIUS = 0.03
GRIP_OFFSET = (0.0, 0.0, -0.05)  # finger centres relative to the wrist (m)


@dataclasses.dataclass(frozen=True)
class GraspParams:
    substeps: int = 8
    success_tolerance: float = 0.05  # m
    reach_weight: float = 1.0
    grasp_bonus: float = 0.5
    place_weight: float = 2.0
    success_bonus: float = 2.0
    ball_range: float = 0.2  # m, half-width of the ball's start square
    target_range: float = 0.2  # m, half-width of the target's square
    target_height: tuple = (0.1, 0.3)  # m
    wrist_step: float = 0.06  # m, wrist servo target offset at action +-1


class Grasp(PhysicsTask):
    """Two-finger claw that must lift a ball and carry it to a random target."""

    default_episode_length = 100
    render_track_body = "world"
    render_camera = Camera(distance=1.3, azimuth=150.0, elevation=-28.0, lookat_offset=(0.0, 0.0, 0.12),
                           fit_markers=False)

    def __init__(self, params: GraspParams | None = None, **overrides):
        self.params = with_overrides(params or GraspParams(), overrides, "grasp")
        p = self.params
        if not 0 <= p.target_height[0] <= p.target_height[1]:
            raise ValueError(f"grasp: target_height must be an ordered (low, high) range, got {p.target_height}")
        if not (0 <= p.ball_range <= 0.3 and 0 <= p.target_range <= 0.3):
            raise ValueError("grasp: ball_range and target_range must lie in [0, 0.3] m (the claw's reach)")
        if not 0 < p.wrist_step <= 0.2:
            raise ValueError(f"grasp: wrist_step must lie in (0, 0.2] m (wrist target offset per step), "
                             f"got {p.wrist_step}")
        self._load("grasp.xml", p.substeps)
        self._wrist, self._ball = self.body_index("wrist"), self.body_index("ball")
        geoms = self.sys.geom_names
        rows = [frozenset(pair) for pair in zip(*(g.tolist() for g in physics.contact_geoms(self.sys)))]
        ball = geoms.index("ball")  # one contact row per ball-finger pair (sphere-box)
        self._finger_rows = tuple(rows.index(frozenset((ball, geoms.index(f)))) for f in ("finger_left", "finger_right"))

    @property
    def observation_spec(self) -> BoxSpec:
        return BoxSpec(shape=(27,))

    @property
    def action_spec(self) -> BoxSpec:
        ctrl = self.ctrl_spec()  # wrist x, y, z, finger left, finger right
        return BoxSpec(shape=(4,), low=np.array([-1, -1, -1, ctrl.low[3]], np.float32),
                       high=np.array([1, 1, 1, ctrl.high[3]], np.float32))

    def reset(self, key: jax.Array) -> State:
        p = self.params
        wrist_key, ball_key, target_xy_key, target_z_key, next_key = jax.random.split(key, 5)
        wrist = jnp.array([0.0, 0.0, 0.3], jnp.float32) + jax.random.uniform(wrist_key, (3,), jnp.float32, -0.05, 0.05)
        ball_xy = jax.random.uniform(ball_key, (2,), jnp.float32, -p.ball_range, p.ball_range)
        target = jnp.concatenate([
            jax.random.uniform(target_xy_key, (2,), jnp.float32, -p.target_range, p.target_range),
            jax.random.uniform(target_z_key, (1,), jnp.float32, *p.target_height)])
        q = jnp.concatenate([wrist, jnp.zeros(2, jnp.float32), ball_xy, jnp.array([BALL_RADIUS, 1.0, 0, 0, 0],
                                                                                   jnp.float32)])
        phys = physics.init(self.sys, q, jnp.zeros(self.sys.nv, jnp.float32))
        sim = TaskSim(physics=phys, target=target, key=next_key, count=jnp.zeros((), jnp.int32))
        _, metrics = self._reward(sim)
        return initial_state(sim, self._observe(sim), {k: jnp.zeros_like(v) for k, v in metrics.items()})

    def step(self, state: State, action: jax.Array) -> State:
        # relative wrist control: servo target = current wrist position + offset (clamped to ctrlrange by physics)
        wrist_target = state.sim.physics.q[0:3] + self.params.wrist_step * jnp.clip(action[:3], -1.0, 1.0)
        ctrl = jnp.concatenate([wrist_target, action[3:4], action[3:4]])  # both fingers follow one closure command
        phys = physics.step(self.sys, state.sim.physics, ctrl)
        sim = state.sim.replace(physics=phys)
        reward, metrics = self._reward(sim)
        return state.replace(sim=sim, obs=self._observe(sim), reward=reward, metrics=metrics,
                             terminated=jnp.zeros((), jnp.bool_), truncated=jnp.zeros((), jnp.bool_))

    def _grip_point(self, phys) -> jax.Array:
        return phys.x_pos[self._wrist] + jnp.asarray(GRIP_OFFSET, jnp.float32)

    def _touching(self, phys) -> jax.Array:
        """`[2]` float32: 1 where the left / right finger touches the ball."""
        return (phys.contact.dist[jnp.asarray(self._finger_rows)] < 1e-3).astype(jnp.float32)

    def _reward(self, sim: TaskSim):
        p = self.params
        ball = sim.physics.x_pos[self._ball]
        grip_distance = norm(ball - self._grip_point(sim.physics))
        target_distance = norm(sim.target - ball)
        success = (target_distance < p.success_tolerance).astype(jnp.float32)
        grasped = jnp.min(self._touching(sim.physics))
        terms = {"reward_reach": p.reach_weight * (1.0 - jnp.tanh(10.0 * grip_distance)),
                 "reward_grasp": p.grasp_bonus * grasped,
                 "reward_place": p.place_weight * grasped * (1.0 - jnp.tanh(5.0 * target_distance)),
                 "reward_success": p.success_bonus * success}
        reward = terms["reward_reach"] + terms["reward_grasp"] + terms["reward_place"] + terms["reward_success"]
        metrics = {"grip_distance": grip_distance, "target_distance": target_distance, "grasped": grasped,
                   "success": success, "ball_height": ball[2], **terms}
        return reward.astype(jnp.float32), metrics

    def _observe(self, sim: TaskSim) -> jax.Array:
        phys = sim.physics
        grip, ball = self._grip_point(phys), phys.x_pos[self._ball]
        return jnp.concatenate([grip, phys.qd[0:3], phys.q[3:5], phys.qd[3:5], ball, phys.x_vel[self._ball],
                                ball - grip, sim.target - ball, sim.target, self._touching(phys)]).astype(jnp.float32)

    def render_markers(self, state: State):
        return (Marker(pos=tuple(np.asarray(state.sim.target)), size=0.035),)
