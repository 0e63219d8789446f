"""MLE recovers a known parameter; HMC posteriors over latent intents beat the prior."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from learning_cases import CASES
from simlab.recsim.apps import latent
from simlab.recsim.inference import hmc_posterior


def test_mle_recovers_choice_sensitivity_within_10_percent():
    """The MLE from 200 logged trajectories is within 10 % of the true sensitivity.

    Seeds 0-4 on a 2-core CPU, relative error: min 0.002, mean 0.009, max 0.017.
    """
    case = CASES["mle_sensitivity"]
    outcome = case.check(case.default_seed)
    ll, logs = outcome["log_likelihood"], outcome["logs"]
    true = latent.TRUE_PARAMS["sensitivity"]
    assert ll[-1] > ll[0]
    # the log-likelihood is higher at the truth than at a wrong value
    at = lambda s: float(latent.log_likelihood({**latent.TRUE_PARAMS, "sensitivity": jnp.float32(s)}, logs))
    assert at(true) > at(0.5 * true) and at(true) > at(1.5 * true)


def test_hmc_posterior_mean_of_intent_beats_prior_mean():
    logs = latent.simulate_logs(jax.random.PRNGKey(1), num_trajectories=1, num_steps=8, num_users=30)
    trajectory = jax.tree.map(lambda a: a[0], logs)
    samples, info = latent.infer_intents(jax.random.PRNGKey(2), trajectory, num_users=30)
    assert 0.5 < float(info["acceptance_rate"]) <= 1.0
    true = np.asarray(trajectory["user"]["intent"][0])
    posterior_mean = np.asarray(samples.mean(0))
    closer = np.linalg.norm(posterior_mean - true, axis=-1) < np.linalg.norm(true, axis=-1)  # prior mean 0
    assert closer.mean() >= 0.8


def test_hmc_samples_a_known_gaussian():
    mean, scale = jnp.array([1.0, -2.0]), jnp.array([0.5, 2.0])
    logdensity = lambda x: -0.5 * jnp.sum(((x - mean) / scale) ** 2)
    samples, info = hmc_posterior(logdensity, jnp.zeros(2), jax.random.PRNGKey(0), num_samples=4000,
                                  num_warmup=200, step_size=0.3, num_integration_steps=5,
                                  inverse_mass_matrix=scale ** 2)
    np.testing.assert_allclose(samples.mean(0), mean, atol=0.15)
    np.testing.assert_allclose(samples.std(0), scale, rtol=0.15)
