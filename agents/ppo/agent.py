"""PPO as a frozen dataclass of pure functions: `init`, `iteration`, `policy`.

One `iteration` = a `lax.scan` rollout of `rollout_length` steps over the
auto-resetting batch, GAE with truncation bootstrapping from the kept final
observation, then `epochs x num_minibatches` clipped-objective Adam steps, all
in one jittable function. The training driver (`agents.train`) wraps it.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax

from simlab import envs
from simlab.agents import networks, normalization
from simlab.agents.actions import ActionScaler
from simlab.agents.evaluation import mean_finished_return
from simlab.agents.gae import compute_gae
from simlab.agents.learner import DeployedPolicyMixin
from simlab.agents.ppo import losses
from simlab.agents.ppo.config import PPOConfig
from simlab.engine.env import Env, State
from simlab.engine.rollout import make_rollout
from simlab.engine.struct import pytree_dataclass


@pytree_dataclass
class PPOState:
    """Everything PPO needs to continue training (checkpointed whole)."""

    policy_params: Any
    value_params: Any
    opt_state: Any
    obs_stats: normalization.RunningStats
    env_state: State
    key: jax.Array
    iteration: jax.Array
    env_steps: jax.Array


@dataclasses.dataclass(frozen=True)
class PPO(DeployedPolicyMixin):
    """The PPO agent for one environment. Build it with `make_ppo`."""

    env_name: str
    env_kwargs: dict
    config: PPOConfig
    env: Env  # batched, auto-reset training env
    eval_env: Env  # unbatched, time-limited
    policy_net: Any
    value_net: Any
    optimizer: optax.GradientTransformation
    scaler: ActionScaler

    name = "ppo"

    @property
    def steps_per_iteration(self) -> int:
        return self.config.num_envs * self.config.rollout_length

    # -- pure functions --------------------------------------------------------
    def init(self, key: jax.Array) -> PPOState:
        policy_key, value_key, env_key, run_key = jax.random.split(key, 4)
        obs = jnp.zeros((1, self.env.observation_size), jnp.float32)
        policy_params = self.policy_net.init(policy_key, obs)
        value_params = self.value_net.init(value_key, obs)
        return PPOState(
            policy_params=policy_params, value_params=value_params,
            opt_state=self.optimizer.init((policy_params, value_params)),
            obs_stats=normalization.init_stats(self.env.observation_size),
            env_state=self.env.reset(env_key), key=run_key,
            iteration=jnp.zeros((), jnp.int32), env_steps=jnp.zeros((), jnp.int32))

    def _normalize(self, stats, obs):
        return normalization.normalize(stats, obs) if self.config.normalize_obs else obs

    def policy(self, state: PPOState, deterministic: bool = True) -> Callable[[jax.Array, jax.Array], jax.Array]:
        """`act(obs [B, O], key) -> env action [B, A]` with the parameters in `state`."""
        return self.policy_from(state.policy_params, state.obs_stats, deterministic)

    def params(self, state: PPOState):
        """The deployed parameters: `(policy_params, obs_stats)` (the observation normalization is part of it)."""
        return state.policy_params, state.obs_stats

    def act_from(self, params, obs: jax.Array) -> jax.Array:
        """The deterministic action `[B, A]` (environment units) of `params(state)` for `obs [B, O]`."""
        return self.policy_from(*params, deterministic=True)(obs, None)

    def policy_from(self, policy_params, obs_stats, deterministic: bool = True):
        def act(obs, key):
            dist = self.policy_net.apply(policy_params, self._normalize(obs_stats, obs))
            raw = dist.mode() if deterministic else dist.sample(key)
            return self.scaler.to_env(raw)

        return act

    def iteration(self, state: PPOState) -> tuple[PPOState, dict[str, jax.Array]]:
        cfg = self.config
        key, rollout_key, update_key = jax.random.split(state.key, 3)

        def sample_policy(obs, k):
            dist = self.policy_net.apply(state.policy_params, self._normalize(state.obs_stats, obs))
            return self.scaler.to_env(dist.sample(k))

        env_state, tr = make_rollout(self.env, sample_policy, cfg.rollout_length)(state.env_state, rollout_key)
        raw_actions = self.scaler.to_policy(tr.action)
        norm_obs = self._normalize(state.obs_stats, tr.obs)
        norm_next = self._normalize(state.obs_stats, tr.next_obs)
        old_log_prob = self.policy_net.apply(state.policy_params, norm_obs).log_prob(raw_actions)
        values = self.value_net.apply(state.value_params, norm_obs)
        next_values = self.value_net.apply(state.value_params, norm_next)
        advantages, returns = compute_gae(tr.reward * cfg.reward_scale, values, next_values, tr.terminated,
                                          tr.truncated, cfg.gamma, cfg.gae_lambda)

        batch = jax.tree_util.tree_map(lambda x: x.reshape(-1, *x.shape[2:]),
                                       (norm_obs, raw_actions, old_log_prob, values, advantages, returns))

        def loss_fn(params, mb):
            policy_params, value_params = params
            obs, act, old_lp, old_v, adv, ret = mb
            dist = self.policy_net.apply(policy_params, obs)
            pg_loss, clip_frac = losses.clipped_policy_loss(dist.log_prob(act), old_lp,
                                                            losses.normalize_advantages(adv), cfg.clip_eps)
            v_loss = losses.value_loss(self.value_net.apply(value_params, obs), old_v, ret, cfg.value_clip_eps)
            entropy = jnp.mean(dist.entropy())
            total = pg_loss + cfg.value_coef * v_loss - cfg.entropy_coef * entropy
            return total, {"policy_loss": pg_loss, "value_loss": v_loss, "entropy": entropy,
                           "clip_fraction": clip_frac}

        def minibatch_step(carry, mb):
            params, opt_state = carry
            grads, aux = jax.grad(loss_fn, has_aux=True)(params, mb)
            updates, opt_state = self.optimizer.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), aux

        def epoch(carry, epoch_key):
            size = batch[0].shape[0]
            perm = jax.random.permutation(epoch_key, size)
            shuffled = jax.tree_util.tree_map(
                lambda x: x[perm].reshape(cfg.num_minibatches, -1, *x.shape[1:]), batch)
            return jax.lax.scan(minibatch_step, carry, shuffled)

        (params, opt_state), aux = jax.lax.scan(
            epoch, ((state.policy_params, state.value_params), state.opt_state),
            jax.random.split(update_key, cfg.epochs))

        obs_stats = normalization.update_stats(state.obs_stats, tr.obs) if cfg.normalize_obs else state.obs_stats
        metrics = {k: jnp.mean(v) for k, v in aux.items()}
        metrics["train_return"] = mean_finished_return(env_state.info)
        metrics["reward_per_step"] = jnp.mean(tr.reward)
        new_state = PPOState(
            policy_params=params[0], value_params=params[1], opt_state=opt_state, obs_stats=obs_stats,
            env_state=env_state, key=key, iteration=state.iteration + 1,
            env_steps=state.env_steps + self.steps_per_iteration)
        return new_state, metrics


def make_ppo(env_name: str, config: PPOConfig | None = None, total_steps: int | None = None,
             **env_kwargs) -> PPO:
    """Builds PPO for registered environment `env_name`.

    `total_steps` is needed for the linear learning-rate schedule (its length).
    `env_kwargs` go to `envs.make` (e.g. `episode_length=`).
    """
    config = config or PPOConfig()
    env = envs.make(env_name, num_envs=config.num_envs, **env_kwargs)
    eval_env = envs.make(env_name, **env_kwargs)
    scaler = ActionScaler.for_spec(env.action_spec)
    policy_net = networks.make_gaussian_policy(env.action_size, config.hidden, config.activation,
                                               init_log_std=config.init_log_std)
    value_hidden = config.hidden if config.value_hidden is None else config.value_hidden
    value_net = networks.make_value_network(value_hidden, config.activation)
    if config.lr_schedule == "linear":
        if not total_steps:
            raise ValueError("lr_schedule='linear' needs total_steps")
        iterations = max(1, total_steps // (config.num_envs * config.rollout_length))
        learning_rate = optax.linear_schedule(config.learning_rate, 0.0,
                                              iterations * config.epochs * config.num_minibatches)
    else:
        learning_rate = config.learning_rate
    optimizer = optax.chain(optax.clip_by_global_norm(config.max_grad_norm), optax.adam(learning_rate, eps=1e-5))
    return PPO(env_name, dict(env_kwargs), config, env, eval_env, policy_net, value_net, optimizer, scaler)
