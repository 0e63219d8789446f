"""Small parameter sets shipped with the repo: the HPP controller and predictor.

Each is a directory in simlab's one save format (`agents.checkpoint.save_params`: orbax, with
checksums and a JSON `meta` that records the command that produced it). Written atomically;
loading checks every array's shape and dtype against the expected structure.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from simlab.agents import checkpoint

ASSETS = Path(__file__).resolve().parent / "assets"
CONTROLLER = ASSETS / "controller"
PREDICTOR = ASSETS / "predictor"


class AssetError(RuntimeError):
    """A shipped parameter file is missing, corrupt, or of the wrong shape."""


def save_tree(path: Path, tree: Any, meta: dict[str, Any]) -> Path:
    """Writes `tree` (any pytree of arrays) and `meta` to the directory `path` atomically."""
    return checkpoint.save_params(path, tree, meta)


def load_tree(path: Path, template: Any) -> tuple[Any, dict[str, Any]]:
    """Reads a directory written by `save_tree` into the structure of `template`."""
    try:
        return checkpoint.load_params(path, template)
    except FileNotFoundError:
        raise AssetError(f"{path} does not exist; run `simlab rendezvous train` to create it") from None
    except checkpoint.CheckpointMismatchError as err:
        raise AssetError(f"{path} holds parameters of other shapes than this code expects ({err}); re-create it "
                         "with `simlab rendezvous train`") from None
    except checkpoint.CheckpointError as err:
        raise AssetError(f"{path} is corrupt ({err}); re-create it with `simlab rendezvous train`") from None
