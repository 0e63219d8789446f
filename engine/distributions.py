"""Probability distributions for the whole package, on top of distrax.

One module (issue 25) for the agents' action distributions (`Gaussian`,
`TanhGaussian`, `Categorical`) and recsim's state and choice distributions
(`Normal`, `MultivariateNormalDiag` / `isotropic_normal`, `Categorical`,
`Bernoulli`, `Uniform`, `Deterministic`, `GaussianMixture`, `PlackettLuce`).
It sits in `simlab.engine` because both `simlab.agents` and `simlab.recsim`
import it.

The mathematics is distrax's (0.1.9 with its tfp-nightly, checked with jax
0.10.2 under jit, vmap and grad) wherever distrax has the distribution. Each
class here is only a small frozen pytree dataclass over its parameters that
builds the distrax object inside each method (free at trace time). That keeps
the parameters as our own pytree leaves (so distributions can be built in
jitted, vmapped and scanned code and passed through them) and keeps the call
signature the callers use: `sample(key)` with a positional key, where distrax
has `sample(seed=key)`. For the same key a sample is the same number as the
hand-written versions drew before (same `jax.random` call on the same shape),
except recsim's `Categorical`: it drew by inverting the CDF and now draws
like the agents' one did (distrax: Gumbel-max, `jax.random.categorical`);
same distribution, other numbers for a given key.

Own code remains only where distrax has nothing:
  * `PlackettLuce`: an ordered slate of `k` of `N` items. distrax has no
    Plackett-Luce; TFP's scores full permutations of all `N` items only.
  * `sample_categorical`: inverse-CDF sampling, one uniform per draw, with
    logits shared over extra leading axes. distrax's categorical sampler
    draws one Gumbel per category and draw, which is what mixtures with many
    components and many draws (`GaussianMixture`) avoid.
  * `GaussianMixture.sample_fields`: distrax's `MixtureSameFamily` neither
    returns the component nor avoids drawing a point from every component;
    its log-densities are distrax's.
  * `TanhGaussian.log_prob` clips its argument to (-1, 1) first: distrax's
    `Tanh` bijector returns NaN for a saturated action (`arctanh(1) = inf`),
    which SAC's replayed actions can be.

Shapes. `sample(key)` returns one draw with the distribution's batch and
event shape; `log_prob(x)` returns one log-density per batch element (summed
over the event). Event shapes: scalar for Normal / Uniform / Bernoulli /
Categorical / Deterministic; `[D]` for Gaussian, TanhGaussian,
MultivariateNormalDiag and GaussianMixture; `[k]` (an ordered slate of item
indices) for PlackettLuce. Index samples are int32.
"""
from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp

with warnings.catch_warnings():  # tfp-nightly's JAX backend reads a deprecated `jax.core` name at import
    warnings.filterwarnings("ignore", "jax.core.pytype_aval_mappings is deprecated", DeprecationWarning)
    import distrax

from simlab.engine.struct import pytree_dataclass, static_field

_SATURATION = 1e-6  # TanhGaussian.log_prob scores actions clipped to [-1 + eps, 1 - eps]


def sample_categorical(key, logits, batch_shape=None):
    """Index draws from `softmax(logits)` over the last axis, by inverting the CDF.

    `logits: [..., K]`; returns `batch_shape` int32 indices (default: the
    logits' batch shape `[...]`). `batch_shape` may add leading axes that share
    the same logits. One uniform per draw (distrax/`jax.random.categorical`
    draw one Gumbel per category), which is what makes large mixtures cheap
    to sample.
    """
    probs = jax.nn.softmax(logits, axis=-1)
    cdf = jnp.cumsum(probs, axis=-1)
    shape = logits.shape[:-1] if batch_shape is None else tuple(batch_shape)
    u = jax.random.uniform(key, shape + (1,)) * cdf[..., -1:]
    index = jnp.sum(cdf <= u, axis=-1)
    return jnp.minimum(index, logits.shape[-1] - 1).astype(jnp.int32)


def _diagonal_normal(loc, scale_diag) -> distrax.MultivariateNormalDiag:
    """distrax's diagonal normal over the last axis, with `scale_diag` broadcast to `loc` first.

    distrax wants equal last axes; ours may be `[..., 1]` or scalar (isotropic).
    """
    loc, scale_diag = jnp.asarray(loc), jnp.asarray(scale_diag)
    shape = jnp.broadcast_shapes(loc.shape, scale_diag.shape)
    return distrax.MultivariateNormalDiag(jnp.broadcast_to(loc, shape), jnp.broadcast_to(scale_diag, shape))


class _OnDistrax:
    """`sample(key)`, `log_prob(x)` and `entropy()` of the distrax object `self._distrax()` builds.

    Subclasses are pytree dataclasses of parameters; distrax's `sample(seed=...)`
    becomes our positional `sample(key)`.
    """

    def _distrax(self) -> distrax.Distribution:
        """The distrax distribution of this object's parameters; every subclass defines it (abstract here)."""
        raise NotImplementedError(f"{type(self).__name__} must define _distrax() to build its distrax distribution")

    def sample(self, key):
        return self._distrax().sample(seed=key)

    def log_prob(self, x):
        return self._distrax().log_prob(x)

    def entropy(self):
        return self._distrax().entropy()


@pytree_dataclass
class Normal(_OnDistrax):
    """Univariate normal `N(loc, scale^2)`; `loc`, `scale` broadcast to the batch shape `[...]`.

    `sample(key) -> [...]`; `log_prob(x [...])` and `entropy()` are `[...]` (elementwise).
    """

    loc: jax.Array
    scale: jax.Array

    def _distrax(self) -> distrax.Normal:
        return distrax.Normal(self.loc, self.scale)


@pytree_dataclass
class MultivariateNormalDiag(_OnDistrax):
    """Normal with diagonal covariance over the last axis.

    `loc: [..., D]`; `scale_diag: [..., D]`, or `[..., 1]`/scalar for an
    isotropic covariance `scale^2 I` (see `isotropic_normal`).
    `sample(key) -> [..., D]`; `log_prob(x [..., D])`, `entropy()` are `[...]`.
    """

    loc: jax.Array
    scale_diag: jax.Array

    def _distrax(self) -> distrax.MultivariateNormalDiag:
        return _diagonal_normal(self.loc, self.scale_diag)


def isotropic_normal(loc, scale) -> MultivariateNormalDiag:
    """`N(loc, scale^2 I)`: `loc: [..., D]`, `scale: [...]` (one scale per batch element)."""
    return MultivariateNormalDiag(loc, jnp.asarray(scale)[..., None])


@pytree_dataclass
class Gaussian(_OnDistrax):
    """Diagonal normal `N(mean, exp(log_std)^2)` over actions, parametrised by the log-std.

    `mean: [..., A]`, `log_std: [..., A]` (or `[A]`, shared). `sample(key) ->
    [..., A]`; `log_prob(x [..., A])` and `entropy()` are `[...]` (summed over
    the action axis); `mode() -> [..., A]` is the mean.
    """

    mean: jax.Array
    log_std: jax.Array

    def _distrax(self) -> distrax.MultivariateNormalDiag:
        return _diagonal_normal(self.mean, jnp.exp(self.log_std))

    def mode(self) -> jax.Array:
        return self.mean


@pytree_dataclass
class TanhGaussian(_OnDistrax):
    """`tanh(u)` with `u ~ Gaussian(mean, log_std)`: actions `[..., A]` in (-1, 1).

    `log_prob` includes the change-of-variables term `-sum log(1 - tanh(u)^2)`,
    which distrax's `Tanh` bijector computes stably for large `|u|`. Use
    `sample_and_log_prob` to avoid inverting tanh (exact for saturated
    actions); `log_prob(x)` clips `x` to `1 - 1e-6` in magnitude first.
    Log-probabilities are `[...]`. No closed-form entropy (distrax raises).
    """

    mean: jax.Array
    log_std: jax.Array

    def _distrax(self) -> distrax.Transformed:
        base = Gaussian(self.mean, self.log_std)._distrax()
        return distrax.Transformed(base, distrax.Block(distrax.Tanh(), ndims=1))

    def sample_and_log_prob(self, key: jax.Array) -> tuple[jax.Array, jax.Array]:
        return self._distrax().sample_and_log_prob(seed=key)

    def log_prob(self, x: jax.Array) -> jax.Array:
        return super().log_prob(jnp.clip(x, -1.0 + _SATURATION, 1.0 - _SATURATION))

    def mode(self) -> jax.Array:
        return jnp.tanh(self.mean)


@pytree_dataclass
class Categorical(_OnDistrax):
    """Categorical over the last axis of `logits: [..., K]` (unnormalised log-probs).

    `sample(key) -> [...]` int32; `log_prob(x)` broadcasts `x` against the batch
    shape `[...]` (an index outside `[0, K)` scores `-inf`); `entropy()`,
    `mode()` are `[...]`; `probs` is `[..., K]`.
    """

    logits: jax.Array

    def _distrax(self) -> distrax.Categorical:
        return distrax.Categorical(logits=self.logits, dtype=jnp.int32)

    def log_prob(self, x):
        return super().log_prob(jnp.asarray(x, jnp.int32))

    def mode(self):
        return self._distrax().mode()

    @property
    def probs(self):
        return self._distrax().probs


@pytree_dataclass
class Bernoulli(_OnDistrax):
    """Bernoulli with success log-odds `logits: [...]`; samples are int32 in {0, 1}, log_prob `[...]`."""

    logits: jax.Array

    def _distrax(self) -> distrax.Bernoulli:
        return distrax.Bernoulli(logits=self.logits, dtype=jnp.int32)

    def log_prob(self, x):
        return super().log_prob(jnp.asarray(x, jnp.float32))


@pytree_dataclass
class Uniform(_OnDistrax):
    """Uniform on `[low, high]`, batch shape `[...]`; log_prob is `-inf` outside.

    Samples lie in `[low, high)`; the density at `x == high` is distrax's (and
    scipy's) `-log(high - low)`.
    """

    low: jax.Array
    high: jax.Array

    def _distrax(self) -> distrax.Uniform:
        return distrax.Uniform(self.low, self.high)


@pytree_dataclass
class Deterministic(_OnDistrax):
    """A point mass at `loc: [...]`: log_prob is 0 at `loc` (within `atol`), `-inf` elsewhere (elementwise)."""

    loc: jax.Array
    atol: float = static_field(default=0.0)

    def _distrax(self) -> distrax.Deterministic:
        return distrax.Deterministic(self.loc, atol=self.atol)


@pytree_dataclass
class GaussianMixture(_OnDistrax):
    """Mixture of isotropic Gaussians in `D` dimensions.

    `mixture_logits: [..., K]`, `means: [..., K, D]`, `scales: [..., K]` or
    scalar; leading axes broadcast (e.g. logits shared by every batch
    element). `sample` returns the point `[..., D]`; `sample_fields` returns
    `(component [...] int32, point [..., D])` for `Context.draw_all`, and
    `log_prob_fields(component, point)` their joint log-density `[...]`.
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

    def _distrax(self) -> distrax.MixtureSameFamily:
        shape = self.batch_shape + self.means.shape[-2:-1]  # [..., K]: distrax wants equal batch shapes
        means = jnp.broadcast_to(self.means, shape + self.means.shape[-1:])
        return distrax.MixtureSameFamily(
            distrax.Categorical(logits=jnp.broadcast_to(self.mixture_logits, shape)),
            _diagonal_normal(means, jnp.broadcast_to(self._scales(), shape)[..., None]))

    def sample_fields(self, key):
        # Own sampler: one uniform per draw for the component, then one point (see module docstring).
        component_key, noise_key = jax.random.split(key)
        component = sample_categorical(component_key, self.mixture_logits, self.batch_shape)
        mean = jnp.take_along_axis(self.means, component[..., None, None], axis=-2)[..., 0, :]
        scale = jnp.take_along_axis(self._scales(), component[..., None], axis=-1)
        return component, mean + scale * jax.random.normal(noise_key, mean.shape)

    def sample(self, key):
        return self.sample_fields(key)[1]

    def component_log_probs(self, x):
        """`[..., K]`: log p(component k) + log N(x; mean_k, scale_k^2 I), for `x: [..., D]`."""
        mixture = self._distrax()
        per_component = mixture.components_distribution.log_prob(x[..., None, :])
        return mixture.mixture_distribution.logits + per_component  # distrax's logits are normalised

    def log_prob_fields(self, component, x):
        joint = self.component_log_probs(x)
        return jnp.take_along_axis(joint, jnp.asarray(component, jnp.int32)[..., None], -1)[..., 0]


@pytree_dataclass
class PlackettLuce:
    """Ordered choice of `slate_size` distinct items out of `logits: [..., N]` (own code: no library has it).

    Item `j` is picked with probability `softmax` over the items not yet
    picked (iterated multinomial logit). Samples are `[..., slate_size]` int32
    indices, drawn exactly with the Gumbel-top-k trick; `log_prob(slate
    [..., slate_size]) -> [...]`.
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
