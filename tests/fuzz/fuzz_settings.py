"""Hypothesis settings shared by the fuzz targets (issue 26): deterministic, bounded in the default suite.

Every target has a bounded test in the default suite (`DEFAULT_EXAMPLES`-sized) and a `slow`-marked deep
run of the same property (`DEEP_EXAMPLES`-sized). `derandomize=True` makes hypothesis derive its examples
from the test's own source, so every run of the suite tries the same inputs; `database=None` keeps no
example database and its caches live in the system temporary directory (no files in the repository, no
state carried between runs).
"""
from __future__ import annotations

import os
import tempfile

from hypothesis import HealthCheck, settings
from hypothesis.configuration import set_hypothesis_home_dir

# Hypothesis caches constants and unicode tables in ./.hypothesis; keep them out of the working directory.
set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "simlab_hypothesis"))

COMMON = dict(derandomize=True, database=None, deadline=None, print_blob=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                     HealthCheck.filter_too_much, HealthCheck.data_too_large])


def bounded(max_examples: int) -> settings:
    """Settings of a default-suite fuzz test with `max_examples` examples."""
    return settings(max_examples=max_examples, **COMMON)


def deep(max_examples: int) -> settings:
    """Settings of a `slow`-marked deep run with `max_examples` examples."""
    return settings(max_examples=max_examples, **COMMON)


def jax_internal(err: BaseException) -> bool:
    """True if `err` was raised from inside JAX (its type or the frame that raised it lives in jax/jaxlib)."""
    module = type(err).__module__ or ""
    if module.startswith(("jax", "jaxlib")):
        return True
    tb = err.__traceback__
    last = None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    if last is None:
        return False
    filename = last.tb_frame.f_code.co_filename.replace("\\", "/")
    return "/jax/" in filename or "/jaxlib/" in filename
