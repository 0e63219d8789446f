"""`AutoReset`: finished episodes restart inside `step`, branch-free, with fresh initial states that cost
little per step.

Each environment keeps one *spare* initial state, drawn in advance. When an episode ends, the spare
replaces the finished state (a `where`, as cheap as reusing one cached state), and the spare is
marked used. Drawing the replacement is the expensive part (for a rigid-body task, a reset costs
about a fifth of a step), so it is not done for every environment at every step:

* **Batched** (inside a `VmapWrapper`, which is how `envs.make(..., num_envs=n)` builds it): after each
  step, `VmapWrapper` calls `refresh_batch`, which draws new spares for at most
  `m = ceil(n / K)` used ones (a compacted, fixed-size batch: `K = min(refresh_every, episode
  length)`), found with `nonzero(size=m)` in rotating order so none waits forever. Shapes never
  depend on how many episodes ended, so nothing retraces.
* **Unbatched**: the spare is redrawn in the same step (a full reset per step, as before).

Episode `k` of environment `i` starts from `reset(fold_in(key_i, k))` either way (`key_i`: the
environment's key, `info["autoreset_key"]`; `k`: `info["episode_index"]`), so the batched and
unbatched runs, and runs sharded over any number of devices, produce the same initial states.
A burst of `n` simultaneous endings is refilled within `K` steps, before the next time limit
can end those episodes again. An episode that ends earlier than that (a termination within `K` steps
of a previous ending in the same environment) restarts from its used spare, the same state its
previous episode started from: such restarts are counted per environment in `info["stale_resets"]`
(0 in a typical run; raise `m` with a smaller `refresh_every` if it is not).

`mode="cached"` keeps the first initial state and restarts every episode of an environment from it.
"""
from __future__ import annotations

import math
from typing import Literal

import jax
import jax.numpy as jnp

from simlab.engine.batching import chunked_vmap
from simlab.engine.env import Env, State
from simlab.engine.wrappers.core import TimeLimit, Wrapper, select_tree

REFRESH_EVERY = 16
_OWN_KEYS = ("autoreset_key", "cached_reset", "reset_spare", "spare_ready", "episode_index", "stale_resets",
             "refresh_clock")


class AutoReset(Wrapper):
    """Resets finished episodes inside `step`, without `cond` (module docstring).

    After a step that ends an episode, the returned state carries the *new* episode's `obs`/`sim`,
    while `reward`, `terminated`, `truncated` and `metrics` describe the finished transition.
    `info["final_obs"]` always holds the observation the transition reached (before any reset): use it
    as the next observation when bootstrapping, e.g. at truncation.

    Args:
      env: the unbatched environment (usually with a `TimeLimit`).
      mode: "fresh" (every episode from a new random initial state) or "cached" (every episode of an
        environment from its first initial state).
      refresh_every: K of the module docstring (fresh mode, batched): used spares of a batch of n are
        redrawn at up to ceil(n / K) per step.
    """

    def __init__(self, env: Env, mode: Literal["fresh", "cached"] = "fresh", refresh_every: int = REFRESH_EVERY):
        super().__init__(env)
        if mode not in ("fresh", "cached"):
            raise ValueError(f"AutoReset mode must be 'fresh' or 'cached', got {mode!r}")
        if isinstance(refresh_every, bool) or not isinstance(refresh_every, int) or refresh_every < 1:
            raise ValueError(f"AutoReset refresh_every must be a positive int (steps), got {refresh_every!r}")
        self.mode = mode
        self.refresh_every = refresh_every
        self.batched_refresh = False  # set by VmapWrapper: it redraws used spares in compacted batches

    def defer_refresh(self) -> None:
        """Leaves redrawing used spares to `refresh_batch` (called by `VmapWrapper` after each step)."""
        self.batched_refresh = True

    def reset(self, key: jax.Array) -> State:
        if self.mode == "cached":
            own_key, first_key = jax.random.split(key)
            state = self.env.reset(first_key)
            info = {**state.info, "final_obs": state.obs, "autoreset_key": own_key,
                    "cached_reset": (state.sim, state.obs, state.info)}
            return state.replace(info=info)
        state = self.env.reset(jax.random.fold_in(key, 0))
        spare = self.env.reset(jax.random.fold_in(key, 1))
        info = {**state.info, "final_obs": state.obs, "autoreset_key": key,
                "reset_spare": (spare.sim, spare.obs, spare.info), "spare_ready": jnp.ones((), jnp.bool_),
                "episode_index": jnp.zeros((), jnp.uint32), "stale_resets": jnp.zeros((), jnp.int32),
                "refresh_clock": jnp.zeros((), jnp.int32)}
        return state.replace(info=info)

    def step(self, state: State, action: jax.Array) -> State:
        own = {k: state.info[k] for k in _OWN_KEYS if k in state.info}
        inner_info = {k: v for k, v in state.info.items() if k not in own and k != "final_obs"}
        stepped = self.env.step(state.replace(info=inner_info), action)
        done = stepped.done
        start_sim, start_obs, start_info = own["cached_reset"] if self.mode == "cached" else own["reset_spare"]
        sim = select_tree(done, start_sim, stepped.sim)
        obs = jnp.where(done, start_obs, stepped.obs)
        info = {**select_tree(done, start_info, stepped.info), **own, "final_obs": stepped.obs}
        if self.mode == "fresh":
            info["episode_index"] = own["episode_index"] + done.astype(jnp.uint32)
            info["stale_resets"] = own["stale_resets"] + (done & ~own["spare_ready"]).astype(jnp.int32)
            info["spare_ready"] = own["spare_ready"] & ~done
            if not self.batched_refresh:  # unbatched: draw the next episode's start now (a full reset per step)
                spare = self.env.reset(jax.random.fold_in(own["autoreset_key"], info["episode_index"] + 1))
                info["reset_spare"] = select_tree(done, (spare.sim, spare.obs, spare.info), own["reset_spare"])
                info["spare_ready"] = jnp.ones((), jnp.bool_)
        return stepped.replace(sim=sim, obs=obs, info=info)

    def refresh_count(self, num_envs: int) -> int:
        """Spares redrawn per step in a batch of `num_envs`: ceil(n / min(refresh_every, episode length))."""
        period = self.refresh_every
        layer = self.env
        while isinstance(layer, Wrapper):
            if isinstance(layer, TimeLimit):
                period = min(period, layer.episode_length)
                break
            layer = layer.env
        return max(1, math.ceil(num_envs / period))

    def refresh_batch(self, state: State, chunk: int | None = None) -> State:
        """Redraws up to `refresh_count(n)` used spares of a batched state `[n, ...]` (fresh mode only).

        Environments are visited in rotating order (`info["refresh_clock"]`), so a used spare waits at
        most `ceil(n / m)` steps. `chunk`: the batch chunk for the resets (`engine.batching.chunked_vmap`).
        """
        if self.mode != "fresh":
            return state
        info = state.info
        ready, clock = info["spare_ready"], info["refresh_clock"]
        n = ready.shape[0]
        m = min(n, self.refresh_count(n))
        offset = (clock[0] * m) % n
        order = (jnp.arange(n) + offset) % n
        (found,) = jnp.nonzero(~ready[order], size=m, fill_value=n)
        index = jnp.where(found < n, order[jnp.minimum(found, n - 1)], n)  # n: nothing to do (dropped below)
        safe = jnp.minimum(index, n - 1)
        keys = jax.vmap(jax.random.fold_in)(info["autoreset_key"][safe], info["episode_index"][safe] + 1)
        spare = chunked_vmap(self.env.reset, chunk)(keys)
        put = lambda old, new: old.at[index].set(new, mode="drop")
        new_spare = jax.tree.map(put, info["reset_spare"], (spare.sim, spare.obs, spare.info))
        info = {**info, "reset_spare": new_spare, "spare_ready": put(ready, jnp.ones((m,), jnp.bool_)),
                "refresh_clock": clock + 1}
        return state.replace(info=info)

    def __repr__(self) -> str:
        return f"AutoReset({self.env!r}, mode={self.mode!r})"
