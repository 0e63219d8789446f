"""Shared test configuration: persistent compilation cache and jitted fixtures."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

# The suite runs in 2 pytest-xdist workers (pyproject addopts): on a GPU, neither may grab most of its memory.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
# One cache for the whole suite (and across CI steps); compiled programs are reused.
os.environ.setdefault("SIMLAB_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".jax_cache"))

from simlab.engine.cache import enable_compilation_cache  # noqa: E402

enable_compilation_cache(os.environ["SIMLAB_CACHE_DIR"])

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


# SIMLAB_COMPILE_LOG=path: per test, the number of XLA compilations and the seconds spent tracing, lowering
# and compiling, appended as tab-separated rows to `path.<pid>`. Many small compilations in one test mean
# un-jitted (op-by-op) JAX code; that is where the suite's time goes on 2 cores.
if os.environ.get("SIMLAB_COMPILE_LOG"):
    import jax.monitoring

    _COMPILE_EVENTS: list[tuple[str, float]] = []
    jax.monitoring.register_event_duration_secs_listener(
        lambda event, seconds, **_: _COMPILE_EVENTS.append((event, seconds)) if "/compile/" in event else None)

    @pytest.fixture(autouse=True)
    def _log_compilations(request):
        start = len(_COMPILE_EVENTS)
        yield
        events = _COMPILE_EVENTS[start:]
        total = lambda key: sum(s for e, s in events if e.endswith(key))
        n = sum(1 for e, _ in events if e.endswith("backend_compile_duration"))
        with open(f"{os.environ['SIMLAB_COMPILE_LOG']}.{os.getpid()}", "a") as f:
            f.write(f"{request.node.nodeid}\t{n}\t{total('jaxpr_trace_duration'):.2f}\t"
                    f"{total('jaxpr_to_mlir_module_duration'):.2f}\t{total('backend_compile_duration'):.2f}\n")

