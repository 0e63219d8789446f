"""An on-device uniform replay buffer as a frozen dataclass of pure functions.

    buffer = make_replay_buffer(capacity=100_000, example=transition_without_batch_axis)
    data = buffer.init()
    data = buffer.add(data, batch)            # batch: leaves [n, ...]
    sample = buffer.sample(data, key, 256)    # leaves [256, ...]

Storage is a ring: once full, the oldest entries are overwritten. Shapes are
fixed, so `add` and `sample` jit once and contain no branches. An item may be
anything of fixed shape, e.g. a whole batch of episodes (behaviour cloning's
aggregated data set keeps its last K batches this way, reading them back with `get`).
"""
from __future__ import annotations

import dataclasses
from typing import Any

import chex
import jax
import jax.numpy as jnp

from simlab.engine.struct import pytree_dataclass


@pytree_dataclass
class ReplayData:
    storage: Any  # leaves [capacity, ...]
    position: jax.Array  # int32, next write index
    size: jax.Array  # int32, number of valid entries


@dataclasses.dataclass(frozen=True)
class ReplayBuffer:
    capacity: int
    example: Any

    def init(self) -> ReplayData:
        def zeros(x):
            x = x if isinstance(x, jax.ShapeDtypeStruct) else jnp.asarray(x)
            return jnp.zeros((self.capacity, *x.shape), x.dtype)

        return ReplayData(jax.tree_util.tree_map(zeros, self.example), jnp.zeros((), jnp.int32),
                          jnp.zeros((), jnp.int32))

    def add(self, data: ReplayData, batch: Any) -> ReplayData:
        """Writes the `n` items of `batch` (the buffer's item structure, every leaf `[n, *item_shape]`)."""
        n = jax.tree_util.tree_leaves(batch)[0].shape[0]
        if n > self.capacity:
            raise ValueError(f"cannot add {n} items to a replay buffer of capacity {self.capacity}")
        chex.assert_trees_all_equal_structs(batch, data.storage)  # a leaf of another shape would broadcast silently
        jax.tree_util.tree_map(lambda s, b: chex.assert_shape(b, (n, *s.shape[1:]), custom_message=(
            f"replay add: every leaf of the batch must be [n={n}, *item_shape]")), data.storage, batch)
        index = (data.position + jnp.arange(n)) % self.capacity
        storage = jax.tree_util.tree_map(lambda s, b: s.at[index].set(b.astype(s.dtype)), data.storage, batch)
        return ReplayData(storage, (data.position + n) % self.capacity, jnp.minimum(data.size + n, self.capacity))

    def sample(self, data: ReplayData, key: jax.Array, batch_size: int) -> Any:
        """Uniform sample (with replacement) of `batch_size` valid entries; needs size >= 1."""
        return self.get(data, jax.random.randint(key, (batch_size,), 0, jnp.maximum(data.size, 1)))

    def get(self, data: ReplayData, index: jax.Array) -> Any:
        """The entries at slots `index` (an int array of any shape; a scalar gives one item without batch axis)."""
        return jax.tree_util.tree_map(lambda s: s[index], data.storage)

    def valid(self, data: ReplayData) -> jax.Array:
        """`[capacity]` bool: the slots that hold an item (the ring fills slots 0, 1, ... in order)."""
        return jnp.arange(self.capacity) < data.size

    def newest(self, data: ReplayData) -> jax.Array:
        """The slot of the item added last (needs size >= 1)."""
        return (data.position - 1) % self.capacity


def make_replay_buffer(capacity: int, example: Any) -> ReplayBuffer:
    """A buffer holding `capacity` items shaped like `example` (a pytree without batch axis, of arrays or
    `jax.ShapeDtypeStruct`s, e.g. from `jax.eval_shape`)."""
    if not isinstance(capacity, int) or capacity < 1:
        raise ValueError(f"replay capacity must be a positive int, got {capacity!r}")
    return ReplayBuffer(capacity, example)
