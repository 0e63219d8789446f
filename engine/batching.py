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

`sharded_vmap(fn, chunk, mesh)` splits the batch over the devices of a 1-D mesh
with `shard_map` and runs `chunked_vmap` on each device's share (`shard_batched` does
the same for any batched function); batches that do not divide the device count are
padded. On a CPU host,
XLA runs one jitted program on about one core; declaring one CPU device per core
(`jax.config.update("jax_num_cpu_devices", os.cpu_count())` before JAX starts, or
`XLA_FLAGS=--xla_force_host_platform_device_count=N`) and sharding the batch over
them uses every core.

jaxlib's batched LAPACK kernels (Cholesky, triangular solves) split a batch
over the shared intra-op thread pool once it holds enough work. When several
CPU devices run at the same time, their programs occupy that pool and a split
kernel waits forever for workers (a deadlock). Per-device chunks therefore
stay below `lapack_serial_batch(n)`, the largest batch jaxlib runs serially.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import jax
import jax.numpy as jnp
from jax.sharding import Mesh, PartitionSpec

# jaxlib (cpu/lapack_kernels.cc) runs a batched kernel serially while
# batch * cost_per_matrix < 200000 FLOP, with cost n**3 // 3 for an n x n Cholesky.
_LAPACK_MIN_PARALLEL_WORK = 200_000


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
        axes = _batched_flags(args, in_axes)
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


def lapack_serial_batch(n: int) -> int:
    """Largest batch of `n x n` Cholesky factorizations that jaxlib's CPU LAPACK runs on one thread.

    Also bounds the triangular solves that follow (cost `n**2` per vector).
    """
    if int(n) != n or n < 1:
        raise ValueError(f"matrix size must be a positive integer, got {n!r}")
    cost = max(1, int(n) ** 3 // 3)
    return max(1, (_LAPACK_MIN_PARALLEL_WORK - 1) // cost)


def _batched_flags(args, in_axes):
    axes = in_axes if isinstance(in_axes, (tuple, list)) else (in_axes,) * len(args)
    if len(axes) != len(args):
        raise ValueError(f"in_axes has {len(axes)} entries for {len(args)} arguments")
    for a in axes:
        if a not in (0, None):
            raise ValueError(f"in_axes entries must be 0 or None, got {a!r}")
    return axes


def sharded_vmap(fn: Callable, chunk: int | None, mesh: Mesh | None, in_axes: Any = 0) -> Callable:
    """`chunked_vmap(fn, chunk, in_axes)` with the batch split over the devices of `mesh`.

    Args:
      fn: the unbatched function.
      chunk: per-device chunk (see `chunked_vmap`); None means plain `vmap` on each device.
      mesh: a 1-D `jax.sharding.Mesh` (e.g. `engine.sharding.make_mesh()`); None or a
        one-device mesh gives plain `chunked_vmap`.
      in_axes: 0 or None per positional argument (None: replicated on every device).

    Results equal those of `chunked_vmap` (each element is computed the same way); see
    `shard_batched` for batches that do not divide the device count.
    """
    return shard_batched(chunked_vmap(fn, chunk, in_axes), mesh, in_axes)


def shard_batched(local: Callable, mesh: Mesh | None, in_axes: Any = 0) -> Callable:
    """Runs `local`, a function of arrays batched on axis 0, on each device's share of the batch.

    Args:
      local: maps batched arguments `[b, ...]` to outputs batched on axis 0 (`[b, ...]`), element by
        element or not (e.g. `chunked_vmap(fn, chunk)` followed by a per-shard batch operation).
      mesh: a 1-D mesh; None or a one-device mesh returns `local` itself.
      in_axes: 0 or None per positional argument (None: replicated on every device).

    The returned function takes arrays batched on axis 0 and returns outputs batched on axis 0, sharded
    over the mesh. A batch that does not divide the device count is padded (by repeating its last
    element) to the next multiple, and the padded results are dropped: any batch size works, at the
    cost of the padded elements' work.
    """
    if mesh is None or mesh.devices.size == 1:
        return local
    if len(mesh.axis_names) != 1:
        raise ValueError(f"sharding a batch needs a 1-D mesh, got axes {mesh.axis_names}")
    axis = mesh.axis_names[0]
    size = mesh.devices.size

    def run(*args):
        axes = _batched_flags(args, in_axes)
        sizes = {x.shape[0] for arg, a in zip(args, axes) if a == 0 for x in jax.tree.leaves(arg)}
        if len(sizes) != 1:
            raise ValueError(f"batched arguments must share one leading size, got {sorted(sizes)}")
        batch = sizes.pop()
        padded = -(-batch // size) * size
        if padded != batch:
            pad = lambda x: jnp.concatenate([x, jnp.repeat(x[-1:], padded - batch, axis=0)])
            args = tuple(jax.tree.map(pad, arg) if a == 0 else arg for arg, a in zip(args, axes))
        specs = tuple(jax.tree.map(lambda _: PartitionSpec(axis) if a == 0 else PartitionSpec(), arg)
                      for arg, a in zip(args, axes))
        mapped = jax.shard_map(local, mesh=mesh, in_specs=specs, out_specs=PartitionSpec(axis), check_vma=False)
        out = mapped(*args)
        return out if padded == batch else jax.tree.map(lambda y: y[:batch], out)

    return run
