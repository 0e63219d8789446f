"""Small parameter files shipped with the repo: the HPP controller and predictor.

Each is one `.npz` holding the flattened parameter pytree plus a JSON header
(`meta`) that records the command that produced it. Written atomically;
loading checks every array's shape against the expected structure.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jax
import numpy as np

from simlab.engine import io

ASSETS = Path(__file__).resolve().parent / "assets"
CONTROLLER = ASSETS / "controller.npz"
PREDICTOR = ASSETS / "predictor.npz"


class AssetError(RuntimeError):
    """A shipped parameter file is missing, corrupt, or of the wrong shape."""


def save_tree(path: Path, tree: Any, meta: dict[str, Any]) -> Path:
    """Writes `tree` (any pytree of arrays) and `meta` to `path` atomically."""
    leaves = jax.tree_util.tree_leaves(jax.device_get(tree))
    arrays = {f"leaf_{i:04d}": np.asarray(x) for i, x in enumerate(leaves)}
    with io.atomic_path(path, ".tmp.npz") as tmp:
        np.savez(tmp, meta=np.array(json.dumps(meta)), **arrays)
    return path


def load_tree(path: Path, template: Any) -> tuple[Any, dict[str, Any]]:
    """Reads a file written by `save_tree` into the structure of `template`."""
    if not path.exists():
        raise AssetError(f"{path} does not exist; run `simlab rendezvous train` to create it")
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            leaves = [data[f"leaf_{i:04d}"] for i in range(len(data.files) - 1)]
    except Exception as err:  # zip/npz/json errors for damaged files
        raise AssetError(f"{path} is corrupt ({type(err).__name__}: {err}); re-create it with "
                         "`simlab rendezvous train`") from None
    expected = jax.tree_util.tree_leaves(template)
    if len(leaves) != len(expected) or any(a.shape != np.shape(b) for a, b in zip(leaves, expected)):
        raise AssetError(f"{path} holds parameters of shapes {[a.shape for a in leaves]} but this code expects "
                         f"{[np.shape(b) for b in expected]}; re-create it with `simlab rendezvous train`")
    return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(template), leaves), meta
