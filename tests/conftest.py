"""Shared test configuration: persistent compilation cache and jitted fixtures."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

# The suite runs in 2 pytest-xdist workers (pyproject addopts): on a GPU, neither may grab most of its memory.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
# One cache for the whole suite (and across CI steps); compiled programs are reused.
os.environ.setdefault("SIMLAB_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".jax_cache"))

from engine.cache import enable_compilation_cache  # noqa: E402

enable_compilation_cache(os.environ["SIMLAB_CACHE_DIR"])

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT
