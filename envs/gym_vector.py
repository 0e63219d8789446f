"""`gymnasium.vector.VectorEnv` adapter: the whole batch in one jitted call.

    import gymnasium, simlab.envs  # importing simlab.envs registers the simlab/ ids
    venv = gymnasium.make_vec("simlab/CartPoleSwingUp-v0", num_envs=1024,
                              vectorization_mode="vector_entry_point")

Meets gymnasium 1.x's vector contract: `metadata["autoreset_mode"]` is an
`AutoresetMode` member (NEXT_STEP by default; SAME_STEP and DISABLED on
request), every info key `k` has a boolean mask `_k`, partial resets use
`reset(options={"reset_mask": mask})`, spaces come from `batch_space`, and
outputs are NumPy. Each `step` is one jitted call plus one device-to-host copy;
shapes never depend on how many sub-environments finished, so nothing retraces.
Like `envs.make(..., num_envs=n)`, the batch is split over every local device by
default (`devices=`; see `engine.devices`) and stepped in the env's cache-sized chunks.
"""
from __future__ import annotations

from typing import Any

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from simlab.engine.batching import sharded_vmap
from simlab.engine.devices import env_batch_mesh
from simlab.engine.wrappers import select_tree
from simlab.envs import boundary
from simlab.envs.registry import _DEFAULT, make


def _parse_mode(mode) -> AutoresetMode:
    if isinstance(mode, AutoresetMode):
        return mode
    for member in AutoresetMode:
        if isinstance(mode, str) and mode.lower().replace("_", "") in (member.value.lower(), member.name.lower().replace("_", "")):
            return member
    valid = ", ".join(f"AutoresetMode.{m.name}" for m in AutoresetMode)
    raise ValueError(f"autoreset_mode must be one of {valid}, got {mode!r}")


class SimlabVectorEnv(gymnasium.vector.VectorEnv):
    """`num_envs` copies of a simlab environment stepped by one jitted function.

    Args:
      env_name: registered simlab name.
      num_envs: number of sub-environments.
      autoreset_mode: an `AutoresetMode` (or its name); default NEXT_STEP.
      render_mode: None or "rgb_array" (`render()` returns one frame per sub-env).
      episode_length: time limit in steps (default: the environment's own).
      devices: the devices the batch is split over, as for `envs.make` ("all" by default).
      **env_kwargs: forwarded to the environment's constructor.
    """

    def __init__(self, env_name: str, num_envs: int = 1, autoreset_mode=AutoresetMode.NEXT_STEP,
                 render_mode: str | None = None, episode_length=_DEFAULT, devices: Any = "all", **env_kwargs: Any):
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive int, got {num_envs!r}")
        self.env_name = env_name
        self.num_envs = int(num_envs)
        self._env = make(env_name, episode_length=episode_length, **env_kwargs)
        modes = ["rgb_array"] if self._env.supports_rendering else []
        if render_mode is not None and render_mode not in modes:
            raise ValueError(f"render_mode must be one of {[None] + modes} for {env_name}, got {render_mode!r}")
        self.render_mode = render_mode
        self._mode = _parse_mode(autoreset_mode)
        self.metadata = {"autoreset_mode": self._mode, "render_modes": modes,
                         "render_fps": int(round(1.0 / self._env.dt)) if self._env.dt > 0 else 30}
        self.single_observation_space = boundary.to_gym_space(self._env.observation_spec)
        self.single_action_space = boundary.to_gym_space(self._env.action_spec)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        mesh = env_batch_mesh(self._env, self.num_envs, devices)
        chunk = getattr(self._env.unwrapped, "vmap_chunk", None)
        self._vstep = sharded_vmap(self._env.step, chunk, mesh)
        self._vreset = sharded_vmap(self._env.reset, chunk, mesh)
        self._initial_reset_fn = jax.jit(self._fresh_states)
        self._reset_fn = jax.jit(self._masked_reset)
        self._step_fn = jax.jit(self._batched_step)
        self._keys = None
        self._state = None
        self._needs_reset = None

    # ---- jitted pure functions -------------------------------------------------
    def _fresh_states(self, keys):
        split = jax.vmap(jax.random.split)(keys)
        return split[:, 0], self._vreset(split[:, 1])

    def _masked_reset(self, state, keys, mask):
        keys, fresh = self._fresh_states(keys)
        return jax.vmap(select_tree)(mask, fresh, state), keys

    def _batched_step(self, state, keys, needs_reset, actions):
        stepped = self._vstep(state, actions)
        if self._mode == AutoresetMode.DISABLED:
            out, stepped_mask = stepped, jnp.ones_like(needs_reset)
            final_obs = stepped.obs
        else:
            keys, fresh = self._fresh_states(keys)
            if self._mode == AutoresetMode.NEXT_STEP:
                out = jax.vmap(select_tree)(needs_reset, fresh, stepped)
                stepped_mask = jnp.logical_not(needs_reset)
            else:  # SAME_STEP: new episode's obs/sim, finished transition's reward and flags
                reset_part = jax.vmap(select_tree)(stepped.done, fresh, stepped)
                out = stepped.replace(sim=reset_part.sim, obs=reset_part.obs, info=reset_part.info)
                stepped_mask = jnp.ones_like(needs_reset)
            final_obs = stepped.obs
        host = {"obs": out.obs, "reward": out.reward, "terminated": out.terminated,
                "truncated": out.truncated, "metrics": out.metrics, "stepped": stepped_mask,
                "final_obs": final_obs}
        return out, keys, out.done, host

    # ---- gymnasium API -----------------------------------------------------------
    def reset(self, *, seed=None, options: dict[str, Any] | None = None):
        options = dict(options or {})
        mask = options.pop("reset_mask", None)
        if options:
            raise ValueError(f"unsupported reset options {sorted(options)}; only 'reset_mask' is accepted")
        self._seed_keys(seed)
        if mask is not None:
            mask = np.asarray(mask)
            if mask.dtype != np.bool_ or mask.shape != (self.num_envs,):
                raise ValueError(f"options['reset_mask'] must be a bool np.ndarray of shape ({self.num_envs},), "
                                 f"got dtype {mask.dtype} shape {mask.shape}")
            if self._state is None:
                raise RuntimeError("a partial reset needs a previous full reset(); call reset() without reset_mask first")
        else:
            mask = np.ones(self.num_envs, np.bool_)
        if self._state is None:
            self._keys, self._state = self._initial_reset_fn(self._keys)
        else:
            self._state, self._keys = self._reset_fn(self._state, self._keys, jnp.asarray(mask))
        if self._needs_reset is None:
            self._needs_reset = jnp.zeros(self.num_envs, jnp.bool_)
        self._needs_reset = jnp.logical_and(self._needs_reset, jnp.logical_not(jnp.asarray(mask)))
        obs = np.asarray(self._state.obs)
        boundary.check_finite_obs(obs, batched=True)
        return obs, {}

    def _seed_keys(self, seed) -> None:
        if isinstance(seed, (list, tuple, np.ndarray)):
            seeds = [boundary.check_seed(s) for s in seed]
            if len(seeds) != self.num_envs or any(s is None for s in seeds):
                raise ValueError(f"a list of seeds needs exactly num_envs={self.num_envs} ints, got {len(seeds)}")
            self._np_random, self._np_random_seed = gymnasium.utils.seeding.np_random(seeds[0])
            self._keys = jax.vmap(jax.random.key)(jnp.asarray(seeds, jnp.uint32))
            return
        seed = boundary.check_seed(seed)
        if seed is not None:
            self._np_random, self._np_random_seed = gymnasium.utils.seeding.np_random(seed)
            self._keys = jax.random.split(jax.random.key(seed), self.num_envs)
        elif self._keys is None:
            self._keys = jax.random.split(
                jax.random.key(int(self.np_random.integers(0, boundary.MAX_SEED))), self.num_envs)

    def step(self, actions):
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        actions = boundary.check_action(actions, self._env.action_spec, self.num_envs)
        self._state, self._keys, self._needs_reset, host = self._step_fn(
            self._state, self._keys, self._needs_reset, actions)
        host = jax.device_get(host)
        obs = host["obs"]
        boundary.check_finite_obs(obs, batched=True)
        terminated, truncated = host["terminated"], host["truncated"]
        return obs, host["reward"], terminated, truncated, self._infos(host)

    def _infos(self, host) -> dict[str, Any]:
        infos: dict[str, Any] = {}
        stepped = host["stepped"]
        if self._mode == AutoresetMode.SAME_STEP:
            done = np.logical_or(host["terminated"], host["truncated"])
            per_step_mask = np.logical_and(stepped, np.logical_not(done))
        else:
            done, per_step_mask = None, stepped
        for name, values in host["metrics"].items():
            infos[name], infos[f"_{name}"] = values, per_step_mask.copy()
        if done is not None and done.any():
            final_obs = np.full(self.num_envs, None, dtype=object)
            for i in np.flatnonzero(done):
                final_obs[i] = host["final_obs"][i]
            final_info = {}
            for name, values in host["metrics"].items():
                final_info[name], final_info[f"_{name}"] = values, done.copy()
            infos["final_obs"], infos["_final_obs"] = final_obs, done.copy()
            infos["final_info"], infos["_final_info"] = final_info, done.copy()
        return infos

    def render(self):
        if not boundary.ready_to_render(self.render_mode, self._state):
            return None
        state = jax.device_get(self._state)
        return tuple(self._env.render_rgb(jax.tree_util.tree_map(lambda x: x[i], state))
                     for i in range(self.num_envs))
