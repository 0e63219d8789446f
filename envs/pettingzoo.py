"""PettingZoo-style parallel API over any multi-agent simlab environment.

    env = SimlabParallelEnv("rendezvous", num_agents=3)     # or ParallelRendezvous(num_agents=3)
    observations, infos = env.reset(seed=0)                 # {"agent_0": obs[72], ...}
    observations, rewards, terminations, truncations, infos = env.step(
        {agent: env.action_space(agent).sample() for agent in env.agents})

Multi-agent environments (registered with `gym=False`; `multi_agent_names()`) keep a leading agent
axis `K`: `obs [K, *O]`, action `[K, *A]`, `reward [K]`, and one `terminated` / `truncated` `[]`
for the team. The adapter maps the agent axis to dicts keyed `agent_0 ... agent_{K-1}`, with per-agent
spaces from the specs' rows; the team terminates together (e.g. rendezvous reached) or is truncated
together (time limit), after which `env.agents` is empty until `reset`. Metrics `[]` are given to
every agent's info, metrics `[K]` row by row. One jitted call per step. `pettingzoo` itself is not
required (the adapter is duck-typed); its `parallel_api_test` passes on every multi-agent environment.
"""
from __future__ import annotations

from typing import Any

import gymnasium
import jax
import numpy as np

from simlab.engine.specs import BoxSpec
from simlab.envs import boundary
from simlab.envs.registry import entry, make, names


def multi_agent_names() -> list[str]:
    """The registered environments this adapter serves (registered with `gym=False`), sorted."""
    return [name for name in names() if not entry(name).gym]


def _agent_specs(spec: Any, what: str, env_name: str, num_agents: int | None = None) -> list[BoxSpec]:
    """One `BoxSpec` per agent: the rows of `spec [K, *shape]` (shape, dtype and bounds of row `i`)."""
    if not isinstance(spec, BoxSpec) or len(spec.shape) < 1:
        raise TypeError(f"{env_name!r}: the parallel adapter needs a Box {what} spec with a leading agent axis "
                        f"[K, ...], got {spec!r}")
    if num_agents is not None and spec.shape[0] != num_agents:
        raise ValueError(f"{env_name!r}: the {what} spec has {spec.shape[0]} agent rows but the observation has "
                         f"{num_agents}; multi-agent environments keep one leading agent axis K on both")
    return [BoxSpec(spec.shape[1:], spec.dtype, spec.low[i], spec.high[i]) for i in range(spec.shape[0])]


class SimlabParallelEnv:
    """A PettingZoo `ParallelEnv`-compatible adapter for a registered multi-agent environment.

    Args:
      env_name: a multi-agent environment (see `multi_agent_names()`).
      render_mode: None or "rgb_array" (for environments that render).
      **env_kwargs: forwarded to `envs.make` (unbatched): `episode_length=`, `wrappers=[...]` and the
        environment's own options.
    """

    def __init__(self, env_name: str, render_mode: str | None = None, **env_kwargs: Any):
        if entry(env_name).gym:
            raise ValueError(f"{env_name!r} is a single-agent environment; use gymnasium.make("
                             f"{entry(env_name).gym_id!r}). Multi-agent ones: {', '.join(multi_agent_names())}")
        for batching in ("num_envs", "auto_reset"):
            if batching in env_kwargs:
                raise TypeError(f"SimlabParallelEnv steps one {env_name!r} environment; {batching}= is not accepted "
                                "(run several adapters, or batch the engine env with envs.make(num_envs=...))")
        self._env = make(env_name, **env_kwargs)
        modes = ["rgb_array"] if self._env.supports_rendering else []
        if render_mode is not None and render_mode not in modes:
            raise ValueError(f"render_mode must be one of {[None] + modes} for {env_name}, got {render_mode!r}")
        self.render_mode = render_mode
        self.env_name = env_name
        self.metadata = {"name": f"simlab_{env_name}_v0", "render_modes": modes, "is_parallelizable": True}
        obs_specs = _agent_specs(self._env.observation_spec, "observation", env_name)
        self._act_specs = _agent_specs(self._env.action_spec, "action", env_name, len(obs_specs))
        self.possible_agents = [f"agent_{i}" for i in range(len(obs_specs))]
        self.agents: list[str] = []
        # One space object per agent, returned every time (PettingZoo seeds spaces by identity).
        self._obs_spaces = {a: boundary.to_gym_space(s) for a, s in zip(self.possible_agents, obs_specs)}
        self._act_spaces = {a: boundary.to_gym_space(s) for a, s in zip(self.possible_agents, self._act_specs)}
        self._reset_fn = jax.jit(self._env.reset)
        self._step_fn = jax.jit(self._env.step)
        self._state = None
        self._key = None

    def observation_space(self, agent: str) -> gymnasium.spaces.Box:
        return self._obs_spaces[agent]

    def action_space(self, agent: str) -> gymnasium.spaces.Box:
        return self._act_spaces[agent]

    @property
    def simlab_env(self):
        """The underlying (unbatched, time-limited) `engine.Env`."""
        return self._env

    @property
    def unwrapped(self) -> "SimlabParallelEnv":
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
        self._check_team_shapes()
        self.agents = list(self.possible_agents)
        obs = np.asarray(self._state.obs)
        return {a: obs[i] for i, a in enumerate(self.possible_agents)}, {a: {} for a in self.possible_agents}

    def _check_team_shapes(self) -> None:
        k = len(self.possible_agents)
        shapes = {"reward": (self._state.reward.shape, (k,)), "terminated": (self._state.terminated.shape, ()),
                  "truncated": (self._state.truncated.shape, ())}
        wrong = {field: got for field, (got, want) in shapes.items() if got != want}
        if wrong:
            raise TypeError(f"{self.env_name!r} is not a multi-agent environment the parallel adapter can serve: it "
                            f"needs reward [K={k}] and team terminated/truncated [], got {wrong}")

    def step(self, actions: dict[str, Any]):
        if not self.agents:
            raise RuntimeError("all agents are done; call reset()")
        missing = set(self.agents) - set(actions)
        unknown = set(actions) - set(self.possible_agents)
        if missing or unknown:
            raise ValueError(f"actions must have one entry per live agent {self.agents}; "
                             f"missing {sorted(missing)}, unknown {sorted(unknown)}")
        batch = np.stack([boundary.check_action(actions[a], spec) for a, spec in zip(self.possible_agents,
                                                                                      self._act_specs)])
        self._state = self._step_fn(self._state, batch)
        obs, reward, terminated, truncated, metrics = jax.device_get(
            (self._state.obs, self._state.reward, self._state.terminated, self._state.truncated, self._state.metrics))
        boundary.check_finite_obs(obs, batched=True)
        agents = self.possible_agents
        result = ({a: obs[i] for i, a in enumerate(agents)}, {a: float(reward[i]) for i, a in enumerate(agents)},
                  {a: bool(terminated) for a in agents}, {a: bool(truncated) for a in agents},
                  {a: self._agent_info(metrics, i) for i, a in enumerate(agents)})
        if terminated or truncated:
            self.agents = []
        return result

    def _agent_info(self, metrics: dict[str, Any], i: int) -> dict[str, Any]:
        """Agent `i`'s info: team metrics `[]` as floats, per-agent metrics `[K]` as their row `i`."""
        k = len(self.possible_agents)
        info = {}
        for name, value in metrics.items():
            value = np.asarray(value)
            info[name] = float(value) if value.ndim == 0 else float(value[i]) if value.shape == (k,) else value
        return info

    def render(self):
        if self.render_mode is None or self._state is None:
            return None
        return self._env.render_rgb(jax.device_get(self._state))

    def close(self) -> None:
        pass

    def state(self) -> np.ndarray:
        """Global state for centralized critics: the environment's `global_state(state)` if it defines one
        (rendezvous: all poses `[K * 3]`), else every agent's observation, flattened `[K * prod(O)]`."""
        if self._state is None:
            raise RuntimeError("call reset() before state()")
        global_state = getattr(self._env.unwrapped, "global_state", None)
        if global_state is not None:
            return np.asarray(global_state(self._state)).reshape(-1)
        return np.asarray(self._state.obs).reshape(-1)


class ParallelRendezvous(SimlabParallelEnv):
    """`SimlabParallelEnv("rendezvous", ...)`: the multi-agent rendezvous task (`envs.navigation.rendezvous`)."""

    def __init__(self, render_mode: str | None = None, **env_kwargs: Any):
        super().__init__("rendezvous", render_mode=render_mode, **env_kwargs)
