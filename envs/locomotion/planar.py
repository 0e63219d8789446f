"""Shared planar biped/monoped logic of `hopper` and `walker2d` (gymnasium v5 semantics).

Both observe `qpos[1:]` and `clip(qvel, -10, 10)`, reward forward x-velocity of `qpos[0]`,
a healthy bonus and a control cost, terminate when unhealthy, and reset with uniform noise
on positions and velocities. They differ only in the model, the healthy ranges and (hopper)
a bound on the rest of the state; see `envs/locomotion/hopper.py` and `walker2d.py`.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from simlab.engine.env import State, initial_state
from simlab.envs.locomotion.base import MjcfTask, check_nonnegative, check_range, model_path, zero_metrics

METRICS = ("reward_forward", "reward_ctrl", "reward_survive", "x_position", "z_distance_from_origin",
           "x_velocity")
VELOCITY_CLIP = 10.0


class PlanarWalker(MjcfTask):
    """Base of Hopper and Walker2d. `params` needs the fields read in `__init__` (see subclasses).

    qpos layout: `[rootx, rootz, rooty (torso pitch), joint angles...]`.
    """

    def __init__(self, params, env_name: str):
        p = params
        self.healthy_z_range = check_range("healthy_z_range", p.healthy_z_range)
        self.healthy_angle_range = check_range("healthy_angle_range", p.healthy_angle_range)
        check_nonnegative(ctrl_cost_weight=p.ctrl_cost_weight, reset_noise_scale=p.reset_noise_scale)
        xml = model_path("gymnasium", p.xml_file)
        super().__init__(xml, substeps=p.frame_skip, solver=p.solver)
        self.params = p
        self.env_name = env_name
        self._qpos_start = 1 if p.exclude_current_positions_from_observation else 0
        self._observation_size = self.sys.nq - self._qpos_start + self.sys.nv

    def state_healthy(self, sim) -> jax.Array:
        """Extra health condition on the whole state (none here; hopper bounds it)."""
        return jnp.ones((), jnp.bool_)

    def healthy(self, sim) -> jax.Array:
        """Scalar bool: torso height and pitch strictly inside their ranges (and `state_healthy`)."""
        z, angle = sim.q[1], sim.q[2]
        z_low, z_high = self.healthy_z_range
        a_low, a_high = self.healthy_angle_range
        return (z > z_low) & (z < z_high) & (angle > a_low) & (angle < a_high) & self.state_healthy(sim)

    def reset(self, key: jax.Array) -> State:
        sim = self.noisy_init(key, self.params.reset_noise_scale, velocity_noise="uniform")
        metrics = {**zero_metrics(*METRICS), **self._position_metrics(sim)}
        return initial_state(sim, self._observe(sim), metrics)

    def step(self, state: State, action: jax.Array) -> State:
        p = self.params
        sim = self.advance(state.sim, action)
        velocity = (sim.q[0] - state.sim.q[0]) / self.dt
        healthy = self.healthy(sim)
        terms = {"reward_forward": p.forward_reward_weight * velocity,
                 "reward_survive": healthy.astype(jnp.float32) * p.healthy_reward,
                 "reward_ctrl": -self.control_cost(action, p.ctrl_cost_weight)}
        metrics = {**terms, **self._position_metrics(sim), "x_velocity": velocity}
        return state.replace(
            sim=sim, obs=self._observe(sim), reward=sum(terms.values()).astype(jnp.float32),
            terminated=jnp.logical_and(~healthy, p.terminate_when_unhealthy),
            truncated=jnp.zeros((), jnp.bool_),
            metrics={k: v.astype(jnp.float32) for k, v in metrics.items()})

    def _position_metrics(self, sim) -> dict[str, jax.Array]:
        return {"x_position": sim.q[0], "z_distance_from_origin": sim.q[1] - self._qpos0[1]}

    def _observe(self, sim) -> jax.Array:
        velocity = jnp.clip(sim.qd, -VELOCITY_CLIP, VELOCITY_CLIP)
        return jnp.concatenate([sim.q[self._qpos_start:], velocity]).astype(jnp.float32)
