"""The core wrappers: the base `Wrapper`, time limit and episode statistics (auto-reset: `autoreset`;
vmap and the training stack: `batch`).

Typical training stack (what `envs.make(name, num_envs=n)` builds):

    VmapWrapper(EpisodeStatistics(AutoReset(TimeLimit(env, 1000))), num_envs=n)

Every wrapper is itself an `engine.Env`: pure, jittable and free of `cond`/`while`.
Wrappers never forward unknown attributes; reach the inner environment through
`.env` or `.unwrapped`.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

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
