"""The one episode loop (`agents.evaluation`) behind the PPO/SAC/APG evaluator and the RecurrentPolicy returns."""
import jax
import jax.numpy as jnp
import numpy as np

from simlab.agents.evaluation import make_episode_returns, make_episode_rollout, make_evaluator
from simlab.agents.policy import RecurrentPolicy
from simlab.agents.ppo import PPOConfig, make_ppo
from simlab.engine.env import Env, initial_state
from simlab.engine.specs import BoxSpec
from simlab.engine.wrappers import TimeLimit


def test_the_ppo_evaluator_and_episode_returns_agree_on_a_feed_forward_policy():
    """`make_evaluator` (the RL driver's path) and `make_episode_returns` (ES fitness, sensory evaluation,
    BC validation) on the same env and starts: a PPO policy wrapped as a RecurrentPolicy with an empty carry
    gets the same returns as the PPO evaluation of it."""
    ppo = make_ppo("cartpole_swingup", PPOConfig(num_envs=2), total_steps=1000, episode_length=60)
    act = ppo.policy(ppo.init(jax.random.key(0)), deterministic=True)
    wrapped = RecurrentPolicy("ppo", ppo.eval_env.action_size, None, lambda key, n: {}, lambda n: (),
                              lambda params, carry, obs: (carry, act(obs[None], None)[0]))
    key = jax.random.key(3)
    theirs = jax.jit(make_evaluator(ppo.eval_env, act, 8))(key)
    reset_key = jax.random.split(key)[0]  # make_evaluator resets from the first half of its key
    ours, rewards = jax.jit(make_episode_returns(ppo.eval_env, wrapped, 8, record_rewards=True))({}, reset_key)
    assert float(jnp.std(theirs)) > 0.1  # different starts, different returns
    np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=1e-6, atol=1e-5)
    assert rewards.shape == (60, 8)
    np.testing.assert_allclose(np.asarray(rewards.sum(axis=0)), np.asarray(ours), rtol=1e-6, atol=1e-5)


class Countdown(Env):
    """Reward 1 per step; the episode terminates after `sim` steps, `sim` drawn from {2, 3, 4} at reset."""

    def reset(self, key):
        steps = jax.random.randint(key, (), 2, 5).astype(jnp.float32)
        return initial_state(steps, jnp.zeros(1, jnp.float32))

    def step(self, state, action):
        left = state.sim - 1.0
        return state.replace(sim=left, reward=jnp.ones((), jnp.float32), terminated=left <= 0.0)

    observation_spec = action_spec = BoxSpec(shape=(1,), dtype=np.float32, low=-np.ones(1, np.float32),
                                             high=np.ones(1, np.float32))


def test_the_rollout_masks_rewards_after_the_end_and_hands_out_step_keys():
    """Episodes that end at different steps within the time limit of 6: rewards after the end are zero, each
    step sees `alive` (before its step), the carry threads through, and step t gets `split(step_key, 6)[t]`."""
    num_episodes = 8
    reset_key = jax.random.key(1)
    env = TimeLimit(Countdown(), 6)
    lengths = np.asarray(jax.vmap(env.reset)(jax.random.split(reset_key, num_episodes)).sim)
    assert len(set(lengths.tolist())) > 1  # the starts differ

    def act(carry, state, alive, key):
        return carry + 1, jnp.zeros((num_episodes, 1)), (alive, jax.random.key_data(key), carry)

    rollout = make_episode_rollout(env, num_episodes)
    returns, (alive, keys, counts), rewards = jax.jit(lambda k: rollout(act, 0, k, jax.random.key(9)))(reset_key)
    expected_alive = np.arange(6)[:, None] < lengths[None, :]
    np.testing.assert_array_equal(np.asarray(alive), expected_alive)
    np.testing.assert_array_equal(np.asarray(rewards), expected_alive.astype(np.float32))
    np.testing.assert_array_equal(np.asarray(returns), lengths)
    np.testing.assert_array_equal(np.asarray(counts), np.arange(6))
    expected_keys = jax.random.key_data(jax.random.split(jax.random.key(9), 6))
    np.testing.assert_array_equal(np.asarray(keys), np.asarray(expected_keys))
