"""Data-parallel execution: shard the environment batch over devices and hosts.

On one host, `make_mesh()` spans all local devices; with several hosts (after
`initialize_multihost`) it spans all devices of all processes. The batch axis
of every state leaf is split over the mesh axis "envs"; XLA's SPMD partitioner
runs each shard on its device, so the same jitted program serves 1 or N
devices. Random draws use JAX's partitionable threefry, so a sharded run gives
the same numbers as a single-device run.

    mesh = engine.sharding.make_mesh()
    reset, rollout = engine.sharding.make_sharded_rollout(env, policy, 128, mesh)
    state = reset(key)
    state, transitions = rollout(state, key)

On CPU, emulate devices with `XLA_FLAGS=--xla_force_host_platform_device_count=4`.
"""
from __future__ import annotations

from typing import Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from simlab.engine.env import Env
from simlab.engine.rollout import Policy, make_rollout

AXIS = "envs"

# Identical random streams whatever the sharding (the default on recent JAX; made explicit).
jax.config.update("jax_threefry_partitionable", True)


def make_mesh(devices: Sequence[jax.Device] | None = None, axis_name: str = AXIS) -> Mesh:
    """A 1-D mesh over `devices` (default: every device of every process)."""
    devices = list(jax.devices() if devices is None else devices)
    if not devices:
        raise ValueError("make_mesh needs at least one device")
    return Mesh(np.array(devices), (axis_name,))


def batch_sharding(mesh: Mesh, batch_axis: int = 0) -> NamedSharding:
    """Sharding that splits array axis `batch_axis` over the mesh's first axis."""
    spec = [None] * batch_axis + [mesh.axis_names[0]]
    return NamedSharding(mesh, PartitionSpec(*spec))


def replicated(mesh: Mesh) -> NamedSharding:
    """Sharding that keeps a full copy on every device."""
    return NamedSharding(mesh, PartitionSpec())


def check_divisible(num_envs: int, mesh: Mesh) -> None:
    """Raises ValueError unless `num_envs` splits evenly over the mesh."""
    size = mesh.devices.size
    if num_envs % size:
        raise ValueError(
            f"num_envs={num_envs} does not divide evenly over {size} devices; "
            f"use a multiple of {size} (e.g. {size * max(1, round(num_envs / size))})"
        )


def make_sharded_rollout(env: Env, policy: Policy, num_steps: int, mesh: Mesh):
    """Jitted `(reset(key) -> state, rollout(state, key) -> (state, transitions))`.

    `env` must be batched (`num_envs` divisible by the mesh size). States are
    sharded on axis 0; transitions (`[num_steps, num_envs, ...]`) on axis 1.
    """
    num_envs = getattr(env, "num_envs", None)
    if num_envs is None:
        raise TypeError("make_sharded_rollout needs a batched env, e.g. envs.make(name, num_envs=n)")
    check_divisible(num_envs, mesh)
    state_sharding = batch_sharding(mesh, 0)
    step_sharding = batch_sharding(mesh, 1)
    reset = jax.jit(env.reset, in_shardings=replicated(mesh), out_shardings=state_sharding)
    rollout = jax.jit(
        make_rollout(env, policy, num_steps),
        in_shardings=(state_sharding, replicated(mesh)),
        out_shardings=(state_sharding, step_sharding),
    )
    return reset, rollout


def initialize_multihost(coordinator_address: str, num_processes: int, process_id: int,
                         cpu_collectives: str | None = "gloo", heartbeat_timeout_s: int | None = None) -> None:
    """Joins a multi-process (multi-host) JAX job via `jax.distributed.initialize`.

    Call once per process, before any other JAX call. On CPU, cross-process
    collectives need an implementation ("gloo"); on GPU/TPU pass None.
    Afterwards `make_mesh()` spans all processes' devices; feed each process's
    local slice of a global batch with `global_batch`.

    When a process dies, the others block in their next collective until the
    coordination service misses `heartbeat_timeout_s` seconds of its heartbeats
    (None: JAX's default, 100 s); then they abort with an error naming the dead
    task ("heartbeat timeout"). A smaller value detects a crash sooner but
    tolerates shorter network stalls.
    """
    if not 0 <= process_id < num_processes:
        raise ValueError(f"process_id must be in [0, {num_processes}), got {process_id}")
    kwargs = {}
    if heartbeat_timeout_s is not None:
        if isinstance(heartbeat_timeout_s, bool) or not isinstance(heartbeat_timeout_s, int) or heartbeat_timeout_s < 1:
            raise ValueError(f"heartbeat_timeout_s must be an int >= 1 (seconds) or None, got {heartbeat_timeout_s!r}")
        kwargs["heartbeat_timeout_seconds"] = heartbeat_timeout_s
    if cpu_collectives is not None:
        jax.config.update("jax_cpu_collectives_implementation", cpu_collectives)
    jax.distributed.initialize(coordinator_address=coordinator_address, num_processes=num_processes,
                               process_id=process_id, **kwargs)


def global_batch(local_tree, mesh: Mesh, batch_axis: int = 0):
    """Assembles per-process slices into global arrays sharded on `batch_axis`."""
    sharding = batch_sharding(mesh, batch_axis)
    return jax.tree_util.tree_map(lambda x: jax.make_array_from_process_local_data(sharding, x), local_tree)
