"""Shared agent pieces against hand-computed and reference values."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from simlab.agents import normalization
from simlab.agents.actions import ActionScaler
from simlab.agents.gae import compute_gae
from simlab.agents.ppo import losses
from simlab.agents.replay import make_replay_buffer
from simlab.engine.specs import BoxSpec


def test_gae_bootstraps_at_truncation_but_not_termination():
    gamma, lam = 0.9, 0.8
    rewards = jnp.array([[1.0], [2.0], [3.0], [4.0]])
    values = jnp.array([[0.5], [0.6], [0.7], [0.8]])
    next_values = jnp.array([[0.6], [10.0], [0.8], [0.9]])  # step 1 truncates (10.0 = V(final obs))
    terminated = jnp.array([[0], [0], [0], [1]], bool)
    truncated = jnp.array([[0], [1], [0], [0]], bool)
    adv, ret = compute_gae(rewards, values, next_values, terminated, truncated, gamma, lam)
    d3 = 4.0 - 0.8  # terminal: no bootstrap
    d2 = 3.0 + gamma * 0.8 - 0.7
    d1 = 2.0 + gamma * 10.0 - 0.6  # truncated: bootstrap from the final observation
    d0 = 1.0 + gamma * 0.6 - 0.5
    a3 = d3
    a2 = d2 + gamma * lam * a3
    a1 = d1  # the recursion stops at the episode end
    a0 = d0 + gamma * lam * a1
    np.testing.assert_allclose(adv[:, 0], [a0, a1, a2, a3], rtol=1e-6)
    np.testing.assert_allclose(ret, adv + values, rtol=1e-6)


def test_public_shape_contracts_are_asserted_at_trace_time():
    """chex assertions at the boundaries name the contract instead of a broadcasting error deep inside."""
    t_b = jnp.zeros((4, 2))
    with pytest.raises(AssertionError, match=r"compute_gae: .*\[T, B\]"):
        compute_gae(t_b, t_b, jnp.zeros((4, 3)), t_b, t_b, 0.9, 0.9)
    with pytest.raises(AssertionError, match="time-major"):
        compute_gae(jnp.zeros(4), jnp.zeros(4), jnp.zeros(4), jnp.zeros(4), jnp.zeros(4), 0.9, 0.9)
    with pytest.raises(AssertionError, match="update_stats"):
        normalization.update_stats(normalization.init_stats(4), jnp.zeros((8, 3)))
    with pytest.raises(AssertionError, match="normalize"):
        jax.jit(lambda o: normalization.normalize(normalization.init_stats(4), o))(jnp.zeros((2, 5)))
    scaler = ActionScaler.for_spec(BoxSpec((2,), np.dtype(np.float32), -np.ones(2), np.ones(2)))
    with pytest.raises(AssertionError, match="to_env"):
        scaler.to_env(jnp.zeros((5, 3)))
    with pytest.raises(AssertionError, match="clipped_policy_loss"):
        losses.clipped_policy_loss(jnp.zeros(8), jnp.zeros(8), jnp.zeros((8, 1)), 0.2)
    with pytest.raises(AssertionError, match="value_loss"):
        losses.value_loss(jnp.zeros((8, 1)), jnp.zeros((8, 1)), jnp.zeros((8, 1)), 0.2)
    buffer = make_replay_buffer(4, {"obs": jnp.zeros(3), "action": jnp.zeros(2)})
    with pytest.raises(AssertionError, match="replay add"):  # [2, 1] would broadcast into [2, 2] without the check
        buffer.add(buffer.init(), {"obs": jnp.zeros((2, 3)), "action": jnp.zeros((2, 1))})


def test_running_normalization_matches_numpy():
    rng = np.random.default_rng(0)
    batches = [rng.normal(3.0, 2.0, size=(n, 4)).astype(np.float32) for n in (7, 100, 33)]
    s = normalization.init_stats(4)
    for b in batches:
        s = normalization.update_stats(s, jnp.asarray(b))
    everything = np.concatenate(batches)
    np.testing.assert_allclose(s.mean, everything.mean(0), rtol=1e-5)
    np.testing.assert_allclose(s.var, everything.var(0), rtol=1e-4)
    z = normalization.normalize(s, jnp.asarray(everything))
    np.testing.assert_allclose(np.asarray(z).mean(0), 0.0, atol=1e-4)
    np.testing.assert_allclose(np.asarray(z).std(0), 1.0, atol=1e-3)
    fresh = normalization.init_stats(4)
    np.testing.assert_array_equal(normalization.normalize(fresh, jnp.ones(4)), jnp.ones(4))


def test_ppo_loss_terms_by_hand():
    log_prob = jnp.log(jnp.array([1.5, 0.5, 1.1]))
    old = jnp.zeros(3)
    adv = jnp.array([1.0, 1.0, -2.0])
    loss, frac = losses.clipped_policy_loss(log_prob, old, adv, clip_eps=0.2)
    # ratios 1.5 (clipped to 1.2 for A>0), 0.5 (unclipped min for A>0), 1.1 (inside)
    expected = -np.mean([1.2 * 1.0, 0.5 * 1.0, 1.1 * -2.0])
    np.testing.assert_allclose(loss, expected, rtol=1e-6)
    np.testing.assert_allclose(frac, 2 / 3, rtol=1e-6)
    v = losses.value_loss(jnp.array([2.0]), jnp.array([1.0]), jnp.array([3.0]), clip_eps=0.5)
    np.testing.assert_allclose(v, 0.5 * max((2 - 3) ** 2, (1.5 - 3) ** 2))
    np.testing.assert_allclose(losses.value_loss(jnp.array([2.0]), jnp.array([1.0]), jnp.array([3.0]), 0.0), 0.5)


def test_replay_buffer_wraps_and_samples_valid_entries():
    buf = make_replay_buffer(5, {"x": jnp.zeros(())})
    data = buf.init()
    data = buf.add(data, {"x": jnp.arange(3.0)})
    assert int(data.size) == 3
    samples = buf.sample(data, jax.random.key(0), 200)["x"]
    assert set(np.asarray(samples).tolist()) == {0.0, 1.0, 2.0}
    data = buf.add(data, {"x": jnp.arange(3.0, 7.0)})  # 7 items into 5 slots: 0 and 1 overwritten
    assert int(data.size) == 5 and int(data.position) == 2
    assert sorted(np.asarray(data.storage["x"]).tolist()) == [2.0, 3.0, 4.0, 5.0, 6.0]
    with pytest.raises(ValueError, match="capacity"):
        buf.add(data, {"x": jnp.zeros(6)})
    with pytest.raises(ValueError, match="positive int"):
        make_replay_buffer(0, {"x": jnp.zeros(())})
