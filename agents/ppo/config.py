"""PPO hyperparameters."""
from __future__ import annotations

import dataclasses


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
        positive = ["num_envs", "rollout_length", "epochs", "num_minibatches", "eval_episodes"]
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"PPOConfig.{name} must be a positive int, got {value!r}")
        batch = self.num_envs * self.rollout_length
        if batch % self.num_minibatches:
            raise ValueError(f"num_envs * rollout_length = {batch} must be divisible by num_minibatches="
                             f"{self.num_minibatches}")
        if self.lr_schedule not in ("constant", "linear"):
            raise ValueError(f"lr_schedule must be 'constant' or 'linear', got {self.lr_schedule!r}")
        if not 0 < self.gamma <= 1 or not 0 <= self.gae_lambda <= 1:
            raise ValueError(f"need 0 < gamma <= 1 and 0 <= gae_lambda <= 1, got {self.gamma}, {self.gae_lambda}")
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        if self.value_hidden is not None:
            object.__setattr__(self, "value_hidden", tuple(int(h) for h in self.value_hidden))
