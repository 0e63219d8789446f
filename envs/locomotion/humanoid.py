"""Humanoid: a 3-D biped that walks forward, with gymnasium `Humanoid-v5` observations and rewards.

| quantity | value (defaults) |
|---|---|
| model | **brax's** `humanoid.xml` (installed package): gymnasium's uses fixed tendons, which `engine.physics` rejects; bodies, joints, masses, inertias, gears and ctrlrange are the same. 5 substeps of 0.003 s: dt = 0.015 s (v5: frame_skip 5) |
| observation | float32[348]: `qpos[2:]` (22), `qvel` (23), `cinert[1:]` (13×10), `cvel[1:]` (13×6), `qfrc_actuator[6:]` (17), `cfrc_ext[1:]` (13×6) |
| action | float32[17] in [-0.4, 0.4] (joint torques, gears 25-300; clamped to ctrlrange) |
| reward | `reward_forward + reward_survive + reward_ctrl + reward_contact` |
| reward_forward | `1.25 ·` x-velocity of the mass centre (mass-weighted body COMs): (x_after − x_before) / dt |
| reward_survive | `5.0 ·` healthy (`1.0 < qpos[2] < 2.0`), also when not terminating |
| reward_ctrl | `−0.1 · Σ action²` (the action as given) |
| reward_contact | `−clip(5e-7 · Σ cfrc_ext², −inf, 10)` |
| termination | not healthy (`terminate_when_unhealthy=True`) |
| truncation | 1000 steps (via `envs.make`'s time limit) |
| reset | `qpos0 + U(−0.01, 0.01)`, `qvel = U(−0.01, 0.01)` per coordinate |
| metrics | `reward_forward, reward_ctrl, reward_contact, reward_survive, x_position, y_position, distance_from_origin, x_velocity, y_velocity` |

Differences from `Humanoid-v5`:

| what | gymnasium (MuJoCo C) | here |
|---|---|---|
| model | `humanoid.xml` with two hip-knee fixed tendons (coupling constraints) and self-collisions between limbs | brax's `humanoid.xml`: no tendons, so hips and knees move independently; contacts only between the floor and the two foot spheres (all other geoms have contype 0), so a fallen body passes through the floor (episodes terminate at z < 1 first) |
| dynamics | MuJoCo (RK4 as declared in the model, constraint solver) | `engine.physics`, `solver="mujoco"` (default): MuJoCo's constraint model and the model's integrator in float32 with 6 Newton iterations, agreeing with `mj_step` to 1e-5 or better on MuJoCo's states (docs/physics.md); `solver="penalty"`: semi-implicit Euler, soft penalty contacts and limits (faster; returns do not carry over) |
| `cinert`, `cvel` | MuJoCo's, of the start of the last substep (one substep stale) | the same definitions (inertia and velocity about the tree COM, world axes; verified against MuJoCo on the same qpos/qvel) at the end of the step |
| `qfrc_actuator` | MuJoCo's actuator forces of the last substep | gear · clip(gain · clip(action)) at the end of the step: identical for these motors |
| `cfrc_ext` | contact wrenches from MuJoCo's solver | the same wrench definition from the contact forces of the last substep: the constraint solver's with `solver="mujoco"`, the soft contacts' with `"penalty"` (values then differ, and so does `reward_contact`) |
| mass centre for the velocity | from `xipos` of the start of the last substep | body COMs at the end of the step |
| info | `tendon_length`, `tendon_velocity` | absent (no tendons) |
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
FREE_JOINT_DOFS = 6


@dataclasses.dataclass(frozen=True)
class HumanoidParams:
    """Options of `Humanoid` (names and defaults of gymnasium's `Humanoid-v5`; the model is brax's)."""

    forward_reward_weight: float = 1.25
    ctrl_cost_weight: float = 0.1
    contact_cost_weight: float = 5e-7
    contact_cost_range: tuple[float, float] = (-float("inf"), 10.0)
    healthy_reward: float = 5.0
    terminate_when_unhealthy: bool = True
    healthy_z_range: tuple[float, float] = (1.0, 2.0)
    reset_noise_scale: float = 1e-2
    exclude_current_positions_from_observation: bool = True
    include_cinert_in_observation: bool = True
    include_cvel_in_observation: bool = True
    include_qfrc_actuator_in_observation: bool = True
    include_cfrc_ext_in_observation: bool = True
    frame_skip: int = 5
    solver: str = "mujoco"  # MuJoCo's constraint model and integrator; "penalty": faster soft contacts (docs/physics.md)
    xml_file: str = "humanoid.xml"


class Humanoid(MjcfTask):
    """Humanoid walking forward (gymnasium Humanoid-v5 observation, reward and termination; brax's model)."""

    def __init__(self, params: HumanoidParams | None = None, **overrides):
        p = with_overrides(params or HumanoidParams(), overrides, "humanoid")
        self.healthy_z_range = check_range("healthy_z_range", p.healthy_z_range)
        self.contact_cost_range = check_range("contact_cost_range", p.contact_cost_range)
        check_nonnegative(ctrl_cost_weight=p.ctrl_cost_weight, contact_cost_weight=p.contact_cost_weight,
                          reset_noise_scale=p.reset_noise_scale)
        xml = model_path("brax", p.xml_file)
        super().__init__(xml, substeps=p.frame_skip, solver=p.solver)
        self.params = p
        self.frames = BodyFrames(self.sys)
        self._qpos_start = 2 if p.exclude_current_positions_from_observation else 0
        bodies = self.sys.num_bodies - 1
        self._observation_size = (self.sys.nq - self._qpos_start + self.sys.nv
                                  + 10 * bodies * bool(p.include_cinert_in_observation)
                                  + 6 * bodies * bool(p.include_cvel_in_observation)
                                  + (self.sys.nv - FREE_JOINT_DOFS) * bool(p.include_qfrc_actuator_in_observation)
                                  + 6 * bodies * bool(p.include_cfrc_ext_in_observation))

    def healthy(self, sim) -> jax.Array:
        """Scalar bool: torso z strictly inside `healthy_z_range`."""
        low, high = self.healthy_z_range
        return (sim.q[2] > low) & (sim.q[2] < high)

    def contact_cost(self, sim) -> jax.Array:
        """`clip(w · Σ cfrc_ext², contact_cost_range)` (a cost: subtract it)."""
        wrench = self.frames.cfrc_ext(self.sys, sim)
        low, high = self.contact_cost_range
        return jnp.clip(self.params.contact_cost_weight * jnp.sum(wrench * wrench), low, high)

    def reset(self, key: jax.Array) -> State:
        sim = self.noisy_init(key, self.params.reset_noise_scale, velocity_noise="uniform")
        metrics = {**zero_metrics(*METRICS), **xy_position_metrics(sim.q)}
        return initial_state(sim, self._observe(sim, jnp.zeros(self.sys.nu, jnp.float32)), metrics)

    def step(self, state: State, action: jax.Array) -> State:
        p = self.params
        before = self.frames.mass_center(self.sys, state.sim)[:2]
        sim = self.advance(state.sim, action)
        velocity = (self.frames.mass_center(self.sys, sim)[:2] - before) / self.dt
        healthy = self.healthy(sim)
        terms = {
            "reward_forward": p.forward_reward_weight * velocity[0],
            "reward_survive": healthy.astype(jnp.float32) * p.healthy_reward,
            "reward_ctrl": -self.control_cost(action, p.ctrl_cost_weight),
            "reward_contact": -self.contact_cost(sim),
        }
        metrics = {**terms, **xy_position_metrics(sim.q), "x_velocity": velocity[0], "y_velocity": velocity[1]}
        return state.replace(
            sim=sim, obs=self._observe(sim, action), reward=sum(terms.values()).astype(jnp.float32),
            terminated=jnp.logical_and(~healthy, p.terminate_when_unhealthy),
            truncated=jnp.zeros((), jnp.bool_),
            metrics={k: v.astype(jnp.float32) for k, v in metrics.items()})

    def _observe(self, sim, action: jax.Array) -> jax.Array:
        p = self.params
        parts = [sim.q[self._qpos_start:], sim.qd]
        if p.include_cinert_in_observation:
            parts.append(self.frames.cinert(self.sys, sim)[1:].reshape(-1))
        if p.include_cvel_in_observation:
            parts.append(self.frames.cvel(self.sys, sim)[1:].reshape(-1))
        if p.include_qfrc_actuator_in_observation:
            parts.append(self.frames.actuator_qfrc(self.sys, sim, action.astype(jnp.float32))[FREE_JOINT_DOFS:])
        if p.include_cfrc_ext_in_observation:
            parts.append(self.frames.cfrc_ext(self.sys, sim)[1:].reshape(-1))
        return jnp.concatenate(parts).astype(jnp.float32)
