"""Behaviour cloning through `clone_agent`: validation-based checkpoint selection."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from simlab.agents.bc import BCConfig
from simlab.agents.evaluation import make_episode_returns
from simlab.agents.sensory.tasks import condition_env, task_of
from simlab.agents.sensory.train import VALIDATION_SEED, clone_agent


def test_select_every_returns_the_best_validated_parameters():
    teacher = lambda clean_obs: jnp.tanh(clean_obs[:, :1] - 0.5 * clean_obs[:, 4:5])  # noqa: E731
    config = BCConfig(num_episodes=2, updates_per_iteration=1, learning_rate=3e-2, bptt_window=250,
                      feed_executed_action=True, ema=0.5)
    params, history = clone_agent("cartpole_swingup", "sensory", teacher, iterations=4, config=config,
                                  select_every=2, select_episodes=2, log=lambda m: None)
    assert history["select_iteration"] == [0, 2, 4]
    scores = history["select_return"]
    assert history["best_iteration"] == history["select_iteration"][int(np.argmax(scores))]
    task = task_of("cartpole_swingup")
    again = make_episode_returns(condition_env(task, "shuffled"), task.sensory_policy(), 2)
    np.testing.assert_allclose(float(jnp.mean(again(params, jax.random.key(VALIDATION_SEED)))), max(scores),
                               rtol=1e-5)
    with pytest.raises(ValueError, match="select_every"):
        clone_agent("cartpole_swingup", "sensory", teacher, iterations=1, config=config, select_every=-1)
