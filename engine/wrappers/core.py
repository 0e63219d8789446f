"""The core wrappers: the base `Wrapper`, time limit, auto-reset, episode statistics, vmap and batching.

Typical training stack (what `envs.make(name, num_envs=n)` builds):

    VmapWrapper(EpisodeStatistics(AutoReset(TimeLimit(env, 1000))), num_envs=n)

Every wrapper is itself an `engine.Env`: pure, jittable and free of `cond`/`while`.
Wrappers never forward unknown attributes; reach the inner environment through
`.env` or `.unwrapped`.
"""
from __future__ import annotations

from typing import Literal

import jax
import jax.numpy as jnp

from simlab.engine.batching import chunked_vmap, sharded_vmap
from simlab.engine.env import Env, State


def select_tree(mask: jax.Array, on_true, on_false):
    """Leaf-wise `where(mask, on_true, on_false)` for two pytrees of equal structure.

    `mask` is a scalar bool (unbatched code); leaves may have any shape.
    Raises `ValueError` at trace time if the structures differ.
    """
    true_def = jax.tree_util.tree_structure(on_true)
    false_def = jax.tree_util.tree_structure(on_false)
    if true_def != false_def:
        raise ValueError(
            "select_tree needs two pytrees of the same structure; got\n"
            f"  {true_def}\nand\n  {false_def}.\n"
            "An environment's reset() and step() must return states with the same "
            "sim/info/metrics keys."
        )
    return jax.tree_util.tree_map(lambda a, b: jnp.where(mask, a, b), on_true, on_false)


class Wrapper(Env):
    """Base wrapper: delegates everything to `self.env`."""

    def __init__(self, env: Env):
        if not isinstance(env, Env):
            raise TypeError(f"{type(self).__name__} wraps an engine.Env, got {type(env).__name__}")
        self.env = env

    def reset(self, key: jax.Array) -> State:
        return self.env.reset(key)

    def step(self, state: State, action: jax.Array) -> State:
        return self.env.step(state, action)

    @property
    def observation_spec(self):
        return self.env.observation_spec

    @property
    def action_spec(self):
        return self.env.action_spec

    @property
    def dt(self) -> float:  # type: ignore[override]
        return self.env.dt

    @property
    def default_episode_length(self):  # type: ignore[override]
        return self.env.default_episode_length

    @property
    def unwrapped(self) -> Env:
        return self.env.unwrapped

    def render_rgb(self, state: State, width: int = 320, height: int = 240):
        return self.env.render_rgb(state, width, height)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.env!r})"


class TimeLimit(Wrapper):
    """Truncates episodes after `episode_length` steps.

    Adds `info["steps"]` (int32 step counter). Sets `truncated` when the limit is
    reached and the step did not terminate; never sets `terminated`.
    """

    def __init__(self, env: Env, episode_length: int):
        super().__init__(env)
        if int(episode_length) != episode_length or episode_length < 1:
            raise ValueError(f"episode_length must be a positive integer, got {episode_length!r}")
        self.episode_length = int(episode_length)

    def reset(self, key: jax.Array) -> State:
        state = self.env.reset(key)
        return state.replace(info={**state.info, "steps": jnp.zeros((), jnp.int32)})

    def step(self, state: State, action: jax.Array) -> State:
        next_state = self.env.step(state, action)
        steps = state.info["steps"] + 1
        at_limit = steps >= self.episode_length
        truncated = jnp.logical_and(
            jnp.logical_or(next_state.truncated, at_limit), jnp.logical_not(next_state.terminated)
        )
        return next_state.replace(truncated=truncated, info={**next_state.info, "steps": steps})

    def __repr__(self) -> str:
        return f"TimeLimit({self.env!r}, episode_length={self.episode_length})"


class AutoReset(Wrapper):
    """Resets finished episodes inside `step`, without `cond`.

    Each step computes both the stepped state and a reset state and selects one
    per environment with `where`. With `mode="fresh"` (default) the reset state is
    drawn from a new key every time, so every episode starts differently. With
    `mode="cached"` the first reset state is stored and reused (cheaper, but all
    episodes of an environment start identically).

    After a step that ends an episode, the returned state carries the *new*
    episode's `obs`/`sim`, while `reward`, `terminated`, `truncated` and `metrics`
    describe the finished transition. `info["final_obs"]` always holds the
    observation the transition reached (before any reset): use it as the next
    observation when bootstrapping, e.g. at truncation.
    """

    def __init__(self, env: Env, mode: Literal["fresh", "cached"] = "fresh"):
        super().__init__(env)
        if mode not in ("fresh", "cached"):
            raise ValueError(f"AutoReset mode must be 'fresh' or 'cached', got {mode!r}")
        self.mode = mode

    def reset(self, key: jax.Array) -> State:
        own_key, reset_key = jax.random.split(key)
        state = self.env.reset(reset_key)
        info = {**state.info, "autoreset_key": own_key, "final_obs": state.obs}
        if self.mode == "cached":
            info["cached_reset"] = (state.sim, state.obs, state.info)
        return state.replace(info=info)

    def step(self, state: State, action: jax.Array) -> State:
        own = {k: state.info[k] for k in ("autoreset_key", "cached_reset") if k in state.info}
        inner_info = {k: v for k, v in state.info.items() if k not in own and k != "final_obs"}
        stepped = self.env.step(state.replace(info=inner_info), action)

        if self.mode == "fresh":
            next_key, reset_key = jax.random.split(own["autoreset_key"])
            fresh = self.env.reset(reset_key)
            fresh_sim, fresh_obs, fresh_info = fresh.sim, fresh.obs, fresh.info
        else:
            next_key = own["autoreset_key"]
            fresh_sim, fresh_obs, fresh_info = own["cached_reset"]

        done = stepped.done
        sim = select_tree(done, fresh_sim, stepped.sim)
        obs = jnp.where(done, fresh_obs, stepped.obs)
        info = select_tree(done, fresh_info, stepped.info)
        info = {**info, "autoreset_key": next_key, "final_obs": stepped.obs}
        if "cached_reset" in own:
            info["cached_reset"] = own["cached_reset"]
        return stepped.replace(sim=sim, obs=obs, info=info)

    def __repr__(self) -> str:
        return f"AutoReset({self.env!r}, mode={self.mode!r})"


class EpisodeStatistics(Wrapper):
    """Tracks the return and length of the running and last finished episode.

    Adds to `info`: `episode_return`, `episode_length` (running),
    `last_episode_return`, `last_episode_length` (the most recent finished
    episode; 0 before any finished) and `episodes_finished` (int32 count).
    Put it outside `AutoReset` so that it sees each episode's end.
    """

    _KEYS = ("episode_return", "episode_length", "last_episode_return", "last_episode_length",
             "episodes_finished")

    def reset(self, key: jax.Array) -> State:
        state = self.env.reset(key)
        zeros = {  # returns take the reward's shape (e.g. [num_agents] for multi-agent envs)
            "episode_return": jnp.zeros_like(state.reward, jnp.float32),
            "episode_length": jnp.zeros((), jnp.int32),
            "last_episode_return": jnp.zeros_like(state.reward, jnp.float32),
            "last_episode_length": jnp.zeros((), jnp.int32),
            "episodes_finished": jnp.zeros((), jnp.int32),
        }
        return state.replace(info={**state.info, **zeros})

    def step(self, state: State, action: jax.Array) -> State:
        stats = {k: state.info[k] for k in self._KEYS}
        inner_info = {k: v for k, v in state.info.items() if k not in stats}
        stepped = self.env.step(state.replace(info=inner_info), action)
        ret = stats["episode_return"] + stepped.reward.astype(jnp.float32)
        length = stats["episode_length"] + 1
        done = stepped.done
        new_stats = {
            "episode_return": jnp.where(done, 0.0, ret),
            "episode_length": jnp.where(done, 0, length),
            "last_episode_return": jnp.where(done, ret, stats["last_episode_return"]),
            "last_episode_length": jnp.where(done, length, stats["last_episode_length"]),
            "episodes_finished": stats["episodes_finished"] + done.astype(jnp.int32),
        }
        return stepped.replace(info={**stepped.info, **new_stats})


class VmapWrapper(Wrapper):
    """Batches an unbatched environment over `num_envs` with `jax.vmap`.

    `reset(key)` splits one key into `num_envs` keys; `step(state, action)` takes
    `action: [num_envs, *action_spec.shape]`. Every `State` leaf gains a leading
    `[num_envs]` axis. Specs stay those of a single environment.

    Environments whose unwrapped class sets `vmap_chunk` (rigid-body tasks) are
    stepped in chunks of that many environments (`engine.batching.chunked_vmap`),
    which keeps large CPU batches cache-resident; results are identical.
    With a `mesh` (see `set_batch_mesh`), `step` splits the batch over the mesh's
    devices with `engine.batching.sharded_vmap`, so each device steps (and chunks)
    only its own share; results are again identical.
    """

    def __init__(self, env: Env, num_envs: int, chunk: int | None = None, mesh=None):
        super().__init__(env)
        if int(num_envs) != num_envs or num_envs < 1:
            raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
        self.num_envs = int(num_envs)
        self.chunk = chunk if chunk is not None else getattr(env.unwrapped, "vmap_chunk", None)
        self.mesh = None
        if mesh is not None:
            self.set_mesh(mesh)

    def set_mesh(self, mesh) -> None:
        """Shard `step` over the devices of a 1-D `mesh` (None: one device)."""
        if mesh is not None and self.num_envs % mesh.devices.size:
            raise ValueError(f"num_envs={self.num_envs} does not split over {mesh.devices.size} devices; "
                             f"use a multiple of {mesh.devices.size}")
        self.mesh = mesh

    def reset(self, key: jax.Array) -> State:
        return chunked_vmap(self.env.reset, self.chunk)(jax.random.split(key, self.num_envs))

    def step(self, state: State, action: jax.Array) -> State:
        return sharded_vmap(self.env.step, self.chunk, self.mesh)(state, action)

    def render_rgb(self, state: State, width: int = 320, height: int = 240):
        """Renders environment 0 of the batch."""
        first = jax.tree_util.tree_map(lambda x: x[0], state)
        return self.env.render_rgb(first, width, height)

    def __repr__(self) -> str:
        return f"VmapWrapper({self.env!r}, num_envs={self.num_envs})"


def set_batch_mesh(env: Env, mesh) -> bool:
    """Makes the `VmapWrapper` in `env`'s wrapper chain shard its steps over `mesh`.

    Returns False (and changes nothing) if the chain holds no `VmapWrapper`.
    """
    layer = env
    while layer is not None:
        if isinstance(layer, VmapWrapper):
            layer.set_mesh(mesh)
            return True
        layer = getattr(layer, "env", None)
    return False


def wrap_for_training(
    env: Env,
    num_envs: int | None,
    episode_length: int | None = None,
    auto_reset: Literal["fresh", "cached"] | None = "fresh",
) -> Env:
    """The standard stack: time limit, auto-reset, episode statistics, vmap.

    Args:
      env: an unbatched environment without a time limit.
      num_envs: batch size, or None for an unbatched environment.
      episode_length: steps before truncation (None: no time limit).
      auto_reset: "fresh", "cached" or None (no auto-reset).
    """
    if episode_length is not None:
        env = TimeLimit(env, episode_length)
    if auto_reset is not None:
        env = EpisodeStatistics(AutoReset(env, mode=auto_reset))
    if num_envs is not None:
        env = VmapWrapper(env, num_envs)
    return env
