"""PPO hyperparameters."""
from __future__ import annotations

import dataclasses

from simlab.agents.config_validation import (AT_LEAST_ONE, DISCOUNT, NONNEGATIVE, POSITIVE, UNIT, Interval,
                                             validate_config)
from simlab.agents.networks import ACTIVATIONS


@dataclasses.dataclass(frozen=True)
class PPOConfig:
    """PPO settings. Sizes are per iteration: `num_envs * rollout_length` env steps.

    Attributes:
      num_envs: parallel environments (split evenly over devices when sharded).
      rollout_length: steps per environment per iteration.
      epochs, num_minibatches: passes over, and splits of, each iteration's batch.
      learning_rate, lr_schedule: Adam step size; "constant" or "linear" decay to 0.
      gamma, gae_lambda: discount and GAE lambda.
      clip_eps, value_clip_eps: policy-ratio and value clipping (value_clip_eps <= 0 disables).
      entropy_coef, value_coef: loss weights.
      max_grad_norm: global gradient-norm clip.
      hidden, activation: MLP sizes and nonlinearity for policy and value networks.
      value_hidden: MLP sizes of the value network alone (None: `hidden`).
      normalize_obs: running mean/std observation normalization.
      reward_scale: multiplies rewards before learning (returns are reported unscaled).
      init_log_std: initial log standard deviation of the Gaussian policy.
      eval_episodes: episodes per evaluation (deterministic policy).
    """

    num_envs: int = 256
    rollout_length: int = 32
    epochs: int = 4
    num_minibatches: int = 8
    learning_rate: float = 3e-4
    lr_schedule: str = "constant"
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_eps: float = 0.2
    value_clip_eps: float = 0.0
    entropy_coef: float = 0.0
    value_coef: float = 0.5
    max_grad_norm: float = 0.5
    hidden: tuple[int, ...] = (64, 64)
    activation: str = "tanh"
    value_hidden: tuple[int, ...] | None = None
    normalize_obs: bool = True
    reward_scale: float = 1.0
    init_log_std: float = -0.5
    eval_episodes: int = 16

    def __post_init__(self):
        validate_config(self, RANGES, {"lr_schedule": ("constant", "linear"), "activation": sorted(ACTIVATIONS)})
        batch = self.num_envs * self.rollout_length
        if batch % self.num_minibatches:
            raise ValueError(f"num_envs * rollout_length = {batch} must be divisible by num_minibatches="
                             f"{self.num_minibatches}")


# Valid ranges of the numeric fields (see agents/config_validation.py); value_clip_eps <= 0 disables value clipping.
RANGES = {
    "num_envs": AT_LEAST_ONE, "rollout_length": AT_LEAST_ONE, "epochs": AT_LEAST_ONE,
    "num_minibatches": AT_LEAST_ONE, "eval_episodes": AT_LEAST_ONE,
    "learning_rate": POSITIVE, "gamma": DISCOUNT, "gae_lambda": UNIT, "clip_eps": POSITIVE,
    "value_clip_eps": Interval(), "entropy_coef": NONNEGATIVE, "value_coef": NONNEGATIVE,
    "max_grad_norm": POSITIVE, "reward_scale": POSITIVE, "init_log_std": Interval(-5.0, 2.0),  # the policy clips log std to [-5, 2]
}
