"""lax.scan rollouts: shapes, bootstrapping observations, determinism."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from simlab import engine
from simlab import envs


@pytest.fixture(scope="module")
def cartpole_rollout():
    env = envs.make("cartpole_swingup", num_envs=32, episode_length=20)
    rollout = jax.jit(engine.make_rollout(env, engine.uniform_policy(env.action_spec), num_steps=50))
    return env, rollout


def test_rollout_shapes_and_next_obs(cartpole_rollout):
    env, rollout = cartpole_rollout
    state = env.reset(jax.random.key(0))
    final, tr = rollout(state, jax.random.key(1))
    assert tr.obs.shape == (50, 32, 5) and tr.action.shape == (50, 32, 1)
    assert tr.reward.shape == (50, 32) and tr.terminated.dtype == jnp.bool_
    done = np.asarray(tr.terminated | tr.truncated)
    same = np.all(np.asarray(tr.next_obs[:-1]) == np.asarray(tr.obs[1:]), axis=-1)
    # next_obs differs from the following obs exactly where an episode ended (auto-reset).
    np.testing.assert_array_equal(same, ~done[:-1])
    # 20-step time limit: every env that did not terminate is truncated at step 20.
    assert done[:20].any(axis=0).all()
    assert not np.any(np.asarray(tr.terminated & tr.truncated))


def test_rollout_is_deterministic(cartpole_rollout):
    env, rollout = cartpole_rollout
    a = rollout(env.reset(jax.random.key(5)), jax.random.key(6))[1]
    b = rollout(env.reset(jax.random.key(5)), jax.random.key(6))[1]
    c = rollout(env.reset(jax.random.key(5)), jax.random.key(7))[1]
    np.testing.assert_array_equal(np.asarray(a.obs), np.asarray(b.obs))
    assert not np.array_equal(np.asarray(a.obs), np.asarray(c.obs))


def test_rollout_rejects_bad_num_steps():
    env = envs.make("pendulum", num_envs=2)
    with pytest.raises(ValueError, match="num_steps"):
        engine.make_rollout(env, engine.uniform_policy(env.action_spec), 0)


def test_rollout_refuses_a_policy_with_the_wrong_action_shape():
    env = envs.make("cartpole_swingup", num_envs=4, episode_length=5)
    rollout = engine.make_rollout(env, lambda obs, key: jnp.zeros((4, 2)), num_steps=3)  # cart-pole takes [4, 1]
    with pytest.raises(AssertionError, match="make_rollout"):
        rollout(env.reset(jax.random.key(0)), jax.random.key(1))
