"""AttentionNeuron: exact permutation invariance, any number of inputs, the paper's size."""
import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from simlab.agents.policy import make_mlp_policy
from simlab.agents.sensory.network import make_attention_probe, make_sensory_policy, sinusoidal_table

STEPS = 100


@pytest.fixture(scope="module")
def sensory():
    policy = make_sensory_policy(action_size=1, num_queries=16)
    params = policy.init(jax.random.key(0), 5)
    # Larger-than-init weights so the attention is far from uniform.
    params = jax.tree_util.tree_map(lambda x: 3.0 * x + 0.3 * jax.random.normal(jax.random.key(1), x.shape), params)
    return policy, params


def run_layer(params, observations, prev_actions, probe):
    """Scans the layer over `observations [T, N]`; returns codes [T, M] and final LSTM state."""
    n = observations.shape[1]
    zeros = jnp.zeros((n, 8))

    def body(state, inputs):
        obs, prev_action = inputs
        code, _, state = probe(params, obs, state, prev_action)
        return state, code

    final, codes = jax.lax.scan(body, hk.LSTMState(zeros, zeros), (observations, prev_actions))
    return codes, final


@pytest.mark.parametrize("num_inputs", [5, 15])
def test_global_code_is_exactly_permutation_invariant_over_100_steps(sensory, num_inputs):
    _, params = sensory
    probe = make_attention_probe()
    key_obs, key_act, key_perm = jax.random.split(jax.random.key(num_inputs), 3)
    observations = 2.0 * jax.random.normal(key_obs, (STEPS, num_inputs))
    prev_actions = jax.random.uniform(key_act, (STEPS, 1), minval=-1, maxval=1)
    run = jax.jit(lambda obs: run_layer(params, obs, prev_actions, probe))
    codes, final = run(observations)
    assert float(jnp.std(codes)) > 0.05  # a non-trivial code

    def body(state, inputs):
        obs, prev_action, perm, next_perm = inputs
        code, _, state = probe(params, obs, state, prev_action)
        # Re-index the state from this step's order to the next step's order.
        to_original = jax.tree_util.tree_map(lambda s: s[jnp.argsort(perm)], state)
        return jax.tree_util.tree_map(lambda s: s[next_perm], to_original), code

    @jax.jit
    def shuffled_codes(perms):
        zeros = jnp.zeros((num_inputs, 8))
        next_perms = jnp.concatenate([perms[1:], perms[-1:]])
        shuffled = jnp.take_along_axis(observations, perms, axis=1)
        return jax.lax.scan(body, hk.LSTMState(zeros, zeros), (shuffled, prev_actions, perms, next_perms))[1]

    for seed in range(3):
        # A fresh random permutation at every step: each neuron's LSTM state must travel with its element.
        perms = jax.vmap(lambda k: jax.random.permutation(k, num_inputs))(
            jax.random.split(jax.random.fold_in(key_perm, seed), STEPS))
        np.testing.assert_allclose(np.asarray(shuffled_codes(perms)), np.asarray(codes), atol=1e-5, rtol=0)


def test_policy_actions_invariant_to_a_fixed_permutation(sensory):
    policy, params = sensory
    observations = jax.random.normal(jax.random.key(7), (STEPS, 5))
    perm = jnp.array([3, 0, 4, 1, 2])

    @jax.jit
    def actions(obs_seq):
        def body(carry, obs):
            return policy.step(params, carry, obs)
        return jax.lax.scan(body, policy.initial_carry(obs_seq.shape[1]), obs_seq)[1]

    np.testing.assert_allclose(np.asarray(actions(observations[:, perm])), np.asarray(actions(observations)),
                               atol=1e-5, rtol=0)


def test_any_number_of_inputs_with_the_same_parameters(sensory):
    policy, params = sensory
    sizes = {}
    for n in (1, 5, 10, 37):
        carry = policy.initial_carry(n)
        carry, action = jax.jit(policy.step)(params, carry, jnp.linspace(-1.0, 1.0, n))
        assert action.shape == (1,) and bool(jnp.all(jnp.abs(action) <= 1.0))
        assert carry[0].hidden.shape == (n, 8)
        sizes[n] = float(action[0])
    assert len(set(sizes.values())) > 1  # different inputs, different actions
    # Parameters did not change shape: no re-initialisation per size.
    assert policy.num_params(params) == policy.num_params(policy.init(jax.random.key(0), 37))


def test_parameter_count_matches_the_paper(sensory):
    policy, params = sensory
    count = policy.num_params(params)
    # LSTM(2 -> 8): 4*8*(2+8)+32 = 352; key and query projections 8x32+32 each; head 16+1.
    assert count == 352 + 288 + 288 + 17
    assert 800 <= count <= 1200  # "about 1k parameters"
    ant = make_sensory_policy(action_size=8, num_queries=32, head_hidden=(32,))
    ant_params = ant.init(jax.random.key(0), 28)
    assert ant_params["head_hidden_0"]["w"].shape == (32, 32) and ant_params["head_out"]["w"].shape == (32, 8)


def test_sinusoidal_queries_are_fixed():
    table = sinusoidal_table(16, 8)
    assert table.shape == (16, 8)
    np.testing.assert_allclose(table[:, 0], np.sin(np.arange(16)), atol=1e-6)
    np.testing.assert_allclose(table[:, 1], np.cos(np.arange(16)), atol=1e-6)
    np.testing.assert_allclose(table[3, 2], np.sin(3 / 10000 ** (2 / 8)), atol=1e-6)


def test_mlp_baseline_is_order_sensitive_and_size_fixed():
    mlp = make_mlp_policy(5, 1, (32, 16))
    params = mlp.init(jax.random.key(0))
    assert 600 <= mlp.num_params(params) <= 1200  # same budget as the sensory agent
    obs = jnp.array([0.3, -1.0, 0.5, 0.8, 2.0])
    _, a = mlp.step(params, (), obs)
    _, b = mlp.step(params, (), obs[::-1])
    assert abs(float(a[0] - b[0])) > 1e-4
    with pytest.raises(ValueError, match="reads 5 inputs"):
        mlp.step(params, (), obs[:3])
