"""Soft actor-critic with twin Q networks, automatic temperature and an on-device replay buffer.

One `iteration` runs `env_steps_per_iteration` batched environment steps; after
each, `grad_updates_per_step` gradient updates run inside a `lax.scan`, so
compile time does not grow with the update ratio. Updates start once the buffer
holds `warmup_steps` transitions (before that, actions are uniform random and
updates are computed but masked out, keeping the program branch-free).
"""
from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import optax

from simlab import envs
from simlab.agents import networks
from simlab.agents.actions import ActionScaler
from simlab.agents.config_validation import AT_LEAST_ONE, DISCOUNT, NONNEGATIVE, POSITIVE, Interval, validate_config
from simlab.agents.evaluation import mean_finished_return
from simlab.agents.learner import DeployedPolicyMixin
from simlab.agents.replay import ReplayBuffer, ReplayData, make_replay_buffer
from simlab.engine.env import Env, State
from simlab.engine.struct import pytree_dataclass


@dataclasses.dataclass(frozen=True)
class SACConfig:
    """SAC settings. One iteration = `num_envs * env_steps_per_iteration` env steps.

    Attributes:
      grad_updates_per_step: gradient updates after each batched env step.
      warmup_steps: transitions collected with uniform random actions before learning.
      target_entropy: default `-action_size`.
    """

    num_envs: int = 4
    env_steps_per_iteration: int = 50
    grad_updates_per_step: int = 4
    batch_size: int = 256
    buffer_size: int = 100_000
    warmup_steps: int = 1000
    learning_rate: float = 3e-4
    gamma: float = 0.99
    tau: float = 0.005
    reward_scale: float = 1.0
    init_alpha: float = 1.0
    target_entropy: float | None = None
    hidden: tuple[int, ...] = (256, 256)
    activation: str = "relu"
    eval_episodes: int = 16

    def __post_init__(self):
        validate_config(self, SAC_RANGES, {"activation": sorted(networks.ACTIVATIONS)})
        if self.buffer_size < self.num_envs:
            raise ValueError(f"buffer_size ({self.buffer_size}) must be at least num_envs ({self.num_envs})")


# Valid ranges of SACConfig's numeric fields (agents/config_validation.py); target_entropy is any number.
SAC_RANGES = {
    "num_envs": AT_LEAST_ONE, "env_steps_per_iteration": AT_LEAST_ONE, "grad_updates_per_step": AT_LEAST_ONE,
    "batch_size": AT_LEAST_ONE, "buffer_size": AT_LEAST_ONE, "eval_episodes": AT_LEAST_ONE,
    "warmup_steps": NONNEGATIVE, "learning_rate": POSITIVE, "gamma": DISCOUNT,
    "tau": Interval(0, 1, low_open=True), "reward_scale": POSITIVE, "init_alpha": POSITIVE,
}


@pytree_dataclass
class SACState:
    policy_params: Any
    q_params: Any
    target_q_params: Any
    log_alpha: jax.Array
    policy_opt: Any
    q_opt: Any
    alpha_opt: Any
    replay: ReplayData
    env_state: State
    key: jax.Array
    iteration: jax.Array
    env_steps: jax.Array


@dataclasses.dataclass(frozen=True)
class SAC(DeployedPolicyMixin):
    env_name: str
    env_kwargs: dict
    config: SACConfig
    env: Env
    eval_env: Env
    policy_net: Any
    q_net: Any
    optimizer: optax.GradientTransformation
    buffer: ReplayBuffer
    scaler: ActionScaler
    target_entropy: float

    name = "sac"

    @property
    def steps_per_iteration(self) -> int:
        return self.config.num_envs * self.config.env_steps_per_iteration

    def init(self, key: jax.Array) -> SACState:
        pk, qk, ek, rk = jax.random.split(key, 4)
        obs = jnp.zeros((1, self.env.observation_size))
        act = jnp.zeros((1, self.env.action_size))
        policy_params = self.policy_net.init(pk, obs)
        q_params = self.q_net.init(qk, obs, act)
        log_alpha = jnp.log(jnp.float32(self.config.init_alpha))
        return SACState(policy_params, q_params, q_params, log_alpha, self.optimizer.init(policy_params),
                        self.optimizer.init(q_params), self.optimizer.init(log_alpha), self.buffer.init(),
                        self.env.reset(ek), rk, jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32))

    def params(self, state: SACState):
        """The deployed parameters: the policy network's."""
        return state.policy_params

    def act_from(self, params, obs: jax.Array) -> jax.Array:
        """The deterministic action `[B, A]` (environment units, the tanh-Gaussian's mode) for `obs [B, O]`."""
        return self.scaler.to_env(self.policy_net.apply(params, obs).mode())

    def policy(self, state: SACState, deterministic: bool = True):
        params = state.policy_params

        def act(obs, key):
            dist = self.policy_net.apply(params, obs)
            return self.scaler.to_env(dist.mode() if deterministic else dist.sample(key))

        return act

    # -- losses ----------------------------------------------------------------
    def _q_loss(self, q_params, state: SACState, batch, key):
        cfg = self.config
        next_action, next_log_prob = self.policy_net.apply(state.policy_params, batch["next_obs"]).sample_and_log_prob(key)
        target_q = jnp.min(self.q_net.apply(state.target_q_params, batch["next_obs"], next_action), axis=0)
        alpha = jnp.exp(state.log_alpha)
        target = batch["reward"] * cfg.reward_scale + cfg.gamma * (1.0 - batch["terminated"]) * (
            target_q - alpha * next_log_prob)
        q = self.q_net.apply(q_params, batch["obs"], batch["action"])
        return 0.5 * jnp.mean((q - jax.lax.stop_gradient(target)[None]) ** 2)

    def _policy_loss(self, policy_params, state: SACState, batch, key):
        action, log_prob = self.policy_net.apply(policy_params, batch["obs"]).sample_and_log_prob(key)
        q = jnp.min(self.q_net.apply(state.q_params, batch["obs"], action), axis=0)
        return jnp.mean(jnp.exp(state.log_alpha) * log_prob - q), log_prob

    def _update(self, state: SACState, key: jax.Array) -> tuple[SACState, dict]:
        sample_key, q_key, pi_key = jax.random.split(key, 3)
        batch = self.buffer.sample(state.replay, sample_key, self.config.batch_size)
        q_loss, q_grads = jax.value_and_grad(self._q_loss)(state.q_params, state, batch, q_key)
        q_updates, q_opt = self.optimizer.update(q_grads, state.q_opt, state.q_params)
        q_params = optax.apply_updates(state.q_params, q_updates)
        state_q = state.replace(q_params=q_params)
        (pi_loss, log_prob), pi_grads = jax.value_and_grad(self._policy_loss, has_aux=True)(
            state.policy_params, state_q, batch, pi_key)
        pi_updates, pi_opt = self.optimizer.update(pi_grads, state.policy_opt, state.policy_params)
        policy_params = optax.apply_updates(state.policy_params, pi_updates)
        entropy_gap = jax.lax.stop_gradient(log_prob + self.target_entropy)
        alpha_grad = jax.grad(lambda la: -jnp.mean(la * entropy_gap))(state.log_alpha)
        alpha_updates, alpha_opt = self.optimizer.update(alpha_grad, state.alpha_opt, state.log_alpha)
        log_alpha = optax.apply_updates(state.log_alpha, alpha_updates)
        target = optax.incremental_update(q_params, state.target_q_params, self.config.tau)
        new = state.replace(policy_params=policy_params, q_params=q_params, target_q_params=target,
                            log_alpha=log_alpha, policy_opt=pi_opt, q_opt=q_opt, alpha_opt=alpha_opt)
        ready = state.replay.size >= max(self.config.warmup_steps, self.config.batch_size)
        new = jax.tree_util.tree_map(lambda a, b: jnp.where(ready, a, b), new, state)
        return new, {"q_loss": q_loss, "policy_loss": pi_loss, "alpha": jnp.exp(log_alpha),
                     "entropy": -jnp.mean(log_prob)}

    def _env_step(self, state: SACState, key: jax.Array) -> tuple[SACState, dict]:
        act_key, update_key = jax.random.split(key)
        obs = state.env_state.obs
        dist = self.policy_net.apply(state.policy_params, obs)
        policy_action = dist.sample(act_key)
        random_action = jax.random.uniform(act_key, policy_action.shape, minval=-1.0, maxval=1.0)
        warming_up = state.replay.size < self.config.warmup_steps
        policy_action = jnp.where(warming_up, random_action, policy_action)
        env_state = self.env.step(state.env_state, self.scaler.to_env(policy_action))
        transition = {"obs": obs, "action": policy_action, "reward": env_state.reward,
                      "terminated": env_state.terminated.astype(jnp.float32), "next_obs": env_state.info["final_obs"]}
        state = state.replace(env_state=env_state, replay=self.buffer.add(state.replay, transition))
        state, metrics = jax.lax.scan(lambda s, k: self._update(s, k), state,
                                      jax.random.split(update_key, self.config.grad_updates_per_step))
        return state, jax.tree_util.tree_map(jnp.mean, metrics)

    def iteration(self, state: SACState) -> tuple[SACState, dict[str, jax.Array]]:
        key, loop_key = jax.random.split(state.key)
        state, metrics = jax.lax.scan(self._env_step, state.replace(key=key),
                                      jax.random.split(loop_key, self.config.env_steps_per_iteration))
        metrics = jax.tree_util.tree_map(jnp.mean, metrics)
        metrics["train_return"] = mean_finished_return(state.env_state.info)
        return state.replace(iteration=state.iteration + 1,
                             env_steps=state.env_steps + self.steps_per_iteration), metrics


def make_sac(env_name: str, config: SACConfig | None = None, total_steps: int | None = None, **env_kwargs) -> SAC:
    """Builds SAC for registered environment `env_name` (continuous actions)."""
    del total_steps  # constant learning rate
    config = config or SACConfig()
    env = envs.make(env_name, num_envs=config.num_envs, **env_kwargs)
    eval_env = envs.make(env_name, **env_kwargs)
    scaler = ActionScaler.for_spec(env.action_spec)
    policy_net = networks.make_gaussian_policy(env.action_size, config.hidden, config.activation, tanh_squash=True,
                                               state_dependent_std=True)
    q_net = networks.make_twin_q_network(config.hidden, config.activation)
    example = {"obs": jnp.zeros(env.observation_size), "action": jnp.zeros(env.action_size), "reward": jnp.zeros(()),
               "terminated": jnp.zeros(()), "next_obs": jnp.zeros(env.observation_size)}
    target_entropy = -float(env.action_size) if config.target_entropy is None else float(config.target_entropy)
    return SAC(env_name, dict(env_kwargs), config, env, eval_env, policy_net, q_net, optax.adam(config.learning_rate),
               make_replay_buffer(config.buffer_size, example), scaler, target_entropy)
