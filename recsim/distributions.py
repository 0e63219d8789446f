"""Distributions with `sample(key)` and `log_prob(x)`, batched elementwise.

Each distribution is a pytree dataclass, so it can be built inside jitted or
vmapped code. `sample(key)` returns one draw with the distribution's batch
(and event) shape; `log_prob(x)` returns one log-density per batch element.
Event shapes: scalar for Normal/Uniform/Bernoulli/Categorical/Deterministic,
`[D]` for the multivariate normal and the Gaussian mixture, `[k]` (an ordered
slate of indices) for Plackett-Luce.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from simlab.engine.struct import pytree_dataclass, static_field

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def sample_categorical(key, logits, batch_shape=None):
    """Index draws from `softmax(logits)` over the last axis, by inverting the CDF.

    One uniform per draw (instead of one Gumbel per category), which is what
    makes large mixtures cheap to sample. `batch_shape` (default: the logits'
    batch shape) may add leading axes that share the same logits.
    """
    probs = jax.nn.softmax(logits, axis=-1)
    cdf = jnp.cumsum(probs, axis=-1)
    shape = logits.shape[:-1] if batch_shape is None else tuple(batch_shape)
    u = jax.random.uniform(key, shape + (1,)) * cdf[..., -1:]
    index = jnp.sum(cdf <= u, axis=-1)
    return jnp.minimum(index, logits.shape[-1] - 1).astype(jnp.int32)


@pytree_dataclass
class Normal:
    """Univariate normal; `loc`, `scale` broadcast to the batch shape."""

    loc: jax.Array
    scale: jax.Array

    def sample(self, key):
        shape = jnp.broadcast_shapes(jnp.shape(self.loc), jnp.shape(self.scale))
        return self.loc + self.scale * jax.random.normal(key, shape)

    def log_prob(self, x):
        z = (x - self.loc) / self.scale
        return -0.5 * z * z - jnp.log(self.scale) - _HALF_LOG_2PI


@pytree_dataclass
class MultivariateNormalDiag:
    """Normal with diagonal covariance over the last axis.

    `loc: [..., D]`; `scale_diag: [..., D]`, or `[..., 1]`/scalar for an
    isotropic covariance `scale^2 I` (see `isotropic_normal`).
    """

    loc: jax.Array
    scale_diag: jax.Array

    def sample(self, key):
        shape = jnp.broadcast_shapes(jnp.shape(self.loc), jnp.shape(self.scale_diag))
        return self.loc + self.scale_diag * jax.random.normal(key, shape)

    def log_prob(self, x):
        z = (x - self.loc) / self.scale_diag
        log_scale = jnp.broadcast_to(jnp.log(self.scale_diag), jnp.shape(z))
        return jnp.sum(-0.5 * z * z - log_scale - _HALF_LOG_2PI, axis=-1)


def isotropic_normal(loc, scale) -> MultivariateNormalDiag:
    """`N(loc, scale^2 I)`: `loc: [..., D]`, `scale: [...]` (one scale per batch element)."""
    return MultivariateNormalDiag(loc, jnp.asarray(scale)[..., None])


@pytree_dataclass
class Categorical:
    """Categorical over the last axis of `logits: [..., K]` (unnormalised log-probs)."""

    logits: jax.Array

    def sample(self, key):
        return sample_categorical(key, self.logits)

    def log_prob(self, x):
        log_p = jax.nn.log_softmax(self.logits, axis=-1)
        x = jnp.asarray(x, jnp.int32)
        batch = jnp.broadcast_shapes(x.shape, log_p.shape[:-1])
        log_p = jnp.broadcast_to(log_p, batch + log_p.shape[-1:])
        return jnp.take_along_axis(log_p, jnp.broadcast_to(x, batch)[..., None], axis=-1)[..., 0]

    @property
    def probs(self):
        return jax.nn.softmax(self.logits, axis=-1)


@pytree_dataclass
class Bernoulli:
    """Bernoulli with success log-odds `logits`; samples are int32 in {0, 1}."""

    logits: jax.Array

    def sample(self, key):
        return jax.random.bernoulli(key, jax.nn.sigmoid(self.logits)).astype(jnp.int32)

    def log_prob(self, x):
        x = jnp.asarray(x, jnp.float32)
        return x * jax.nn.log_sigmoid(self.logits) + (1.0 - x) * jax.nn.log_sigmoid(-self.logits)


@pytree_dataclass
class Uniform:
    """Uniform on `[low, high)`; log_prob is `-inf` outside."""

    low: jax.Array
    high: jax.Array

    def sample(self, key):
        shape = jnp.broadcast_shapes(jnp.shape(self.low), jnp.shape(self.high))
        return jax.random.uniform(key, shape, minval=self.low, maxval=self.high)

    def log_prob(self, x):
        inside = (x >= self.low) & (x < self.high)
        return jnp.where(inside, -jnp.log(self.high - self.low), -jnp.inf)


@pytree_dataclass
class Deterministic:
    """A point mass at `loc`: log_prob is 0 at `loc` (within `atol`), `-inf` elsewhere."""

    loc: jax.Array
    atol: float = static_field(default=0.0)

    def sample(self, key):
        del key
        return jnp.asarray(self.loc)

    def log_prob(self, x):
        return jnp.where(jnp.abs(x - self.loc) <= self.atol, 0.0, -jnp.inf)


@pytree_dataclass
class GaussianMixture:
    """Mixture of isotropic Gaussians in `D` dimensions.

    `mixture_logits: [..., K]`, `means: [..., K, D]`, `scales: [..., K]` or
    scalar. `sample` returns the point `[..., D]`; `sample_fields` returns
    `(component [...] int32, point [..., D])` for `Context.draw_all`.
    """

    mixture_logits: jax.Array
    means: jax.Array
    scales: jax.Array

    def _scales(self):
        return jnp.broadcast_to(jnp.asarray(self.scales, jnp.float32), self.means.shape[:-1])

    @property
    def batch_shape(self):
        return jnp.broadcast_shapes(jnp.shape(self.mixture_logits)[:-1], self.means.shape[:-2],
                                    jnp.shape(self.scales)[:-1])

    def sample_fields(self, key):
        component_key, noise_key = jax.random.split(key)
        component = sample_categorical(component_key, self.mixture_logits, self.batch_shape)
        mean = jnp.take_along_axis(self.means, component[..., None, None], axis=-2)[..., 0, :]
        scale = jnp.take_along_axis(self._scales(), component[..., None], axis=-1)
        return component, mean + scale * jax.random.normal(noise_key, mean.shape)

    def sample(self, key):
        return self.sample_fields(key)[1]

    def component_log_probs(self, x):
        """`[..., K]`: log p(component k) + log N(x; mean_k, scale_k^2 I)."""
        per_component = isotropic_normal(self.means, self._scales()).log_prob(x[..., None, :])
        return jax.nn.log_softmax(self.mixture_logits, axis=-1) + per_component

    def log_prob(self, x):
        return jax.nn.logsumexp(self.component_log_probs(x), axis=-1)

    def log_prob_fields(self, component, x):
        joint = self.component_log_probs(x)
        return jnp.take_along_axis(joint, jnp.asarray(component, jnp.int32)[..., None], -1)[..., 0]


@pytree_dataclass
class PlackettLuce:
    """Ordered choice of `slate_size` distinct items out of `logits: [..., N]`.

    Item `j` is picked with probability `softmax` over the items not yet
    picked (iterated multinomial logit). Samples are `[..., slate_size]` int32
    indices, drawn exactly with the Gumbel-top-k trick.
    """

    logits: jax.Array
    slate_size: int = static_field(default=1)

    def sample(self, key):
        gumbel = jax.random.gumbel(key, jnp.shape(self.logits))
        return jax.lax.top_k(self.logits + gumbel, self.slate_size)[1].astype(jnp.int32)

    def log_prob(self, slate):
        slate = jnp.asarray(slate, jnp.int32)
        batch = jnp.broadcast_shapes(slate.shape[:-1], self.logits.shape[:-1])
        slate = jnp.broadcast_to(slate, batch + slate.shape[-1:])
        logits = jnp.broadcast_to(self.logits, batch + self.logits.shape[-1:])
        chosen = jnp.take_along_axis(logits, slate, axis=-1)  # [..., k]
        num_items = logits.shape[-1]
        # picked[..., j, i]: item i was picked before position j
        one_hot = jax.nn.one_hot(slate, num_items, dtype=bool)  # [..., k, N]
        picked_before = jnp.cumsum(one_hot, axis=-2) - one_hot
        remaining_logits = jnp.where(picked_before > 0, -jnp.inf, logits[..., None, :])
        return jnp.sum(chosen - jax.nn.logsumexp(remaining_logits, axis=-1), axis=-1)
