"""The table of the plug-in's models, and their configs as JSON.

| name | model | trained with | acts by |
|---|---|---|---|
| `ebm_langevin` | energy model (`ebm`) | InfoNCE, Langevin counter-examples + gradient penalty | Langevin MCMC |
| `ebm_dfo` | energy model (`ebm`) | InfoNCE, uniform counter-examples | derivative-free optimizer |
| `mse` | explicit regression (`mse`) | mean squared error | its output |
| `mdn` | mixture density network (`mdn`) | negative log-likelihood | its most probable component's mean |

`default_config(name, network)` gives the paper's settings for each, with the given network size (the
same for all four in a comparison); task recipes (`tasks`) adjust the costly inference counts.
"""
from __future__ import annotations

import dataclasses
import typing
from typing import Any, Callable

from simlab.plugins.ibc.ebm import EBMConfig, make_ebm
from simlab.plugins.ibc.langevin import LangevinConfig
from simlab.plugins.ibc.mdn import MDNConfig, make_mdn
from simlab.plugins.ibc.model import BCModel
from simlab.plugins.ibc.mse import MSEConfig, make_mse
from simlab.plugins.ibc.networks import NetworkConfig

MODELS: dict[str, tuple[type, Callable[..., BCModel]]] = {
    "ebm_langevin": (EBMConfig, make_ebm),
    "ebm_dfo": (EBMConfig, make_ebm),
    "mse": (MSEConfig, make_mse),
    "mdn": (MDNConfig, make_mdn),
}
MODEL_NAMES = tuple(MODELS)


def check_model_name(name: str) -> str:
    """`name` if it is a model of the table; else ValueError listing them."""
    if name not in MODELS:
        raise ValueError(f"unknown IBC model {name!r}; choose from {', '.join(MODEL_NAMES)}")
    return name


def default_config(name: str, network: NetworkConfig = NetworkConfig()) -> Any:
    """The paper's settings for model `name` with the network `network`."""
    check_model_name(name)
    if name == "ebm_langevin":
        return EBMConfig(network=network, counter_examples="langevin", num_counter_examples=64,
                         train_langevin=LangevinConfig(), inference="langevin", langevin=LangevinConfig())
    if name == "ebm_dfo":
        return EBMConfig(network=network, counter_examples="uniform", num_counter_examples=256, inference="dfo")
    return MODELS[name][0](network=network)


def make_model(name: str, config: Any, obs_size: int, action_size: int) -> BCModel:
    """The `BCModel` of table entry `name` with `config`, for observations [obs_size] and actions [action_size]."""
    config_cls, factory = MODELS[check_model_name(name)]
    if not isinstance(config, config_cls):
        raise TypeError(f"model {name} takes a {config_cls.__name__}, got {type(config).__name__}")
    return factory(name, config, int(obs_size), int(action_size))


def config_to_json(config: Any) -> dict[str, Any]:
    """A config dataclass (nested ones included) as a JSON-able dict."""
    return dataclasses.asdict(config)


def config_from_json(cls: type, data: dict[str, Any]) -> Any:
    """Rebuilds a config dataclass `cls` from `config_to_json`'s dict; nested configs (`NetworkConfig`,
    `LangevinConfig | None`, ...) are recognised by their fields' types. Unknown keys raise ValueError."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError(f"{cls.__name__} has no field(s) {', '.join(unknown)}; valid ones: {', '.join(fields)}")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, value in data.items():
        nested = [t for t in (hints[name], *typing.get_args(hints[name])) if dataclasses.is_dataclass(t)]
        if nested and isinstance(value, dict):
            value = config_from_json(nested[0], value)
        kwargs[name] = value
    return cls(**kwargs)
