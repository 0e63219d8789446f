"""Persistent JAX compilation cache, so repeated runs skip XLA compilation."""
from __future__ import annotations

import os
from pathlib import Path

import jax

DEFAULT_DIR = Path(os.environ.get("SIMLAB_CACHE_DIR", Path.home() / ".cache" / "simlab" / "jax"))


def enable_compilation_cache(path: str | os.PathLike | None = None, min_compile_time_s: float = 0.5) -> Path:
    """Turns on JAX's persistent compilation cache at `path` (default ~/.cache/simlab/jax).

    Programs that took at least `min_compile_time_s` to compile are stored and
    reloaded by later processes. Set SIMLAB_CACHE_DIR to move it; returns the path.
    """
    directory = Path(path) if path is not None else DEFAULT_DIR
    directory.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(directory))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", float(min_compile_time_s))
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    return directory
