"""IBC's block pushing (Florence et al., CoRL 2021) on simlab's physics engine, from states.

A pusher at a fixed height (the paper's xArm end effector) shoves a cube across a plane into a
circular target zone; with `multi_target=True` the cube must visit target 1 and then target 2.

| quantity | value |
|---|---|
| model | `BLOCK_PUSH_XML`: a sphere pusher (radius 1.5 cm, 1 kg) on x/y slide joints at the cube's mid-height, position servos (kp 1000 N/m, critically damped, ±40 N); a 5 cm cube (0.1 kg) on a free joint; friction 0.5 everywhere; the pusher touches only the cube |
| physics | `engine.physics`, penalty contacts (cube-floor 8 corner points, pusher-cube 1 point), timestep 10 ms × 10 substeps: dt = 0.1 s (10 Hz, as the paper) |
| observation | float32[10]: pusher xy, pusher set-point xy, cube xy, cube yaw (cos, sin), target xy (m, world); `multi_target` float32[13] adds target 2 xy and a flag (1 once target 1 was reached) |
| action | float32[2]: displacement of the pusher set-point [m] in [-0.03, 0.03] per step (the paper's oracle range); the set-point stays in the workspace x in [0.15, 0.7], y in [-0.5, 0.5] m |
| success | the cube's centre within `goal_tolerance` (default 0.02 m, the tolerance of the paper's EBM push runs; one tolerance for every method) of the target; multi-target: of target 1 first, then of target 2. Latched in `metrics["success"]` |
| reward | `1 / num_targets` on each step that reaches the next target (so 1 in all) |
| termination | on success; truncation after 100 steps (single) or 200 (multi), as the paper's environments |
| reset | pusher at (0.3, -0.45) m at rest; cube at (0.4 ± 0.1, -0.2 ± 0.15) m, yaw U(0, π); target at (0.4 ± 0.1, 0.2 ± 0.15) m; multi-target: target 1 at (0.4 ± 0.1, 0.05 ± 0.05), target 2 at (0.4 ± 0.1, 0.35 ± 0.05) m |

The paper's zone also has a yaw, which success ignores; our zone is round, so it has none. The
multi-target flag makes the observation Markov (the paper's environment kept it internally).
The step and reset are branch-free, jittable and vmappable; batch with `engine.wrappers.VmapWrapper`.
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from simlab.engine import physics
from simlab.engine.env import Env, State, initial_state
from simlab.engine.specs import BoxSpec
from simlab.engine.struct import pytree_dataclass
from simlab.envs.boundary import with_overrides
from simlab.envs.mjrender import Camera, Marker, MujocoRenderMixin

BLOCK_HALF = 0.025  # m, half the cube's side
PUSHER_RADIUS = 0.015  # m
MAX_STEP = 0.03  # m of set-point motion per 0.1 s step
WORKSPACE_LOW = (0.15, -0.5)  # m, set-point bounds (the paper's workspace)
WORKSPACE_HIGH = (0.7, 0.5)
PUSHER_START = (0.3, -0.45)  # m; 5 cm further from the cube's range than the paper's (0.3, -0.4), which can overlap it
OBS_NAMES = ("pusher_x", "pusher_y", "setpoint_x", "setpoint_y", "block_x", "block_y", "block_cos_yaw",
             "block_sin_yaw", "target_x", "target_y")
MULTI_OBS_NAMES = OBS_NAMES + ("target2_x", "target2_y", "target1_reached")

BLOCK_PUSH_XML = f"""
<mujoco model="block_push">
  <option timestep="0.01" gravity="0 0 -9.81"/>
  <visual><headlight ambient="0.35 0.35 0.35" diffuse="0.6 0.6 0.6"/></visual>
  <default><geom friction="0.5 0.005 0.0001" solref="0.02 1"/></default>
  <worldbody>
    <light pos="0.4 0 2" dir="0 0 -1" directional="true"/>
    <geom name="floor" type="plane" size="1 1 0.05" rgba="0.82 0.84 0.87 1" contype="1" conaffinity="1"/>
    <body name="pusher" pos="0 0 {BLOCK_HALF}">
      <joint name="pusher_x" type="slide" axis="1 0 0" damping="63"/>
      <joint name="pusher_y" type="slide" axis="0 1 0" damping="63"/>
      <geom name="pusher" type="sphere" size="{PUSHER_RADIUS}" mass="1" contype="2" conaffinity="0"
            rgba="0.2 0.45 0.8 1"/>
      <geom name="mast" type="capsule" fromto="0 0 0.015 0 0 0.2" size="0.008" mass="0" contype="0"
            conaffinity="0" rgba="0.5 0.5 0.55 1"/>
    </body>
    <body name="block" pos="0.4 -0.2 {BLOCK_HALF}">
      <freejoint name="block"/>
      <geom name="block" type="box" size="{BLOCK_HALF} {BLOCK_HALF} {BLOCK_HALF}" mass="0.1" contype="1"
            conaffinity="3" rgba="0.95 0.55 0.1 1"/>
    </body>
  </worldbody>
  <actuator>
    <position name="pusher_x" joint="pusher_x" kp="1000" forcerange="-40 40"/>
    <position name="pusher_y" joint="pusher_y" kp="1000" forcerange="-40 40"/>
  </actuator>
</mujoco>
"""


@dataclasses.dataclass(frozen=True)
class BlockPushParams:
    """Static options. Lengths in m.

    multi_target: push to target 1, then to target 2 (200-step episodes) instead of one target (100).
    goal_tolerance: success radius around a target's centre.
    """

    multi_target: bool = False
    goal_tolerance: float = 0.02


@pytree_dataclass
class BlockPushSim:
    """Simulator state (unbatched shapes).

    physics: `engine.physics.State` (q: pusher x, y, then the cube's xyz + quaternion wxyz);
    setpoint: `[2]` pusher servo set-point (m, world);
    targets: `[num_targets, 2]` target centres (m, world), in visiting order;
    reached: scalar float32, number of targets reached so far (0..num_targets).
    """

    physics: physics.State
    setpoint: jax.Array
    targets: jax.Array
    reached: jax.Array


def block_yaw_cos_sin(quat: jax.Array) -> jax.Array:
    """`[2]` (cos, sin) of the yaw of a body with quaternion `quat` `[4]` (wxyz), unit length."""
    w, x, y, z = quat[0], quat[1], quat[2], quat[3]
    heading = jnp.stack([1.0 - 2.0 * (y * y + z * z), 2.0 * (w * z + x * y)])
    return heading / jnp.sqrt(jnp.sum(jnp.square(heading)) + 1e-12)


class BlockPush(MujocoRenderMixin, Env):
    """IBC's block pushing: `BlockPush()` (single target) or `BlockPush(multi_target=True)`; see the module doc."""

    render_track_body = "world"
    render_camera = Camera(distance=1.4, azimuth=180.0, elevation=-55.0, lookat_offset=(0.42, 0.0, 0.0),
                           fit_markers=False)

    def __init__(self, params: BlockPushParams | None = None, **overrides):
        self.params = with_overrides(params or BlockPushParams(), overrides, "block_push")
        p = self.params
        if not isinstance(p.multi_target, (bool, np.bool_)):
            raise ValueError(f"block_push: multi_target must be True or False, got {p.multi_target!r}")
        if isinstance(p.goal_tolerance, bool) or not isinstance(p.goal_tolerance, (int, float, np.floating)) \
                or not 0.0 < float(p.goal_tolerance) <= 0.1:
            raise ValueError(f"block_push: goal_tolerance must be a number of metres in (0, 0.1], "
                             f"got {p.goal_tolerance!r}")
        self.multi_target = bool(p.multi_target)
        self.num_targets = 2 if self.multi_target else 1
        self.goal_tolerance = float(p.goal_tolerance)
        self.default_episode_length = 200 if self.multi_target else 100
        self.mjcf_path = BLOCK_PUSH_XML
        self.sys = physics.load_mjcf(BLOCK_PUSH_XML, substeps=10)
        self.dt = float(self.sys.timestep) * self.sys.substeps

    @property
    def vmap_chunk(self) -> int | None:
        """`VmapWrapper` steps batches in chunks of this many environments (`physics.batch_chunk`)."""
        return physics.batch_chunk(self.sys)

    @property
    def obs_names(self) -> tuple[str, ...]:
        """Name of each observation element, in order."""
        return MULTI_OBS_NAMES if self.multi_target else OBS_NAMES

    @property
    def observation_spec(self) -> BoxSpec:
        return BoxSpec(shape=(len(self.obs_names),))

    @property
    def action_spec(self) -> BoxSpec:
        return BoxSpec(shape=(2,), low=-MAX_STEP, high=MAX_STEP)

    def _draw_targets(self, key: jax.Array) -> jax.Array:
        """`[num_targets, 2]` target centres (m): uniform in the boxes of the module doc."""
        if self.multi_target:
            centre, half = np.array([[0.4, 0.05], [0.4, 0.35]]), np.array([[0.1, 0.05], [0.1, 0.05]])
        else:
            centre, half = np.array([[0.4, 0.2]]), np.array([[0.1, 0.15]])
        unit = jax.random.uniform(key, centre.shape, jnp.float32, -1.0, 1.0)
        return jnp.asarray(centre, jnp.float32) + jnp.asarray(half, jnp.float32) * unit

    def reset(self, key: jax.Array) -> State:
        """Initial state from PRNG key `key` (unbatched): random cube pose and target(s), pusher at rest."""
        block_key, yaw_key, target_key = jax.random.split(key, 3)
        block_xy = jnp.array([0.4, -0.2], jnp.float32) + jnp.array([0.1, 0.15], jnp.float32) * jax.random.uniform(
            block_key, (2,), jnp.float32, -1.0, 1.0)
        half_yaw = 0.5 * jax.random.uniform(yaw_key, (), jnp.float32, 0.0, jnp.pi)
        quat = jnp.stack([jnp.cos(half_yaw), 0.0, 0.0, jnp.sin(half_yaw)])
        pusher = jnp.asarray(PUSHER_START, jnp.float32)
        q = jnp.concatenate([pusher, block_xy, jnp.full((1,), BLOCK_HALF, jnp.float32), quat])
        phys = physics.init(self.sys, q, jnp.zeros(self.sys.nv, jnp.float32))
        sim = BlockPushSim(physics=phys, setpoint=pusher, targets=self._draw_targets(target_key),
                           reached=jnp.zeros((), jnp.float32))
        metrics = {"success": jnp.zeros((), jnp.float32), "goal_distance": self._goal_distance(sim),
                   "targets_reached": sim.reached}
        return initial_state(sim, self.observe(sim), metrics)

    def step(self, state: State, action: jax.Array) -> State:
        """One 0.1 s step: move the set-point by `action` `[2]` (m, clipped to ±0.03) and simulate."""
        sim = state.sim
        move = jnp.clip(jnp.asarray(action, jnp.float32), -MAX_STEP, MAX_STEP)
        setpoint = jnp.clip(sim.setpoint + move, jnp.asarray(WORKSPACE_LOW, jnp.float32),
                            jnp.asarray(WORKSPACE_HIGH, jnp.float32))
        phys = physics.step(self.sys, sim.physics, setpoint)
        moved = sim.replace(physics=phys, setpoint=setpoint)
        at_goal = (self._goal_distance(moved) < self.goal_tolerance).astype(jnp.float32)
        reached = jnp.minimum(sim.reached + at_goal, float(self.num_targets))
        new = moved.replace(reached=reached)
        success = (reached >= self.num_targets).astype(jnp.float32)
        metrics = {"success": success, "goal_distance": self._goal_distance(new), "targets_reached": reached}
        return state.replace(sim=new, obs=self.observe(new), reward=(reached - sim.reached) / self.num_targets,
                             terminated=success > 0, truncated=jnp.zeros((), jnp.bool_), metrics=metrics)

    def _goal_distance(self, sim: BlockPushSim) -> jax.Array:
        """Distance (m) from the cube's centre to the next target (the last one once all are reached)."""
        index = jnp.minimum(sim.reached, self.num_targets - 1).astype(jnp.int32)
        goal = jnp.take(sim.targets, index, axis=0)
        return jnp.sqrt(jnp.sum(jnp.square(sim.physics.q[2:4] - goal)) + 1e-12)

    def observe(self, sim: BlockPushSim) -> jax.Array:
        """The observation `[observation_size]` of `sim` (layout: `obs_names`)."""
        q = sim.physics.q
        parts = [q[0:2], sim.setpoint, q[2:4], block_yaw_cos_sin(q[5:9]), sim.targets.reshape(-1)]
        if self.multi_target:
            parts.append((sim.reached >= 1).astype(jnp.float32)[None])
        return jnp.concatenate(parts).astype(jnp.float32)

    def render_q(self, state):
        return np.asarray(jax.device_get(state.sim.physics.q))

    def render_markers(self, state):
        colours = ((0.15, 0.75, 0.3, 0.6), (0.55, 0.3, 0.85, 0.6))
        targets = np.asarray(jax.device_get(state.sim.targets))
        return tuple(Marker(pos=(float(x), float(y), 0.002), size=self.goal_tolerance, rgba=colours[i])
                     for i, (x, y) in enumerate(targets))

    def __repr__(self) -> str:
        return f"BlockPush(multi_target={self.multi_target}, goal_tolerance={self.goal_tolerance})"
