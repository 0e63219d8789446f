"""The interface every behavioural-cloning model of the plug-in implements (EBM, MSE, MDN).

A model is a frozen dataclass of pure functions over normalised observations and actions (see
`normalizer`; actions live in the [-1, 1] box):

    params = model.init(key)
    loss, metrics = model.loss(params, key, obs [B, O], actions [B, A])    # jittable, differentiable
    action = model.act(params, key, obs [O])                               # unbatched; vmap for batches

`training.train` fits any of them; `evaluate` rolls any of them out in an environment.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax


@dataclasses.dataclass(frozen=True)
class BCModel:
    """name: the model's kind ("ebm_langevin", "mse", ...); obs_size, action_size: O and A;
    init, loss, act: see the module docstring."""

    name: str
    obs_size: int
    action_size: int
    init: Callable[[jax.Array], Any]
    loss: Callable[[Any, jax.Array, jax.Array, jax.Array], tuple[jax.Array, dict[str, jax.Array]]]
    act: Callable[[Any, jax.Array, jax.Array], jax.Array]
