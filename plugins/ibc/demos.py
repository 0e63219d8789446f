"""Demonstrations: a scripted oracle rolled out in many seeded episodes at once, and their `.npz` files.

An `Oracle` is a pair of pure, unbatched functions over an environment's `State` (privileged: it may read
the simulator state, not only the observation), with a small memory pytree for oracles that switch phase:

    memory = oracle.init(state)
    action, memory = oracle.act(memory, state)

`generate_demos` vmaps one episode per key and runs every episode for exactly `episode_length` control
steps under one `lax.scan`: fixed shapes, one jitted call. Episode `i` of seed `s` starts from
`fold_in(key(s), i)`, so demos never share a start with the evaluation episodes (`key(i)`, see `evaluate`).
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from simlab.engine import io
from simlab.engine.env import Env, State


@dataclasses.dataclass(frozen=True)
class Oracle:
    """A scripted expert: `init(state) -> memory` and `act(memory, state) -> (action [A], memory)` (pure)."""

    init: Callable[[State], Any]
    act: Callable[[Any, State], tuple[jax.Array, Any]]


@dataclasses.dataclass(frozen=True)
class Demos:
    """Oracle episodes (host NumPy).

    obs: [num_episodes, episode_length, obs_size] float32, the observation each action answered;
    actions: [num_episodes, episode_length, action_size] float32;
    valid: [num_episodes, episode_length] bool, False for the steps after the episode ended (an env that
      terminates, e.g. on success, keeps being stepped so that shapes stay fixed);
    success: [num_episodes] float32 (0/1), the task's success at the episode's last step;
    meta: JSON-able description (env, options, seed, ...).
    """

    obs: np.ndarray
    actions: np.ndarray
    valid: np.ndarray
    success: np.ndarray
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def num_episodes(self) -> int:
        return int(self.obs.shape[0])

    def transitions(self, only_successful: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """`(obs [M, obs_size], actions [M, action_size])` of every valid step (of the successful episodes
        only, by default)."""
        episodes = self.success > 0.5 if only_successful else np.ones(self.num_episodes, bool)
        keep = self.valid & episodes[:, None]
        return self.obs[keep], self.actions[keep]


def demo_keys(seed: int, num_episodes: int) -> jax.Array:
    """`[num_episodes]` keys of the demonstration episodes of `seed`: `fold_in(key(seed), i)`."""
    return jax.vmap(lambda i: jax.random.fold_in(jax.random.key(seed), i))(jnp.arange(num_episodes))


def make_oracle_rollout(env: Env, oracle: Oracle, episode_length: int, success_metric: str = "success"):
    """A jitted `run(keys [E]) -> (obs [E, T, O], actions [E, T, A], valid [E, T], success [E])` of the oracle
    in `env` (unwrapped, unbatched): T = `episode_length` steps, no resets (see `Demos.valid`)."""

    def episode(key):
        state = env.reset(key)

        def body(carry, _):
            state, memory, ended = carry
            action, memory = oracle.act(memory, state)
            next_state = env.step(state, action)
            return (next_state, memory, ended | next_state.done), (state.obs, action, ~ended)

        carry = (state, oracle.init(state), jnp.zeros((), jnp.bool_))
        (final, _, _), (obs, actions, valid) = jax.lax.scan(body, carry, None, length=episode_length)
        return obs, actions.astype(jnp.float32), valid, final.metrics[success_metric]

    return jax.jit(jax.vmap(episode))


def generate_demos(env: Env, oracle: Oracle, num_episodes: int, seed: int = 0, episode_length: int | None = None,
                   success_metric: str = "success", meta: dict[str, Any] | None = None) -> Demos:
    """`num_episodes` oracle episodes of `env` from `demo_keys(seed, num_episodes)`, in one jitted call."""
    if int(num_episodes) != num_episodes or num_episodes < 1:
        raise ValueError(f"the number of demonstrations must be a positive integer, got {num_episodes!r}")
    length = int(episode_length or env.default_episode_length or 0)
    if length < 1:
        raise ValueError(f"{env!r} has no default episode length; pass episode_length")
    run = make_oracle_rollout(env, oracle, length, success_metric)
    obs, actions, valid, success = jax.device_get(run(demo_keys(seed, int(num_episodes))))
    info = {"num_episodes": int(num_episodes), "seed": int(seed), "episode_length": length,
            "oracle_success_rate": float(np.mean(success)), **(meta or {})}
    return Demos(np.asarray(obs, np.float32), np.asarray(actions, np.float32), np.asarray(valid, bool),
                 np.asarray(success, np.float32), info)


def save_demos(path: str | Path, demos: Demos) -> Path:
    """Writes `demos` to `path` (.npz: obs, actions, success and the JSON meta) atomically; returns `path`."""
    with io.atomic_path(path, ".tmp.npz") as tmp:
        np.savez_compressed(tmp, obs=demos.obs, actions=demos.actions, valid=demos.valid, success=demos.success,
                            meta=np.asarray(json.dumps(demos.meta)))
    return Path(path)


def load_demos(path: str | Path) -> Demos:
    """Reads a `save_demos` file; raises FileNotFoundError or ValueError naming what is wrong with it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no demonstrations at {path}; write them with `simlab ibc demos ENV --out DIR`")
    try:
        with np.load(path, allow_pickle=False) as data:
            demos = Demos(data["obs"].astype(np.float32), data["actions"].astype(np.float32),
                          data["valid"].astype(bool), data["success"].astype(np.float32),
                          json.loads(str(data["meta"])))
    except (OSError, KeyError, ValueError) as err:
        raise ValueError(f"{path} is not a demonstrations file written by `simlab ibc demos` ({err})") from None
    if demos.obs.ndim != 3 or demos.actions.ndim != 3 or not demos.obs.shape[:2] == demos.actions.shape[:2] == \
            demos.valid.shape:
        raise ValueError(f"{path}: obs {demos.obs.shape}, actions {demos.actions.shape} and valid "
                         f"{demos.valid.shape} are not [episodes, steps(, size)] arrays of equal episodes and steps")
    return demos
