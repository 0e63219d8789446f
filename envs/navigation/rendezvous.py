"""Decentralized multi-agent rendezvous among obstacles (the HPP task).

`num_agents` unicycles start at free random positions in a random obstacle
layout and must gather: the episode terminates when every pair of agents is
within `rendezvous_radius`. There is no communication channel: each agent sees
only its own lidar, its own pose and noisy positions of its teammates.

Multi-agent conventions (leading agent axis `K`):
| field | shape | meaning |
|---|---|---|
| `obs` | `[K, 64 + 4 + 2 (K-1)]` | lidar / max_range, own `(x/L, y/L, cos h, sin h)`, teammates' noisy `(x, y)/L` |
| action | `[K, 2]` | per-agent `(v, w)` in [-1, 1] |
| `reward` | `[K]` | shared: `-spread * dt / L` per step, `+10` on success |
| `terminated` | `[]` | all agents within `rendezvous_radius` of each other, in line of sight (`line_of_sight`) |

`envs.pettingzoo.ParallelRendezvous` (the generic `SimlabParallelEnv("rendezvous")`) maps this onto
PettingZoo's parallel dict API (`{"agent_0": obs, ...}`). Agents do not collide with each
other (documented simplification); they do collide with walls and obstacles.
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
class RendezvousSim:
    layout: world.Layout
    poses: jax.Array  # [K, 3]
    key: jax.Array


def spread(positions: jax.Array) -> jax.Array:
    """Largest pairwise distance `[]` between `positions [K, 2]`."""
    diff = positions[:, None, :] - positions[None, :, :]
    return jnp.sqrt(jnp.max(jnp.sum(diff**2, axis=-1)) + 1e-12)


class Rendezvous(Env):
    """Multi-agent rendezvous in a 2-D obstacle world; see the module docstring."""

    default_episode_length = 300

    def __init__(self, num_agents: int = 3, num_obstacles: int = 6, family: str = "train", arena: float = 5.0,
                 rendezvous_radius: float = 1.0, team_noise: float = 0.1, lidar_noise: float = 0.05,
                 line_of_sight: bool = True, connected_starts: bool = True, start_candidates: int = 8):
        if not 2 <= num_agents <= 8:
            raise ValueError(f"num_agents must be between 2 and 8, got {num_agents}")
        self.num_agents = num_agents
        self.world = world.WorldConfig(arena=arena, num_obstacles=num_obstacles, family=family)
        self.robot = robots.RobotConfig(lidar_noise=lidar_noise)
        self.rendezvous_radius = rendezvous_radius
        self.line_of_sight = bool(line_of_sight)
        self.connected_starts = bool(connected_starts)
        self.start_candidates = int(start_candidates)
        if self.start_candidates < 1:
            raise ValueError(f"start_candidates must be >= 1, got {start_candidates}")
        self.team_noise = team_noise
        self.dt = self.robot.dt

    @property
    def observation_spec(self) -> BoxSpec:
        size = self.robot.lidar_beams + 4 + 2 * (self.num_agents - 1)
        return BoxSpec((self.num_agents, size))

    @property
    def action_spec(self) -> BoxSpec:
        return BoxSpec((self.num_agents, 2), low=-1.0, high=1.0)

    def reset(self, key: jax.Array) -> State:
        layout_key, pose_key, heading_key, sim_key = jax.random.split(key, 4)
        layout = world.sample_layout(self.world, layout_key)
        positions = self._starts(layout, pose_key)
        headings = jax.random.uniform(heading_key, (self.num_agents, 1), minval=-jnp.pi, maxval=jnp.pi)
        sim = RendezvousSim(layout, jnp.concatenate([positions, headings], axis=1), sim_key)
        obs, sim = self._observe(sim)
        state = initial_state(sim, obs, metrics={"spread": spread(sim.poses[:, :2]),
                                                 "success": jnp.zeros(()), "contacts": jnp.zeros(())})
        return state.replace(reward=jnp.zeros((self.num_agents,), jnp.float32))

    def _starts(self, layout: world.Layout, key: jax.Array) -> jax.Array:
        """Free start positions `[K, 2]`; with `connected_starts`, the first of `start_candidates` draws in
        which every agent can reach agent 0 (a grid path with the robot's clearance), so that a
        rendezvous is possible (the draw with the most reachable agents if none is fully connected)."""
        k, c = self.num_agents, self.start_candidates if self.connected_starts else 1
        points = world.sample_free_positions(self.world, layout, key, k * c,
                                             clearance=self.robot.radius + 0.2).reshape(c, k, 2)
        if not self.connected_starts:
            return points[0]
        cells = 48
        centres, lengths = world.path_lengths(self.world, layout, points[:, 0], self.robot.radius, cells)
        h = 2 * self.world.arena / cells
        index = jnp.clip(((points + self.world.arena) / h).astype(jnp.int32), 0, cells - 1)
        flat = index[..., 0] * cells + index[..., 1]  # [c, k]
        reached = jnp.sum(jnp.isfinite(jnp.take_along_axis(lengths, flat, axis=1)), axis=1)  # [c]
        return points[jnp.argmax(reached)]

    def _observe(self, sim: RendezvousSim) -> tuple[jax.Array, RendezvousSim]:
        key, lidar_key, team_key = jax.random.split(sim.key, 3)
        k = self.num_agents
        ranges = jax.vmap(lambda pose, kk: robots.lidar(self.robot, self.world, sim.layout, pose, kk))(
            sim.poses, jax.random.split(lidar_key, k)) / self.world.max_range
        arena = self.world.arena
        own = jnp.stack([sim.poses[:, 0] / arena, sim.poses[:, 1] / arena,
                         jnp.cos(sim.poses[:, 2]), jnp.sin(sim.poses[:, 2])], axis=1)
        noisy = sim.poses[None, :, :2] + self.team_noise * jax.random.normal(team_key, (k, k, 2))
        # each agent's view of the others, in a fixed teammate order (skipping itself)
        others = jnp.array([[j for j in range(k) if j != i] for i in range(k)])
        team = jnp.take_along_axis(noisy, others[:, :, None], axis=1).reshape(k, -1) / arena
        return jnp.concatenate([ranges, own, team], axis=1), sim.replace(key=key)

    def step(self, state: State, action: jax.Array) -> State:
        sim = state.sim
        poses, contacts = jax.vmap(lambda p, a: robots.move(self.robot, self.world, sim.layout, p, a))(sim.poses, action)
        sim = sim.replace(poses=poses)
        obs, sim = self._observe(sim)
        current_spread = spread(poses[:, :2])
        success = self.gathered(sim.layout, poses[:, :2])
        reward = -current_spread * self.dt / self.world.arena + 10.0 * success
        return state.replace(
            sim=sim, obs=obs, reward=jnp.full((self.num_agents,), reward, jnp.float32), terminated=success,
            truncated=jnp.zeros((), jnp.bool_),
            metrics={"spread": current_spread, "success": success.astype(jnp.float32),
                     "contacts": jnp.sum(contacts).astype(jnp.float32)})

    def gathered(self, layout: world.Layout, positions: jax.Array) -> jax.Array:
        """Success test `[]` bool: every pair within `rendezvous_radius` and, with `line_of_sight`, with no
        obstacle between them (two robots pressed against opposite sides of a wall have not met)."""
        close = spread(positions) < self.rendezvous_radius
        if not self.line_of_sight:
            return close
        k = self.num_agents
        pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
        a = positions[jnp.array([i for i, _ in pairs])]
        b = positions[jnp.array([j for _, j in pairs])]
        seen = jax.vmap(lambda p, q: world.visible(self.world, layout, p, q))(a, b)
        return close & jnp.all(seen)

    def global_state(self, state: State) -> jax.Array:
        """Global state for centralized critics (the parallel adapter's `state()`): all poses `[K * 3]`."""
        return state.sim.poses.reshape(-1)

    def render_rgb(self, state: State, width: int = 320, height: int = 320):
        """Top-down view of obstacles and all robots (one colour each)."""
        return drawing.frame(state.sim.layout, self.world.arena, state.sim.poses, self.robot.radius, None,
                             width, height)
