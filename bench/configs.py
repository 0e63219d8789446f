"""Named training settings that benchmarks train with, kept apart from the per-environment defaults of
`simlab.agents.registry` (`simlab train ant` keeps its small-batch default).

Each entry: `algo`, `env`, `config` (overrides of the agent's config dataclass) and `env_kwargs` (for
`envs.make`), passed to `simlab.agents.registry.make_agent` by bench/train.py and bench/sac_halfcheetah.py.
"""
from __future__ import annotations

from typing import Any

BENCH_CONFIGS: dict[str, dict[str, Any]] = {
    # bench/train.py: PPO on ant, tuned for wall-clock time to return 2000 on a 2-core CPU: many small
    # minibatches (6 epochs x 32 of 256 samples per 8192 env steps), gamma 0.97, and the 27-number
    # observation without contact forces (gymnasium's option; Brax's Ant observes the same 27).
    "train_ant": dict(algo="ppo", env="ant",
                      config=dict(num_envs=512, rollout_length=16, epochs=6, num_minibatches=32,
                                  learning_rate=3e-4, gamma=0.97, gae_lambda=0.95, reward_scale=0.1,
                                  entropy_coef=0.0, hidden=(64, 64), activation="tanh", normalize_obs=True),
                      # The penalty contacts: the README's figures (against Brax's spring pipeline, also not
                      # MuJoCo's dynamics) were measured with them, before `ant` defaulted to solver="mujoco".
                      env_kwargs=dict(include_cfrc_ext_in_observation=False, solver="penalty")),
    # bench/sac_halfcheetah.py: SAC for a wall-clock budget (30 min) on a 2-core CPU; 16 envs,
    # 4 updates per batched step (update-to-data 1/4), large replay buffer.
    "sac_halfcheetah": dict(algo="sac", env="halfcheetah",
                            config=dict(num_envs=16, env_steps_per_iteration=50, grad_updates_per_step=4,
                                        batch_size=256, buffer_size=1_000_000, warmup_steps=10_000,
                                        learning_rate=3e-4, gamma=0.99, tau=0.005, hidden=(256, 256)),
                            env_kwargs=dict(solver="penalty")),  # as the README's 30-minute figure was measured
}

