"""Opt-in NaN debugging with `jax.experimental.checkify`.

Non-finite values are not checked in the hot path: a NaN produced inside
`step` propagates through the state (and, in a batch, stays confined to the
environment that produced it). The gymnasium adapters raise
`NonFiniteStateError` as soon as such an observation reaches the host. To find
*where* the NaN first appears, wrap the step:

    step = engine.debug.checked(env.step)
    state = step(state, action)   # raises with the primitive and source line

This is slower (every floating-point op is checked) and meant for debugging.
"""
from __future__ import annotations

from typing import Callable

import jax
import numpy as np
from jax.experimental import checkify

FLOAT_ERRORS = checkify.float_checks | checkify.user_checks | checkify.index_checks


def checked(fn: Callable, *, jit: bool = True) -> Callable:
    """Returns `fn` that raises `NonFiniteError` at the first NaN/inf or division by zero.

    The error message names the primitive (e.g. `sqrt`, `div`) and the source
    line of our code that generated the non-finite value.
    """
    checked_fn = checkify.checkify(fn, errors=FLOAT_ERRORS)
    if jit:
        checked_fn = jax.jit(checked_fn)

    def run(*args, **kwargs):
        err, out = checked_fn(*args, **kwargs)
        exc = err.get_exception()
        if exc is not None:
            raise NonFiniteError(f"{exc} at {_source_location(exc)}") from exc
        return out

    run.__doc__ = f"checkify-checked version of {getattr(fn, '__qualname__', fn)!s}"
    return run


class NonFiniteError(FloatingPointError):
    """A checked function produced NaN/inf or divided by zero; the message names where."""


def _source_location(exc) -> str:
    """The innermost non-JAX frame of a checkify error, as 'file:line (function)'."""
    traceback_info = getattr(exc, "traceback_info", None)
    frames = list(getattr(traceback_info, "frames", []) or [])
    ours = [f for f in frames if "/jax/" not in f.file_name and "/jaxlib/" not in f.file_name]
    if not ours:
        return "an unknown location"
    frame = ours[0]
    return f"{frame.file_name}:{frame.line_num} ({frame.function_name})"


def find_nonfinite(tree) -> list[str]:
    """Paths of the leaves of `tree` (host or device arrays) that hold NaN/inf."""
    bad = []
    for path, leaf in jax.tree_util.tree_leaves_with_path(tree):
        arr = np.asarray(leaf)
        if arr.dtype.kind in "fc" and not np.all(np.isfinite(arr)):
            bad.append(jax.tree_util.keystr(path))
    return bad
