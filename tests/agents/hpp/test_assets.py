"""The shipped HPP parameters load, behave, and bad files are reported."""
import shutil

import jax
import jax.numpy as jnp
import pytest

from simlab.agents.hpp import assets, prediction
from simlab.agents.hpp.controller import load_controller
from simlab.agents.hpp.training import PREDICTION, load_predictor


def test_shipped_controller_and_predictor_load():
    controller = load_controller()
    assert jax.jit(controller)(jnp.zeros(67), jax.random.key(0)).shape == (2,)
    net, params = load_predictor()
    offsets = jax.jit(net.apply)(params, jnp.zeros((5, prediction.FEATURE_SIZE)))
    assert offsets.shape == (5, PREDICTION.horizon, 2) and bool(jnp.all(jnp.isfinite(offsets)))
    _, meta = assets.load_tree(assets.PREDICTOR, params)
    report = meta["report"]  # written by `simlab rendezvous train`: held-out errors of the shipped predictor
    assert report["heldout"]["learned_error_m"] < report["heldout"]["straight_line_error_m"]


def test_bad_asset_files_raise(tmp_path):
    assets.save_tree(tmp_path / "ok", {"w": jnp.arange(3.0)}, {"command": "test"})
    with pytest.raises(assets.AssetError, match="other shapes"):
        assets.load_tree(tmp_path / "ok", {"w": jnp.zeros(4)})
    with pytest.raises(assets.AssetError, match="does not exist"):
        assets.load_tree(tmp_path / "missing", {"w": jnp.zeros(3)})
    tree, meta = assets.load_tree(tmp_path / "ok", {"w": jnp.ones(3)})
    assert meta == {"command": "test"} and tree["w"].tolist() == [0.0, 1.0, 2.0]
    shutil.copytree(tmp_path / "ok", tmp_path / "broken")
    victim = max((p for p in (tmp_path / "broken").rglob("*") if p.is_file() and "ocdbt" in str(p)),
                 key=lambda p: p.stat().st_size)
    victim.write_bytes(b"\0" * victim.stat().st_size)  # zeroed array data
    with pytest.raises(assets.AssetError, match="corrupt"):
        assets.load_tree(tmp_path / "broken", {"w": jnp.zeros(3)})
