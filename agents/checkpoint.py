"""Atomic, verifiable checkpoints of a whole training state with orbax-checkpoint.

Each checkpoint is a step directory `checkpoints/<step>/` written by orbax to a
temporary name and renamed when complete, so a crash never leaves a half-written
checkpoint that looks valid. After orbax finishes, simlab records the size and
SHA-256 of every file of the step in `simlab_checksums.json`, so damage found
later (a truncated, zeroed or overwritten file) is reported as *damage*, naming
the file, and never mistaken for a checkpoint that *belongs to another config*.
Typed PRNG keys are stored as their raw key data.

Errors:
  CheckpointError            base class: missing, damaged or mismatched checkpoints
  CheckpointDamagedError     a step's files are unreadable or fail their checksums (`.step`, `.file`)
  CheckpointMismatchError    a step reads fine but was written by another agent/env/config
  CheckpointWriteError       a save failed (e.g. a full disk); earlier steps are untouched
"""
from __future__ import annotations

import dataclasses
import errno as errno_lib
import hashlib
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

from simlab.agents import orbax_quiet
from simlab.engine import io

# orbax logs every save at INFO; keep our progress output readable.
logging.getLogger("absl").setLevel(logging.WARNING)

CHECKSUMS = "simlab_checksums.json"
# JSON files orbax writes into every step; unparsable ones mean a damaged step even without checksums.
_JSON_FILES = ("_CHECKPOINT_METADATA", "state/_METADATA", "meta/metadata")


class CheckpointError(RuntimeError):
    """A checkpoint is missing, damaged, or does not match the run that restores it."""


class CheckpointDamagedError(CheckpointError):
    """A checkpoint step whose files are unreadable, truncated or fail their checksums.

    Attributes: `step` (the damaged step) and `file` (the damaged file relative to the step
    directory, or None when the damage could not be pinned to one file).
    """

    def __init__(self, message: str, step: int, file: str | None = None):
        super().__init__(message)
        self.step = step
        self.file = file


class CheckpointMismatchError(CheckpointError):
    """An intact checkpoint that belongs to another agent, environment or config."""


class CheckpointWriteError(CheckpointError):
    """Writing a checkpoint failed (e.g. no space left on device); earlier steps are intact."""


@dataclasses.dataclass
class Restored:
    """The result of `restore_checkpoint`.

    Attributes:
      state: the restored pytree, shaped like the template.
      meta: the JSON metadata saved with it.
      step: the step that was restored.
      skipped: `CheckpointDamagedError`s of newer steps that were damaged and skipped (newest first).
    """

    state: Any
    meta: dict[str, Any]
    step: int
    skipped: list[CheckpointDamagedError]


def _is_key(x) -> bool:
    return isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def _to_savable(tree):
    return jax.tree_util.tree_map(lambda x: jax.random.key_data(x) if _is_key(x) else x, tree)


def _from_savable(tree, template):
    return jax.tree_util.tree_map(lambda x, t: jax.random.wrap_key_data(x, impl=jax.random.key_impl(t))
                                  if _is_key(t) else x, tree, template)


def _manager(directory: Path, max_to_keep: int | None = 3) -> ocp.CheckpointManager:
    options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, enable_async_checkpointing=False)
    return ocp.CheckpointManager(directory.resolve(), options=options)


def _short(err: BaseException, limit: int = 240) -> str:
    """The first line of an exception, whitespace collapsed and cut to `limit` characters."""
    text = " ".join(str(err).strip().splitlines()[0].split()) if str(err).strip() else type(err).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- listing and verification -------------------------------------------------------------------

def steps(directory: str | Path) -> list[int]:
    """The committed checkpoint steps under `directory/checkpoints`, ascending (not verified)."""
    path = Path(directory) / "checkpoints"
    if not path.is_dir():
        return []
    return sorted(int(p.name) for p in path.iterdir() if p.name.isdigit() and p.is_dir())


def latest_step(directory: str | Path) -> int | None:
    """The newest committed checkpoint step under `directory`, or None (not verified: see `verify`)."""
    found = steps(directory)
    return found[-1] if found else None


def _file_digest(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


def _write_checksums(step_dir: Path) -> None:
    files = {}
    for path in sorted(step_dir.rglob("*")):
        if path.is_file() and path.name != CHECKSUMS and not path.name.startswith(f".{CHECKSUMS}"):
            size, sha = _file_digest(path)
            files[path.relative_to(step_dir).as_posix()] = {"size": size, "sha256": sha}
    io.write_json(step_dir / CHECKSUMS, {"version": 1, "files": files}, indent=1)


def _damaged(path: Path, step: int, file: str | None, reason: str) -> CheckpointDamagedError:
    where = f"file {file} " if file else ""
    return CheckpointDamagedError(
        f"checkpoint step {step} under {path} is damaged: {where}{reason}", step, file)


def verify(directory: str | Path, step: int) -> None:
    """Checks checkpoint `step` under `directory` for damage, without a template.

    With `simlab_checksums.json` (every step simlab writes has one) each file's size and
    SHA-256 are compared; without it (older runs, or a crash between the orbax commit and the
    checksum write) the step's JSON files are parsed and its arrays read once.
    Raises `CheckpointDamagedError` naming the step and the damaged file.
    """
    path = Path(directory) / "checkpoints"
    step_dir = path / str(step)
    if not step_dir.is_dir():
        raise CheckpointError(f"no checkpoint step {step} under {path}; available steps: {steps(directory) or 'none'}")
    checksum_path = step_dir / CHECKSUMS
    if checksum_path.exists():
        try:
            files = json.loads(checksum_path.read_text())["files"]
            items = [(name, int(v["size"]), str(v["sha256"])) for name, v in files.items()]
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as err:
            raise _damaged(path, step, CHECKSUMS, f"is corrupt ({_short(err)})") from None
        for name, size, sha in items:
            file_path = step_dir / name
            if not file_path.is_file():
                raise _damaged(path, step, name, "is missing")
            actual_size, actual_sha = _file_digest(file_path)
            if actual_size != size:
                raise _damaged(path, step, name, f"has {actual_size} bytes where {size} were written (truncated "
                                                  "or overwritten)")
            if actual_sha != sha:
                raise _damaged(path, step, name, "is corrupt: its SHA-256 checksum does not match the one "
                                                  "recorded when it was written")
        return
    for name in _JSON_FILES:
        file_path = step_dir / name
        if not file_path.is_file():
            raise _damaged(path, step, name, "is missing")
        try:
            json.loads(file_path.read_bytes().decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as err:
            raise _damaged(path, step, name, f"is corrupt (not valid JSON: {_short(err)})") from None
    _read_raw(path, step)


def _read_raw(path: Path, step: int) -> dict[str, Any]:
    """Restores a step as saved (NumPy arrays, no template); damage raises CheckpointDamagedError."""
    with orbax_quiet.quiet():
        manager = _manager(path, None)
        try:
            return manager.restore(int(step), args=ocp.args.Composite(state=ocp.args.StandardRestore(),
                                                                       meta=ocp.args.JsonRestore()))
        except Exception as err:  # tensorstore/orbax raise ValueError, OSError, JSON and Unicode errors here
            raise _damaged(path, step, None, f"its arrays cannot be read ({_short(err)})") from None
        finally:
            manager.close()


def _flat(tree) -> dict[str, tuple[tuple[int, ...], str]]:
    """`{'a/b/0': (shape, dtype)}` of a pytree, keyed by attribute, dict key or index names."""
    out = {}
    for keypath, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        parts = []
        for k in keypath:
            parts.append(str(getattr(k, "name", getattr(k, "key", getattr(k, "idx", k)))))
        arr = np.asarray(leaf)
        out["/".join(parts)] = (tuple(arr.shape), str(arr.dtype))
    return out


def _describe_mismatch(saved_tree, template) -> str:
    saved, expected = _flat(saved_tree), _flat(template)
    for name in sorted(expected):
        if name in saved and saved[name] != expected[name]:
            (s_shape, s_dtype), (e_shape, e_dtype) = saved[name], expected[name]
            return (f"{name} is {s_dtype}{list(s_shape)} in the checkpoint but {e_dtype}{list(e_shape)} in this run "
                    "(e.g. another network size, num_envs or environment)")
    missing, extra = sorted(set(expected) - set(saved)), sorted(set(saved) - set(expected))
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"this run has {missing[0]!r}" + (f" and {len(missing) - 1} more" if len(missing) > 1 else "")
                         + " that the checkpoint lacks")
        if extra:
            parts.append(f"the checkpoint has {extra[0]!r}" + (f" and {len(extra) - 1} more" if len(extra) > 1 else "")
                         + " that this run lacks")
        return "; ".join(parts) + " (another agent or config)"
    return ""


# --- save and restore ----------------------------------------------------------------------------

def save(directory: str | Path, step: int, state: Any, metadata: dict[str, Any], max_to_keep: int = 3) -> Path:
    """Writes `state` (any pytree) and JSON `metadata` as checkpoint `step` under `directory`.

    The step appears only when complete (orbax writes to a temporary name, then renames), and
    simlab then records the checksums of its files. On any failure (a full disk, a read-only
    directory) the partial step is removed and `CheckpointWriteError` is raised naming the step,
    the reason and the newest earlier step, which is left intact.
    """
    directory = Path(directory) / "checkpoints"
    step = int(step)
    state = jax.device_get(_to_savable(state))
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with orbax_quiet.quiet():
            manager = _manager(directory, max_to_keep)
            try:
                manager.save(step, args=ocp.args.Composite(state=ocp.args.StandardSave(state),
                                                           meta=ocp.args.JsonSave(metadata)), force=True)
                manager.wait_until_finished()
            finally:
                manager.close()
        _write_checksums(directory / str(step))
    except Exception as err:  # orbax wraps OSErrors from tensorstore in several exception types
        _remove_partial_step(directory, step)
        earlier = [s for s in steps(directory.parent) if s != step]
        kept = (f"the previous checkpoint, step {earlier[-1]}, is intact" if earlier
                else "no earlier checkpoint exists")
        hint = "; free some disk space" if _is_no_space(err) else ""
        raise CheckpointWriteError(f"could not write checkpoint step {step} under {directory}: {_short(err)}; "
                                   f"{kept}{hint}") from err
    return directory / str(step)


def _is_no_space(err: BaseException | None) -> bool:
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if (isinstance(err, OSError) and err.errno in (errno_lib.ENOSPC, errno_lib.EDQUOT)) or \
                "No space left on device" in str(err):
            return True
        err = err.__cause__ or err.__context__
    return False


def _remove_partial_step(directory: Path, step: int) -> None:
    """Best effort: deletes the step being written and orbax's temporary directories for it."""
    if not directory.is_dir():
        return
    for path in directory.iterdir():
        if path.name == str(step) or path.name.startswith(f"{step}.orbax-checkpoint-tmp"):
            shutil.rmtree(path, ignore_errors=True)


def _restore_step(path: Path, step: int, template: Any) -> tuple[Any, dict[str, Any]]:
    savable_template = jax.device_get(_to_savable(template))
    with orbax_quiet.quiet():
        manager = _manager(path, None)
        try:
            restored = manager.restore(int(step), args=ocp.args.Composite(
                state=ocp.args.StandardRestore(savable_template), meta=ocp.args.JsonRestore()))
            error = None
        except Exception as err:  # diagnosed below: damaged files, or another config
            restored, error = None, err
        finally:
            manager.close()
    if error is not None:
        raw = _read_raw(path, step)  # raises CheckpointDamagedError if the files themselves are bad
        detail = _describe_mismatch(raw["state"], savable_template)
        if detail:
            raise CheckpointMismatchError(
                f"checkpoint step {step} under {path} is intact but belongs to another config: {detail}. "
                "Resume with the saved run's agent, environment and config (see its config.json), "
                "or start a new run with a different --out") from None
        raise CheckpointError(f"checkpoint step {step} under {path} could not be restored "
                              f"({type(error).__name__}: {_short(error)})") from None
    state, meta = restored["state"], restored["meta"]
    detail = _describe_mismatch(state, savable_template)
    if detail:
        raise CheckpointMismatchError(
            f"checkpoint step {step} under {path} is intact but belongs to another config: {detail}. "
            "Resume with the saved run's agent, environment and config (see its config.json), "
            "or start a new run with a different --out")
    return _from_savable(state, template), meta


def restore_checkpoint(directory: str | Path, template: Any, step: int | None = None, *,
                       fallback: bool = False) -> Restored:
    """Restores a checkpoint shaped like `template` from `directory`, diagnosing what is wrong.

    Args:
      directory: the run directory (holding `checkpoints/`).
      template: a pytree with the structure, shapes and dtypes of the saved state.
      step: the step to restore; None: the newest.
      fallback: with `step=None`, skip damaged steps and restore the newest intact one; the
        skipped steps are listed in `Restored.skipped` (the caller reports them).

    Raises:
      CheckpointDamagedError: the step (with `fallback`: every step) is damaged; names step and file.
      CheckpointMismatchError: the step is intact but was written by another agent/env/config.
      CheckpointError: there is no checkpoint (or no such step).
    """
    path = Path(directory) / "checkpoints"
    available = steps(directory)
    if not available:
        raise CheckpointError(f"no checkpoint found under {path}; train with --out {directory} first, "
                              "or point --resume/--checkpoint at a run directory that has checkpoints/")
    if step is not None and int(step) not in available:
        raise CheckpointError(f"no checkpoint step {step} under {path}; available steps: "
                              f"{', '.join(map(str, available))}")
    candidates = [int(step)] if step is not None else sorted(available, reverse=True)
    skipped: list[CheckpointDamagedError] = []
    for candidate in candidates:
        try:
            verify(directory, candidate)
            state, meta = _restore_step(path, candidate, template)
        except CheckpointDamagedError as err:
            if not fallback or step is not None:
                intact_hint = _earlier_hint(available, candidate)
                raise CheckpointDamagedError(f"{err}{intact_hint}", err.step, err.file) from None
            skipped.append(err)
            continue
        return Restored(state, meta, candidate, skipped)
    details = "; ".join(f"step {e.step}: {e.file or 'arrays'}" for e in skipped)
    raise CheckpointDamagedError(f"every checkpoint under {path} is damaged ({details}); there is nothing to "
                                 "resume from. Start a new run with another --out, or --overwrite this one",
                                 skipped[0].step, skipped[0].file)


def _earlier_hint(available: list[int], damaged: int) -> str:
    earlier = [s for s in available if s < damaged]
    if not earlier:
        return ". No earlier step exists"
    return (f". Earlier steps exist ({', '.join(map(str, earlier))}): `simlab train --resume` falls back to the "
            "newest intact one, or delete this step directory")


def restore(directory: str | Path, template: Any, step: int | None = None) -> tuple[Any, dict[str, Any]]:
    """Restores `(state, metadata)` shaped like `template` from `directory` (newest step by default).

    Raises `CheckpointError` naming the problem: no checkpoint; `CheckpointDamagedError` when
    the step's files are truncated, zeroed or corrupt (naming step and file, and any intact
    earlier steps); `CheckpointMismatchError` when the step is intact but holds arrays of
    another structure, shape or dtype (another network size, num_envs or environment).
    """
    restored = restore_checkpoint(directory, template, step)
    return restored.state, restored.meta


def quarantine(directory: str | Path, step: int) -> Path:
    """Moves damaged step `step` to `directory/damaged_checkpoints/<step>[-n]` (out of orbax's sight)."""
    source = Path(directory) / "checkpoints" / str(step)
    target_dir = Path(directory) / "damaged_checkpoints"
    target_dir.mkdir(exist_ok=True)
    target = target_dir / str(step)
    n = 1
    while target.exists():
        target = target_dir / f"{step}-{n}"
        n += 1
    os.replace(source, target)
    return target



# --- parameter files ------------------------------------------------------------------------------

def save_params(path: str | Path, tree: Any, meta: dict[str, Any] | None = None) -> Path:
    """Writes a parameter pytree and JSON `meta` as the directory `path`, in the run checkpoints' format
    (orbax, step 0 under `path/checkpoints`, with checksums): the one save format of simlab, used for the
    parameters shipped with the package too. An existing `path` is replaced atomically (the new one is
    written next to it and renamed into place). Returns `path`."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    old = path.with_name(f".{path.name}.old-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        save(tmp, 0, tree, dict(meta or {}), max_to_keep=1)
        if path.exists():
            os.replace(path, old)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return path


def load_params(path: str | Path, template: Any = None) -> tuple[Any, dict[str, Any]]:
    """`(tree, meta)` from a `save_params` directory. With `template` the tree is restored into its structure
    (shapes and dtypes checked: `CheckpointMismatchError` names the first difference); without it, as
    saved (nested dicts and lists of NumPy arrays). Raises FileNotFoundError when there is nothing at
    `path`, and `CheckpointDamagedError` naming the file when it is truncated or corrupt."""
    path = Path(path)
    if not (path / "checkpoints" / "0").is_dir():
        raise FileNotFoundError(f"no saved parameters at {path} (a directory written by save_params)")
    if template is not None:
        return restore(path, template, 0)
    verify(path, 0)
    raw = _read_raw(path / "checkpoints", 0)
    return raw["state"], raw["meta"]
