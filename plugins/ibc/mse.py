"""Explicit behavioural cloning: a network regresses the action, trained by mean squared error.

    loss = mean over the batch and action elements of (f(o) - a)^2,     act(o) = clip(f(o), -1, 1)

in normalised units (actions in the [-1, 1] box, see `normalizer`), with the same `NetworkConfig`
as the energy model it is compared with.
"""
from __future__ import annotations

import dataclasses

import jax.numpy as jnp

from simlab.agents.config_validation import validate_config
from simlab.plugins.ibc.model import BCModel
from simlab.plugins.ibc.networks import NetworkConfig, make_explicit_net


@dataclasses.dataclass(frozen=True)
class MSEConfig:
    """network: the policy network (the same size as the EBM's in a comparison)."""

    network: NetworkConfig = NetworkConfig()

    def __post_init__(self):
        validate_config(self)
        if not isinstance(self.network, NetworkConfig):
            raise TypeError(f"MSEConfig.network must be a NetworkConfig, got {self.network!r}")


def make_mse(name: str, config: MSEConfig, obs_size: int, action_size: int) -> BCModel:
    """The MSE policy as a `BCModel` over normalised observations and actions."""
    net = make_explicit_net(config.network, action_size)

    def init(key):
        return net.init(key, jnp.zeros((obs_size,)))

    def loss(params, key, obs, actions):
        error = jnp.mean((net.apply(params, obs) - actions) ** 2)
        return error, {"mse": error}

    def act(params, key, obs):
        return jnp.clip(net.apply(params, obs), -1.0, 1.0)

    return BCModel(name, obs_size, action_size, init, loss, act)
