"""Analytic policy gradients (APG): backpropagate the return through the simulator.

Each iteration unrolls a deterministic policy for `horizon` steps from the
current (auto-resetting) batch of states, differentiates the mean discounted
return with respect to the policy parameters through `env.step`, clips the
gradient norm and takes one Adam step. Gradients flowing back through the
dynamics are cut every `truncation_length` steps (`stop_gradient` on the
state), which bounds exploding products of Jacobians on long horizons.
With a constant step size the policy keeps oscillating around the optimum
(each gradient is taken on a fresh, small batch of states); `lr_end` decays
the step size by cosine to `lr_end` over `lr_decay_steps` gradient steps so
that it settles.
The environment must be differentiable (pure JAX dynamics: classic control or
our physics engine).
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
from simlab.agents.config_validation import AT_LEAST_ONE, DISCOUNT, NONNEGATIVE, POSITIVE, validate_config
from simlab.agents.evaluation import mean_finished_return
from simlab.agents.learner import DeployedPolicyMixin
from simlab.engine.env import Env, State
from simlab.engine.struct import pytree_dataclass


@dataclasses.dataclass(frozen=True)
class APGConfig:
    """APG settings. One iteration = `num_envs * horizon` env steps and one gradient step.

    Attributes:
      num_envs: parallel environments per gradient step.
      horizon: steps unrolled (and differentiated through) per iteration.
      truncation_length: the gradient through the dynamics is cut every this many steps.
      learning_rate: Adam step size (the initial one when `lr_end` is set).
      lr_end: None keeps `learning_rate` constant; a value in [0, learning_rate] decays the step size by
        cosine from `learning_rate` to `lr_end` over `lr_decay_steps` gradient steps, then holds it.
      lr_decay_steps: length of the decay in gradient steps (= iterations); used only with `lr_end`.
      max_grad_norm: global gradient-norm clip.
      gamma: discount of the differentiated return; reward_scale multiplies rewards before it.
      hidden, activation: policy MLP sizes and nonlinearity.
      eval_episodes: episodes per evaluation (the policy is deterministic).
    """

    num_envs: int = 8
    horizon: int = 20
    truncation_length: int = 20
    learning_rate: float = 1e-3
    lr_end: float | None = None
    lr_decay_steps: int = 1000
    max_grad_norm: float = 1.0
    gamma: float = 0.99
    reward_scale: float = 1.0
    hidden: tuple[int, ...] = (64, 64)
    activation: str = "tanh"
    eval_episodes: int = 16

    def __post_init__(self):
        validate_config(self, APG_RANGES, {"activation": sorted(networks.ACTIVATIONS)})
        if self.lr_end is not None and self.lr_end > self.learning_rate:
            raise ValueError(f"APGConfig.lr_end = {self.lr_end!r} is out of range: must be <= learning_rate "
                             f"({self.learning_rate!r}), the step size decays from learning_rate to lr_end "
                             f"(valid range [0, {self.learning_rate!r}]; None for a constant step size)")

    def learning_rate_schedule(self):
        """The Adam step size: `learning_rate`, or an optax cosine schedule from it to `lr_end`."""
        if self.lr_end is None:
            return self.learning_rate
        return optax.cosine_decay_schedule(self.learning_rate, self.lr_decay_steps,
                                           alpha=self.lr_end / self.learning_rate)


# Valid ranges of APGConfig's numeric fields (agents/config_validation.py).
APG_RANGES = {
    "num_envs": AT_LEAST_ONE, "horizon": AT_LEAST_ONE, "truncation_length": AT_LEAST_ONE,
    "eval_episodes": AT_LEAST_ONE, "learning_rate": POSITIVE, "max_grad_norm": POSITIVE,
    "gamma": DISCOUNT, "reward_scale": POSITIVE, "lr_end": NONNEGATIVE, "lr_decay_steps": AT_LEAST_ONE,
}


@pytree_dataclass
class APGState:
    policy_params: Any
    opt_state: Any
    env_state: State
    key: jax.Array
    iteration: jax.Array
    env_steps: jax.Array


@dataclasses.dataclass(frozen=True)
class APG(DeployedPolicyMixin):
    env_name: str
    env_kwargs: dict
    config: APGConfig
    env: Env
    eval_env: Env
    policy_net: Any
    optimizer: optax.GradientTransformation
    scaler: ActionScaler

    name = "apg"

    @property
    def steps_per_iteration(self) -> int:
        return self.config.num_envs * self.config.horizon

    def init(self, key: jax.Array) -> APGState:
        pk, ek, rk = jax.random.split(key, 3)
        params = self.policy_net.init(pk, jnp.zeros((1, self.env.observation_size)))
        return APGState(params, self.optimizer.init(params), self.env.reset(ek), rk,
                        jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32))

    def _act(self, params, obs):
        return self.scaler.to_env(jnp.tanh(self.policy_net.apply(params, obs).mean))

    def params(self, state: APGState):
        """The deployed parameters: the policy network's."""
        return state.policy_params

    def act_from(self, params, obs: jax.Array) -> jax.Array:
        """The (deterministic) action `[B, A]` in environment units for `obs [B, O]`."""
        return self._act(params, obs)

    def policy(self, state: APGState, deterministic: bool = True):
        del deterministic  # the APG policy is deterministic
        params = state.policy_params
        return lambda obs, key: self._act(params, obs)

    def _negative_return(self, params, env_state: State):
        cfg = self.config

        def step(carry, t):
            state, discount = carry
            state = jax.tree_util.tree_map(
                lambda x: jnp.where(t % cfg.truncation_length == 0, jax.lax.stop_gradient(x), x), state)
            next_state = self.env.step(state, self._act(params, state.obs))
            reward = next_state.reward * cfg.reward_scale * discount
            # A new episode starts with discount 1 again.
            discount = jnp.where(next_state.done, 1.0, discount * cfg.gamma)
            return (next_state, discount), reward

        (final, _), rewards = jax.lax.scan(step, (env_state, jnp.ones(cfg.num_envs)), jnp.arange(cfg.horizon))
        return -jnp.mean(jnp.sum(rewards, axis=0)), (final, rewards)

    def iteration(self, state: APGState) -> tuple[APGState, dict[str, jax.Array]]:
        (loss, (final, rewards)), grads = jax.value_and_grad(self._negative_return, has_aux=True)(
            state.policy_params, state.env_state)
        grad_norm = optax.tree.norm(grads)
        updates, opt_state = self.optimizer.update(grads, state.opt_state, state.policy_params)
        params = optax.apply_updates(state.policy_params, updates)
        final = jax.lax.stop_gradient(final)
        metrics = {"loss": loss, "grad_norm": grad_norm, "reward_per_step": jnp.mean(rewards),
                   "train_return": mean_finished_return(final.info)}
        return APGState(params, opt_state, final, state.key, state.iteration + 1,
                        state.env_steps + self.steps_per_iteration), metrics


def make_apg(env_name: str, config: APGConfig | None = None, total_steps: int | None = None, **env_kwargs) -> APG:
    """Builds APG for a differentiable registered environment."""
    del total_steps
    config = config or APGConfig()
    env = envs.make(env_name, num_envs=config.num_envs, **env_kwargs)
    eval_env = envs.make(env_name, **env_kwargs)
    policy_net = networks.make_gaussian_policy(env.action_size, config.hidden, config.activation)
    optimizer = optax.chain(optax.clip_by_global_norm(config.max_grad_norm), optax.adam(config.learning_rate_schedule()))
    return APG(env_name, dict(env_kwargs), config, env, eval_env, policy_net, optimizer,
               ActionScaler.for_spec(env.action_spec))
