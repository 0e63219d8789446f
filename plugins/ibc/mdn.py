"""A mixture-density network (MDN): the action's density is a mixture of isotropic Gaussians.

    p(a | o) = sum_m softmax(logits(o))_m N(a; mean_m(o), scale_m(o)^2 I)

trained by the negative log-likelihood (`simlab.engine.distributions.GaussianMixture`, distrax's
mathematics), with the scales bounded to [`min_scale`, `max_scale`] through a sigmoid. Acting is
greedy: the mean of the most probable component, clipped to the [-1, 1] action box. Units are the
normalised ones (see `normalizer`).
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from simlab.agents.config_validation import AT_LEAST_ONE, POSITIVE, validate_config
from simlab.engine.distributions import GaussianMixture
from simlab.plugins.ibc.model import BCModel
from simlab.plugins.ibc.networks import NetworkConfig, make_mixture_net


@dataclasses.dataclass(frozen=True)
class MDNConfig:
    """network: the torso (the EBM's size); num_components: mixture components; min_scale, max_scale:
    bounds of each component's standard deviation (normalised action units)."""

    network: NetworkConfig = NetworkConfig()
    num_components: int = 8
    min_scale: float = 1e-3
    max_scale: float = 1.0

    def __post_init__(self):
        validate_config(self, {"num_components": AT_LEAST_ONE, "min_scale": POSITIVE, "max_scale": POSITIVE})
        if not isinstance(self.network, NetworkConfig):
            raise TypeError(f"MDNConfig.network must be a NetworkConfig, got {self.network!r}")
        if self.min_scale >= self.max_scale:
            raise ValueError(f"MDNConfig.min_scale ({self.min_scale}) must be below max_scale ({self.max_scale})")


def make_mdn(name: str, config: MDNConfig, obs_size: int, action_size: int) -> BCModel:
    """The MDN policy as a `BCModel` over normalised observations and actions."""
    net = make_mixture_net(config.network, action_size, config.num_components)

    def mixture(params, obs) -> GaussianMixture:
        logits, means, raw_scales = net.apply(params, obs)
        scales = config.min_scale + (config.max_scale - config.min_scale) * jax.nn.sigmoid(raw_scales)
        return GaussianMixture(logits, means, scales)

    def init(key):
        return net.init(key, jnp.zeros((obs_size,)))

    def loss(params, key, obs, actions):
        nll = -jnp.mean(jax.nn.logsumexp(mixture(params, obs).component_log_probs(actions), axis=-1))
        return nll, {"nll": nll}

    def act(params, key, obs):
        dist = mixture(params, obs)
        best = jnp.argmax(dist.mixture_logits, axis=-1)
        return jnp.clip(dist.means[best], -1.0, 1.0)

    return BCModel(name, obs_size, action_size, init, loss, act)
