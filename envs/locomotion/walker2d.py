"""Walker2d: a planar biped, with gymnasium `Walker2d-v5` observations and rewards.

| quantity | value (defaults) |
|---|---|
| model | gymnasium's `walker2d_v5.xml` (installed package; both feet with friction 0.9), 4 substeps of 0.002 s: dt = 0.008 s (v5: frame_skip 4) |
| observation | float32[17]: `qpos[1:]` (rootz, rooty, 6 joint angles), `clip(qvel, -10, 10)` (9) |
| action | float32[6] in [-1, 1] (thigh/leg/foot torques of both legs; clamped to ctrlrange) |
| reward | `reward_forward + reward_survive + reward_ctrl` |
| reward_forward | `1.0 · (qpos[0]_after − qpos[0]_before) / dt` |
| reward_survive | `1.0 ·` healthy, also when not terminating |
| healthy | `0.8 < qpos[1] < 2.0` and `−1 < qpos[2] < 1` |
| reward_ctrl | `−1e-3 · Σ action²` (the action as given) |
| termination | not healthy (`terminate_when_unhealthy=True`) |
| truncation | 1000 steps (via `envs.make`'s time limit) |
| reset | `qpos0 + U(−5e-3, 5e-3)`, `qvel = U(−5e-3, 5e-3)` per coordinate |
| metrics | `reward_forward, reward_ctrl, reward_survive, x_position, z_distance_from_origin, x_velocity` |

Differences from `Walker2d-v5`:

| what | gymnasium (MuJoCo C) | here |
|---|---|---|
| dynamics | MuJoCo (RK4 as declared in the model, constraint solver) | `engine.physics`, `solver="mujoco"` (default): MuJoCo's constraint model and the model's integrator in float32 with 6 Newton iterations, agreeing with `mj_step` to 1e-5 or better on MuJoCo's states (docs/physics.md); `solver="penalty"`: semi-implicit Euler, soft penalty contacts and limits (faster; returns do not carry over) |
| float precision | float64 | float32 |
"""
from __future__ import annotations

import dataclasses

from simlab.envs.boundary import with_overrides
from simlab.envs.locomotion.planar import PlanarWalker


@dataclasses.dataclass(frozen=True)
class Walker2dParams:
    """Options of `Walker2d` (names and defaults of gymnasium's `Walker2d-v5`)."""

    forward_reward_weight: float = 1.0
    ctrl_cost_weight: float = 1e-3
    healthy_reward: float = 1.0
    terminate_when_unhealthy: bool = True
    healthy_z_range: tuple[float, float] = (0.8, 2.0)
    healthy_angle_range: tuple[float, float] = (-1.0, 1.0)
    reset_noise_scale: float = 5e-3
    exclude_current_positions_from_observation: bool = True
    frame_skip: int = 4
    solver: str = "mujoco"  # MuJoCo's constraint model and integrator; "penalty": faster soft contacts (docs/physics.md)
    xml_file: str = "walker2d_v5.xml"


class Walker2d(PlanarWalker):
    """Walker2d walking forward (gymnasium Walker2d-v5 observation, reward and termination)."""

    def __init__(self, params: Walker2dParams | None = None, **overrides):
        super().__init__(with_overrides(params or Walker2dParams(), overrides, "walker2d"), "walker2d")
