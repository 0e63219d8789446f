"""`chunked_vmap`: `jax.vmap` that processes a large batch in cache-sized chunks.

`jax.vmap(step)` over thousands of rigid-body systems makes every intermediate
a `[num_envs, ...]` array; past a few hundred Ant-sized systems they no longer
fit in the CPU caches and every fused kernel streams from main memory.
`chunked_vmap(fn, chunk)` splits the batch into chunks of at most `chunk`
elements and runs `vmap(fn)` on one chunk at a time with `lax.map` (a loop with
a fixed trip count, so still branch-free and differentiable). Batches that are
not a multiple of the chunk are padded by repeating the last element; the
padded results are dropped. On accelerators, or for small per-element state,
use `chunk=None` (plain `vmap`).
"""
from __future__ import annotations

import math
from typing import Any, Callable

import jax
import jax.numpy as jnp


def chunked_vmap(fn: Callable, chunk: int | None, in_axes: Any = 0) -> Callable:
    """Like `jax.vmap(fn, in_axes)` (outputs batched on axis 0), but at most `chunk` elements at a time.

    Args:
      fn: the unbatched function.
      chunk: maximum number of elements vmapped together; None means plain `vmap`.
      in_axes: 0 or None per positional argument (a pytree prefix, as for `jax.vmap`).
    """
    batched_fn = jax.vmap(fn, in_axes=in_axes)
    if chunk is None:
        return batched_fn
    if int(chunk) != chunk or chunk < 1:
        raise ValueError(f"chunk must be a positive integer or None, got {chunk!r}")

    def run(*args):
        axes = in_axes if isinstance(in_axes, (tuple, list)) else (in_axes,) * len(args)
        if len(axes) != len(args):
            raise ValueError(f"in_axes has {len(axes)} entries for {len(args)} arguments")
        flags = [jax.tree.map(lambda _, a=a: a == 0, arg) if a is not None else jax.tree.map(lambda _: False, arg)
                 for arg, a in zip(args, axes)]
        leaves, treedef = jax.tree.flatten(args)
        is_batched = jax.tree.leaves(flags)
        sizes = {x.shape[0] for x, b in zip(leaves, is_batched) if b}
        if len(sizes) != 1:
            raise ValueError(f"batched arguments must share one leading size, got {sorted(sizes)}")
        size = sizes.pop()
        if size <= chunk:
            return batched_fn(*args)
        num_chunks = math.ceil(size / chunk)
        per_chunk = math.ceil(size / num_chunks)
        padded = num_chunks * per_chunk

        def split(x):
            if padded > size:
                x = jnp.concatenate([x, jnp.repeat(x[-1:], padded - size, axis=0)])
            return x.reshape((num_chunks, per_chunk) + x.shape[1:])

        chunks = [split(x) for x, b in zip(leaves, is_batched) if b]

        def one(chunk_leaves):
            it = iter(chunk_leaves)
            return batched_fn(*jax.tree.unflatten(treedef, [next(it) if b else x for x, b in zip(leaves, is_batched)]))

        out = jax.lax.map(one, chunks)
        return jax.tree.map(lambda y: y.reshape((padded,) + y.shape[2:])[:size], out)

    return run
