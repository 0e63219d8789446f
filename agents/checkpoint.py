"""Atomic checkpoints of a whole training state with orbax-checkpoint.

Each checkpoint is a step directory written by orbax to a temporary name and
renamed when complete, so a crash never leaves a half-written checkpoint that
looks valid. Typed PRNG keys are stored as their raw key data.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

# orbax logs every save at INFO; keep our progress output readable.
logging.getLogger("absl").setLevel(logging.WARNING)


class CheckpointError(RuntimeError):
    """A checkpoint is missing, corrupt, or does not match the run that restores it."""


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


def save(directory: str | Path, step: int, state: Any, metadata: dict[str, Any], max_to_keep: int = 3) -> Path:
    """Writes `state` (any pytree) and JSON `metadata` as checkpoint `step` under `directory`."""
    directory = Path(directory) / "checkpoints"
    directory.mkdir(parents=True, exist_ok=True)
    manager = _manager(directory, max_to_keep)
    state = jax.device_get(_to_savable(state))
    manager.save(int(step), args=ocp.args.Composite(state=ocp.args.StandardSave(state),
                                                    meta=ocp.args.JsonSave(metadata)), force=True)
    manager.wait_until_finished()
    manager.close()
    return directory / str(step)


def latest_step(directory: str | Path) -> int | None:
    """The newest complete checkpoint step under `directory`, or None."""
    path = Path(directory) / "checkpoints"
    if not path.is_dir():
        return None
    manager = _manager(path, None)
    step = manager.latest_step()
    manager.close()
    return step


def restore(directory: str | Path, template: Any, step: int | None = None) -> tuple[Any, dict[str, Any]]:
    """Restores `(state, metadata)` shaped like `template` from `directory`.

    Raises `CheckpointError` naming the problem when there is no checkpoint, the
    files are unreadable, or the stored arrays do not match the template's
    structure, shapes or dtypes (e.g. a different network size or num_envs).
    """
    path = Path(directory) / "checkpoints"
    step = latest_step(directory) if step is None else step
    if step is None:
        raise CheckpointError(f"no checkpoint found under {path}; train with --out {directory} first, "
                              "or point --resume/--checkpoint at a run directory that has checkpoints/")
    savable_template = jax.device_get(_to_savable(template))
    manager = _manager(path, None)
    try:
        restored = manager.restore(int(step), args=ocp.args.Composite(
            state=ocp.args.StandardRestore(savable_template), meta=ocp.args.JsonRestore()))
    except FileNotFoundError as err:
        raise CheckpointError(f"checkpoint step {step} under {path} is incomplete or missing files ({err}); "
                              "delete that step directory and resume from an earlier one") from None
    except ValueError as err:
        raise CheckpointError(f"checkpoint step {step} under {path} does not match this run: {err}. "
                              "Resume with the same agent, environment and config as the saved run") from None
    except Exception as err:  # orbax/tensorstore raise many types for damaged files
        raise CheckpointError(f"checkpoint step {step} under {path} is corrupt or unreadable "
                              f"({type(err).__name__}: {err}); delete it and resume from an earlier step") from None
    finally:
        manager.close()
    state, meta = restored["state"], restored["meta"]
    saved_leaves = jax.tree_util.tree_leaves(state)
    for saved, expected in zip(saved_leaves, jax.tree_util.tree_leaves(savable_template)):
        if np.shape(saved) != np.shape(expected) or np.asarray(saved).dtype != np.asarray(expected).dtype:
            raise CheckpointError(f"checkpoint step {step} under {path} holds an array of shape {np.shape(saved)} "
                                  f"{np.asarray(saved).dtype} where this run expects {np.shape(expected)} "
                                  f"{np.asarray(expected).dtype}; resume with the saved run's config")
    return _from_savable(state, template), meta
