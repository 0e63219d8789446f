"""Learning and inference on top of observe-mode log-probabilities.

* `fit_mle`: gradient ascent (optax) on a log-likelihood `fn(params, data)`.
* `hmc_posterior`: Hamiltonian Monte Carlo (blackjax) on a log-density, e.g.
  the log-probability of a logged trajectory as a function of its latent fields.
"""
from __future__ import annotations

from typing import Any, Callable

import blackjax
import jax
import jax.flatten_util
import jax.numpy as jnp
import optax


def fit_mle(log_likelihood: Callable[[Any, Any], jax.Array], init_params, data, *,
            num_steps: int = 300, learning_rate: float = 0.05, optimizer=None):
    """Maximise `log_likelihood(params, data)` over `params` with optax.

    Args:
      log_likelihood: scalar log-likelihood, differentiable in `params` (a pytree).
      data: any pytree (e.g. trajectories stacked on a leading axis).
      num_steps: fixed number of optimiser steps (one `lax.scan`).
    Returns:
      `(params, history)` where `history["log_likelihood"]: [num_steps]`.
    """
    optimizer = optimizer or optax.adam(learning_rate)
    loss_and_grad = jax.value_and_grad(lambda p: -log_likelihood(p, data))

    @jax.jit
    def run(params):
        def body(carry, _):
            params, opt_state = carry
            loss, grads = loss_and_grad(params)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), -loss

        (params, _), history = jax.lax.scan(body, (params, optimizer.init(params)), None,
                                            length=num_steps)
        return params, history

    params, history = run(init_params)
    return params, {"log_likelihood": history}


def hmc_posterior(logdensity_fn: Callable[[Any], jax.Array], initial_position, key: jax.Array, *,
                  num_samples: int = 1000, num_warmup: int = 300, step_size: float = 0.05,
                  num_integration_steps: int = 20, inverse_mass_matrix=None):
    """Draw posterior samples with HMC (blackjax).

    The first `num_warmup` draws are discarded. Returns `(samples, info)`:
    `samples` has the structure of `initial_position` with a leading
    `[num_samples]` axis; `info["acceptance_rate"]` is the mean Metropolis
    acceptance probability.
    """
    flat, unravel = jax.flatten_util.ravel_pytree(initial_position)
    if inverse_mass_matrix is None:
        inverse_mass_matrix = jnp.ones_like(flat)
    flat_logdensity = lambda x: logdensity_fn(unravel(x))
    kernel = blackjax.hmc(flat_logdensity, step_size=step_size,
                          inverse_mass_matrix=inverse_mass_matrix,
                          num_integration_steps=num_integration_steps)

    @jax.jit
    def run(key):
        def body(state, step_key):
            state, info = kernel.step(step_key, state)
            return state, (state.position, info.acceptance_rate)

        state = kernel.init(flat)
        _, (positions, acceptance) = jax.lax.scan(body, state,
                                                  jax.random.split(key, num_warmup + num_samples))
        return positions[num_warmup:], jnp.mean(acceptance[num_warmup:])

    positions, acceptance = run(key)
    return jax.vmap(unravel)(positions), {"acceptance_rate": acceptance}
