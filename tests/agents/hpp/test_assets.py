"""The shipped HPP parameters load, behave, and bad files are reported."""
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
    bad = tmp_path / "broken.npz"
    bad.write_bytes(b"not a zip file")
    with pytest.raises(assets.AssetError, match="corrupt"):
        assets.load_tree(bad, {"w": jnp.zeros(3)})
    assets.save_tree(tmp_path / "ok.npz", {"w": jnp.zeros(3)}, {"command": "test"})
    with pytest.raises(assets.AssetError, match="shapes"):
        assets.load_tree(tmp_path / "ok.npz", {"w": jnp.zeros(4)})
    with pytest.raises(assets.AssetError, match="does not exist"):
        assets.load_tree(tmp_path / "missing.npz", {"w": jnp.zeros(3)})
    tree, meta = assets.load_tree(tmp_path / "ok.npz", {"w": jnp.ones(3)})
    assert meta == {"command": "test"} and tree["w"].shape == (3,)
