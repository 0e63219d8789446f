"""`gymnasium.Env` adapter for any registered simlab environment.

    import gymnasium, simlab.envs  # importing simlab.envs registers the simlab/ ids
    env = gymnasium.make("simlab/CartPoleSwingUp-v0", render_mode="rgb_array")
    obs, info = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())

Outputs are NumPy/Python values. `reset` and `step` are jitted once per
instance. The time limit is simlab's own (set `episode_length=` to change it).
"""
from __future__ import annotations

from typing import Any

import gymnasium
import jax
import numpy as np

from simlab.engine import debug as engine_debug
from simlab.envs import boundary
from simlab.envs.registry import _DEFAULT, make


class SimlabGymEnv(gymnasium.Env):
    """A single simlab environment behind the gymnasium 1.x `Env` API.

    Args:
      env_name: registered simlab name (e.g. "cartpole_swingup").
      render_mode: None or "rgb_array".
      episode_length: time limit in steps (default: the environment's own).
      debug: run `step` under checkify float checks (slow; finds NaN sources).
      **env_kwargs: forwarded to the environment's constructor.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 30}

    def __init__(self, env_name: str, render_mode: str | None = None, episode_length=_DEFAULT,
                 debug: bool = False, **env_kwargs: Any):
        self.env_name = env_name
        self._env = make(env_name, episode_length=episode_length, **env_kwargs)
        modes = ["rgb_array"] if self._env.supports_rendering else []
        if render_mode is not None and render_mode not in modes:
            raise ValueError(f"render_mode must be one of {[None] + modes} for {env_name}, got {render_mode!r}")
        self.render_mode = render_mode
        self.observation_space = boundary.to_gym_space(self._env.observation_spec)
        self.action_space = boundary.to_gym_space(self._env.action_spec)
        dt = self._env.dt
        self.metadata = {**self.metadata, "render_modes": modes, "render_fps": int(round(1.0 / dt)) if dt > 0 else 30}
        self._reset_fn = jax.jit(self._env.reset)
        self._step_fn = engine_debug.checked(self._env.step) if debug else jax.jit(self._env.step)
        self._key = None
        self._state = None

    @property
    def simlab_env(self):
        """The underlying (unbatched, time-limited) `engine.Env`."""
        return self._env

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        seed = boundary.check_seed(seed)
        if options:
            raise ValueError(f"SimlabGymEnv.reset accepts no options, got {sorted(options)}")
        super().reset(seed=seed)
        if seed is not None:
            self._key = jax.random.key(seed)
        elif self._key is None:
            self._key = jax.random.key(int(self.np_random.integers(0, boundary.MAX_SEED)))
        self._key, reset_key = jax.random.split(self._key)
        self._state = self._reset_fn(reset_key)
        obs = np.asarray(self._state.obs)
        boundary.check_finite_obs(obs, batched=False)
        return obs, {}

    def step(self, action):
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        action = boundary.check_action(action, self._env.action_spec)
        self._state = self._step_fn(self._state, action)
        obs, reward, terminated, truncated, metrics = jax.device_get(
            (self._state.obs, self._state.reward, self._state.terminated, self._state.truncated,
             self._state.metrics))
        boundary.check_finite_obs(obs, batched=False)
        info = {name: float(value) for name, value in metrics.items()}
        return obs, float(reward), bool(terminated), bool(truncated), info

    def render(self):
        if not boundary.ready_to_render(self.render_mode, self._state):
            return None
        return self._env.render_rgb(jax.device_get(self._state))
