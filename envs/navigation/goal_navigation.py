"""Single-robot goal reaching among obstacles: the training task of HPP's control module.

| field | value |
|---|---|
| observation | float32[64 + 3]: lidar / max_range, goal in the robot frame `(dx/L, dy/L)`, distance / L |
| action | float32[2] `(v, w)` in [-1, 1] |
| reward | `2 * (progress toward the goal, m) - 0.01 - 0.05 * contact`, `+5` on reaching the goal |
| termination | within `goal_radius` (0.3 m) of the goal |
| truncation | 200 steps |

The goal is a free random position; `family` picks the layout family
("train" or "heldout"), as in `envs.navigation.world`.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from simlab.engine.env import Env, State, initial_state
from simlab.engine.specs import BoxSpec
from simlab.engine.struct import pytree_dataclass
from simlab.envs.navigation import agents as robots
from simlab.envs.navigation import drawing, world


@pytree_dataclass
class GoalSim:
    layout: world.Layout
    pose: jax.Array  # [3]
    goal: jax.Array  # [2]
    key: jax.Array


def goal_features(pose: jax.Array, goal: jax.Array, arena: float) -> jax.Array:
    """Goal position in the robot frame, `(dx/L, dy/L, distance/L)`: `[3]`."""
    d = goal - pose[:2]
    c, s = jnp.cos(pose[2]), jnp.sin(pose[2])
    local = jnp.stack([c * d[0] + s * d[1], -s * d[0] + c * d[1]])
    return jnp.concatenate([local, jnp.linalg.norm(d)[None]]) / arena


class GoalNavigation(Env):
    """Reach a random goal among box obstacles with a lidar-equipped unicycle."""

    default_episode_length = 200

    def __init__(self, num_obstacles: int = 6, family: str = "train", arena: float = 5.0, goal_radius: float = 0.3,
                 lidar_noise: float = 0.05):
        self.world = world.WorldConfig(arena=arena, num_obstacles=num_obstacles, family=family)
        self.robot = robots.RobotConfig(lidar_noise=lidar_noise)
        self.goal_radius = goal_radius
        self.dt = self.robot.dt

    @property
    def observation_spec(self) -> BoxSpec:
        return BoxSpec((self.robot.lidar_beams + 3,))

    @property
    def action_spec(self) -> BoxSpec:
        return BoxSpec((2,), low=-1.0, high=1.0)

    def observe(self, layout, pose, goal, key) -> jax.Array:
        """The controller's observation for `pose [3]` heading to `goal [2]` (also used by HPP)."""
        ranges = robots.lidar(self.robot, self.world, layout, pose, key) / self.world.max_range
        return jnp.concatenate([ranges, goal_features(pose, goal, self.world.arena)])

    def reset(self, key: jax.Array) -> State:
        layout_key, pos_key, heading_key, obs_key, sim_key = jax.random.split(key, 5)
        layout = world.sample_layout(self.world, layout_key)
        points = world.sample_free_positions(self.world, layout, pos_key, 2, clearance=self.robot.radius + 0.2)
        heading = jax.random.uniform(heading_key, (1,), minval=-jnp.pi, maxval=jnp.pi)
        sim = GoalSim(layout, jnp.concatenate([points[0], heading]), points[1], sim_key)
        return initial_state(sim, self.observe(layout, sim.pose, sim.goal, obs_key),
                             metrics={"distance": jnp.linalg.norm(points[1] - points[0]), "success": jnp.zeros(())})

    def step(self, state: State, action: jax.Array) -> State:
        sim = state.sim
        key, obs_key = jax.random.split(sim.key)
        before = jnp.linalg.norm(sim.goal - sim.pose[:2])
        pose, contact = robots.move(self.robot, self.world, sim.layout, sim.pose, action)
        after = jnp.linalg.norm(sim.goal - pose[:2])
        success = after < self.goal_radius
        reward = 2.0 * (before - after) - 0.01 - 0.05 * contact + 5.0 * success
        sim = sim.replace(pose=pose, key=key)
        return state.replace(sim=sim, obs=self.observe(sim.layout, pose, sim.goal, obs_key),
                             reward=reward.astype(jnp.float32), terminated=success, truncated=jnp.zeros((), jnp.bool_),
                             metrics={"distance": after, "success": success.astype(jnp.float32)})

    def render_rgb(self, state: State, width: int = 320, height: int = 320):
        """Top-down view: obstacles (grey), robot (blue disc with heading), goal (cross)."""
        sim = state.sim
        return drawing.frame(sim.layout, self.world.arena, sim.pose[None], self.robot.radius, sim.goal[None],
                             width, height)
