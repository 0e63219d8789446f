"""Ecosystem story: shapes, dynamics invariants and hand-computed log-probabilities."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special, stats

from simlab.recsim.apps import ecosystem as eco
from simlab.recsim.core import Runtime

MEANS = np.array([[0.0, 0.0], [3.0, 1.0], [-2.0, 4.0]], np.float32)
U, D, K, STEPS = 6, 9, 2, 3


@pytest.fixture(scope="module")
def small():
    config = eco.ecosystem_config(jnp.asarray(MEANS), num_users=U, num_docs=D, slate_size=K, boost_cap=1.2)
    runtime = Runtime(eco.ecosystem_network(config))
    traj = jax.jit(lambda k: runtime.trajectory(k, STEPS))(jax.random.PRNGKey(4))
    return runtime, jax.tree.map(np.asarray, traj)


def test_trajectory_shapes_and_invariants(small):
    _, traj = small
    assert traj["slate"]["features"].shape == (STEPS + 1, U, K, 2)
    assert traj["user_response"]["choice"].shape == (STEPS + 1, U)
    # every user clicks one slate item (no no-choice option): U clicks per step
    np.testing.assert_allclose(traj["metrics"]["provider_clicks"].sum(-1), U)
    # discounted click count follows c <- 0.96 c + clicks of the previous step
    c = traj["corpus_state"]["click_count"]
    np.testing.assert_allclose(c[1:], 0.96 * c[:-1] + traj["metrics"]["provider_clicks"][:-1], rtol=1e-6)
    # cumulative reward is the running sum of utilities
    np.testing.assert_allclose(traj["metrics"]["cumulative_reward"][-1],
                               traj["user_state"]["utility"][1:].sum(0), rtol=1e-5)
    # slates hold distinct documents and their features
    idx = traj["slate"]["doc_index"]
    assert np.all(idx[..., 0] != idx[..., 1])
    np.testing.assert_array_equal(
        traj["slate"]["features"],
        np.take_along_axis(traj["available_docs"]["features"][:, None], idx[..., None], axis=2))


def test_log_prob_equals_hand_computed_terms(small):
    runtime, traj = small
    f64 = lambda a: np.asarray(a, np.float64)
    u = f64(traj["user_state"]["interests"][0])
    norms = 1.0 + np.linalg.norm(f64(MEANS), axis=-1)
    mix = special.log_softmax(-np.log(norms))
    comp = np.stack([stats.multivariate_normal(MEANS[p], (20.5 / norms[p]) ** 2 * np.eye(2)).logpdf(u)
                     for p in range(3)], -1)
    expected = special.logsumexp(comp + mix, -1).sum()  # interests
    for t in range(STEPS + 1):
        pid, feats = traj["available_docs"]["provider_id"][t], f64(traj["available_docs"]["features"][t])
        provider_logp = special.log_softmax(2.0 * np.log1p(f64(traj["corpus_state"]["click_count"][t])))
        expected += provider_logp[pid].sum() + stats.norm.logpdf(feats - MEANS[pid]).sum()
        slate_feats = f64(traj["slate"]["features"][t])
        logits = -np.linalg.norm(u[:, None, :] - slate_feats, axis=-1) + 2.0
        choice_t = traj["user_response"]["choice"][t]
        expected += special.log_softmax(logits, -1)[np.arange(U), choice_t].sum()
        if t >= 1:
            prev_choice = traj["user_response"]["choice"][t - 1]
            chosen = f64(traj["slate"]["features"][t - 1])[np.arange(U), prev_choice]
            mean_utility = -np.linalg.norm(u - chosen, axis=-1) + 2.0
            expected += stats.norm.logpdf(f64(traj["user_state"]["utility"][t]), mean_utility, 1.0).sum()
    got = float(jax.jit(runtime.log_prob)(traj))
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    # deterministic fields score 0: the recommender and metrics terms are exactly zero
    terms = jax.jit(runtime.log_prob_terms)(traj)
    for name in ("slate", "metrics", "corpus_state", "recommender_state"):
        np.testing.assert_array_equal(np.asarray(terms[name]), 0.0)


def test_provider_aware_boost_signs():
    from simlab.recsim.entities import ProviderAwareRecommender
    rec = ProviderAwareRecommender(jnp.float32(1.2), num_providers=2, slate_size=1)
    docs = {"features": jnp.zeros((2, 2)), "provider_id": jnp.array([0, 1])}
    scores = rec.scores({"provider_pulls": jnp.array([10.0, 0.0])}, {"interests": jnp.zeros((1, 2))}, docs)
    np.testing.assert_allclose(scores, [[2.0 - 1.2, 2.0 + 1.2]])
    myopic = ProviderAwareRecommender(jnp.float32(0.0), num_providers=2, slate_size=1)
    np.testing.assert_allclose(myopic.scores({"provider_pulls": jnp.array([10.0, 0.0])},
                                             {"interests": jnp.zeros((1, 2))}, docs), [[2.0, 2.0]])


def test_small_study_runs_and_reports():
    result = eco.run_study(num_runs=2, num_users=50, horizon=5)
    summary = result.summary()
    assert set(summary) == {"myopic", "provider_aware"}
    assert result.click_hhi["myopic"].shape == (2, 6)
    assert np.isfinite(summary["myopic"]["mean"]) and summary["myopic"]["stderr"] >= 0
