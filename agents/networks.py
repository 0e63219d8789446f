"""Haiku networks: MLP torsos with Gaussian, tanh-Gaussian, categorical, value and Q heads.

Each `make_*` returns a `hk.Transformed` (pure `init(key, *inputs)` /
`apply(params, *inputs)`). Observations are `[batch, obs_size]` float32.
"""
from __future__ import annotations

from typing import Sequence

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np

from simlab.engine.distributions import Categorical, Gaussian, TanhGaussian

ACTIVATIONS = {"tanh": jnp.tanh, "relu": jax.nn.relu, "swish": jax.nn.swish, "elu": jax.nn.elu}


def _activation(name: str):
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]


class MLP(hk.Module):
    """Linear layers with orthogonal init (gain sqrt 2) and a final layer of gain `final_scale`."""

    def __init__(self, hidden: Sequence[int], out: int, activation: str, final_scale: float = 1.0,
                 name: str | None = None):
        super().__init__(name=name)
        self.hidden, self.out, self.final_scale = tuple(hidden), out, final_scale
        self.activation = _activation(activation)

    def __call__(self, x: jax.Array) -> jax.Array:
        for i, width in enumerate(self.hidden):
            x = self.activation(hk.Linear(width, w_init=hk.initializers.Orthogonal(np.sqrt(2.0)), name=f"hidden_{i}")(x))
        return hk.Linear(self.out, w_init=hk.initializers.Orthogonal(self.final_scale), name="out")(x)


def mlp(hidden: Sequence[int], out: int, activation: str, final_scale: float = 1.0, name: str | None = None) -> MLP:
    """Shorthand for `MLP(...)` (must be called inside an `hk.transform`)."""
    return MLP(hidden, out, activation, final_scale, name=name)


def make_gaussian_policy(action_size: int, hidden: Sequence[int] = (64, 64), activation: str = "tanh",
                         tanh_squash: bool = False, state_dependent_std: bool = False,
                         init_log_std: float = -0.5, min_log_std: float = -5.0, max_log_std: float = 2.0):
    """Policy `obs [B, O] -> Gaussian | TanhGaussian` over `[B, action_size]` in policy units.

    With `tanh_squash` actions lie in (-1, 1) (SAC); otherwise they are unbounded
    and the environment clamps them (PPO).
    """
    dist_cls = TanhGaussian if tanh_squash else Gaussian

    def forward(obs):
        if state_dependent_std:
            out = mlp(hidden, 2 * action_size, activation, 0.01, name="policy")(obs)
            mean, raw = jnp.split(out, 2, axis=-1)
            log_std = min_log_std + 0.5 * (max_log_std - min_log_std) * (jnp.tanh(raw) + 1.0)
        else:
            mean = mlp(hidden, action_size, activation, 0.01, name="policy")(obs)
            log_std = hk.get_parameter("log_std", (action_size,), init=hk.initializers.Constant(init_log_std))
            log_std = jnp.broadcast_to(jnp.clip(log_std, min_log_std, max_log_std), mean.shape)
        return dist_cls(mean, log_std)

    return hk.without_apply_rng(hk.transform(forward))


def make_categorical_policy(num_actions: int, hidden: Sequence[int] = (64, 64), activation: str = "tanh"):
    """Policy `obs [B, O] -> Categorical` over `num_actions`."""

    def forward(obs):
        return Categorical(mlp(hidden, num_actions, activation, 0.01, name="policy")(obs))

    return hk.without_apply_rng(hk.transform(forward))


def make_value_network(hidden: Sequence[int] = (64, 64), activation: str = "tanh"):
    """State value `obs [B, O] -> [B]`."""

    def forward(obs):
        return mlp(hidden, 1, activation, 1.0, name="value")(obs)[..., 0]

    return hk.without_apply_rng(hk.transform(forward))


def make_twin_q_network(hidden: Sequence[int] = (256, 256), activation: str = "relu"):
    """Two independent Q-functions `(obs [B, O], action [B, A]) -> [2, B]`."""

    def forward(obs, action):
        x = jnp.concatenate([obs, action], axis=-1)
        return jnp.stack([mlp(hidden, 1, activation, 1.0, name=f"q{i}")(x)[..., 0] for i in range(2)])

    return hk.without_apply_rng(hk.transform(forward))
