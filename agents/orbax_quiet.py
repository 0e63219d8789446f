"""Keeps orbax's, tensorstore's and absl's logging, warnings and late asyncio reports out of the terminal.

`with quiet(): ...` around every orbax call of `agents.checkpoint`: their INFO logs, deprecation warnings and
the "Event loop is closed" tracebacks that tensorstore's callback threads print after a failed restore would
bury the one-line errors simlab reports.
"""
from __future__ import annotations

import contextlib
import logging
import sys
import warnings

_FILTER_INSTALLED = False


def _is_closed_loop_noise(unraisable) -> bool:
    exc = unraisable.exc_value
    if not (isinstance(exc, RuntimeError) and str(exc) == "Event loop is closed"):
        return False
    tb = unraisable.exc_traceback
    while tb is not None:
        if tb.tb_frame.f_code.co_name in ("call_soon_threadsafe", "_check_closed"):
            return True
        tb = tb.tb_next
    return False


def _install_unraisable_filter() -> None:
    """Drops asyncio's "Event loop is closed" reports from tensorstore's callback threads.

    When orbax's restore fails on a damaged file, tensorstore reads still in flight complete
    after orbax closed its event loop; their callbacks report `RuntimeError: Event loop is
    closed` through `sys.unraisablehook`, dozens of tracebacks after the real error. Only that
    exact report is dropped; everything else goes to the previous hook.
    """
    global _FILTER_INSTALLED
    if _FILTER_INSTALLED:
        return
    previous = sys.unraisablehook

    def hook(unraisable):
        if not _is_closed_loop_noise(unraisable):
            previous(unraisable)

    sys.unraisablehook = hook
    _FILTER_INSTALLED = True


@contextlib.contextmanager
def quiet():
    """Keeps orbax's, tensorstore's and absl's logging and warnings out of the terminal."""
    _install_unraisable_filter()
    loggers = [logging.getLogger(name) for name in ("absl", "orbax", "tensorstore", "jax._src.distributed")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)
