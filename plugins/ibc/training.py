"""The training loop shared by every model: Adam on random minibatches of demonstrations, jitted in chunks.

    params, history = train(model, obs, actions, TrainConfig(steps=5000), key)

`obs [M, O]` and `actions [M, A]` are normalised (see `normalizer`). Each jitted call runs `log_every`
optimiser steps under `lax.scan` (batches drawn uniformly with replacement, on the device), so a
run is `steps / log_every` calls; a tqdm bar follows them on stderr. The learning rate decays by
`lr_decay` every `lr_decay_every` steps (the paper: 1e-3, x0.99 every 100). `time_budget_s` stops
between chunks once the budget is spent (the history records the steps actually taken).
"""
from __future__ import annotations

import dataclasses
import math
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm import tqdm

from simlab.agents.config_validation import AT_LEAST_ONE, POSITIVE, Interval, validate_config
from simlab.plugins.ibc.model import BCModel


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """steps: optimiser steps; batch_size: pairs per step; learning_rate, lr_decay, lr_decay_every: the
    staircase schedule; log_every: steps per jitted chunk (one history row each); time_budget_s: a
    wall-clock cap in seconds (None: none)."""

    steps: int = 5000
    batch_size: int = 512
    learning_rate: float = 1e-3
    lr_decay: float = 0.99
    lr_decay_every: int = 100
    log_every: int = 100
    time_budget_s: float | None = None

    def __post_init__(self):
        validate_config(self, {"steps": AT_LEAST_ONE, "batch_size": AT_LEAST_ONE, "learning_rate": POSITIVE,
                               "lr_decay": Interval(0, 1, low_open=True), "lr_decay_every": AT_LEAST_ONE,
                               "log_every": AT_LEAST_ONE, "time_budget_s": POSITIVE})



def make_optimizer(config: TrainConfig) -> optax.GradientTransformation:
    """Adam with the staircase-decayed learning rate of `config`."""
    schedule = optax.exponential_decay(config.learning_rate, config.lr_decay_every, config.lr_decay,
                                       staircase=True)
    return optax.adam(schedule)


def make_train_chunk(model: BCModel, optimizer: optax.GradientTransformation, batch_size: int, num_steps: int):
    """A jitted `chunk(params, opt_state, key, obs, actions) -> (params, opt_state, means)`: `num_steps`
    Adam steps; `means` averages the loss and the model's metrics over them."""

    def one_step(carry, key):
        params, opt_state, obs, actions = carry
        batch_key, loss_key = jax.random.split(key)
        index = jax.random.randint(batch_key, (batch_size,), 0, obs.shape[0])
        (loss, metrics), grads = jax.value_and_grad(model.loss, has_aux=True)(params, loss_key, obs[index],
                                                                                actions[index])
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state, obs, actions), {"loss": loss, **metrics}

    def chunk(params, opt_state, key, obs, actions):
        (params, opt_state, _, _), logs = jax.lax.scan(one_step, (params, opt_state, obs, actions),
                                                       jax.random.split(key, num_steps))
        return params, opt_state, jax.tree_util.tree_map(jnp.mean, logs)

    return jax.jit(chunk)


def train(model: BCModel, obs: np.ndarray, actions: np.ndarray, config: TrainConfig, key: jax.Array,
          params: Any = None, progress: bool = True, desc: str | None = None) -> tuple[Any, list[dict[str, float]]]:
    """Fits `model` to the normalised pairs `obs [M, O]`, `actions [M, A]`; returns `(params, history)`.

    `history`: one row per chunk, `{"step", "seconds", "loss", <model metrics>}` (means over the chunk).
    `params`: start from these instead of `model.init`.
    """
    obs, actions = jnp.asarray(obs, jnp.float32), jnp.asarray(actions, jnp.float32)
    if obs.ndim != 2 or actions.ndim != 2 or obs.shape[0] != actions.shape[0] or obs.shape[0] == 0:
        raise ValueError(f"train needs obs [M, O] and actions [M, A] with M > 0, got {obs.shape}, {actions.shape}")
    if (obs.shape[1], actions.shape[1]) != (model.obs_size, model.action_size):
        raise ValueError(f"model {model.name} takes obs [{model.obs_size}] and actions [{model.action_size}], "
                         f"got [{obs.shape[1]}] and [{actions.shape[1]}]")
    init_key, key = jax.random.split(key)
    params = model.init(init_key) if params is None else params
    optimizer = make_optimizer(config)
    opt_state = optimizer.init(params)
    chunk_steps = min(config.log_every, config.steps)
    chunk = make_train_chunk(model, optimizer, config.batch_size, chunk_steps)
    history: list[dict[str, float]] = []
    start, step = time.perf_counter(), 0
    with tqdm(total=config.steps, desc=desc or f"train {model.name}", disable=not progress, unit="step",
              dynamic_ncols=True) as bar:
        for i in range(math.ceil(config.steps / chunk_steps)):
            params, opt_state, logs = chunk(params, opt_state, jax.random.fold_in(key, i), obs, actions)
            logs = {k: float(v) for k, v in jax.device_get(logs).items()}
            step += chunk_steps
            history.append({"step": step, "seconds": time.perf_counter() - start, **logs})
            bar.update(chunk_steps)
            bar.set_postfix(loss=f"{logs['loss']:.4g}")
            if not all(math.isfinite(v) for v in logs.values()):
                raise FloatingPointError(f"training {model.name} diverged at step {step}: {logs}")
            if config.time_budget_s is not None and time.perf_counter() - start > config.time_budget_s:
                break
    return params, history
