"""What keeps a training run safe, for the driver (`agents.train`): the run directory, divergence and Ctrl-C.

* `prepare_out_dir`: creates and locks the run directory, refusing one that already holds a run unless it is
  resumed in place or `overwrite` is set (then the old run's files, and only they, are deleted);
* `nonfinite_names`: the non-finite losses and learned arrays of a state, checked on the host at log points
  (no branch inside jit);
* `SigintToFlag`: turns the first Ctrl-C into a flag the driver checks at the next iteration boundary.
"""
from __future__ import annotations

import dataclasses
import math
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import jax
import numpy as np

from simlab.agents import run_log
from simlab.agents.run_log import RunLock


def same_dir(a: Path, b: Path) -> bool:
    """Whether `a` and `b` name the same directory (resolved; textually when resolving fails)."""
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def prepare_out_dir(out_dir: Path, in_place: bool, overwrite: bool) -> RunLock:
    """Creates and locks `out_dir`; refuses one that holds a run unless resuming it or `overwrite`."""
    if out_dir.exists() and not out_dir.is_dir():
        raise run_log.RunDirectoryError(f"--out {out_dir} is a file, not a directory; pass a directory path "
                                        "(it is created if missing)")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        lock = RunLock(out_dir).acquire()
    except run_log.RunDirectoryError:
        raise
    except OSError as err:
        reason = err.strerror or str(err)
        raise run_log.RunDirectoryError(f"cannot write to the run directory {out_dir}: {reason}; choose a "
                                        "writable --out") from None
    try:
        if not in_place:
            contents = run_log.run_contents(out_dir)
            if contents and not overwrite:
                raise run_log.RunExistsError(
                    f"{out_dir} already holds a training run ({', '.join(contents)}). To continue it, pass "
                    f"--resume {out_dir}; to keep it and start another, pass a new --out; to delete it and start "
                    "again, pass --overwrite (Python: TrainOptions(resume=...) or overwrite=True)")
            run_log.clear_run(out_dir)  # the previous run (with --overwrite) or files of one that never got going
            if contents:
                run_log.warn(f"--overwrite: deleted the previous run in {out_dir} ({', '.join(contents)})")
    except BaseException as err:
        lock.release()
        if isinstance(err, OSError):
            raise run_log.RunDirectoryError(f"cannot clear the run directory {out_dir}: {err}") from None
        raise
    return lock


def leaf_names(tree) -> list[tuple[str, Any]]:
    """`(path, leaf)` of every leaf of `tree`, the path joined from attribute, key and index names with "/"."""
    out = []
    for keypath, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        name = "/".join(str(getattr(k, "name", getattr(k, "key", getattr(k, "idx", k)))) for k in keypath)
        out.append((name, leaf))
    return out


def nonfinite_names(state, metrics: dict[str, Any] | None) -> list[str]:
    """Names of non-finite losses (in `metrics`) and parameters/optimizer values (in `state`), on the host."""
    bad = []
    for key, value in (metrics or {}).items():
        if ("loss" in key or key == "grad_norm") and not math.isfinite(float(value)):
            bad.append(f"{key} = {float(value)}")
    skip = {"env_state", "replay", "key"}
    fields = {f.name: getattr(state, f.name) for f in dataclasses.fields(state)} if dataclasses.is_dataclass(state) \
        else {"state": state}
    learned = {k: v for k, v in fields.items() if k not in skip}
    for name, leaf in leaf_names(learned):
        if jax.dtypes.issubdtype(getattr(leaf, "dtype", np.float32), jax.dtypes.prng_key):
            continue  # PRNG keys nested in a learner's state (e.g. the ES strategy's)
        arr = np.asarray(jax.device_get(leaf))
        if np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
            bad.append(f"{name} ({int(np.size(arr) - np.isfinite(arr).sum())} of {arr.size} values)")
    return bad


class SigintToFlag:
    """While active (main thread, default handler only), Ctrl-C sets `requested`; a second one aborts."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def __enter__(self) -> "SigintToFlag":
        if threading.current_thread() is threading.main_thread() and \
                signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\nsimlab: Ctrl-C: finishing this iteration, then saving a checkpoint "
              "(press Ctrl-C again to stop at once without saving)", file=sys.stderr, flush=True)

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
