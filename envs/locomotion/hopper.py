"""Hopper: a planar one-legged hopper, with gymnasium `Hopper-v5` observations and rewards.

| quantity | value (defaults) |
|---|---|
| model | gymnasium's `hopper.xml` (installed package), 4 substeps of 0.002 s: dt = 0.008 s (v5: frame_skip 4) |
| observation | float32[11]: `qpos[1:]` (rootz, rooty, thigh, leg, foot), `clip(qvel, -10, 10)` (6) |
| action | float32[3] in [-1, 1] (thigh/leg/foot torques; clamped to ctrlrange) |
| reward | `reward_forward + reward_survive + reward_ctrl` |
| reward_forward | `1.0 · (qpos[0]_after − qpos[0]_before) / dt` |
| reward_survive | `1.0 ·` healthy, also when not terminating |
| healthy | `0.7 < qpos[1] < inf`, `−0.2 < qpos[2] < 0.2`, and every element of `(qpos, qvel)[2:]` strictly in (−100, 100) |
| reward_ctrl | `−1e-3 · Σ action²` (the action as given) |
| termination | not healthy (`terminate_when_unhealthy=True`) |
| truncation | 1000 steps (via `envs.make`'s time limit) |
| reset | `qpos0 + U(−5e-3, 5e-3)`, `qvel = U(−5e-3, 5e-3)` per coordinate |
| metrics | `reward_forward, reward_ctrl, reward_survive, x_position, z_distance_from_origin, x_velocity` |

Differences from `Hopper-v5`:

| what | gymnasium (MuJoCo C) | here |
|---|---|---|
| dynamics | MuJoCo (RK4 as declared in the model, constraint solver) | `engine.physics`, `solver="mujoco"` (default): MuJoCo's constraint model and the model's integrator in float32 with 6 Newton iterations, agreeing with `mj_step` to 1e-5 or better on MuJoCo's states (docs/physics.md); `solver="penalty"`: semi-implicit Euler, soft penalty contacts and limits (faster; returns do not carry over) |
| float precision | float64 | float32 |
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from simlab.envs.boundary import with_overrides
from simlab.envs.locomotion.base import check_range
from simlab.envs.locomotion.planar import PlanarWalker


@dataclasses.dataclass(frozen=True)
class HopperParams:
    """Options of `Hopper` (names and defaults of gymnasium's `Hopper-v5`)."""

    forward_reward_weight: float = 1.0
    ctrl_cost_weight: float = 1e-3
    healthy_reward: float = 1.0
    terminate_when_unhealthy: bool = True
    healthy_state_range: tuple[float, float] = (-100.0, 100.0)
    healthy_z_range: tuple[float, float] = (0.7, float("inf"))
    healthy_angle_range: tuple[float, float] = (-0.2, 0.2)
    reset_noise_scale: float = 5e-3
    exclude_current_positions_from_observation: bool = True
    frame_skip: int = 4
    solver: str = "mujoco"  # MuJoCo's constraint model and integrator; "penalty": faster soft contacts (docs/physics.md)
    xml_file: str = "hopper.xml"


class Hopper(PlanarWalker):
    """Hopper hopping forward (gymnasium Hopper-v5 observation, reward and termination)."""

    def __init__(self, params: HopperParams | None = None, **overrides):
        p = with_overrides(params or HopperParams(), overrides, "hopper")
        self.healthy_state_range = check_range("healthy_state_range", p.healthy_state_range)
        super().__init__(p, "hopper")

    def state_healthy(self, sim) -> jax.Array:
        """Every element of `concat(qpos, qvel)[2:]` strictly inside `healthy_state_range`."""
        low, high = self.healthy_state_range
        rest = jnp.concatenate([sim.q, sim.qd])[2:]
        return jnp.all((rest > low) & (rest < high))
