"""Every distribution's log_prob against scipy (within 1e-5), and sampling moments."""
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special, stats

from simlab.recsim import distributions as rd

TOL = dict(rtol=1e-5, atol=1e-5)
X = np.array([-1.3, 0.0, 0.4, 2.2], np.float32)


def test_normal():
    d = rd.Normal(jnp.float32(0.3), jnp.float32(1.7))
    np.testing.assert_allclose(d.log_prob(X), stats.norm.logpdf(X, 0.3, 1.7), **TOL)


def test_multivariate_normal_diag_and_isotropic():
    loc, scale = np.array([0.1, -0.5, 2.0], np.float32), np.array([0.5, 1.0, 2.5], np.float32)
    x = np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 3.0]], np.float32)
    ref = stats.multivariate_normal(loc, np.diag(scale.astype(np.float64) ** 2)).logpdf(x)
    np.testing.assert_allclose(rd.MultivariateNormalDiag(loc, scale).log_prob(x), ref, **TOL)
    iso = stats.multivariate_normal(loc, 0.7 ** 2 * np.eye(3)).logpdf(x)
    np.testing.assert_allclose(rd.isotropic_normal(loc, 0.7).log_prob(x), iso, **TOL)


def test_categorical_and_bernoulli():
    logits = np.array([0.2, -1.0, 1.5, 0.0], np.float32)
    p = special.softmax(logits.astype(np.float64))
    for k in range(4):
        ref = stats.multinomial(1, p).logpmf(np.eye(4)[k])
        np.testing.assert_allclose(rd.Categorical(logits).log_prob(k), ref, **TOL)
    b = rd.Bernoulli(jnp.float32(0.8))
    prob = special.expit(0.8)
    np.testing.assert_allclose(b.log_prob(jnp.array([0, 1])), stats.bernoulli(prob).logpmf([0, 1]), **TOL)


def test_uniform_and_deterministic():
    u = rd.Uniform(jnp.float32(-1.5), jnp.float32(2.5))
    ref = stats.uniform(-1.5, 4.0).logpdf(X)
    np.testing.assert_allclose(u.log_prob(X), ref, **TOL)
    assert u.log_prob(jnp.float32(3.0)) == -np.inf
    d = rd.Deterministic(jnp.array([1.0, 2.0]))
    np.testing.assert_array_equal(d.log_prob(jnp.array([1.0, 3.0])), [0.0, -np.inf])
    np.testing.assert_array_equal(d.sample(jax.random.PRNGKey(0)), [1.0, 2.0])


def test_gaussian_mixture_marginal_and_joint():
    logits = np.array([0.0, 1.0, -0.5], np.float32)
    means = np.array([[0.0, 0.0], [3.0, 1.0], [-2.0, 2.0]], np.float32)
    scales = np.array([1.0, 0.5, 2.0], np.float32)
    gmm = rd.GaussianMixture(logits, means, scales)
    x = np.array([[0.5, 0.2], [2.0, 1.5], [-3.0, 2.0]], np.float32)
    w = special.softmax(logits.astype(np.float64))
    comp = np.stack([stats.multivariate_normal(means[k], scales[k] ** 2 * np.eye(2)).logpdf(x)
                     for k in range(3)], -1) + np.log(w)
    np.testing.assert_allclose(gmm.log_prob(x), special.logsumexp(comp, -1), **TOL)
    np.testing.assert_allclose(gmm.log_prob_fields(jnp.array([1, 1, 2]), x),
                               comp[np.arange(3), [1, 1, 2]], **TOL)
    component, point = gmm.sample_fields(jax.random.PRNGKey(0))
    assert component.shape == () and point.shape == (2,)


def test_plackett_luce_matches_sequential_softmax_and_normalises():
    logits = np.array([0.5, -0.3, 1.2, 0.0], np.float32)
    pl = rd.PlackettLuce(logits, slate_size=2)
    total = 0.0
    for slate in itertools.permutations(range(4), 2):
        l64 = logits.astype(np.float64)
        ref = l64[slate[0]] - special.logsumexp(l64)
        rest = [i for i in range(4) if i != slate[0]]
        ref += l64[slate[1]] - special.logsumexp(l64[rest])
        got = float(pl.log_prob(jnp.array(slate)))
        np.testing.assert_allclose(got, ref, **TOL)
        total += np.exp(ref)
    np.testing.assert_allclose(total, 1.0, rtol=1e-6)


@pytest.mark.parametrize("make, mean, std", [
    (lambda: rd.Normal(jnp.full(20000, 1.5), 2.0), 1.5, 2.0),
    (lambda: rd.Uniform(jnp.zeros(20000), 4.0), 2.0, 4.0 / np.sqrt(12)),
    (lambda: rd.Bernoulli(jnp.zeros(20000)), 0.5, 0.5),
])
def test_sample_moments(make, mean, std):
    s = np.asarray(make().sample(jax.random.PRNGKey(7)), np.float64)
    assert abs(s.mean() - mean) < 4 * std / np.sqrt(s.size)
    assert abs(s.std() - std) < 0.03 * std


def test_gaussian_mixture_sample_frequencies():
    logits = jnp.log(jnp.array([0.2, 0.5, 0.3]))
    gmm = rd.GaussianMixture(jnp.broadcast_to(logits, (30000, 3)),
                             jnp.broadcast_to(jnp.array([[-10.0], [0.0], [10.0]]), (30000, 3, 1)),
                             jnp.ones(3))
    component, point = gmm.sample_fields(jax.random.PRNGKey(3))
    counts = np.bincount(np.asarray(component), minlength=3)
    assert stats.chisquare(counts, 30000 * np.array([0.2, 0.5, 0.3])).pvalue > 1e-3
    # the point lies near its component's mean
    assert np.all(np.abs(np.asarray(point[:, 0]) - 10.0 * (np.asarray(component) - 1)) < 6.0)
