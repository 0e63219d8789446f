"""Choice models sample with the probabilities they claim (chi-square at a fixed seed)."""
import itertools

import jax
import jax.numpy as jnp
import numpy as np
from scipy import special, stats

from simlab.recsim import affinities, choice

N = 40000


def _chi_square_pvalue(samples, probs):
    counts = np.bincount(np.asarray(samples).ravel(), minlength=len(probs))
    probs = np.asarray(probs, np.float64) / np.sum(probs)
    return stats.chisquare(counts, counts.sum() * probs).pvalue


def test_multinomial_logit_with_positional_bias_and_no_choice():
    aff = jnp.array([1.0, 0.2, -0.5], jnp.float32)
    bias = jnp.array([0.0, -0.3, -0.6])
    dist = choice.multinomial_logit(jnp.broadcast_to(aff, (N, 3)), no_choice_logit=0.4,
                                    positional_bias=bias)
    probs = special.softmax(np.array([1.0, -0.1, -1.1, 0.4]))
    np.testing.assert_allclose(np.asarray(dist.probs[0]), probs, rtol=1e-5)
    samples = dist.sample(jax.random.PRNGKey(0))
    assert _chi_square_pvalue(samples, probs) > 1e-3
    # a wrong claim is rejected by the same test
    assert _chi_square_pvalue(samples, special.softmax(np.array([1.0, 0.2, -0.5, 0.4]))) < 1e-3


def test_iterated_multinomial_logit_slate_frequencies():
    logits = np.array([0.8, 0.0, -0.4, 0.3], np.float32)
    dist = choice.iterated_multinomial_logit(jnp.broadcast_to(logits, (N, 4)), 2)
    slates = np.asarray(dist.sample(jax.random.PRNGKey(1)))
    perms = list(itertools.permutations(range(4), 2))
    index = {p: i for i, p in enumerate(perms)}
    codes = np.array([index[tuple(s)] for s in slates])
    probs = np.exp([float(dist.log_prob(jnp.array(p))[0]) for p in perms])
    assert _chi_square_pvalue(codes, probs) > 1e-3


def test_chosen_gathers_and_fills_no_choice():
    items = jnp.arange(2 * 3 * 2, dtype=jnp.float32).reshape(2, 3, 2)
    picked = choice.chosen(items, jnp.array([2, 3]), no_choice_fill=-1.0)
    np.testing.assert_array_equal(picked, [[4.0, 5.0], [-1.0, -1.0]])


def test_affinities_hand_computed():
    u = jnp.array([[1.0, 0.0]])
    d = jnp.array([[[1.0, 0.0], [0.0, 2.0], [3.0, 4.0]]])
    np.testing.assert_allclose(affinities.dot(u, d), [[1.0, 0.0, 3.0]])
    np.testing.assert_allclose(affinities.negative_euclidean(u, d), [[0.0, -np.sqrt(5), -np.sqrt(20)]], rtol=1e-6)
    np.testing.assert_allclose(affinities.inverse_euclidean(u, d)[0, 1:], [1 / np.sqrt(5), 1 / np.sqrt(20)], rtol=1e-6)
    np.testing.assert_allclose(affinities.negative_cosine(u, d), [[1.0, 0.0, 0.6]], rtol=1e-6)
    np.testing.assert_allclose(affinities.single_peaked(u, d, jnp.array([[1.0, 1.0]])),
                               [[1.0, 0.0, -1.0]], rtol=1e-6)
