"""Ant: a four-legged robot that runs in +x, with gymnasium `Ant-v5` observations and rewards.

| quantity | value (defaults) |
|---|---|
| model | gymnasium's `ant.xml` (installed package), 5 substeps of 0.01 s: dt = 0.05 s (v5: frame_skip 5) |
| observation | float32[105]: `qpos[2:]` (13), `qvel` (14), `clip(cfrc_ext[1:], -1, 1)` (13 bodies × 6) |
| action | float32[8] in [-1, 1] (hip/ankle torques, gear 150; clamped to ctrlrange) |
| reward | `reward_forward + reward_survive + reward_ctrl + reward_contact` |
| reward_forward | `1.0 ·` x-velocity of the torso origin: (x_after − x_before) / dt |
| reward_survive | `1.0 ·` healthy (torso z in [0.2, 1.0] inclusive, state finite), also when not terminating |
| reward_ctrl | `−0.5 · Σ action²` (the action as given) |
| reward_contact | `−5e-4 · Σ clip(cfrc_ext, -1, 1)²` over all bodies |
| termination | not healthy (`terminate_when_unhealthy=True`) |
| truncation | 1000 steps (via `envs.make`'s time limit) |
| reset | `qpos0 + U(−0.1, 0.1)` per coordinate, `qvel = 0.1 · N(0, 1)` |
| metrics | `reward_forward, reward_ctrl, reward_contact, reward_survive, x_position, y_position, distance_from_origin, x_velocity, y_velocity` |

Differences from `Ant-v5`:

| what | gymnasium (MuJoCo C) | here |
|---|---|---|
| dynamics | MuJoCo (RK4 as declared in the model, constraint solver) | `engine.physics`, `solver="mujoco"` (default): MuJoCo's constraint model and the model's integrator in float32 with 6 Newton iterations, agreeing with `mj_step` to 1e-5 or better on MuJoCo's states (docs/physics.md); `solver="penalty"`: semi-implicit Euler, soft penalty contacts and limits (faster; returns do not carry over) |
| `cfrc_ext` | contact wrenches from MuJoCo's solver | the same wrench definition (torque about the tree COM; force; verified against MuJoCo on MuJoCo's contacts) built from the contact forces of the last substep: the constraint solver's with `solver="mujoco"` (at the substep's start), the soft contacts' with `"penalty"` (values then differ) |
| body positions for the velocity | `xpos` of the start of the last MuJoCo substep (one substep stale) | body positions of the end of the step |
| reset quaternion | torso quaternion with noise, not renormalized in the reset observation | renormalized to unit length |
| float precision | float64 | float32 |
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from simlab.engine.env import State, initial_state
from simlab.envs.boundary import with_overrides
from simlab.envs.locomotion.base import (MjcfTask, check_nonnegative, check_range, model_path, xy_position_metrics,
                                         zero_metrics)
from simlab.envs.locomotion.com_frame import BodyFrames

METRICS = ("reward_forward", "reward_ctrl", "reward_contact", "reward_survive", "x_position", "y_position",
           "distance_from_origin", "x_velocity", "y_velocity")


@dataclasses.dataclass(frozen=True)
class AntParams:
    """Options of `Ant` (names and defaults of gymnasium's `Ant-v5`)."""

    forward_reward_weight: float = 1.0
    ctrl_cost_weight: float = 0.5
    contact_cost_weight: float = 5e-4
    healthy_reward: float = 1.0
    main_body: int | str = 1
    terminate_when_unhealthy: bool = True
    healthy_z_range: tuple[float, float] = (0.2, 1.0)
    contact_force_range: tuple[float, float] = (-1.0, 1.0)
    reset_noise_scale: float = 0.1
    exclude_current_positions_from_observation: bool = True
    include_cfrc_ext_in_observation: bool = True
    frame_skip: int = 5
    solver: str = "mujoco"  # MuJoCo's constraint model and integrator; "penalty": faster soft contacts (docs/physics.md)
    xml_file: str = "ant.xml"


class Ant(MjcfTask):
    """Ant quadruped running forward (gymnasium Ant-v5 observation, reward and termination)."""

    def __init__(self, params: AntParams | None = None, **overrides):
        p = with_overrides(params or AntParams(), overrides, "ant")
        self.healthy_z_range = check_range("healthy_z_range", p.healthy_z_range)
        self.contact_force_range = check_range("contact_force_range", p.contact_force_range)
        check_nonnegative(ctrl_cost_weight=p.ctrl_cost_weight, contact_cost_weight=p.contact_cost_weight,
                          reset_noise_scale=p.reset_noise_scale)
        xml = model_path("gymnasium", p.xml_file)
        super().__init__(xml, substeps=p.frame_skip, solver=p.solver)
        self.params = p
        self.main_body = self._body_index(p.main_body)
        self.frames = BodyFrames(self.sys)
        skipped = 2 if p.exclude_current_positions_from_observation else 0
        self._qpos_start = skipped
        self._observation_size = (self.sys.nq - skipped + self.sys.nv
                                  + 6 * (self.sys.num_bodies - 1) * bool(p.include_cfrc_ext_in_observation))

    def _body_index(self, body: int | str) -> int:
        names = self.sys.body_names
        if isinstance(body, str):
            if body not in names:
                raise ValueError(f"main_body {body!r} is not a body of {self.mjcf_path}; bodies: {names}")
            return names.index(body)
        if not 0 < int(body) < len(names):
            raise ValueError(f"main_body must be a body index in [1, {len(names) - 1}] or a name, got {body!r}")
        return int(body)

    def reset(self, key: jax.Array) -> State:
        sim = self.noisy_init(key, self.params.reset_noise_scale, velocity_noise="normal")
        metrics = zero_metrics(*METRICS)
        metrics.update(xy_position_metrics(sim.q))
        return initial_state(sim, self._observe(sim), metrics)

    def contact_forces(self, sim) -> jax.Array:
        """`[nb, 6]` clipped `cfrc_ext` (the observed and penalized contact wrenches)."""
        low, high = self.contact_force_range
        return jnp.clip(self.frames.cfrc_ext(self.sys, sim), low, high)

    def healthy(self, sim) -> jax.Array:
        """Scalar bool: all of (q, qd) finite and torso z within `healthy_z_range` (inclusive)."""
        low, high = self.healthy_z_range
        z = sim.q[2]
        finite = jnp.all(jnp.isfinite(sim.q)) & jnp.all(jnp.isfinite(sim.qd))
        return finite & (z >= low) & (z <= high)

    def step(self, state: State, action: jax.Array) -> State:
        p = self.params
        before = state.sim.x_pos[self.main_body, :2]
        sim = self.advance(state.sim, action)
        velocity = (sim.x_pos[self.main_body, :2] - before) / self.dt
        healthy = self.healthy(sim)
        forces = self.contact_forces(sim)
        terms = {
            "reward_forward": p.forward_reward_weight * velocity[0],
            "reward_survive": healthy.astype(jnp.float32) * p.healthy_reward,
            "reward_ctrl": -self.control_cost(action, p.ctrl_cost_weight),
            "reward_contact": -p.contact_cost_weight * jnp.sum(forces * forces),
        }
        reward = sum(terms.values())
        metrics = {**terms, **xy_position_metrics(sim.q), "x_velocity": velocity[0], "y_velocity": velocity[1]}
        return state.replace(
            sim=sim, obs=self._observe(sim), reward=reward.astype(jnp.float32),
            terminated=jnp.logical_and(~healthy, p.terminate_when_unhealthy),
            truncated=jnp.zeros((), jnp.bool_),
            metrics={k: v.astype(jnp.float32) for k, v in metrics.items()})

    def _observe(self, sim) -> jax.Array:
        parts = [sim.q[self._qpos_start:], sim.qd]
        if self.params.include_cfrc_ext_in_observation:
            parts.append(self.contact_forces(sim)[1:].reshape(-1))
        return jnp.concatenate(parts).astype(jnp.float32)
