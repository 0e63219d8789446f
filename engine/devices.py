"""Which devices a batch of environments runs on: every core of a CPU host, or the devices you pick.

XLA runs one jitted program on about one CPU core. On a CPU host, JAX therefore uses every core only
when it declares one CPU device per core and the environment batch is split over them. Do it once,
before anything else touches JAX:

    import simlab.engine as engine
    engine.use_all_cpu_cores()          # one CPU device per available core
    env = envs.make("ant", num_envs=4096)   # split over all of them, by default

`envs.make(..., num_envs=n)` shards the batch over `batch_devices("all")` (the process's local devices);
`devices=1` (or None) keeps it on one device, `devices=k` takes the first k, and a list of
`jax.Device`s takes those. On a GPU or TPU host, the local devices are the accelerators and
`use_all_cpu_cores` changes nothing they run on.
"""
from __future__ import annotations

import os
import warnings
from typing import Sequence, Union

import jax
from jax._src import xla_bridge
from jax.sharding import Mesh

from simlab.engine.sharding import make_mesh

Devices = Union[str, int, Sequence[jax.Device], None]

_FORCED_FLAG = "xla_force_host_platform_device_count"


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask; `os.cpu_count()` where that is unknown)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _backends_started() -> bool:
    return bool(xla_bridge.backends_are_initialized())  # no public query exists; JAX itself checks this


def use_all_cpu_cores(count: int | None = None, quiet: bool = False) -> int:
    """Declares `count` CPU devices (default: one per available core) so that batches use every core.

    Call it right after importing, before any JAX computation (including `envs.make`, which looks the
    devices up). `XLA_FLAGS=--xla_force_host_platform_device_count=N`, when set, takes precedence and
    is left alone. Returns the number of CPU devices in effect.

    If JAX has already started with a different number of CPU devices, the count cannot change any
    more: a `RuntimeWarning` says so and how to fix it (unless `quiet`), and the current count is
    returned.
    """
    want = available_cores() if count is None else count
    if isinstance(want, bool) or not isinstance(want, int) or want < 1:
        raise ValueError(f"use_all_cpu_cores(count) takes a positive int (CPU devices) or None for one per core, "
                         f"got {count!r}")
    if _FORCED_FLAG in os.environ.get("XLA_FLAGS", ""):
        return len(jax.devices("cpu"))
    if not _backends_started():
        jax.config.update("jax_num_cpu_devices", want)
        return want
    have = len(jax.devices("cpu"))
    if have != want and not quiet:
        warnings.warn(f"use_all_cpu_cores(): JAX has already started with {have} CPU device(s), so {want} cannot be "
                      f"declared any more; call simlab.engine.use_all_cpu_cores() right after the imports, before "
                      f"any JAX computation or envs.make (or set XLA_FLAGS=--{_FORCED_FLAG}={want} before Python "
                      f"starts)", RuntimeWarning, stacklevel=2)
    return have


def batch_devices(devices: Devices = "all") -> list[jax.Device]:
    """The devices an environment batch is split over.

    devices: "all" (every local device of the default backend), None or 1 (the first one only), an
    int k (the first k), or a sequence of `jax.Device`s. Raises ValueError (naming the fix) for
    anything else, or for more devices than there are.
    """
    local = jax.local_devices()
    if isinstance(devices, str):
        if devices != "all":
            raise ValueError(f"devices={devices!r}: pass 'all', None (one device), an int or a list of jax.Device")
        return list(local)
    if devices is None:
        return list(local[:1])
    if isinstance(devices, int) and not isinstance(devices, bool):
        if not 1 <= devices <= len(local):
            raise ValueError(f"devices={devices}: this process has {len(local)} local device(s) "
                             f"({local[0].platform}); pass 1..{len(local)}, 'all', or call "
                             "engine.use_all_cpu_cores() first to get one CPU device per core")
        return list(local[:devices])
    if isinstance(devices, Sequence) and devices and all(isinstance(d, jax.Device) for d in devices):
        return list(devices)
    raise ValueError(f"devices={devices!r}: pass 'all', None (one device), an int or a non-empty list of jax.Device")


# With devices="all", environments whose step is cheap (no `vmap_chunk`: classic control) are split only when each
# device gets at least this many: below it, the devices' per-step synchronisation costs more than it saves
# (pendulum, 2 CPU devices: 64 envs 1.3M env-steps/s split against 7.7M on one device; 4,096: 17.6M against 11.1M).
CHEAP_MIN_PER_DEVICE = 512


def batch_mesh(num_envs: int, devices: Devices = "all", min_per_device: int = 1) -> Mesh | None:
    """The 1-D mesh (axis "envs") a batch of `num_envs` is split over, or None for one device.

    Uses at most `num_envs // min_per_device` of `batch_devices(devices)`; a batch that does not divide the
    device count is padded inside each step (see `engine.batching.sharded_vmap`), so any `num_envs` works.
    """
    chosen = batch_devices(devices)[: max(1, int(num_envs) // max(1, int(min_per_device)))]
    return make_mesh(chosen) if len(chosen) > 1 else None


def env_batch_mesh(env, num_envs: int, devices: Devices = "all") -> Mesh | None:
    """`batch_mesh` for a batch of `env` (an `engine.Env`): with devices="all", an env with a cheap step (its
    unwrapped class sets no `vmap_chunk`) is split only over devices that get `CHEAP_MIN_PER_DEVICE` each."""
    cheap = isinstance(devices, str) and devices == "all" and getattr(env.unwrapped, "vmap_chunk", None) is None
    return batch_mesh(num_envs, devices, CHEAP_MIN_PER_DEVICE if cheap else 1)
