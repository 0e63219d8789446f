"""Unicycle robots in the obstacle world: motion with collision handling and lidar observations."""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from simlab.envs.navigation import world


@dataclasses.dataclass(frozen=True)
class RobotConfig:
    """A unicycle: action `[v, w]` in [-1, 1] scaled to `max_speed` (m/s) and `max_turn` (rad/s)."""

    radius: float = 0.2
    max_speed: float = 1.0
    max_turn: float = 2.0
    dt: float = 0.1
    lidar_beams: int = 64
    lidar_noise: float = 0.05

    @property
    def beam_angles(self) -> np.ndarray:
        """Beam directions relative to the heading, `[lidar_beams]` rad."""
        return np.linspace(-np.pi, np.pi, self.lidar_beams, endpoint=False).astype(np.float32)


def move(robot: RobotConfig, world_config: world.WorldConfig, layout: world.Layout, pose: jax.Array,
         action: jax.Array) -> tuple[jax.Array, jax.Array]:
    """One step of `pose [3] = (x, y, heading)` under `action [2]`; returns `(pose, in_contact)`."""
    action = jnp.clip(action, -1.0, 1.0)
    heading = pose[2] + action[1] * robot.max_turn * robot.dt
    heading = (heading + jnp.pi) % (2 * jnp.pi) - jnp.pi
    step = action[0] * robot.max_speed * robot.dt
    position = pose[:2] + step * jnp.stack([jnp.cos(heading), jnp.sin(heading)])
    position, contact = world.resolve_collision(world_config, layout, position, robot.radius)
    # In a gap narrower than the robot the projections cannot agree: stay put (the old pose was valid).
    resolved = world.signed_distance(world_config, layout, position) >= robot.radius - 1e-3
    position = jnp.where(resolved, position, pose[:2])
    return jnp.concatenate([position, heading[None]]), contact


def lidar(robot: RobotConfig, world_config: world.WorldConfig, layout: world.Layout, pose: jax.Array,
          key: jax.Array) -> jax.Array:
    """Noisy ranges `[lidar_beams]` (m) around the robot, clipped to `[0, max_range]`."""
    ranges = world.raycast(world_config, layout, pose[:2], pose[2] + jnp.asarray(robot.beam_angles))
    noise = robot.lidar_noise * jax.random.normal(key, ranges.shape)
    return jnp.clip(ranges + noise, 0.0, world_config.max_range)
