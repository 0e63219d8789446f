"""Trained models on disk, in simlab's one parameter format (`agents.checkpoint.save_params`, orbax).

One directory per model: its haiku parameters and its normaliser as the saved tree, and as JSON
metadata the model's name and config (enough to rebuild it), the task and options it was trained on,
and how (command, demos, steps, seconds, final training metrics). The shipped ones live in
`plugins/ibc/params/<task tag>/<model>/` (e.g. `params/particle_dim2/ebm_langevin/`).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from simlab.agents.checkpoint import load_params, save_params
from simlab.plugins.ibc.model import BCModel
from simlab.plugins.ibc.models import MODELS, config_from_json, config_to_json, make_model
from simlab.plugins.ibc.normalizer import Normalizer

PARAMS_DIR = Path(__file__).resolve().parent / "params"
FORMAT = 1


@dataclasses.dataclass(frozen=True)
class Trained:
    """A trained model: `name` (a `models.MODELS` key), its `config`, haiku `params`, the `normalizer`
    of its demonstrations, and JSON `meta` (task, options, training record)."""

    name: str
    config: Any
    params: Any
    normalizer: Normalizer
    meta: dict[str, Any]

    @property
    def obs_size(self) -> int:
        return int(self.normalizer.obs_mean.shape[-1])

    @property
    def action_size(self) -> int:
        return int(self.normalizer.action_low.shape[-1])

    def model(self) -> BCModel:
        """The `BCModel` these parameters belong to."""
        return make_model(self.name, self.config, self.obs_size, self.action_size)


def save_trained(path: str | Path, trained: Trained, half: bool = False) -> Path:
    """Writes `trained` as the `save_params` directory `path` (replaced atomically if it exists).

    `half=True` stores the network weights as float16 (the shipped parameters: half the bytes; success
    rates measured unchanged), restored as float32 by `load_trained`. The normaliser stays float32.
    """
    norm = trained.normalizer
    params = jax.tree_util.tree_map(lambda x: np.asarray(x, np.float16 if half else np.float32), trained.params)
    tree = {"params": params, "normalizer": {"obs_mean": norm.obs_mean, "obs_std": norm.obs_std,
                                             "action_low": norm.action_low, "action_high": norm.action_high}}
    meta = {**trained.meta, "format": FORMAT, "model": trained.name, "config": config_to_json(trained.config),
            "weights_dtype": "float16" if half else "float32"}
    return save_params(path, jax.device_get(tree), meta)


def load_trained(path: str | Path) -> Trained:
    """Reads a `save_trained` directory. Raises FileNotFoundError when nothing is there, ValueError when it
    holds something else, and `agents.checkpoint`'s errors for damaged files."""
    tree, meta = load_params(path)
    name = meta.get("model")
    if name not in MODELS or not isinstance(meta.get("config"), dict) or not isinstance(tree, dict) or \
            set(tree) != {"params", "normalizer"}:
        raise ValueError(f"{path} holds parameters, but not of an IBC model written by `simlab ibc train`")
    config = config_from_json(MODELS[name][0], meta["config"])
    params = jax.tree_util.tree_map(lambda x: jnp.asarray(x, jnp.float32), tree["params"])
    normalizer = Normalizer(**{k: jnp.asarray(v, jnp.float32) for k, v in tree["normalizer"].items()})
    return Trained(name, config, params, normalizer, meta)
