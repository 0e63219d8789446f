"""IBC's N-D particle task: drive a point mass to goal 1, then to goal 2, and stay there.

The particle of Florence et al. (CoRL 2021), written branch-free for simlab's `engine.Env` protocol.
Lengths are in the task's unit (the goals lie in the unit cube), times in seconds.

| quantity | value |
|---|---|
| observation | `[position, velocity, goal_1, goal_2]`, float32[4N] (N = `dim`, 1..32) |
| action | position set-point of a PD controller, float32[N], clipped to the unit cube [0, 1]^N |
| control step | `substeps` = 10 substeps of `dt` = 0.005 s: 0.05 s (20 Hz) |
| episode | `episode_length` = 50 control steps (2.5 s), by `envs.make`'s time limit |
| reset | position, goal 1 and goal 2 ~ U[0, 1]^N, velocity 0 |
| reward | 1 at the last step (the 50th) of a successful episode, else 0 |
| termination | never |

Dynamics: each substep applies the PD force of gains `kp` = 10 s^-2 and `kd` = 5 s^-1 (unit mass) and
integrates with semi-implicit Euler,

    u = kp (setpoint - x) - kd v,    v <- v + dt u,    x <- x + dt v.

Success, as the paper defines it (tolerance `goal_tolerance` = 0.05, Euclidean, checked after every
control step): the particle came within the tolerance of goal 1, later (or at the same step) within the
tolerance of goal 2, and is within the tolerance of goal 2 at the end of the episode. The env tracks
the two "reached" flags in its state; `state.metrics["success"]` is 1.0 while all three hold, so read
at the last step it is the episode's success. Also in `metrics`: `reached_first_goal`,
`reached_second_goal` (0/1) and `distance_to_first_goal`, `distance_to_second_goal`.
"""
from __future__ import annotations

import dataclasses
import numbers

import jax
import jax.numpy as jnp
import numpy as np

from simlab.engine.env import Env, State, initial_state
from simlab.engine.specs import BoxSpec
from simlab.engine.struct import pytree_dataclass
from simlab.envs.boundary import with_overrides

MIN_DIM, MAX_DIM = 1, 32


@dataclasses.dataclass(frozen=True)
class ParticleParams:
    """Static configuration (see the module docstring for units)."""

    dim: int = 2
    dt: float = 0.005
    substeps: int = 10
    kp: float = 10.0
    kd: float = 5.0
    goal_tolerance: float = 0.05
    episode_length: int = 50


@pytree_dataclass
class ParticleSim:
    """The simulator state (unbatched shapes).

    position, velocity: [N] float32; first_goal, second_goal: [N] float32 in [0, 1];
    reached_first, reached_second: scalar bool (goal 1 reached; goal 2 reached after goal 1);
    steps: scalar int32, control steps taken this episode.
    """

    position: jax.Array
    velocity: jax.Array
    first_goal: jax.Array
    second_goal: jax.Array
    reached_first: jax.Array
    reached_second: jax.Array
    steps: jax.Array


def check_dim(dim) -> int:
    """`dim` as an int in [1, 32]; raises ValueError (TypeError for a non-integer) naming the valid range."""
    if isinstance(dim, (bool, np.bool_)) or not isinstance(dim, numbers.Integral):
        raise TypeError(f"particle dim must be an integer from {MIN_DIM} to {MAX_DIM}, got {dim!r}")
    if not MIN_DIM <= int(dim) <= MAX_DIM:
        raise ValueError(f"particle dim must be from {MIN_DIM} to {MAX_DIM} (the N of the N-D particle), got {dim}")
    return int(dim)


class ParticleEnv(Env):
    """The N-D particle (`dim` = N in 1..32): visit goal 1, then goal 2, and stay at goal 2.

    `ParticleEnv(dim=16)`, or `envs.make("particle", dim=16)` (default dim 2); other fields of `ParticleParams` may be
    overridden by keyword (e.g. `goal_tolerance=0.02`).
    """

    def __init__(self, dim: int | None = None, params: ParticleParams | None = None, **overrides):
        if dim is not None:
            overrides = {"dim": dim, **overrides}
        params = with_overrides(params or ParticleParams(), overrides, "particle")
        check_dim(params.dim)
        if int(params.substeps) != params.substeps or params.substeps < 1:
            raise ValueError(f"particle substeps must be a positive integer, got {params.substeps!r}")
        if int(params.episode_length) != params.episode_length or params.episode_length < 1:
            raise ValueError(f"particle episode_length must be a positive integer, got {params.episode_length!r}")
        if not params.goal_tolerance > 0 or not params.dt > 0:
            raise ValueError(f"particle goal_tolerance and dt must be > 0, got {params.goal_tolerance}, {params.dt}")
        self.params = params
        self.dim = params.dim
        self.dt = params.dt * params.substeps
        self.default_episode_length = params.episode_length

    @property
    def observation_spec(self) -> BoxSpec:
        n = self.dim
        low = np.concatenate([np.full(2 * n, -np.inf), np.zeros(2 * n)]).astype(np.float32)
        high = np.concatenate([np.full(2 * n, np.inf), np.ones(2 * n)]).astype(np.float32)
        return BoxSpec(shape=(4 * n,), low=low, high=high)

    @property
    def action_spec(self) -> BoxSpec:
        return BoxSpec(shape=(self.dim,), low=0.0, high=1.0)

    def reset(self, key: jax.Array) -> State:
        """Position and both goals ~ U[0, 1]^N, velocity 0 (`key`: an unbatched PRNG key)."""
        position, first_goal, second_goal = jax.random.uniform(key, (3, self.dim), jnp.float32)
        false = jnp.zeros((), jnp.bool_)
        sim = ParticleSim(position, jnp.zeros(self.dim, jnp.float32), first_goal, second_goal, false, false,
                          jnp.zeros((), jnp.int32))
        return initial_state(sim, self._observe(sim), self._metrics(sim))

    def step(self, state: State, action: jax.Array) -> State:
        """One control step: `substeps` PD substeps towards `action` ([N] set-point, clipped to [0, 1])."""
        p, sim = self.params, state.sim
        setpoint = jnp.clip(jnp.asarray(action, jnp.float32), 0.0, 1.0)
        position, velocity = sim.position, sim.velocity
        for _ in range(p.substeps):  # a fixed count, unrolled at trace time
            force = p.kp * (setpoint - position) - p.kd * velocity
            velocity = velocity + p.dt * force
            position = position + p.dt * velocity
        near_first = jnp.linalg.norm(position - sim.first_goal) < p.goal_tolerance
        near_second = jnp.linalg.norm(position - sim.second_goal) < p.goal_tolerance
        reached_first = sim.reached_first | near_first
        sim = sim.replace(position=position, velocity=velocity, reached_first=reached_first,
                          reached_second=sim.reached_second | (reached_first & near_second), steps=sim.steps + 1)
        metrics = self._metrics(sim)
        last_step = sim.steps == p.episode_length
        return state.replace(
            sim=sim,
            obs=self._observe(sim),
            reward=jnp.where(last_step, metrics["success"], 0.0).astype(jnp.float32),
            terminated=jnp.zeros((), jnp.bool_),
            truncated=jnp.zeros((), jnp.bool_),
            metrics=metrics,
        )

    def _metrics(self, sim: ParticleSim) -> dict[str, jax.Array]:
        first = jnp.linalg.norm(sim.position - sim.first_goal)
        second = jnp.linalg.norm(sim.position - sim.second_goal)
        success = sim.reached_first & sim.reached_second & (second < self.params.goal_tolerance)
        return {"success": success.astype(jnp.float32),
                "reached_first_goal": sim.reached_first.astype(jnp.float32),
                "reached_second_goal": sim.reached_second.astype(jnp.float32),
                "distance_to_first_goal": first.astype(jnp.float32),
                "distance_to_second_goal": second.astype(jnp.float32)}

    @staticmethod
    def _observe(sim: ParticleSim) -> jax.Array:
        return jnp.concatenate([sim.position, sim.velocity, sim.first_goal, sim.second_goal]).astype(jnp.float32)

    def __repr__(self) -> str:
        return f"ParticleEnv(dim={self.dim})"


def split_observation(obs: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """`(position, velocity, goal_1, goal_2)`, each `[..., N]`, of particle observations `[..., 4N]`."""
    return tuple(jnp.split(obs, 4, axis=-1))
