"""Agent factories and per-environment default configurations.

    agent = make_agent("ppo", "cartpole_swingup", overrides={"learning_rate": 5e-4})

`DEFAULTS[(algo, env)]` holds tuned settings; unknown algorithms or config
fields raise errors listing the valid ones.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

from simlab.agents.apg import APGConfig, make_apg
from simlab.agents.es.learner import ESLearnerConfig, make_es_learner
from simlab.agents.ppo import PPOConfig, make_ppo
from simlab.agents.sac import SACConfig, make_sac
from simlab.agents.validation import check_env_kwargs, check_trainable

_FACTORIES: dict[str, tuple[Callable, type]] = {
    "ppo": (make_ppo, PPOConfig), "sac": (make_sac, SACConfig), "apg": (make_apg, APGConfig),
    "es": (make_es_learner, ESLearnerConfig)}
_CHECKS: dict[str, Callable] = {}  # agents whose trainable environments differ from check_trainable's

DEFAULTS: dict[tuple[str, str], dict[str, Any]] = {
    ("ppo", "cartpole_swingup"): dict(num_envs=128, rollout_length=64, epochs=4, num_minibatches=8,
                                      learning_rate=1e-3, gamma=0.99, reward_scale=0.1),
    ("ppo", "pendulum"): dict(num_envs=64, rollout_length=128, epochs=10, num_minibatches=8,
                              learning_rate=1e-3, gamma=0.9, reward_scale=0.1),
    ("ppo", "pendulum_balance"): dict(num_envs=64, rollout_length=128, epochs=10, num_minibatches=8,
                                      learning_rate=1e-3, gamma=0.9, reward_scale=0.1),
    ("ppo", "goal_navigation"): dict(num_envs=128, rollout_length=64, epochs=4, num_minibatches=8,
                                     learning_rate=3e-4, gamma=0.99, hidden=(128, 128)),
    ("sac", "pendulum"): dict(num_envs=4, env_steps_per_iteration=50, grad_updates_per_step=4,
                              warmup_steps=1000, learning_rate=3e-4, hidden=(128, 128)),
    # APG: a large step size that decays by cosine to almost 0 over the default 100k steps (625 iterations of
    # 8 envs x 20 steps), so the policy settles instead of oscillating as with a constant 1e-3. Mean return of
    # 1024 episodes after 100k steps, seeds 0-4: -43 to -25 (constant 1e-3, 64 episodes: -110 to -35); see
    # tests/learning_cases.py.
    ("apg", "pendulum_balance"): dict(learning_rate=5e-3, lr_end=1e-5, lr_decay_steps=625),
    # --- locomotion (envs/locomotion, gymnasium v5 semantics; sized for a 2-core CPU, see bench/locomotion.py) ---
    ("ppo", "ant"): dict(num_envs=64, rollout_length=64, epochs=4, num_minibatches=4, learning_rate=3e-4,
                         gamma=0.99, reward_scale=0.1, hidden=(64, 64)),
    ("ppo", "halfcheetah"): dict(num_envs=64, rollout_length=64, epochs=4, num_minibatches=4, learning_rate=3e-4,
                                 gamma=0.99, reward_scale=0.1, hidden=(64, 64)),
    ("ppo", "reacher"): dict(num_envs=64, rollout_length=50, epochs=4, num_minibatches=4, learning_rate=1e-3,
                             gamma=0.95, reward_scale=1.0, hidden=(64, 64)),
    # --- end locomotion ---
}
# --- manipulation (grasp, fetch, ur5e); see bench/manipulation.py ---
DEFAULTS.update({
    # grasp: 0.98 success (standard resets) after 4.3M steps, 6 min on a 2-core CPU (bench/results/manipulation.json)
    ("ppo", "grasp"): dict(num_envs=256, rollout_length=25, epochs=4, num_minibatches=8, learning_rate=3e-4,
                           gamma=0.97, reward_scale=0.1, hidden=(128, 128), entropy_coef=1e-3),
    ("ppo", "fetch"): dict(num_envs=256, rollout_length=32, epochs=4, num_minibatches=8, learning_rate=3e-4,
                           gamma=0.99, reward_scale=1.0, hidden=(128, 128)),
    ("ppo", "ur5e"): dict(num_envs=256, rollout_length=25, epochs=4, num_minibatches=8, learning_rate=3e-4,
                          gamma=0.97, reward_scale=0.1, hidden=(128, 128)),
})
# --- end manipulation ---

DEFAULT_STEPS: dict[tuple[str, str], int] = {
    ("ppo", "cartpole_swingup"): 2_000_000,
    ("ppo", "pendulum"): 1_500_000,
    ("sac", "pendulum"): 20_000,
    ("ppo", "goal_navigation"): 3_000_000,
    ("apg", "pendulum_balance"): 100_000,
    ("ppo", "pendulum_balance"): 1_000_000,
    ("ppo", "ant"): 262_144,
    ("ppo", "halfcheetah"): 524_288,
    ("ppo", "reacher"): 1_024_000,
    ("ppo", "grasp"): 4_000_000,
}


def algorithms() -> list[str]:
    """Registered algorithm names, sorted."""
    return sorted(_FACTORIES)


def register_agent(name: str, factory: Callable, config_cls: type, check: Callable | None = None) -> None:
    """Adds agent `name`: `factory(env_name, config, total_steps=None, **env_kwargs)` returning a
    `simlab.agents.learner.Learner`, configured by the dataclass `config_cls`. Learners outside this module
    (behaviour cloning, the sensory recipes, plug-ins) register themselves this way; a taken name raises
    ValueError. `check(algo, env_name, env_kwargs)` raises for environments the learner cannot train, before
    it is built (default `agents.validation.check_trainable`: one agent, a flat observation, box actions)."""
    if name in _FACTORIES and _FACTORIES[name] != (factory, config_cls):
        raise ValueError(f"agent {name!r} is already registered (by {_FACTORIES[name][0].__module__}); pick another name")
    _FACTORIES[name] = (factory, config_cls)
    if check is not None:
        _CHECKS[name] = check


def config_class(algo: str) -> type:
    """The config dataclass of agent `algo` (e.g. `PPOConfig`); raises ValueError for an unknown agent."""
    if algo not in _FACTORIES:
        raise ValueError(f"unknown agent {algo!r}; choose one of {algorithms()}")
    return _FACTORIES[algo][1]


def make_config(algo: str, env_name: str, overrides: dict[str, Any] | None = None):
    """The config dataclass for `algo` on `env_name`: defaults, then `overrides`.

    Raises ValueError for an unknown algorithm or field, and the config's own TypeError / ValueError
    (naming field, value and valid range) for a bad value.
    """
    config_cls = config_class(algo)
    values = {**DEFAULTS.get((algo, env_name), {}), **(overrides or {})}
    fields = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(values) - fields)
    if unknown:
        raise ValueError(f"unknown {algo} config field(s) {unknown}; valid fields: {sorted(fields)}")
    return config_cls(**values)


def default_steps(algo: str, env_name: str) -> int:
    """The default `--steps` of `algo` on `env_name` (1M when not tuned)."""
    return DEFAULT_STEPS.get((algo, env_name), 1_000_000)


def make_agent(algo: str, env_name: str, overrides: dict[str, Any] | None = None,
               total_steps: int | None = None, env_kwargs: dict[str, Any] | None = None):
    """Builds agent `algo` for registered environment `env_name`.

    Everything is validated before anything is compiled: the config (field types and ranges, see
    `agents.config_validation`), `env_kwargs` (reserved keys such as `num_envs`, and the environment's own
    parameter types and ranges, see `envs.make`) and whether the learner can train the environment at all
    (`agents.validation.check_trainable`: multi-agent and pixel environments are refused with what to use
    instead). Raises ValueError or TypeError naming the problem.
    """
    check_env_kwargs(env_kwargs)
    config = make_config(algo, env_name, overrides)
    _CHECKS.get(algo, check_trainable)(algo, env_name, env_kwargs)
    factory, _ = _FACTORIES[algo]
    return factory(env_name, config, total_steps=total_steps, **(env_kwargs or {}))
