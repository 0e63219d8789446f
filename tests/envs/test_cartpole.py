"""`cartpole` against gymnasium's CartPole-v1: dynamics, termination, truncation, resets and bad actions."""
import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from simlab import engine, envs

THETA_LIMIT = 12 * 2 * np.pi / 360


def balancing_action(s):
    """A linear bang-bang controller that keeps the pole up and the cart on the track for 500+ steps."""
    return (s[..., 2] + 0.5 * s[..., 3] + 0.05 * s[..., 0] + 0.1 * s[..., 1] > 0).astype(np.int32)


@pytest.fixture(scope="module")
def raw():
    return envs.make("cartpole", episode_length=None)


@pytest.fixture(scope="module")
def open_loop(raw):
    """`run(sim0[4], actions[T]) -> (obs[T, 4], terminated[T], reward[T])`, jitted once."""

    def run(sim0, actions):
        state = raw.reset(jax.random.key(0)).replace(sim=sim0, obs=sim0)

        def body(s, a):
            s = raw.step(s, a)
            return s, (s.obs, s.terminated, s.reward)

        return jax.lax.scan(body, state, actions)[1]

    return jax.jit(jax.vmap(run))


def test_matches_gymnasium_step_for_step_open_loop(open_loop):
    # Same initial state, same actions, 105 steps without feedback. Euler on the upright pole is unstable,
    # so float32 vs gymnasium's float64 rounding grows by about e every 9 steps (1e-7 -> 1e-4 by step 100).
    initial = np.array([0.03, -0.02, 0.04, 0.01])
    ref_obs, ref_term = [], []
    ref = gymnasium.make("CartPole-v1").unwrapped
    ref.reset(seed=0)
    ref.state = initial.copy()
    actions = []
    for _ in range(105):
        actions.append(int(balancing_action(ref.state)))
        o, _, term, _, _ = ref.step(actions[-1])
        ref_obs.append(o)
        ref_term.append(term)
    obs, term, reward = open_loop(jnp.asarray([initial], jnp.float32), jnp.asarray([actions], jnp.int32))
    assert obs.dtype == jnp.float32 and reward.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(obs[0]), np.array(ref_obs), atol=2e-4)
    assert not np.any(ref_term) and not np.any(np.asarray(term))
    np.testing.assert_array_equal(np.asarray(reward), 1.0)


def test_matches_gymnasium_one_step_from_every_state_of_a_500_step_episode(raw):
    # Closed loop on gymnasium's float64 trajectory; ours steps from each of its states (float32).
    ref = gymnasium.make("CartPole-v1").unwrapped
    ref.reset(seed=1)
    states, actions, next_obs = [], [], []
    for _ in range(500):
        states.append(np.array(ref.state))
        actions.append(int(balancing_action(ref.state) ^ (len(states) % 7 == 0)))  # some kicks
        o, _, term, _, _ = ref.step(actions[-1])
        assert not term
        next_obs.append(o)
    sims = jnp.asarray(np.array(states), jnp.float32)
    template = raw.reset(jax.random.key(0))
    batch = jax.tree.map(lambda x: jnp.broadcast_to(x, (500, *x.shape)), template).replace(sim=sims, obs=sims)
    out = jax.jit(jax.vmap(raw.step))(batch, jnp.asarray(actions, jnp.int32))
    np.testing.assert_allclose(np.asarray(out.obs), np.array(next_obs), rtol=1e-5, atol=1e-6)
    assert np.abs(np.array(next_obs)[:, 0]).max() > 0.1  # the cart moved: not a trivial trajectory


def test_terminates_on_the_same_step_as_gymnasium(open_loop):
    # Random pushes and one-sided pushes end by the pole angle; balancing near a track end ends by position.
    rng = np.random.default_rng(0)
    initial = rng.uniform(-0.05, 0.05, (16, 4))
    initial[12:, :2] = [[2.3, 0.5], [-2.3, -0.5], [2.35, 0.3], [-2.35, -0.3]]
    policies = [lambda s: rng.integers(0, 2)] * 8 + [lambda s: 1] * 4 + [balancing_action] * 4
    actions = np.zeros((16, 100), np.int32)
    ends = []
    for i, policy in enumerate(policies):
        ref = gymnasium.make("CartPole-v1").unwrapped
        ref.reset(seed=0)
        ref.state = initial[i].copy()
        for t in range(100):
            actions[i, t] = policy(ref.state)
            _, _, term, _, _ = ref.step(int(actions[i, t]))
            if term:
                break
        assert term, "gymnasium's episode should end within 100 steps"
        ends.append((t, ref.state))
    obs, term, _ = open_loop(jnp.asarray(initial, jnp.float32), jnp.asarray(actions))
    term = np.asarray(term)
    for i, (t, final) in enumerate(ends):
        assert np.flatnonzero(term[i])[0] == t
        np.testing.assert_allclose(np.asarray(obs[i, t]), final, atol=2e-4)
        by_position = abs(final[0]) > 2.4
        assert by_position == (i >= 12)


def test_termination_and_truncation_flags():
    env = envs.make("cartpole")  # 500-step time limit
    step = jax.jit(env.step)
    base = env.reset(jax.random.key(0))

    def at(sim):
        sim = jnp.asarray(sim, jnp.float32)
        return base.replace(sim=sim, obs=sim)

    for sim, action in [([0.0, 0.0, 0.2, 1.0], 0), ([0.0, 0.0, -0.2, -1.0], 1), ([2.39, 1.0, 0.0, 0.0], 1),
                        ([-2.39, -1.0, 0.0, 0.0], 0)]:
        s = step(at(sim), jnp.int32(action))
        assert bool(s.terminated) and not bool(s.truncated) and float(s.reward) == 1.0
    s = step(at([0.0, 0.0, 0.0, 0.0]), jnp.int32(1))
    assert not bool(s.terminated) and not bool(s.truncated)

    def body(s, _):
        s = env.step(s, jnp.asarray(balancing_action(s.obs)))
        return s, (s.terminated, s.truncated)

    _, (terminated, truncated) = jax.jit(lambda s: jax.lax.scan(body, s, None, 500))(base)
    assert not np.any(np.asarray(terminated))
    np.testing.assert_array_equal(np.flatnonzero(np.asarray(truncated)), [499])


def test_batched_random_policy_resets_fresh_episodes():
    num_envs = 64
    env = envs.make("cartpole", num_envs=num_envs)
    assert env.action_spec == engine.DiscreteSpec(2) and env.observation_spec.shape == (4,)

    def coin_flips(obs, key):
        return jax.random.bernoulli(key, 0.5, obs.shape[:1]).astype(jnp.int32)

    rollout = jax.jit(engine.make_rollout(env, coin_flips, num_steps=100))
    state = jax.jit(env.reset)(jax.random.key(0))
    assert np.all(np.abs(np.asarray(state.obs)) <= 0.05)
    state, tr = rollout(state, jax.random.key(1))
    terminated, next_obs, obs = (np.asarray(x) for x in (tr.terminated, tr.next_obs, tr.obs))
    assert terminated.sum() > num_envs  # random play ends episodes within ~10-40 steps
    assert not np.asarray(tr.truncated).any()
    t, i = np.nonzero(terminated[:-1])
    assert np.all(np.abs(obs[t + 1, i]) <= 0.05)  # the next episode starts from a fresh reset
    ended = next_obs[t, i]
    assert np.all((np.abs(ended[:, 0]) > 2.4) | (np.abs(ended[:, 2]) > THETA_LIMIT))
    assert len({tuple(o) for o in obs[t + 1, i]}) == len(t)  # every new episode starts differently
    lengths = np.asarray(state.info["last_episode_length"])
    np.testing.assert_array_equal(np.asarray(state.info["last_episode_return"]), lengths)


def test_reset_draws_uniform_0_05():
    sims = np.asarray(jax.vmap(envs.make("cartpole").reset)(jax.random.split(jax.random.key(0), 2000)).sim)
    assert sims.dtype == np.float32
    assert np.all(np.abs(sims) <= 0.05) and np.all(np.abs(sims).max(axis=0) > 0.049)


@pytest.fixture(scope="module")
def gym_cartpole():
    env = gymnasium.make("simlab/CartPole-v0", disable_env_checker=True)
    env.reset(seed=0)
    return env


def test_gymnasium_adapter_spaces_and_step(gym_cartpole):
    assert gym_cartpole.action_space == gymnasium.spaces.Discrete(2)
    assert gym_cartpole.observation_space == gymnasium.make("CartPole-v1").observation_space
    obs, reward, terminated, truncated, _ = gym_cartpole.step(np.int64(1))
    assert obs.dtype == np.float32 and reward == 1.0 and not truncated


@pytest.mark.parametrize("action, error, message", [
    (np.float32(1.0), TypeError, r"integers in \[0, 2\)"),
    (np.array([1]), ValueError, r"shape \(\), got \(1,\)"),
    (2, ValueError, r"must lie in \[0, 2\)"),
    (-1, ValueError, r"must lie in \[0, 2\)"),
    (True, TypeError, "integers"),
])
def test_bad_actions_raise_at_the_boundary(gym_cartpole, action, error, message):
    with pytest.raises(error, match=message):
        gym_cartpole.unwrapped.step(action)


def test_vector_adapter_rejects_bad_actions():
    venv = gymnasium.make_vec("simlab/CartPole-v0", num_envs=4, vectorization_mode="vector_entry_point")
    assert venv.action_space == gymnasium.spaces.MultiDiscrete([2, 2, 2, 2])
    venv.reset(seed=0)
    with pytest.raises(ValueError, match=r"must lie in \[0, 2\)"):
        venv.step(np.array([0, 1, 2, 0]))
    with pytest.raises(TypeError, match="integers"):
        venv.step(np.zeros(4, np.float32))


def test_engine_step_rejects_a_non_scalar_action_when_traced(raw):
    state = raw.reset(jax.random.key(0))
    with pytest.raises(ValueError, match=r"scalar action in \{0, 1\} \(shape \(\)\), got shape \(1,\)"):
        jax.eval_shape(raw.step, state, jnp.zeros((1,), jnp.int32))
