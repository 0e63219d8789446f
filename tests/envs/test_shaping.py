"""ActionRatePenalty: the shaped reward equals the plain reward minus w * sum((a_t - a_{t-1})^2)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from simlab import envs
from simlab.engine.wrappers import ActionRatePenalty, strip_reward_shaping


def _rollout(env, actions, key):
    state = env.reset(key)

    def body(state, action):
        state = env.step(state, action)
        return state, (state.reward, state.obs, state.metrics.get("reward_action_rate", jnp.zeros(())))

    return jax.lax.scan(body, state, actions)[1]


def test_penalty_matches_closed_form_and_leaves_dynamics_alone():
    weight = 0.7
    plain = envs.make("pendulum", episode_length=None)
    shaped = envs.make("pendulum", episode_length=None, action_rate_penalty=weight)
    actions = jax.random.uniform(jax.random.PRNGKey(1), (50, plain.action_size), minval=-1.0, maxval=1.0)
    key = jax.random.PRNGKey(2)
    r0, obs0, _ = jax.jit(_rollout, static_argnums=0)(plain, actions, key)
    r1, obs1, term = jax.jit(_rollout, static_argnums=0)(shaped, actions, key)
    previous = np.concatenate([np.zeros((1, plain.action_size)), np.asarray(actions[:-1])])
    expected = -weight * np.sum((np.asarray(actions) - previous) ** 2, axis=-1)
    np.testing.assert_allclose(np.asarray(obs1), np.asarray(obs0), rtol=0, atol=0)
    np.testing.assert_allclose(np.asarray(term), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(r1), np.asarray(r0) + expected, rtol=1e-5, atol=1e-5)


def test_auto_reset_starts_each_episode_from_a_zero_previous_action():
    env = envs.make("pendulum", episode_length=3, num_envs=2, action_rate_penalty=1.0)
    state = env.reset(jax.random.PRNGKey(0))
    step = jax.jit(env.step)
    for _ in range(3):
        state = step(state, jnp.ones((2, env.action_size)))
    # the episode ended at step 3 and was reset: the next step's rate is measured from zeros again
    np.testing.assert_array_equal(np.asarray(state.info["previous_action"]), 0.0)
    state = step(state, jnp.full((2, env.action_size), 0.5))
    np.testing.assert_allclose(np.asarray(state.metrics["reward_action_rate"]), -0.25 * env.action_size)


def test_bad_weight_and_strip():
    for bad in (-1.0, float("nan"), float("inf"), "abc", True):
        with pytest.raises(ValueError, match="action_rate_penalty"):
            envs.make("pendulum", action_rate_penalty=bad)
    with pytest.raises(ValueError, match="action_rate_penalty"):
        ActionRatePenalty(envs.make("pendulum"), -0.1)
    assert strip_reward_shaping({"action_rate_penalty": 0.3, "episode_length": 5}) == {"episode_length": 5}


def test_wrong_action_shape_is_refused():
    env = ActionRatePenalty(envs.make("pendulum"), 0.5)
    state = env.reset(jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="shape"):
        env.step(state, jnp.zeros((3, env.action_size)))
