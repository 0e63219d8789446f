"""State models: distributions of an entity's state at t = 0 and at t + 1 given t.

Each model is a pytree of shared parameters with `initial()` and
`next(previous, ...)` returning a distribution; a variable definition draws
from it with `ctx.draw`, so the same model serves sampling and log-probability.
Populations are batched on leading axes of the state.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from simlab.engine.distributions import (Categorical, Deterministic, GaussianMixture,
                                         MultivariateNormalDiag)
from simlab.engine.struct import pytree_dataclass


@pytree_dataclass
class Static:
    """A state drawn once from `distribution` and kept: `next` is a point mass."""

    distribution: object

    def initial(self):
        return self.distribution

    def next(self, previous):
        return Deterministic(previous)


def gmm_state(mixture_logits, means, scales) -> Static:
    """A static state drawn from a Gaussian mixture (`[..., K]`, `[..., K, D]`, `[..., K]`)."""
    return Static(GaussianMixture(mixture_logits, means, scales))


@pytree_dataclass
class FiniteStateMarkov:
    """A Markov chain on `S` states, optionally controlled by a discrete action.

    `initial_logits: [..., S]`; `transition_logits: [S, S]` (row = from state),
    or `[A, S, S]` when controlled, indexed by `action: [...]` int.
    """

    initial_logits: jax.Array
    transition_logits: jax.Array

    def initial(self):
        return Categorical(self.initial_logits)

    def next(self, previous, action=None):
        table = self.transition_logits
        if action is not None:
            if table.ndim != 3:
                raise ValueError("a controlled chain needs transition_logits of shape [A, S, S]")
            return Categorical(table[action, previous])
        if table.ndim != 2:
            raise ValueError("an uncontrolled chain needs transition_logits of shape [S, S]")
        return Categorical(table[previous])


@pytree_dataclass
class LinearGaussian:
    """`x_{t+1} ~ N(A x_t + B u_t + c, diag(noise_scale^2))`, `x_0 ~ N(initial_loc, initial_scale^2)`.

    Shapes: `A: [D, D]`, `B: [D, C]` (zeros for an uncontrolled model),
    `c, noise_scale, initial_loc, initial_scale: [D]`; states `[..., D]`,
    controls `[..., C]`.
    """

    transition: jax.Array
    control_matrix: jax.Array
    offset: jax.Array
    noise_scale: jax.Array
    initial_loc: jax.Array
    initial_scale: jax.Array

    def initial(self):
        return MultivariateNormalDiag(self.initial_loc, self.initial_scale)

    def next(self, previous, control=None):
        mean = previous @ self.transition.T + self.offset
        if control is not None:
            mean = mean + control @ self.control_matrix.T
        return MultivariateNormalDiag(mean, self.noise_scale)


@pytree_dataclass
class SwitchingLinearGaussian:
    """Linear-Gaussian dynamics whose matrices are chosen by a discrete `mode`.

    `transitions: [M, D, D]`, `offsets, noise_scales: [M, D]`; `next(previous
    [..., D], mode [...])`. The mode itself usually follows a `FiniteStateMarkov`.
    """

    transitions: jax.Array
    offsets: jax.Array
    noise_scales: jax.Array

    def next(self, previous, mode):
        matrices = self.transitions[mode]  # [..., D, D]
        mean = jnp.einsum("...ij,...j->...i", matrices, previous) + self.offsets[mode]
        return MultivariateNormalDiag(mean, self.noise_scales[mode])


@pytree_dataclass
class ResetOrContinue:
    """Per element: a fresh draw from `reset` where `should_reset`, else from `continue_`.

    Both distributions share batch and event shapes; `should_reset: [...]` bool.
    """

    should_reset: jax.Array
    reset: object
    continue_: object

    def sample(self, key):
        reset_key, continue_key = jax.random.split(key)
        fresh, kept = self.reset.sample(reset_key), self.continue_.sample(continue_key)
        mask = self.should_reset.reshape(self.should_reset.shape + (1,) * (fresh.ndim - self.should_reset.ndim))
        return jnp.where(mask, fresh, kept)

    def log_prob(self, x):
        return jnp.where(self.should_reset, self.reset.log_prob(x), self.continue_.log_prob(x))
