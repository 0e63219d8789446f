"""Patch transforms for image observations: split into patches, shuffle them, show only some.

    env = envs.make("pong", episode_length=None)                       # obs [32, 32, 2]
    env = with_patch_transforms(env, patch_size=4, shuffle=True, num_shown=19)
    env = wrap_for_training(env, num_envs=64, episode_length=1000)    # obs [64, 19, 32]

* `PatchObservation(env, P)`: obs `[H, W, C]` -> `[N, P*P*C]`, `N = (H/P) (W/P)`
  non-overlapping patches in row-major order (patch `i` covers rows
  `P*(i // (W/P))...`, columns `P*(i % (W/P))...`); each row is the patch's
  `[P, P, C]` block flattened (row, column, channel).
* `ShufflePatches(env, reshuffle_every=None)`: `obs[perm]`, one permutation per
  episode, optionally a new one after steps K, 2K, ... (as
  `engine.wrappers.observation.ShuffleObservation`, but over patches).
* `OccludePatches(env, num_shown, resample_every=1)`: shows `k = num_shown` of the
  `N` patches: the rows `obs[shown]`, with `shown` `k` distinct indices drawn
  uniformly and kept in increasing order. The subset is redrawn at every reset
  and after every `resample_every` steps (`None`: once per episode). Array
  sizes must be static, so `k` is fixed per wrapper; evaluate with another `k`
  by building another wrapper (the sensory agent accepts any number of patches).

All three are branch-free (`jnp.where` selects redraws, gathers apply them); keys
and indices live in `State.info`:
  ShufflePatches: `patch_permutation` (int32 [N]), `patch_shuffle_key`, `patch_shuffle_steps`.
  OccludePatches: `shown_patches` (int32 [k]), `occlusion_key`, `occlusion_steps`, and
  `all_patches` (the full `[N, D]` input, so `step` can hand the inner env its observation).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from simlab.engine.env import Env, State
from simlab.engine.specs import BoxSpec
from simlab.engine.wrappers.core import Wrapper
from simlab.engine.wrappers.observation import ShuffleObservation


def _positive_or_none(value, name: str) -> int | None:
    if value is not None and (int(value) != value or value < 1):
        raise ValueError(f"{name} must be a positive integer or None, got {value!r}")
    return None if value is None else int(value)


def _patch_matrix(env: Env, wrapper: str) -> tuple[int, int]:
    spec = env.observation_spec
    if not isinstance(spec, BoxSpec) or len(spec.shape) != 2:
        raise ValueError(f"{wrapper} needs patches `[N, D]`; wrap the image environment in PatchObservation first, "
                         f"got observation shape {getattr(spec, 'shape', spec)}")
    return spec.shape


def image_to_patches(image: jax.Array, patch_size: int) -> jax.Array:
    """`[H, W, C]` -> `[(H/P) (W/P), P*P*C]` row-major patches (H and W divisible by P)."""
    h, w, c = image.shape
    p = patch_size
    blocks = image.reshape(h // p, p, w // p, p, c).transpose(0, 2, 1, 3, 4)
    return blocks.reshape((h // p) * (w // p), p * p * c)


def patches_to_image(patches: jax.Array, height: int, width: int, patch_size: int) -> jax.Array:
    """Inverse of `image_to_patches`: `[N, P*P*C]` -> `[H, W, C]`."""
    p = patch_size
    c = patches.shape[-1] // (p * p)
    blocks = patches.reshape(height // p, width // p, p, p, c).transpose(0, 2, 1, 3, 4)
    return blocks.reshape(height, width, c)


class PatchObservation(Wrapper):
    """Splits an `[H, W, C]` image observation into `[N, P*P*C]` non-overlapping patches."""

    def __init__(self, env: Env, patch_size: int):
        super().__init__(env)
        spec = env.observation_spec
        if not isinstance(spec, BoxSpec) or len(spec.shape) != 3:
            raise ValueError(f"PatchObservation needs an image observation [H, W, C], got "
                             f"{getattr(spec, 'shape', spec)}; use envs.make('pong') rather than 'pong_state'")
        if int(patch_size) != patch_size or patch_size < 1:
            raise ValueError(f"patch_size must be a positive integer, got {patch_size!r}")
        self.height, self.width, self.channels = spec.shape
        self.patch_size = int(patch_size)
        if self.height % self.patch_size or self.width % self.patch_size:
            raise ValueError(f"a {self.height}x{self.width} frame does not split into {patch_size}x{patch_size} "
                             f"patches; choose a patch size dividing both (e.g. "
                             f"{np.gcd(self.height, self.width)}) or change the frame size")
        self.num_patches = (self.height // self.patch_size) * (self.width // self.patch_size)
        self.patch_dim = self.patch_size * self.patch_size * self.channels

    def reset(self, key: jax.Array) -> State:
        state = self.env.reset(key)
        return state.replace(obs=image_to_patches(state.obs, self.patch_size))

    def step(self, state: State, action: jax.Array) -> State:
        image = patches_to_image(state.obs, self.height, self.width, self.patch_size)
        stepped = self.env.step(state.replace(obs=image), action)
        return stepped.replace(obs=image_to_patches(stepped.obs, self.patch_size))

    @property
    def observation_spec(self) -> BoxSpec:
        inner = self.env.observation_spec
        shape = (self.num_patches, self.patch_dim)
        return BoxSpec(shape=shape, dtype=inner.dtype, low=np.min(inner.low), high=np.max(inner.high))

    def __repr__(self) -> str:
        return f"PatchObservation({self.env!r}, patch_size={self.patch_size})"


class ShufflePatches(ShuffleObservation):
    """Presents the patches in a random order: `obs_out = obs_in[perm]` (rows).

    A permutation is drawn at every reset and, with `reshuffle_every=K`, after
    steps K, 2K, ... of the episode. `info["patch_permutation"]` holds it. The
    mechanics are `engine.wrappers.observation.ShuffleObservation`'s, applied to patch rows.
    """

    _INFO_KEYS = ("patch_permutation", "patch_shuffle_key", "patch_shuffle_steps")

    def __init__(self, env: Env, reshuffle_every: int | None = None):
        Wrapper.__init__(self, env)
        self.num_patches, self.patch_dim = _patch_matrix(env, "ShufflePatches")
        self.size = self.num_patches
        self.reshuffle_every = _positive_or_none(reshuffle_every, "reshuffle_every")

    @property
    def observation_spec(self) -> BoxSpec:
        return self.env.observation_spec

    def __repr__(self) -> str:
        return f"ShufflePatches({self.env!r}, reshuffle_every={self.reshuffle_every})"


def random_subset(key: jax.Array, num_patches: int, num_shown: int) -> jax.Array:
    """`num_shown` distinct indices in `[0, num_patches)`, uniform, in increasing order (int32)."""
    return jnp.sort(jax.random.permutation(key, num_patches)[:num_shown]).astype(jnp.int32)


class OccludePatches(Wrapper):
    """Shows only `num_shown` of the `N` patches: obs `[N, D]` -> `[num_shown, D]`.

    The shown indices (`info["shown_patches"]`, increasing) are redrawn at every
    reset and after every `resample_every` steps (`None`: once per episode).
    """

    _OWN = ("shown_patches", "occlusion_key", "occlusion_steps", "all_patches")

    def __init__(self, env: Env, num_shown: int, resample_every: int | None = 1):
        super().__init__(env)
        self.num_patches, self.patch_dim = _patch_matrix(env, "OccludePatches")
        if int(num_shown) != num_shown or not 1 <= num_shown <= self.num_patches:
            raise ValueError(f"num_shown must be an integer in [1, {self.num_patches}] (the number of patches), "
                             f"got {num_shown!r}")
        self.num_shown = int(num_shown)
        self.resample_every = _positive_or_none(resample_every, "resample_every")

    def _show(self, state: State, shown, key, steps) -> State:
        info = {**state.info, "shown_patches": shown, "occlusion_key": key, "occlusion_steps": steps,
                "all_patches": state.obs}
        return state.replace(obs=state.obs[shown], info=info)

    def reset(self, key: jax.Array) -> State:
        own_key, subset_key, inner_key = jax.random.split(key, 3)
        state = self.env.reset(inner_key)
        return self._show(state, random_subset(subset_key, self.num_patches, self.num_shown), own_key,
                          jnp.zeros((), jnp.int32))

    def step(self, state: State, action: jax.Array) -> State:
        inner_info = {k: v for k, v in state.info.items() if k not in self._OWN}
        stepped = self.env.step(state.replace(obs=state.info["all_patches"], info=inner_info), action)
        shown, key = state.info["shown_patches"], state.info["occlusion_key"]
        steps = state.info["occlusion_steps"] + 1
        if self.resample_every is not None:  # static
            key, subset_key = jax.random.split(key)
            fresh = random_subset(subset_key, self.num_patches, self.num_shown)
            shown = jnp.where(steps % self.resample_every == 0, fresh, shown)
        return self._show(stepped, shown, key, steps)

    @property
    def observation_spec(self) -> BoxSpec:
        inner = self.env.observation_spec
        return BoxSpec(shape=(self.num_shown, self.patch_dim), dtype=inner.dtype,
                       low=np.min(inner.low), high=np.max(inner.high))

    def __repr__(self) -> str:
        return f"OccludePatches({self.env!r}, num_shown={self.num_shown}, resample_every={self.resample_every})"


def with_patch_transforms(env: Env, patch_size: int, *, shuffle: bool = False, reshuffle_every: int | None = None,
                          num_shown: int | None = None, resample_every: int | None = 1) -> Env:
    """Patches, then (optionally) shuffle, then (optionally) show `num_shown` of them.

    `env` is an image environment without a time limit (wrap the result with
    `wrap_for_training` or `engine.wrappers.TimeLimit`). `reshuffle_every`
    implies `shuffle`; `num_shown=None` shows every patch.
    """
    env = PatchObservation(env, patch_size)
    if shuffle or reshuffle_every is not None:
        env = ShufflePatches(env, reshuffle_every)
    if num_shown is not None:
        env = OccludePatches(env, num_shown, resample_every)
    return env
