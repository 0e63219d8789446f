"""Action distributions for policies: diagonal Gaussian, tanh-squashed Gaussian, categorical.

All are small frozen pytrees over batched parameters; `log_prob` sums over the
action dimension. Shapes: parameters `[..., action_size]`, samples the same
(categorical: logits `[..., num_actions]`, samples `[...]` int32).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from simlab.engine.struct import pytree_dataclass

_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)


@pytree_dataclass
class Gaussian:
    """Diagonal normal N(mean, std^2)."""

    mean: jax.Array
    log_std: jax.Array

    def sample(self, key: jax.Array) -> jax.Array:
        return self.mean + jnp.exp(self.log_std) * jax.random.normal(key, self.mean.shape, self.mean.dtype)

    def log_prob(self, x: jax.Array) -> jax.Array:
        z = (x - self.mean) * jnp.exp(-self.log_std)
        return jnp.sum(-0.5 * z**2 - self.log_std - _LOG_SQRT_2PI, axis=-1)

    def entropy(self) -> jax.Array:
        return jnp.sum(self.log_std + 0.5 + _LOG_SQRT_2PI, axis=-1) * jnp.ones(self.mean.shape[:-1])

    def mode(self) -> jax.Array:
        return self.mean


@pytree_dataclass
class TanhGaussian:
    """`tanh(u)` with `u ~ N(mean, std^2)`: actions in (-1, 1).

    `log_prob` includes the change-of-variables term `-sum log(1 - tanh(u)^2)`.
    Use `sample_and_log_prob` to avoid inverting tanh (numerically exact).
    """

    mean: jax.Array
    log_std: jax.Array

    def _base(self) -> Gaussian:
        return Gaussian(self.mean, self.log_std)

    @staticmethod
    def _log_det_jacobian(u: jax.Array) -> jax.Array:
        # log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)), stable for large |u|
        return jnp.sum(2.0 * (np.log(2.0) - u - jax.nn.softplus(-2.0 * u)), axis=-1)

    def sample_and_log_prob(self, key: jax.Array) -> tuple[jax.Array, jax.Array]:
        u = self._base().sample(key)
        return jnp.tanh(u), self._base().log_prob(u) - self._log_det_jacobian(u)

    def sample(self, key: jax.Array) -> jax.Array:
        return self.sample_and_log_prob(key)[0]

    def log_prob(self, x: jax.Array) -> jax.Array:
        x = jnp.clip(x, -1.0 + 1e-6, 1.0 - 1e-6)
        u = jnp.arctanh(x)
        return self._base().log_prob(u) - self._log_det_jacobian(u)

    def mode(self) -> jax.Array:
        return jnp.tanh(self.mean)


@pytree_dataclass
class Categorical:
    """Categorical over the last axis of `logits`."""

    logits: jax.Array

    def sample(self, key: jax.Array) -> jax.Array:
        return jax.random.categorical(key, self.logits).astype(jnp.int32)

    def log_prob(self, x: jax.Array) -> jax.Array:
        log_p = jax.nn.log_softmax(self.logits)
        return jnp.take_along_axis(log_p, x[..., None].astype(jnp.int32), axis=-1)[..., 0]

    def entropy(self) -> jax.Array:
        log_p = jax.nn.log_softmax(self.logits)
        return -jnp.sum(jnp.exp(log_p) * log_p, axis=-1)

    def mode(self) -> jax.Array:
        return jnp.argmax(self.logits, axis=-1).astype(jnp.int32)
