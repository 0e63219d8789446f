"""TrainOptions.time_limit_s / clock_start: a wall-clock budget stops training after an evaluation."""
import time

import jax
import pytest

from simlab.agents.registry import make_agent
from simlab.agents.train import TrainOptions, train

TINY = {"num_envs": 8, "rollout_length": 16, "epochs": 1, "num_minibatches": 2, "eval_episodes": 2,
        "value_hidden": (16,)}


def test_time_limit_stops_after_evaluating_and_clock_start_counts_from_before_the_agent():
    clock_start = time.perf_counter()
    agent = make_agent("ppo", "pendulum", TINY)
    time.sleep(0.05)
    result = train(agent, TrainOptions(total_steps=10**9, seed=0, eval_every=1000, progress=False,
                                       time_limit_s=0.01, clock_start=clock_start))
    assert int(result.state.iteration) == 1  # the first iteration already used up the budget
    assert len(result.history) == 1 and result.history[0]["env_steps"] == 8 * 16
    assert result.history[0]["wall_time_s"] >= 0.05  # includes building the agent and the sleep
    value_shapes = [leaf.shape for leaf in jax.tree_util.tree_leaves(result.state.value_params)]
    assert (16,) in value_shapes  # value_hidden sized the value network alone


def test_time_limit_must_be_positive():
    agent = make_agent("ppo", "pendulum", TINY)
    with pytest.raises(ValueError, match="time_limit_s must be positive"):
        train(agent, TrainOptions(total_steps=128, time_limit_s=0.0, progress=False))
