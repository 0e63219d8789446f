"""PettingZoo-style parallel API over the multi-agent rendezvous environment.

    env = ParallelRendezvous(num_agents=3)
    observations, infos = env.reset(seed=0)                 # {"agent_0": obs[72], ...}
    observations, rewards, terminations, truncations, infos = env.step(
        {agent: env.action_space(agent).sample() for agent in env.agents})

Mapping: the engine env's leading agent axis `K` becomes a dict keyed
`agent_0 ... agent_{K-1}`; rewards are per agent; the team terminates together
(rendezvous reached) or is truncated together (time limit), after which
`env.agents` is empty until `reset`. One jitted call per step.
"""
from __future__ import annotations

from typing import Any

import gymnasium
import jax
import numpy as np

from simlab.envs import boundary
from simlab.envs.registry import make


class ParallelRendezvous:
    """A PettingZoo `ParallelEnv`-compatible adapter (duck-typed; `pettingzoo` is not required)."""

    metadata = {"name": "simlab_rendezvous_v0", "render_modes": ["rgb_array"], "is_parallelizable": True}

    def __init__(self, render_mode: str | None = None, **env_kwargs: Any):
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.render_mode = render_mode
        self._env = make("rendezvous", **env_kwargs)
        k, obs_size = self._env.observation_spec.shape
        self.possible_agents = [f"agent_{i}" for i in range(k)]
        self.agents: list[str] = []
        self._obs_space = gymnasium.spaces.Box(-np.inf, np.inf, (obs_size,), np.float32)
        self._act_space = gymnasium.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self._reset_fn = jax.jit(self._env.reset)
        self._step_fn = jax.jit(self._env.step)
        self._state = None
        self._key = None

    def observation_space(self, agent: str) -> gymnasium.spaces.Box:
        return self._obs_space

    def action_space(self, agent: str) -> gymnasium.spaces.Box:
        return self._act_space

    @property
    def unwrapped(self) -> "ParallelRendezvous":
        return self

    @property
    def num_agents(self) -> int:
        return len(self.agents)

    @property
    def max_num_agents(self) -> int:
        return len(self.possible_agents)

    def reset(self, seed: int | None = None, options: dict | None = None):
        seed = boundary.check_seed(seed)
        if seed is not None:
            self._key = jax.random.key(seed)
        elif self._key is None:
            self._key = jax.random.key(np.random.SeedSequence().entropy % boundary.MAX_SEED)
        self._key, sub = jax.random.split(self._key)
        self._state = self._reset_fn(sub)
        self.agents = list(self.possible_agents)
        obs = np.asarray(self._state.obs)
        return {a: obs[i] for i, a in enumerate(self.possible_agents)}, {a: {} for a in self.possible_agents}

    def step(self, actions: dict[str, Any]):
        if not self.agents:
            raise RuntimeError("all agents are done; call reset()")
        missing = set(self.agents) - set(actions)
        unknown = set(actions) - set(self.possible_agents)
        if missing or unknown:
            raise ValueError(f"actions must have one entry per live agent {self.agents}; "
                             f"missing {sorted(missing)}, unknown {sorted(unknown)}")
        batch = np.stack([boundary.check_action(actions[a], boundary_spec(self._act_space)) for a in self.possible_agents])
        self._state = self._step_fn(self._state, batch)
        obs, reward, terminated, truncated, metrics = jax.device_get(
            (self._state.obs, self._state.reward, self._state.terminated, self._state.truncated, self._state.metrics))
        boundary.check_finite_obs(obs, batched=True)
        info = {k: float(v) for k, v in metrics.items()}
        agents = self.possible_agents
        result = ({a: obs[i] for i, a in enumerate(agents)}, {a: float(reward[i]) for i, a in enumerate(agents)},
                  {a: bool(terminated) for a in agents}, {a: bool(truncated) for a in agents},
                  {a: dict(info) for a in agents})
        if terminated or truncated:
            self.agents = []
        return result

    def render(self):
        if self.render_mode is None or self._state is None:
            return None
        return self._env.render_rgb(jax.device_get(self._state))

    def close(self) -> None:
        pass

    def state(self) -> np.ndarray:
        """Global state for centralized critics: all poses `[K * 3]`."""
        return np.asarray(self._state.sim.poses).reshape(-1)


def boundary_spec(space: gymnasium.spaces.Box):
    from simlab.engine.specs import BoxSpec

    return BoxSpec(space.shape, low=space.low, high=space.high)
