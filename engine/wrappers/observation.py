"""Observation transforms as wrappers: shuffling and extra noise channels.

    env = envs.make("cartpole_swingup")                      # TimeLimit(CartPoleSwingUp)
    env = ShuffleObservation(NoiseChannels(env, 5, std=0.1), reshuffle_every=25)
    batch = VmapWrapper(env, 64)                             # or wrap_for_training(...)

Both wrappers are branch-free: the random keys they need live in
`State.info`, permutations are applied with a gather, and re-shuffles are
chosen with `jnp.where`. Put them *inside* `AutoReset` (wrap the unbatched
environment first, then `wrap_for_training`), so that every new episode draws
a new permutation and `info["final_obs"]` is transformed as well.

Keys written to `State.info`:
  ShuffleObservation: `obs_permutation` (int32 [n]), `shuffle_key`, `shuffle_steps` (int32).
  NoiseChannels: `noise_key`.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from simlab.engine.env import Env, State
from simlab.engine.specs import BoxSpec
from simlab.engine.wrappers.core import Wrapper


def _flat_box_size(env: Env, wrapper: str) -> int:
    spec = env.observation_spec
    if not isinstance(spec, BoxSpec) or len(spec.shape) != 1:
        raise ValueError(
            f"{wrapper} needs a flat Box observation (shape (n,)), got {spec!r}; "
            "flatten the observation first or use a patch transform for images."
        )
    return spec.shape[0]


class NoiseChannels(Wrapper):
    """Appends `num_channels` fresh N(0, std^2) channels to a flat observation.

    obs `[n]` -> `[n + num_channels]`; the first `n` entries are the inner
    observation, unchanged. A new noise sample is drawn at every reset and step
    from `info["noise_key"]`. The paper's cart-pole noise is N(0, 0.1).
    """

    def __init__(self, env: Env, num_channels: int, std: float = 0.1):
        super().__init__(env)
        if int(num_channels) != num_channels or num_channels < 1:
            raise ValueError(f"num_channels must be a positive integer, got {num_channels!r}")
        if not np.isfinite(std) or std < 0:
            raise ValueError(f"noise std must be a finite number >= 0, got {std!r}")
        self.inner_size = _flat_box_size(env, "NoiseChannels")
        self.num_channels = int(num_channels)
        self.std = float(std)

    def _append_noise(self, state: State, key: jax.Array) -> State:
        next_key, draw_key = jax.random.split(key)
        noise = self.std * jax.random.normal(draw_key, (self.num_channels,), jnp.float32)
        obs = jnp.concatenate([state.obs.astype(jnp.float32), noise])
        return state.replace(obs=obs, info={**state.info, "noise_key": next_key})

    def reset(self, key: jax.Array) -> State:
        own_key, inner_key = jax.random.split(key)
        return self._append_noise(self.env.reset(inner_key), own_key)

    def step(self, state: State, action: jax.Array) -> State:
        key = state.info["noise_key"]
        inner_info = {k: v for k, v in state.info.items() if k != "noise_key"}
        inner_obs = state.obs[: self.inner_size]
        stepped = self.env.step(state.replace(obs=inner_obs, info=inner_info), action)
        return self._append_noise(stepped, key)

    @property
    def observation_spec(self) -> BoxSpec:
        inner = self.env.observation_spec
        low = np.concatenate([inner.low, np.full(self.num_channels, -np.inf, np.float32)])
        high = np.concatenate([inner.high, np.full(self.num_channels, np.inf, np.float32)])
        return BoxSpec(shape=(self.inner_size + self.num_channels,), dtype=np.float32, low=low, high=high)

    def __repr__(self) -> str:
        return f"NoiseChannels({self.env!r}, num_channels={self.num_channels}, std={self.std})"


class ShuffleObservation(Wrapper):
    """Presents a flat observation in a random order: `obs_out = obs_in[perm]`.

    A permutation is drawn at every reset. With `reshuffle_every=K` a new one is
    drawn after every K steps of the episode (after steps K, 2K, ...), so the
    observations of steps 1..K-1 use the reset permutation, K..2K-1 the next one.
    `reshuffle_every=None` keeps one permutation per episode.

    The permutation and the steps since reset are in `info["obs_permutation"]`
    and `info["shuffle_steps"]`; `inverse_permutation` recovers the inner order.
    """

    def __init__(self, env: Env, reshuffle_every: int | None = None):
        super().__init__(env)
        if reshuffle_every is not None and (int(reshuffle_every) != reshuffle_every or reshuffle_every < 1):
            raise ValueError(f"reshuffle_every must be a positive integer or None, got {reshuffle_every!r}")
        self.size = _flat_box_size(env, "ShuffleObservation")
        self.reshuffle_every = None if reshuffle_every is None else int(reshuffle_every)

    # Names of the (permutation, key, steps since reset) entries in `State.info`; subclasses that
    # shuffle another axis-0 structure (e.g. patches) rename them so both can be stacked.
    _INFO_KEYS = ("obs_permutation", "shuffle_key", "shuffle_steps")

    def reset(self, key: jax.Array) -> State:
        perm_name, key_name, steps_name = self._INFO_KEYS
        own_key, perm_key, inner_key = jax.random.split(key, 3)
        state = self.env.reset(inner_key)
        permutation = jax.random.permutation(perm_key, self.size).astype(jnp.int32)
        info = {**state.info, perm_name: permutation, key_name: own_key, steps_name: jnp.zeros((), jnp.int32)}
        return state.replace(obs=state.obs[permutation], info=info)

    def step(self, state: State, action: jax.Array) -> State:
        perm_name, key_name, steps_name = self._INFO_KEYS
        permutation = state.info[perm_name]
        inner_info = {k: v for k, v in state.info.items() if k not in self._INFO_KEYS}
        inner_obs = state.obs[inverse_permutation(permutation)]
        stepped = self.env.step(state.replace(obs=inner_obs, info=inner_info), action)
        steps = state.info[steps_name] + 1
        key = state.info[key_name]
        if self.reshuffle_every is not None:  # static: resolved at trace time
            key, perm_key = jax.random.split(key)
            fresh = jax.random.permutation(perm_key, self.size).astype(jnp.int32)
            reshuffle = (steps % self.reshuffle_every) == 0
            permutation = jnp.where(reshuffle, fresh, permutation)
        info = {**stepped.info, perm_name: permutation, key_name: key, steps_name: steps}
        return stepped.replace(obs=stepped.obs[permutation], info=info)

    @property
    def observation_spec(self) -> BoxSpec:
        # Bounds are permuted per episode, so only bounds shared by all elements survive.
        inner = self.env.observation_spec
        low = np.full(self.size, np.min(inner.low), inner.dtype)
        high = np.full(self.size, np.max(inner.high), inner.dtype)
        return BoxSpec(shape=inner.shape, dtype=inner.dtype, low=low, high=high)

    def __repr__(self) -> str:
        return f"ShuffleObservation({self.env!r}, reshuffle_every={self.reshuffle_every})"


def inverse_permutation(permutation: jax.Array) -> jax.Array:
    """`inv` with `inv[permutation[i]] = i`; `x_shuffled[inv] == x` for `x_shuffled = x[permutation]`."""
    return jnp.argsort(permutation).astype(jnp.int32)


def with_observation_transforms(
    env: Env,
    *,
    shuffle: bool = False,
    reshuffle_every: int | None = None,
    noise_channels: int = 0,
    noise_std: float = 0.1,
) -> Env:
    """Composes the transforms in the paper's order: append noise, then shuffle all channels.

    `reshuffle_every` implies `shuffle`. Returns `env` unchanged when nothing is asked for.
    """
    if noise_channels < 0:
        raise ValueError(f"noise_channels must be >= 0, got {noise_channels}")
    if noise_channels:
        env = NoiseChannels(env, noise_channels, noise_std)
    if shuffle or reshuffle_every is not None:
        env = ShuffleObservation(env, reshuffle_every)
    return env


def unshuffled_observation(state: State, inner_size: int) -> jax.Array:
    """The first `inner_size` elements of the observation in the inner order.

    Undoes `ShuffleObservation` (using `info["obs_permutation"]`) and drops the
    channels `NoiseChannels` appended; works unbatched (`obs [n]`) or batched
    (`obs [B, n]`). A teacher that needs the clean observation reads this.
    """
    obs = state.obs
    if "obs_permutation" in state.info:
        inverse = jnp.argsort(state.info["obs_permutation"], axis=-1)
        obs = jnp.take_along_axis(obs, inverse, axis=-1)
    return obs[..., :inner_size]
