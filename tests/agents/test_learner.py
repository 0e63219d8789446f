"""The learner contract (issue 25): every agent the driver trains satisfies `Learner`; others are refused."""
from __future__ import annotations

import dataclasses

import jax
import numpy as np
import pytest

from simlab.agents.learner import Learner, check_learner
from simlab.agents.policy import RecurrentPolicy
from simlab.agents.registry import make_agent
from simlab.agents.train import TrainOptions, train
from simlab.engine import sharding

from run_safety_support import straight_and_resumed


@pytest.mark.parametrize("algo, env", [("ppo", "pendulum"), ("sac", "pendulum"), ("apg", "pendulum_balance"),
                                       ("es", "pendulum")])
def test_registered_agents_are_learners(algo, env):
    agent = make_agent(algo, env)
    assert isinstance(agent, Learner)
    check_learner(agent)


def test_an_object_without_the_contract_is_refused_before_training(tmp_path):
    @dataclasses.dataclass
    class NotALearner:
        name: str = "mine"
        config: object = None

    with pytest.raises(TypeError, match="lacks env_name, env_kwargs, env, eval_env, steps_per_iteration, init"):
        train(NotALearner(), TrainOptions(total_steps=10, out_dir=str(tmp_path / "run")))
    assert not (tmp_path / "run").exists()  # refused before the run directory was made


ES_TINY = {"population_size": 8, "num_episodes": 2, "eval_episodes": 4, "hidden": (8,)}


def _straight_and_resumed(algo: str, env: str, config: dict, tmp_path):
    return straight_and_resumed(lambda: make_agent(algo, env, config), tmp_path)


def test_es_is_a_learner_and_resumes_bit_identically(tmp_path):
    """ES (agents.es.learner) trains through the one driver: checkpoints, resume and TensorBoard like PPO."""
    straight = _straight_and_resumed("es", "pendulum", ES_TINY, tmp_path)
    assert {"train_return", "fitness_max", "sigma"} <= set(straight.history[-1])
    assert int(straight.state.env_steps) == 4 * 8 * 2 * 200  # population x episodes x pendulum's 200 steps


@pytest.mark.parametrize("algo, env, tiny", [
    ("sac", "pendulum", {"num_envs": 2, "env_steps_per_iteration": 5, "grad_updates_per_step": 1, "batch_size": 8,
                         "buffer_size": 64, "warmup_steps": 10, "hidden": (8,), "eval_episodes": 2}),
    ("apg", "pendulum_balance", {"num_envs": 2, "horizon": 5, "truncation_length": 5, "hidden": (8,),
                                 "eval_episodes": 2}),
])
def test_sac_and_apg_resume_bit_identically(algo, env, tiny, tmp_path):
    """The off-policy and the differentiable-simulation learners on the one driver: checkpoints (replay buffer and
    running environments included), resume and TensorBoard, like PPO (tests/agents/test_training.py)."""
    straight = _straight_and_resumed(algo, env, tiny, tmp_path)
    assert int(straight.state.iteration) == 4


def test_es_refuses_a_device_mesh(tmp_path):
    with pytest.raises(ValueError, match="es learner runs on one device"):
        train(make_agent("es", "pendulum", ES_TINY),
              TrainOptions(total_steps=10, mesh=sharding.make_mesh(), out_dir=str(tmp_path / "run")))
    assert not (tmp_path / "run").exists()


@pytest.fixture(scope="module")
def teacher_run(tmp_path_factory) -> str:
    """A tiny PPO run on cartpole_swingup to clone (its quality does not matter for these tests)."""
    out = tmp_path_factory.mktemp("teacher") / "run"
    agent = make_agent("ppo", "cartpole_swingup", {"num_envs": 16, "rollout_length": 32, "num_minibatches": 4})
    train(agent, TrainOptions(total_steps=3 * agent.steps_per_iteration, out_dir=str(out), progress=False))
    return str(out)


def test_bc_is_a_learner_and_resumes_bit_identically(tmp_path, teacher_run):
    """Behaviour cloning (agents.bc.learner) trains through the one driver: checkpoints, resume, TensorBoard."""
    tiny = {"teacher": teacher_run, "num_episodes": 4, "eval_episodes": 4, "hidden": (8,), "aggregate": 2}
    straight = _straight_and_resumed("bc", "cartpole_swingup", tiny, tmp_path)
    assert {"bc_loss", "beta", "train_return"} <= set(straight.history[-1])


def test_bc_refuses_a_missing_or_mismatched_teacher(tmp_path, teacher_run):
    with pytest.raises(ValueError, match="needs a teacher"):
        make_agent("bc", "cartpole_swingup")
    with pytest.raises(ValueError, match="has no config.json"):
        make_agent("bc", "cartpole_swingup", {"teacher": str(tmp_path)})
    with pytest.raises(ValueError, match="was trained on 'cartpole_swingup'"):
        make_agent("bc", "pendulum", {"teacher": teacher_run})


@pytest.mark.parametrize("algo, env", [("ppo", "pendulum"), ("sac", "pendulum"), ("apg", "pendulum_balance"),
                                       ("es", "pendulum")])
def test_every_learner_deploys_the_one_policy_type(algo, env):
    """`learner.network` (a feed-forward RecurrentPolicy here) with `learner.params(state)` acts as the learner's
    deterministic `policy`."""
    agent = make_agent(algo, env, {"num_envs": 2} if algo != "es" else ES_TINY)
    state = jax.jit(agent.init)(jax.random.key(0))
    obs = jax.random.normal(jax.random.key(1), (5, agent.eval_env.observation_size))
    network, params = agent.network, agent.params(state)
    assert isinstance(network, RecurrentPolicy) and network.is_feed_forward(agent.eval_env.observation_size)
    carries = network.initial_carries(agent.eval_env.observation_size, 5)
    _, actions = jax.vmap(network.step, in_axes=(None, 0, 0))(params, carries, obs)
    expected = agent.policy(state, deterministic=True)(obs, jax.random.key(2))
    np.testing.assert_allclose(np.asarray(actions), np.asarray(expected), rtol=1e-5, atol=1e-6)
