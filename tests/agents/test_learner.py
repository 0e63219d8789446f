"""The learner contract (issue 25): every agent the driver trains satisfies `Learner`; others are refused."""
from __future__ import annotations

import dataclasses

import pytest

from simlab.agents.learner import Learner, check_learner
from simlab.agents.registry import make_agent
from simlab.agents.train import TrainOptions, train


@pytest.mark.parametrize("algo, env", [("ppo", "pendulum"), ("sac", "pendulum"), ("apg", "pendulum_balance")])
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
