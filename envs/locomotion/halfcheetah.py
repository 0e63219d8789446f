"""HalfCheetah: a planar two-legged runner, with gymnasium `HalfCheetah-v5` observations and rewards.

| quantity | value (defaults) |
|---|---|
| model | gymnasium's `half_cheetah.xml` (installed package), 5 substeps of 0.01 s: dt = 0.05 s (v5: frame_skip 5) |
| observation | float32[17]: `qpos[1:]` (rootz, rooty, 6 joint angles), `qvel` (9) |
| action | float32[6] in [-1, 1] (thigh/shin/foot torques; clamped to ctrlrange) |
| reward | `reward_forward + reward_ctrl` |
| reward_forward | `1.0 · (qpos[0]_after − qpos[0]_before) / dt` |
| reward_ctrl | `−0.1 · Σ action²` (the action as given) |
| termination | never |
| truncation | 1000 steps (via `envs.make`'s time limit) |
| reset | `qpos0 + U(−0.1, 0.1)` per coordinate, `qvel = 0.1 · N(0, 1)` |
| metrics | `reward_forward, reward_ctrl, x_position, x_velocity` |

Differences from `HalfCheetah-v5`:

| what | gymnasium (MuJoCo C) | here |
|---|---|---|
| dynamics | MuJoCo (Euler as declared in the model, constraint solver) | `engine.physics`, `solver="mujoco"` (default): MuJoCo's constraint model and the model's integrator in float32 with 6 Newton iterations, agreeing with `mj_step` to 1e-5 or better on MuJoCo's states (docs/physics.md); `solver="penalty"`: semi-implicit Euler, soft penalty contacts and limits (faster; returns do not carry over) |
| float precision | float64 | float32 |
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from simlab.engine.env import State, initial_state
from simlab.envs.boundary import with_overrides
from simlab.envs.locomotion.base import MjcfTask, check_nonnegative, model_path, zero_metrics

METRICS = ("reward_forward", "reward_ctrl", "x_position", "x_velocity")


@dataclasses.dataclass(frozen=True)
class HalfCheetahParams:
    """Options of `HalfCheetah` (names and defaults of gymnasium's `HalfCheetah-v5`)."""

    forward_reward_weight: float = 1.0
    ctrl_cost_weight: float = 0.1
    reset_noise_scale: float = 0.1
    exclude_current_positions_from_observation: bool = True
    frame_skip: int = 5
    solver: str = "mujoco"  # MuJoCo's constraint model and integrator; "penalty": faster soft contacts (docs/physics.md)
    xml_file: str = "half_cheetah.xml"


class HalfCheetah(MjcfTask):
    """HalfCheetah running forward (gymnasium HalfCheetah-v5 observation and reward; never terminates)."""

    def __init__(self, params: HalfCheetahParams | None = None, **overrides):
        p = with_overrides(params or HalfCheetahParams(), overrides, "halfcheetah")
        check_nonnegative(ctrl_cost_weight=p.ctrl_cost_weight, reset_noise_scale=p.reset_noise_scale)
        xml = model_path("gymnasium", p.xml_file)
        super().__init__(xml, substeps=p.frame_skip, solver=p.solver)
        self.params = p
        self._qpos_start = 1 if p.exclude_current_positions_from_observation else 0
        self._observation_size = self.sys.nq - self._qpos_start + self.sys.nv

    def reset(self, key: jax.Array) -> State:
        sim = self.noisy_init(key, self.params.reset_noise_scale, velocity_noise="normal")
        metrics = {**zero_metrics(*METRICS), "x_position": sim.q[0]}
        return initial_state(sim, self._observe(sim), metrics)

    def step(self, state: State, action: jax.Array) -> State:
        p = self.params
        sim = self.advance(state.sim, action)
        velocity = (sim.q[0] - state.sim.q[0]) / self.dt
        terms = {"reward_forward": p.forward_reward_weight * velocity,
                 "reward_ctrl": -self.control_cost(action, p.ctrl_cost_weight)}
        metrics = {**terms, "x_position": sim.q[0], "x_velocity": velocity}
        return state.replace(
            sim=sim, obs=self._observe(sim), reward=sum(terms.values()).astype(jnp.float32),
            terminated=jnp.zeros((), jnp.bool_), truncated=jnp.zeros((), jnp.bool_),
            metrics={k: v.astype(jnp.float32) for k, v in metrics.items()})

    def _observe(self, sim) -> jax.Array:
        return jnp.concatenate([sim.q[self._qpos_start:], sim.qd]).astype(jnp.float32)
