"""Observation transforms: shuffling is a bijection, re-shuffles on schedule, noise has the stated law."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from simlab import envs
from simlab.engine.wrappers import (NoiseChannels, ShuffleObservation, TimeLimit, VmapWrapper, inverse_permutation,
                                    unshuffled_observation, with_observation_transforms, wrap_for_training)
from simlab.envs.classic.cartpole_swingup import CartPoleSwingUp

NUM_ENVS = 64


def clean_obs(sim):
    return jax.vmap(CartPoleSwingUp._observe)(sim)


def run_steps(env, num_steps, seed=0):
    """Jitted scan of random actions; returns the initial state and stacked states [T, B, ...]."""
    batched = VmapWrapper(env, NUM_ENVS)

    @jax.jit
    def go(key):
        state = batched.reset(key)

        def body(state, k):
            action = jax.random.uniform(k, (NUM_ENVS, 1), minval=-1.0, maxval=1.0)
            state = batched.step(state, action)
            return state, state

        return state, jax.lax.scan(body, state, jax.random.split(jax.random.fold_in(key, 1), num_steps))[1]

    return go(jax.random.key(seed))


def test_permutation_is_a_bijection_applied_to_the_observation():
    env = ShuffleObservation(TimeLimit(CartPoleSwingUp(), 1000))
    first, states = run_steps(env, 20)
    perms = np.asarray(states.info["obs_permutation"])
    assert np.all(np.sort(perms, axis=-1) == np.arange(5))
    expected = np.take_along_axis(np.asarray(clean_obs(states.sim.reshape(-1, 4))).reshape(20, NUM_ENVS, 5),
                                  perms, axis=-1)
    np.testing.assert_array_equal(np.asarray(states.obs), expected)
    # Fixed within an episode, different across episodes (64 draws of 5! = 120 orders).
    assert np.all(perms == perms[0])
    assert len({tuple(p) for p in np.asarray(first.info["obs_permutation"])}) > 20
    np.testing.assert_array_equal(np.asarray(unshuffled_observation(states, 5)),
                                  np.asarray(clean_obs(states.sim.reshape(-1, 4))).reshape(20, NUM_ENVS, 5))


def test_inverse_permutation_undoes_the_gather():
    perm = jax.random.permutation(jax.random.key(3), 9)
    x = jnp.arange(9.0) * 1.5
    np.testing.assert_array_equal(np.asarray(x[perm][inverse_permutation(perm)]), np.asarray(x))


def test_new_permutation_after_auto_reset():
    env = wrap_for_training(ShuffleObservation(CartPoleSwingUp()), num_envs=NUM_ENVS, episode_length=3)

    @jax.jit
    def go(key):
        state = env.reset(key)

        def body(state, _):
            state = env.step(state, jnp.zeros((NUM_ENVS, 1)))
            return state, (state.info["obs_permutation"], state.done)

        return jax.lax.scan(body, state, None, length=6)[1]

    perms, done = map(np.asarray, go(jax.random.key(0)))
    changed = np.any(perms[1:] != perms[:-1], axis=-1)
    # The order changes only when an episode ended (the state then holds the next episode's obs) ...
    assert not np.any(changed & ~done[1:])
    # ... and a new episode almost always gets a new order (1/120 chance to redraw the same).
    assert done[1:].sum() > NUM_ENVS and changed[done[1:]].mean() > 0.9


def test_reshuffles_exactly_every_k_steps():
    k = 4
    env = ShuffleObservation(NoiseChannels(TimeLimit(CartPoleSwingUp(), 1000), 5), reshuffle_every=k)
    first, states = run_steps(env, 3 * k + 2)
    perms = np.concatenate([np.asarray(first.info["obs_permutation"])[None], np.asarray(states.info["obs_permutation"])])
    steps = np.concatenate([[0], np.asarray(states.info["shuffle_steps"][:, 0])])
    np.testing.assert_array_equal(steps, np.arange(3 * k + 3))
    for t in range(1, len(perms)):
        differs = np.any(perms[t] != perms[t - 1], axis=-1)
        if t % k == 0:
            assert differs.all(), t  # 10 channels: 1/10! chance of the same order
        else:
            assert not differs.any(), t
    assert np.all(np.sort(perms, axis=-1) == np.arange(10))


def test_noise_channels_have_the_stated_statistics():
    std = 0.3
    env = NoiseChannels(TimeLimit(CartPoleSwingUp(), 1000), 5, std=std)
    assert env.observation_spec.shape == (10,)
    first, states = run_steps(env, 100)
    obs = np.asarray(states.obs)
    np.testing.assert_array_equal(obs[..., :5], np.asarray(clean_obs(states.sim.reshape(-1, 4))).reshape(100, NUM_ENVS, 5))
    noise = obs[..., 5:].reshape(-1)
    n = noise.size  # 32000 draws
    assert abs(noise.mean()) < 4 * std / np.sqrt(n)
    assert abs(noise.std() - std) < 0.02 * std
    # Fresh draws every step and channel: neighbouring steps are uncorrelated.
    lagged = np.corrcoef(obs[1:, :, 5].ravel(), obs[:-1, :, 5].ravel())[0, 1]
    assert abs(lagged) < 0.05
    from scipy import stats
    assert stats.kstest(noise / std, "norm").pvalue > 1e-3


def test_specs_composition_and_registry_env():
    env = with_observation_transforms(envs.make("cartpole_swingup"), reshuffle_every=25, noise_channels=10)
    assert isinstance(env, ShuffleObservation) and isinstance(env.env, NoiseChannels)
    assert env.observation_spec.shape == (15,) and env.observation_size == 15
    assert env.action_spec.shape == (1,)
    state = jax.jit(env.reset)(jax.random.key(0))
    assert state.obs.shape == (15,)
    assert with_observation_transforms(envs.make("cartpole_swingup")).observation_size == 5


def test_step_is_branch_free():
    env = with_observation_transforms(envs.make("cartpole_swingup"), reshuffle_every=25, noise_channels=5)
    state = env.reset(jax.random.key(0))
    jaxpr = str(jax.make_jaxpr(env.step)(state, jnp.zeros(1)))
    for primitive in ("cond", "while", "switch"):
        assert f" {primitive}[" not in jaxpr


@pytest.mark.parametrize("bad", [dict(num_channels=0), dict(num_channels=2.5), dict(num_channels=3, std=-1.0)])
def test_noise_channels_reject_bad_arguments(bad):
    with pytest.raises(ValueError):
        NoiseChannels(CartPoleSwingUp(), **bad)


def test_shuffle_rejects_bad_arguments():
    with pytest.raises(ValueError, match="reshuffle_every"):
        ShuffleObservation(CartPoleSwingUp(), reshuffle_every=0)
    with pytest.raises(ValueError, match="noise_channels"):
        with_observation_transforms(CartPoleSwingUp(), noise_channels=-1)
