"""Batching: `VmapWrapper` (vmap, cache-sized chunks, split over devices) and the standard training stack.

Typical training stack (what `envs.make(name, num_envs=n)` builds, with `mesh` over every local device):

    VmapWrapper(EpisodeStatistics(AutoReset(TimeLimit(env, 1000))), num_envs=n, mesh=mesh)
"""
from __future__ import annotations

from typing import Literal

import jax

from simlab.engine.batching import chunked_vmap, shard_batched
from simlab.engine.env import Env, State
from simlab.engine.wrappers.autoreset import AutoReset
from simlab.engine.wrappers.core import EpisodeStatistics, TimeLimit, Wrapper


class VmapWrapper(Wrapper):
    """Batches an unbatched environment over `num_envs` with `jax.vmap`.

    `reset(key)` splits one key into `num_envs` keys; `step(state, action)` takes
    `action: [num_envs, *action_spec.shape]`. Every `State` leaf gains a leading
    `[num_envs]` axis. Specs stay those of a single environment.

    Environments whose unwrapped class sets `vmap_chunk` (rigid-body tasks) are
    stepped in chunks of that many environments (`engine.batching.chunked_vmap`),
    which keeps large CPU batches cache-resident; results are identical.
    With a `mesh` (`envs.make` passes one over every local device; see also `set_batch_mesh`),
    `reset` and `step` split the batch over the mesh's devices (`engine.batching.shard_batched`),
    so each device steps (and chunks) only its own share; a batch that does not divide the
    device count is padded. Results are again identical.

    A fresh-mode `AutoReset` inside is switched to batched refreshing: after each step, each
    device redraws a fixed number of used initial states (`AutoReset.refresh_batch`).
    """

    def __init__(self, env: Env, num_envs: int, chunk: int | None = None, mesh=None):
        super().__init__(env)
        if isinstance(num_envs, bool) or int(num_envs) != num_envs or num_envs < 1:
            raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
        self.num_envs = int(num_envs)
        self.chunk = chunk if chunk is not None else getattr(env.unwrapped, "vmap_chunk", None)
        self.mesh = None
        if mesh is not None:
            self.set_mesh(mesh)
        self._refreshers = []
        layer = env
        while isinstance(layer, Wrapper):
            if isinstance(layer, AutoReset) and layer.mode == "fresh":
                layer.defer_refresh()
                self._refreshers.append(layer)
            layer = layer.env

    def set_mesh(self, mesh) -> None:
        """Split `reset` and `step` over the devices of a 1-D `mesh` (None: one device)."""
        self.mesh = mesh

    @property
    def num_devices(self) -> int:
        """Devices the batch is split over."""
        return 1 if self.mesh is None else int(self.mesh.devices.size)

    def reset(self, key: jax.Array) -> State:
        keys = jax.random.split(key, self.num_envs)
        return shard_batched(chunked_vmap(self.env.reset, self.chunk), self.mesh)(keys)

    def step(self, state: State, action: jax.Array) -> State:
        def local(state, action):  # one device's share of the batch
            state = chunked_vmap(self.env.step, self.chunk)(state, action)
            for layer in self._refreshers:
                state = layer.refresh_batch(state, self.chunk)
            return state

        return shard_batched(local, self.mesh)(state, action)

    def render_rgb(self, state: State, width: int = 320, height: int = 240):
        """Renders environment 0 of the batch."""
        first = jax.tree_util.tree_map(lambda x: x[0], state)
        return self.env.render_rgb(first, width, height)

    def __repr__(self) -> str:
        devices = f", devices={self.num_devices}" if self.mesh is not None else ""
        return f"VmapWrapper({self.env!r}, num_envs={self.num_envs}{devices})"


def set_batch_mesh(env: Env, mesh) -> bool:
    """Makes the `VmapWrapper` in `env`'s wrapper chain split its batch over `mesh` (None: one device).

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
    mesh=None,
) -> Env:
    """The standard stack: time limit, auto-reset, episode statistics, vmap.

    Args:
      env: an unbatched environment without a time limit.
      num_envs: batch size, or None for an unbatched environment.
      episode_length: steps before truncation (None: no time limit).
      auto_reset: "fresh", "cached" or None (no auto-reset).
      mesh: a 1-D mesh to split the batch over (None: one device); see `engine.devices.batch_mesh`.
    """
    if episode_length is not None:
        env = TimeLimit(env, episode_length)
    if auto_reset is not None:
        env = EpisodeStatistics(AutoReset(env, mode=auto_reset))
    if num_envs is not None:
        env = VmapWrapper(env, num_envs, mesh=mesh)
    return env
