"""The four models behind one interface: equal network sizes, energies of many candidates at once, configs and
parameters that survive a save/load round trip, and a toy fit that each model gets right."""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from simlab.plugins.ibc.artifacts import Trained, load_trained, save_trained
from simlab.plugins.ibc.dfo import DFOConfig
from simlab.plugins.ibc.langevin import LangevinConfig
from simlab.plugins.ibc.models import MODEL_NAMES, config_from_json, config_to_json, default_config, make_model
from simlab.plugins.ibc.networks import NetworkConfig, make_energy_net, make_explicit_net
from simlab.plugins.ibc.normalizer import fit_normalizer
from simlab.plugins.ibc.training import TrainConfig, train

SMALL = NetworkConfig(width=32, depth=1, head_width=16)


def _count(params) -> int:
    return sum(int(np.prod(x.shape)) for x in jax.tree_util.tree_leaves(params))


@pytest.mark.parametrize("network", [NetworkConfig(width=16, depth=1), SMALL], ids=["early", "late"])
def test_energy_and_explicit_nets_have_equal_sizes_and_batched_candidates(network):
    obs_size, action_size = 8, 2
    energy, explicit = make_energy_net(network), make_explicit_net(network, action_size)
    key = jax.random.key(0)
    e_params = energy.init(key, jnp.zeros(obs_size), jnp.zeros((1, action_size)))
    x_params = explicit.init(key, jnp.zeros(obs_size))
    # the same torso: the energy net only adds the action's input weights and has one output instead of A
    action_inputs = action_size * (network.head_width or network.width)
    last = network.head_width or network.width
    assert _count(e_params) - action_inputs == _count(x_params) - (action_size - 1) * (last + 1)
    obs = jax.random.normal(key, (3, obs_size))
    candidates = jax.random.uniform(jax.random.key(1), (3, 5, action_size))
    energies = energy.apply(e_params, obs, candidates)
    assert energies.shape == (3, 5)
    one_by_one = jax.vmap(lambda a: energy.apply(e_params, obs[1], a[None])[0])(candidates[1])
    np.testing.assert_allclose(energies[1], one_by_one, rtol=1e-5, atol=1e-5)


def test_configs_round_trip_through_json_and_reject_unknown_fields():
    for name in MODEL_NAMES:
        config = default_config(name, SMALL)
        assert config_from_json(type(config), config_to_json(config)) == config
    ebm = default_config("ebm_langevin", SMALL)
    with pytest.raises(ValueError, match="no field.*colour"):
        config_from_json(type(ebm), {**config_to_json(ebm), "colour": 1})
    with pytest.raises(ValueError, match="counter_examples = 'gaussian' is not valid"):
        dataclasses.replace(ebm, counter_examples="gaussian")
    with pytest.raises(ValueError, match="unknown IBC model 'ebm'"):
        make_model("ebm", ebm, 4, 1)


def _toy_data(n=512):
    """1-D observations, 1-D actions: a = 0.5 * o (unimodal), in env units."""
    obs = np.random.RandomState(0).uniform(-1, 1, (n, 1)).astype(np.float32)
    return obs, 0.5 * obs


FAST = {
    "ebm_langevin": lambda: dataclasses.replace(
        default_config("ebm_langevin", SMALL), num_counter_examples=8, train_langevin=LangevinConfig(num_steps=5),
        langevin=LangevinConfig(num_steps=30), inference_samples=16,
        refine=LangevinConfig(num_steps=10, noise_scale=0.0), greedy=True),
    "ebm_dfo": lambda: dataclasses.replace(default_config("ebm_dfo", SMALL), num_counter_examples=32,
                                           dfo=DFOConfig(num_samples=256), greedy=True),
    "mse": lambda: default_config("mse", SMALL),
    "mdn": lambda: dataclasses.replace(default_config("mdn", SMALL), num_components=2),
}


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_each_model_fits_a_line_and_survives_save_and_load(name, tmp_path):
    obs, actions = _toy_data()
    normalizer = fit_normalizer(obs, actions)
    model = make_model(name, FAST[name](), 1, 1)
    params, history = train(model, np.asarray(normalizer.obs(obs)), np.asarray(normalizer.action_to_unit(actions)),
                            TrainConfig(steps=400, batch_size=32, log_every=100, learning_rate=3e-3),
                            jax.random.key(0), progress=False)
    assert len(history) == 4 and history[-1]["loss"] < history[0]["loss"]
    trained = Trained(name, model_config := FAST[name](), params, normalizer, {"note": "toy"})
    path = save_trained(tmp_path / name, trained)
    loaded = load_trained(path)
    assert loaded.config == model_config and loaded.meta["note"] == "toy" and loaded.meta["model"] == name
    test_obs = jnp.array([[-0.6], [0.2], [0.8]])
    act = jax.jit(jax.vmap(lambda k, o: loaded.normalizer.action_from_unit(
        loaded.model().act(loaded.params, k, loaded.normalizer.obs(o)))))
    predicted = act(jax.random.split(jax.random.key(2), 3), test_obs)
    np.testing.assert_allclose(predicted, 0.5 * test_obs, atol=0.1)
