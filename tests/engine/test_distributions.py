"""`simlab.engine.distributions` against scipy and closed forms (never against itself).

Log-densities and entropies within 1e-5 of scipy (float64), sampling moments
and frequencies against their known values, gradients against the closed-form
score, and the shapes and dtypes callers rely on.
"""
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special, stats

from simlab.engine import distributions as d

TOL = dict(rtol=1e-5, atol=1e-5)
X = np.array([-1.3, 0.0, 0.4, 2.2], np.float32)


# --- the agents' action distributions -------------------------------------------------------

def test_gaussian_log_prob_and_entropy_match_scipy():
    mean, log_std = jnp.array([[0.3, -1.0]]), jnp.array([[-0.2, 0.5]])
    x = jnp.array([[0.1, 0.4]])
    dist = d.Gaussian(mean, log_std)
    ref = stats.norm(np.asarray(mean), np.exp(np.asarray(log_std)))
    np.testing.assert_allclose(dist.log_prob(x), ref.logpdf(np.asarray(x)).sum(-1), rtol=1e-5)
    np.testing.assert_allclose(dist.entropy(), ref.entropy().sum(-1), rtol=1e-5)
    np.testing.assert_array_equal(dist.mode(), mean)


def test_gaussian_with_shared_log_std_has_the_batch_shape():
    mean, log_std = jnp.zeros((5, 3)), jnp.array([0.1, -0.2, 0.3])
    dist = d.Gaussian(mean, log_std)
    ref = stats.norm(0.0, np.exp([0.1, -0.2, 0.3])).entropy().sum()
    np.testing.assert_allclose(dist.entropy(), np.full(5, ref), rtol=1e-5)
    sample = dist.sample(jax.random.key(0))
    assert sample.shape == (5, 3) and sample.dtype == jnp.float32
    assert dist.log_prob(sample).shape == (5,)


def test_gaussian_gradient_is_the_closed_form_score():
    x, mean, log_std = jnp.array([0.7, -0.2]), jnp.array([0.1, 0.3]), jnp.array([-0.4, 0.2])
    g_mean, g_log_std = jax.grad(lambda m, s: d.Gaussian(m, s).log_prob(x), argnums=(0, 1))(mean, log_std)
    z = (x - mean) / jnp.exp(log_std)
    np.testing.assert_allclose(g_mean, z / jnp.exp(log_std), rtol=1e-5)
    np.testing.assert_allclose(g_log_std, z**2 - 1.0, rtol=1e-5)


def test_tanh_gaussian_change_of_variables():
    dist = d.TanhGaussian(jnp.array([[0.4, -0.3]]), jnp.array([[-0.5, 0.1]]))
    action, log_prob = dist.sample_and_log_prob(jax.random.key(0))
    np.testing.assert_allclose(log_prob, dist.log_prob(action), rtol=1e-4)
    # density of y = tanh(u): p(u) / prod(1 - y^2)
    u = np.arctanh(np.asarray(action))
    ref = stats.norm([0.4, -0.3], np.exp([-0.5, 0.1])).logpdf(u).sum() - np.log(1 - np.asarray(action) ** 2).sum()
    np.testing.assert_allclose(log_prob[0], ref, rtol=1e-4)
    np.testing.assert_allclose(dist.mode(), np.tanh([[0.4, -0.3]]), rtol=1e-6)
    # it integrates to one (1-D check on a grid)
    d1 = d.TanhGaussian(jnp.array([0.4]), jnp.array([-0.5]))
    grid = jnp.linspace(-0.9999, 0.9999, 20001)[:, None]
    mass = np.trapezoid(np.exp(np.asarray(jax.vmap(d1.log_prob)(grid))), np.asarray(grid[:, 0]))
    assert abs(mass - 1.0) < 2e-3


def test_tanh_gaussian_is_finite_for_saturated_actions():
    """SAC samples and replays actions at +-1 in float32: log-probs and gradients stay finite."""
    mean, log_std = jnp.array([[30.0, -30.0]]), jnp.array([[-3.0, -3.0]])
    dist = d.TanhGaussian(mean, log_std)
    action, log_prob = dist.sample_and_log_prob(jax.random.key(1))
    np.testing.assert_array_equal(np.abs(action), 1.0)
    # closed form in float64 at the pre-tanh sample u = mean + std * eps
    eps = np.asarray(jax.random.normal(jax.random.key(1), (1, 2)), np.float64)
    u = np.array([[30.0, -30.0]]) + np.exp(-3.0) * eps
    log_det = 2.0 * (np.log(2.0) - np.abs(u) - np.log1p(np.exp(-2.0 * np.abs(u))))
    ref = (stats.norm([30.0, -30.0], np.exp(-3.0)).logpdf(u) - log_det).sum()
    np.testing.assert_allclose(log_prob[0], ref, rtol=1e-5)
    assert np.all(np.isfinite(dist.log_prob(action)))  # clipped to 1 - 1e-6 before arctanh
    grad = jax.grad(lambda m: d.TanhGaussian(m, log_std).sample_and_log_prob(jax.random.key(1))[1].sum())(mean)
    assert np.all(np.isfinite(grad))


def test_tanh_gaussian_sample_moments():
    dist = d.TanhGaussian(jnp.full((40000, 1), 0.5), jnp.full((40000, 1), np.log(0.8)))
    s = np.asarray(dist.sample(jax.random.key(2)), np.float64)[:, 0]
    ref_mean = stats.norm(0.5, 0.8).expect(np.tanh)
    ref_std = np.sqrt(stats.norm(0.5, 0.8).expect(lambda u: np.tanh(u) ** 2) - ref_mean**2)
    assert abs(s.mean() - ref_mean) < 4 * ref_std / np.sqrt(s.size)
    assert abs(s.std() - ref_std) < 0.03 * ref_std


def test_categorical_log_prob_entropy_mode_and_frequencies():
    logits = jnp.array([1.0, 0.0, -1.0])
    dist = d.Categorical(logits)
    p = special.softmax(np.asarray(logits, np.float64))
    np.testing.assert_allclose(dist.log_prob(jnp.array(2)), np.log(p[2]), rtol=1e-6)
    np.testing.assert_allclose(dist.entropy(), stats.entropy(p), rtol=1e-6)
    np.testing.assert_allclose(dist.probs, p, rtol=1e-6)
    assert dist.mode() == 0 and dist.mode().dtype == jnp.int32
    samples = jax.vmap(dist.sample)(jax.random.split(jax.random.key(0), 20000))
    assert samples.dtype == jnp.int32
    counts = np.bincount(np.asarray(samples), minlength=3)
    assert stats.chisquare(counts, 20000 * p).pvalue > 1e-3


def test_categorical_log_prob_matches_scipy_and_broadcasts():
    logits = np.array([0.2, -1.0, 1.5, 0.0], np.float32)
    p = special.softmax(logits.astype(np.float64))
    for k in range(4):
        ref = stats.multinomial(1, p).logpmf(np.eye(4)[k])
        np.testing.assert_allclose(d.Categorical(logits).log_prob(k), ref, **TOL)
    # one set of logits scored at a batch of indices, and a batch of logits at one index
    np.testing.assert_allclose(d.Categorical(logits).log_prob(jnp.array([[3, 0], [2, 1]])),
                               np.log(p)[[[3, 0], [2, 1]]], **TOL)
    batch = np.stack([logits, logits[::-1]])
    np.testing.assert_allclose(d.Categorical(batch).log_prob(1),
                               np.log(special.softmax(batch.astype(np.float64), -1))[:, 1], **TOL)


def test_categorical_batched_sample_shape_and_gradient():
    logits = jax.random.normal(jax.random.key(3), (6, 5))
    sample = d.Categorical(logits).sample(jax.random.key(4))
    assert sample.shape == (6,) and sample.dtype == jnp.int32
    # d/dlogits log softmax(logits)[a] = onehot(a) - softmax(logits)
    actions = jnp.arange(6) % 5
    grad = jax.jit(jax.grad(lambda lg: d.Categorical(lg).log_prob(actions).sum()))(logits)
    np.testing.assert_allclose(grad, np.eye(5)[np.asarray(actions)] - special.softmax(np.asarray(logits), -1),
                               atol=1e-6)


# --- recsim's distributions -----------------------------------------------------------------

def test_normal():
    dist = d.Normal(jnp.float32(0.3), jnp.float32(1.7))
    np.testing.assert_allclose(dist.log_prob(X), stats.norm.logpdf(X, 0.3, 1.7), **TOL)
    np.testing.assert_allclose(dist.entropy(), stats.norm(0.3, 1.7).entropy(), **TOL)


def test_multivariate_normal_diag_and_isotropic():
    loc, scale = np.array([0.1, -0.5, 2.0], np.float32), np.array([0.5, 1.0, 2.5], np.float32)
    x = np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 3.0]], np.float32)
    ref = stats.multivariate_normal(loc, np.diag(scale.astype(np.float64) ** 2))
    np.testing.assert_allclose(d.MultivariateNormalDiag(loc, scale).log_prob(x), ref.logpdf(x), **TOL)
    np.testing.assert_allclose(d.MultivariateNormalDiag(loc, scale).entropy(), ref.entropy(), **TOL)
    iso = stats.multivariate_normal(loc, 0.7 ** 2 * np.eye(3)).logpdf(x)
    np.testing.assert_allclose(d.isotropic_normal(loc, 0.7).log_prob(x), iso, **TOL)
    np.testing.assert_allclose(d.MultivariateNormalDiag(loc, 0.7).log_prob(x), iso, **TOL)  # scalar scale


def test_isotropic_normal_batched_scales():
    loc = np.array([[0.0, 1.0], [2.0, -1.0]], np.float32)
    scale = np.array([0.5, 2.0], np.float32)
    x = np.array([0.3, 0.3], np.float32)
    ref = [stats.multivariate_normal(loc[i], scale[i] ** 2 * np.eye(2)).logpdf(x) for i in range(2)]
    np.testing.assert_allclose(d.isotropic_normal(loc, scale).log_prob(x), ref, **TOL)


def test_bernoulli():
    b = d.Bernoulli(jnp.float32(0.8))
    prob = special.expit(0.8)
    np.testing.assert_allclose(b.log_prob(jnp.array([0, 1])), stats.bernoulli(prob).logpmf([0, 1]), **TOL)
    assert b.sample(jax.random.key(0)).dtype == jnp.int32


def test_uniform_and_deterministic():
    u = d.Uniform(jnp.float32(-1.5), jnp.float32(2.5))
    np.testing.assert_allclose(u.log_prob(X), stats.uniform(-1.5, 4.0).logpdf(X), **TOL)
    assert u.log_prob(jnp.float32(3.0)) == -np.inf
    assert u.log_prob(jnp.float32(-1.6)) == -np.inf
    det = d.Deterministic(jnp.array([1.0, 2.0]))
    np.testing.assert_array_equal(det.log_prob(jnp.array([1.0, 3.0])), [0.0, -np.inf])
    np.testing.assert_array_equal(det.sample(jax.random.key(0)), [1.0, 2.0])
    loose = d.Deterministic(jnp.array([1.0, 2.0]), atol=0.1)
    np.testing.assert_array_equal(loose.log_prob(jnp.array([1.05, 2.2])), [0.0, -np.inf])


def test_deterministic_under_where_has_zero_gradient():
    """`ResetOrContinue` selects between a density and a point mass: no NaN gradient leaks through."""
    loc = jnp.array([0.5, -1.0, 2.0])
    x = loc.at[2].add(1.0)  # the last element is off the point mass

    def score(mu):
        return jnp.sum(jnp.where(jnp.array([True, False, True]), d.Normal(mu, 1.0).log_prob(x),
                                 d.Deterministic(mu).log_prob(x)))

    np.testing.assert_allclose(jax.grad(score)(loc), [0.0, 0.0, 1.0], atol=1e-6)  # (x - mu) / 1


def test_gaussian_mixture_marginal_and_joint():
    logits = np.array([0.0, 1.0, -0.5], np.float32)
    means = np.array([[0.0, 0.0], [3.0, 1.0], [-2.0, 2.0]], np.float32)
    scales = np.array([1.0, 0.5, 2.0], np.float32)
    gmm = d.GaussianMixture(logits, means, scales)
    x = np.array([[0.5, 0.2], [2.0, 1.5], [-3.0, 2.0]], np.float32)
    w = special.softmax(logits.astype(np.float64))
    comp = np.stack([stats.multivariate_normal(means[k], scales[k] ** 2 * np.eye(2)).logpdf(x)
                     for k in range(3)], -1) + np.log(w)
    np.testing.assert_allclose(gmm.log_prob(x), special.logsumexp(comp, -1), **TOL)
    np.testing.assert_allclose(gmm.component_log_probs(x), comp, **TOL)
    np.testing.assert_allclose(gmm.log_prob_fields(jnp.array([1, 1, 2]), x),
                               comp[np.arange(3), [1, 1, 2]], **TOL)
    component, point = gmm.sample_fields(jax.random.key(0))
    assert component.shape == () and component.dtype == jnp.int32 and point.shape == (2,)


def test_gaussian_mixture_with_shared_logits_and_scalar_scale():
    """Logits `[K]` shared by a batch of means `[B, K, D]`, one scalar scale (the ecosystem's layout)."""
    logits = np.array([0.3, -0.2], np.float32)
    means = np.array([[[0.0], [2.0]], [[1.0], [-1.0]], [[5.0], [0.0]]], np.float32)  # [3, 2, 1]
    gmm = d.GaussianMixture(logits, means, 0.8)
    x = np.array([[0.4], [0.1], [3.0]], np.float32)
    w = special.softmax(logits.astype(np.float64))
    ref = special.logsumexp(stats.norm.logpdf(x, means[..., 0], 0.8) + np.log(w), -1)
    np.testing.assert_allclose(gmm.log_prob(x), ref, **TOL)
    assert gmm.batch_shape == (3,)
    component, point = gmm.sample_fields(jax.random.key(1))
    assert component.shape == (3,) and point.shape == (3, 1)


def test_plackett_luce_matches_sequential_softmax_and_normalises():
    logits = np.array([0.5, -0.3, 1.2, 0.0], np.float32)
    pl = d.PlackettLuce(logits, slate_size=2)
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


def test_plackett_luce_sample_frequencies():
    logits = np.array([0.5, -0.3, 1.2], np.float32)
    l64 = logits.astype(np.float64)
    slates = list(itertools.permutations(range(3), 2))
    probs = np.array([np.exp(l64[a] - special.logsumexp(l64) + l64[b] - special.logsumexp(np.delete(l64, a)))
                      for a, b in slates])
    pl = d.PlackettLuce(jnp.broadcast_to(logits, (30000, 3)), slate_size=2)
    sample = np.asarray(pl.sample(jax.random.key(5)))
    assert sample.shape == (30000, 2) and sample.dtype == np.int32
    counts = np.array([np.sum((sample[:, 0] == a) & (sample[:, 1] == b)) for a, b in slates])
    assert counts.sum() == 30000  # distinct items only
    assert stats.chisquare(counts, 30000 * probs).pvalue > 1e-3


@pytest.mark.parametrize("make, mean, std", [
    (lambda: d.Normal(jnp.full(20000, 1.5), 2.0), 1.5, 2.0),
    (lambda: d.MultivariateNormalDiag(jnp.full((10000, 2), -0.5), jnp.array([0.5])), -0.5, 0.5),
    (lambda: d.Gaussian(jnp.full((10000, 2), 0.25), jnp.full(2, np.log(1.5))), 0.25, 1.5),
    (lambda: d.Uniform(jnp.zeros(20000), 4.0), 2.0, 4.0 / np.sqrt(12)),
    (lambda: d.Bernoulli(jnp.zeros(20000)), 0.5, 0.5),
])
def test_sample_moments(make, mean, std):
    s = np.asarray(make().sample(jax.random.key(7)), np.float64)
    assert abs(s.mean() - mean) < 4 * std / np.sqrt(s.size)
    assert abs(s.std() - std) < 0.03 * std


def test_gaussian_mixture_sample_frequencies():
    logits = jnp.log(jnp.array([0.2, 0.5, 0.3]))
    gmm = d.GaussianMixture(jnp.broadcast_to(logits, (30000, 3)),
                            jnp.broadcast_to(jnp.array([[-10.0], [0.0], [10.0]]), (30000, 3, 1)),
                            jnp.ones(3))
    component, point = gmm.sample_fields(jax.random.key(3))
    counts = np.bincount(np.asarray(component), minlength=3)
    assert stats.chisquare(counts, 30000 * np.array([0.2, 0.5, 0.3])).pvalue > 1e-3
    # the point lies near its component's mean
    assert np.all(np.abs(np.asarray(point[:, 0]) - 10.0 * (np.asarray(component) - 1)) < 6.0)


def test_sample_categorical_frequencies_with_shared_logits():
    p = np.array([0.1, 0.6, 0.3])
    draws = d.sample_categorical(jax.random.key(9), jnp.log(jnp.asarray(p, jnp.float32)), (20000,))
    assert draws.shape == (20000,) and draws.dtype == jnp.int32
    assert stats.chisquare(np.bincount(np.asarray(draws), minlength=3), 20000 * p).pvalue > 1e-3


def test_distributions_pass_through_jit_and_vmap():
    """Distributions are pytrees: built outside, passed into jit; built inside vmap."""
    dist = d.Normal(jnp.array([0.0, 1.0]), jnp.array([1.0, 2.0]))
    np.testing.assert_allclose(jax.jit(lambda p: p.log_prob(jnp.array([0.5, 0.5])))(dist),
                               stats.norm.logpdf(0.5, [0.0, 1.0], [1.0, 2.0]), **TOL)
    locs = jnp.array([0.0, 1.0, 2.0])
    got = jax.vmap(lambda m: d.MultivariateNormalDiag(jnp.full(2, m), 1.0).log_prob(jnp.zeros(2)))(locs)
    ref = [stats.multivariate_normal(np.full(2, m), np.eye(2)).logpdf(np.zeros(2)) for m in [0.0, 1.0, 2.0]]
    np.testing.assert_allclose(got, ref, **TOL)
