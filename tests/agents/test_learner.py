"""The learner contract (issue 25): every agent the driver trains satisfies `Learner`; others are refused."""
from __future__ import annotations

import dataclasses

import pytest

from simlab.agents.learner import Learner, check_learner
from simlab.agents.registry import make_agent
from simlab.agents.train import TrainOptions, train
from simlab.engine import sharding

from run_safety_support import assert_leaves_equal


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


def test_es_is_a_learner_and_resumes_bit_identically(tmp_path):
    """ES (agents.es.learner) trains through the one driver: checkpoints, resume and TensorBoard like PPO."""
    agent = make_agent("es", "pendulum", ES_TINY)
    assert isinstance(agent, Learner)
    steps = agent.steps_per_iteration
    straight = train(agent, TrainOptions(total_steps=4 * steps, out_dir=str(tmp_path / "a"), eval_every=2,
                                         checkpoint_every=2, progress=False))
    train(agent, TrainOptions(total_steps=2 * steps, out_dir=str(tmp_path / "b"), eval_every=2, checkpoint_every=2,
                              progress=False))
    resumed = train(make_agent("es", "pendulum", ES_TINY),
                    TrainOptions(total_steps=4 * steps, out_dir=str(tmp_path / "b"), resume=str(tmp_path / "b"),
                                 eval_every=2, checkpoint_every=2, progress=False))
    assert resumed.resumed_from == 2
    assert_leaves_equal(straight.state, resumed.state)
    assert straight.history[-1]["eval_return"] == resumed.history[-1]["eval_return"]
    assert {"train_return", "fitness_max", "sigma"} <= set(straight.history[-1])
    assert list((tmp_path / "a" / "tensorboard").glob("events.out.tfevents.*"))
    assert int(straight.state.env_steps) == 4 * 8 * 2 * 200  # population x episodes x pendulum's 200 steps


def test_es_refuses_a_device_mesh(tmp_path):
    with pytest.raises(ValueError, match="es learner runs on one device"):
        train(make_agent("es", "pendulum", ES_TINY),
              TrainOptions(total_steps=10, mesh=sharding.make_mesh(), out_dir=str(tmp_path / "run")))
    assert not (tmp_path / "run").exists()
