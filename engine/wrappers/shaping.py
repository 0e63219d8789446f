"""Reward shaping wrappers: terms added to the *training* reward only.

    env = ActionRatePenalty(envs.make("ant", episode_length=None), weight=0.5)
    env = envs.make("ant", wrappers=[functools.partial(ActionRatePenalty, weight=0.5)])  # inside the time limit
    env = envs.make("ant", action_rate_penalty=0.5)          # the same: the shortcut keyword

A shaped environment keeps its observation and dynamics, so a policy trained on it is
evaluated on the plain environment. `envs.make` applies its `wrappers` before the time limit
and auto-reset wrappers, so every episode starts from a fresh shaping state.

Keys written to `State.info`: ActionRatePenalty: `previous_action` (float32 [A]).
Metrics added: ActionRatePenalty: `reward_action_rate` (the term, <= 0).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from simlab.engine.env import Env, State
from simlab.engine.wrappers.core import Wrapper

# `envs.make` shortcut keywords that only shape the reward (observation, actions and dynamics are
# unchanged): a teacher trained with them can drive the plain environment.
REWARD_SHAPING_OPTIONS = ("action_rate_penalty",)


class ActionRatePenalty(Wrapper):
    """Adds `-weight * sum_j (a_t[j] - a_{t-1}[j])^2` to every step's reward.

    `a_{t-1}` is the previous action as given (zeros at reset), so the penalty favours
    smooth, low-frequency control (useful for policies that others must imitate).
    Units: reward per step, `weight` per squared action unit.
    """

    def __init__(self, env: Env, weight: float):
        super().__init__(env)
        try:
            value = float(weight)
        except (TypeError, ValueError):
            value = float("nan")
        if isinstance(weight, bool) or not np.isfinite(value) or value < 0:
            raise ValueError(f"action_rate_penalty weight must be a finite number >= 0 (e.g. 1.0), got {weight!r}")
        self.weight = value

    def reset(self, key: jax.Array) -> State:
        state = self.env.reset(key)
        return state.replace(info={**state.info, "previous_action": jnp.zeros((self.action_size,), jnp.float32)},
                             metrics={**state.metrics, "reward_action_rate": jnp.zeros((), jnp.float32)})

    def step(self, state: State, action: jax.Array) -> State:
        action = jnp.asarray(action, jnp.float32)
        if action.shape != (self.action_size,):  # static shapes: checked at trace time, not in the compiled step
            raise ValueError(f"ActionRatePenalty.step expects an action of shape ({self.action_size},), got "
                             f"{action.shape}; batch with VmapWrapper / envs.make(num_envs=...) instead")
        cost = self.weight * jnp.sum(jnp.square(action - state.info["previous_action"]))
        nxt = self.env.step(state, action)
        return nxt.replace(reward=(nxt.reward - cost).astype(jnp.float32),
                           info={**nxt.info, "previous_action": action},
                           metrics={**nxt.metrics, "reward_action_rate": -cost})


def strip_reward_shaping(env_kwargs: dict) -> dict:
    """`env_kwargs` without the reward-shaping options (what the plain environment takes)."""
    return {k: v for k, v in env_kwargs.items() if k not in REWARD_SHAPING_OPTIONS}
