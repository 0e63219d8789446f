"""The generic PettingZoo parallel adapter: API compliance on every registered multi-agent environment."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from simlab import envs
from simlab.engine.env import Env, initial_state
from simlab.engine.specs import BoxSpec
from simlab.envs.pettingzoo import ParallelRendezvous, SimlabParallelEnv, multi_agent_names


def test_multi_agent_names_are_the_non_gym_entries():
    assert "rendezvous" in multi_agent_names()
    assert not {"pendulum", "ant"} & set(multi_agent_names())


@pytest.mark.parametrize("name", multi_agent_names())
def test_parallel_api(name):
    from pettingzoo.test import parallel_api_test

    env = SimlabParallelEnv(name)
    parallel_api_test(env, num_cycles=50)
    engine_env = env.simlab_env
    k = engine_env.observation_spec.shape[0]
    assert env.possible_agents == [f"agent_{i}" for i in range(k)] and env.metadata["name"] == f"simlab_{name}_v0"
    obs, infos = env.reset(seed=3)
    # the same numbers as the engine environment, stepped directly with the same key
    direct = jax.jit(engine_env.reset)(jax.random.split(jax.random.key(3))[1])
    np.testing.assert_array_equal(np.stack([obs[a] for a in env.possible_agents]), np.asarray(direct.obs))
    actions = {a: env.action_space(a).sample() for a in env.agents}
    obs, rewards, terminated, truncated, infos = env.step(actions)
    direct = jax.jit(engine_env.step)(direct, np.stack([actions[a] for a in env.possible_agents]))
    np.testing.assert_array_equal(np.stack([obs[a] for a in env.possible_agents]), np.asarray(direct.obs))
    np.testing.assert_allclose([rewards[a] for a in env.possible_agents], np.asarray(direct.reward))
    assert env.state().ndim == 1
    with pytest.raises(ValueError, match="missing"):
        env.step({})


def test_rendezvous_through_the_adapter():
    env = ParallelRendezvous(num_agents=3, render_mode="rgb_array")
    obs, _ = env.reset(seed=3)
    assert set(obs) == {"agent_0", "agent_1", "agent_2"} and obs["agent_0"].shape == (72,)
    assert env.action_space("agent_1").shape == (2,) and env.action_space("agent_1").low.min() == -1.0
    assert env.state().shape == (9,)  # Rendezvous.global_state: every pose (x, y, heading)
    assert env.render().shape[-1] == 3  # an RGB frame
    with pytest.raises(ValueError, match="missing"):
        env.step({"agent_0": np.zeros(2, np.float32)})
    with pytest.raises(ValueError, match="shape"):
        env.step({a: np.zeros(3, np.float32) for a in env.agents})


def test_single_agent_and_batched_requests_are_refused():
    with pytest.raises(ValueError, match="single-agent.*gymnasium.make"):
        SimlabParallelEnv("pendulum")
    with pytest.raises(TypeError, match="num_envs"):
        SimlabParallelEnv("rendezvous", num_envs=4)


class Pair(Env):
    """Two agents with different action bounds and a per-agent metric: obs [2, 3], action [2, 1], reward [2]."""

    default_episode_length = 5

    @property
    def observation_spec(self):
        return BoxSpec((2, 3))

    @property
    def action_spec(self):
        return BoxSpec((2, 1), low=np.array([[-1.0], [0.0]]), high=np.array([[1.0], [2.0]]))

    def reset(self, key):
        state = initial_state(jnp.zeros((2,)), jax.random.normal(key, (2, 3)), metrics={"pos": jnp.zeros((2,))})
        return state.replace(reward=jnp.zeros((2,), jnp.float32))

    def step(self, state, action):
        pos = state.sim + action[:, 0]
        return state.replace(sim=pos, obs=state.obs + action, reward=-jnp.abs(pos), metrics={"pos": pos})


def test_any_multi_agent_env_gets_per_agent_spaces_and_metrics(monkeypatch):
    from pettingzoo.test import parallel_api_test

    from simlab.envs import registry

    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))  # a private copy: nothing leaks out
    envs.register("toy_pair", Pair, gym=False)
    assert "toy_pair" in multi_agent_names()
    env = SimlabParallelEnv("toy_pair")
    parallel_api_test(env, num_cycles=20)
    assert env.action_space("agent_1").low.tolist() == [0.0] and env.action_space("agent_0").low.tolist() == [-1.0]
    assert env.metadata["render_modes"] == []
    env.reset(seed=0)
    _, rewards, _, _, infos = env.step({"agent_0": np.array([0.5], np.float32), "agent_1": np.array([2.0], np.float32)})
    assert rewards == {"agent_0": -0.5, "agent_1": -2.0} and infos["agent_1"] == {"pos": 2.0}
    assert env.state().shape == (6,)  # no global_state: every observation, flattened
