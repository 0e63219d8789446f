"""The networks of every IBC model: a pre-activation ResNet MLP, with an energy, explicit or mixture output.

All models of a comparison use the same `NetworkConfig`, so the implicit and explicit policies have
networks of equal size (the paper's condition). The residual MLP:

    h = W_in x + b;  for each block: h <- h + W_2 relu(W_1 relu(h) + b_1) + b_2;  out = W_out relu(h) + b_out

* `head_width = 0` ("early fusion", the paper's MLP EBM): the energy net is this MLP on `x = [o, a]`, its first
  layer split as `W_o o + W_a a` so that the observation's share is computed once per observation.
* `head_width = H > 0` ("late fusion", as the paper's code offers): the MLP encodes the observation alone,
  `z = relu(h)`, and a head of width `H` reads `z` (and, for the energy, the action):
  `out = W_3 relu(W_2 relu(W_z z + W_a a + b) + b_2) + b_3` with `head_layers = 1` hidden layer, or
  `out = W_3 relu(W_z z + W_a a + b) + b_3` with `head_layers = 0`. Every model gets the same encoder and head, and
  an energy costs only the head per candidate action, which is what makes thousands of candidates or
  Langevin steps per observation affordable on a CPU.

Shapes: energy `obs [..., O]`, `actions [..., K, A]` -> energies `[..., K]`; explicit (MSE) `obs [..., O]` ->
`[..., A]`; mixture density `obs [..., O]` -> `(logits [..., M], means [..., M, A], log_scales [..., M])`.
Inputs are normalised observations and actions (see `normalizer`).
"""
from __future__ import annotations

import dataclasses

import haiku as hk
import jax
import jax.numpy as jnp

from simlab.agents.config_validation import AT_LEAST_ONE, NONNEGATIVE, validate_config


@dataclasses.dataclass(frozen=True)
class NetworkConfig:
    """width: units per layer of the residual MLP; depth: its residual blocks (two layers each);
    head_width: 0 for early fusion, else the width of the late-fusion head; head_layers: the head's hidden
    layers after its input layer (module docstring)."""

    width: int = 128
    depth: int = 2
    head_width: int = 0
    head_layers: int = 1

    def __post_init__(self):
        validate_config(self, {"width": AT_LEAST_ONE, "depth": NONNEGATIVE, "head_width": NONNEGATIVE,
                               "head_layers": NONNEGATIVE})


class ResNetMLP(hk.Module):
    """Pre-activation residual MLP applied to an already-projected input `h [..., width]`; `out=None`
    returns the encoding `relu(h) [..., width]` instead of a linear output."""

    def __init__(self, config: NetworkConfig, out: int | None, name: str | None = None):
        super().__init__(name=name)
        self.config, self.out = config, out

    def __call__(self, h: jax.Array) -> jax.Array:
        for i in range(self.config.depth):
            r = hk.Linear(self.config.width, name=f"block_{i}_a")(jax.nn.relu(h))
            h = h + hk.Linear(self.config.width, name=f"block_{i}_b")(jax.nn.relu(r))
        if self.out is None:  # an encoder: the late-fusion head reads relu(h)
            return jax.nn.relu(h)
        return hk.Linear(self.out, name="out")(jax.nn.relu(h))


def _head(config: NetworkConfig, h: jax.Array, out: int) -> jax.Array:
    """The late-fusion head after its first (pre-activation) layer `h [..., H]`."""
    for i in range(config.head_layers):
        h = hk.Linear(config.head_width, name="head_hidden" if i == 0 else f"head_hidden_{i}")(jax.nn.relu(h))
    return hk.Linear(out, name="head_out")(jax.nn.relu(h))


def _explicit_output(config: NetworkConfig, obs: jax.Array, out: int) -> jax.Array:
    """`[..., out]` of the explicit networks (MSE, mixture), early or late fusion."""
    h = hk.Linear(config.width, name="obs_in")(obs)
    if not config.head_width:
        return ResNetMLP(config, out, name="mlp")(h)
    z = ResNetMLP(config, None, name="encoder")(h)
    return _head(config, hk.Linear(config.head_width, name="head_in")(z), out)


def make_energy_net(config: NetworkConfig) -> hk.Transformed:
    """`apply(params, obs [..., O], actions [..., K, A]) -> energies [..., K]` (lower = more likely)."""

    def forward(obs, actions):
        h = hk.Linear(config.width, name="obs_in")(obs)
        if not config.head_width:
            h = h[..., None, :] + hk.Linear(config.width, with_bias=False, name="action_in")(actions)
            return ResNetMLP(config, 1, name="mlp")(h)[..., 0]
        z = ResNetMLP(config, None, name="encoder")(h)
        h = hk.Linear(config.head_width, name="head_in")(z)[..., None, :]
        h = h + hk.Linear(config.head_width, with_bias=False, name="head_action_in")(actions)
        return _head(config, h, 1)[..., 0]

    return hk.without_apply_rng(hk.transform(forward))


def make_explicit_net(config: NetworkConfig, action_size: int) -> hk.Transformed:
    """`apply(params, obs [..., O]) -> actions [..., A]` (the MSE policy)."""
    return hk.without_apply_rng(hk.transform(lambda obs: _explicit_output(config, obs, action_size)))


def make_mixture_net(config: NetworkConfig, action_size: int, num_components: int) -> hk.Transformed:
    """`apply(params, obs [..., O]) -> (logits [..., M], means [..., M, A], log_scales [..., M])`."""

    def forward(obs):
        out = _explicit_output(config, obs, num_components * (action_size + 2))
        logits, log_scales, means = jnp.split(out, [num_components, 2 * num_components], axis=-1)
        return logits, means.reshape(*means.shape[:-1], num_components, action_size), log_scales

    return hk.without_apply_rng(hk.transform(forward))
