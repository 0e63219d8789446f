"""The slate environment: protocol, specs, dynamics and gymnasium registration."""
import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from simlab import envs
import simlab.envs.recommendation  # noqa: F401  (registers slate_recommendation)
from simlab.envs.recommendation import SlateRecommendation
from simlab.recsim.apps import slate_rl


@pytest.fixture(scope="module")
def env():
    return SlateRecommendation()


def test_specs_and_reset(env):
    state = jax.jit(env.reset)(jax.random.PRNGKey(0))
    assert state.obs.shape == env.observation_spec.shape == (21,)
    assert env.action_spec.shape == (10,)
    assert -0.2 <= float(state.obs[0]) <= 0.2


def test_step_dynamics_follow_the_model(env):
    state = env.reset(jax.random.PRNGKey(1))
    scores = jnp.arange(10.0)  # slate = documents 9, 8, 7
    nxt = jax.jit(env.step)(state, scores)
    s0 = float(state.sim.satisfaction)
    clicked = float(nxt.metrics["clicked"])
    np.testing.assert_allclose(float(nxt.reward), clicked * (1.0 + s0), rtol=1e-6)
    # satisfaction moves 10% towards the consumed quality (one of the slate's documents, or 0)
    consumed = (float(nxt.sim.satisfaction) - 0.9 * s0) / 0.1
    candidates = np.append(np.asarray(state.sim.quality)[[9, 8, 7]], 0.0)
    assert np.min(np.abs(candidates - consumed)) < 1e-4
    assert not bool(nxt.terminated)


def test_click_rate_matches_the_choice_model(env):
    # all slates of the same state: empirical click rate equals 1 - P(no click)
    state = env.reset(jax.random.PRNGKey(2))
    keys = jax.random.split(jax.random.PRNGKey(3), 20000)
    states = jax.vmap(lambda k: state.replace(sim=state.sim.replace(key=k)))(keys)
    clicked = jax.jit(jax.vmap(lambda s: env.step(s, jnp.arange(10.0)).metrics["clicked"]))(states)
    logits = np.append(3.0 * np.asarray(state.sim.appeal)[[9, 8, 7]], 1.0 - 2.0 * float(state.sim.satisfaction))
    p_click = 1.0 - np.exp(logits[-1]) / np.exp(logits).sum()
    assert abs(float(clicked.mean()) - p_click) < 4 * np.sqrt(p_click * (1 - p_click) / 20000)


def test_registered_with_registry_and_gymnasium():
    assert "slate_recommendation" in envs.names()
    batch = envs.make("slate_recommendation", num_envs=4)
    assert jax.jit(batch.reset)(jax.random.PRNGKey(0)).obs.shape == (4, 21)
    gym_env = gymnasium.make("simlab/SlateRecommendation-v0")
    obs, _ = gym_env.reset(seed=0)
    assert obs.shape == (21,)
    gym_env.step(gym_env.action_space.sample())


def test_bad_config_is_rejected():
    with pytest.raises(ValueError, match="slate_size"):
        SlateRecommendation(num_candidates=3, slate_size=5)
