"""The sensory recipes on the one training driver (issue 25): `sensory_bc` and `pixel_bc` resume bit-identically
(`sensory_es` is an `ESLearner`, whose resume tests/agents/test_learner.py checks), `keep_best` deploys the
best-validated parameters, and `simlab sensory train` runs BC then ES through the driver."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from simlab.agents.evaluation import make_episode_returns
from simlab.agents.registry import make_agent
from simlab.agents.sensory import cli
from simlab.agents.sensory.learners import (PixelBCLearnerConfig, SensoryBCConfig, SensoryESConfig,
                                            make_pixel_bc_learner, make_sensory_bc_learner)
from simlab.agents.sensory.tasks import load_params
from simlab.agents.train import TrainOptions, train

from run_safety_support import straight_and_resumed


def _teacher(clean_obs):  # a fixed smooth controller: what is cloned does not matter here
    return jnp.tanh(clean_obs[:, :1] - 0.5 * clean_obs[:, 4:5])


BC_TINY = SensoryBCConfig(num_episodes=2, updates_per_iteration=1, learning_rate=3e-2, bptt_window=250,
                          feed_executed_action=True, ema=0.5, keep_best=True, eval_episodes=2)


def test_sensory_bc_cycles_conditions_keeps_the_best_and_resumes_bit_identically(tmp_path):
    straight = straight_and_resumed(
        lambda: make_sensory_bc_learner("cartpole_swingup", BC_TINY, teacher_act=_teacher), tmp_path)
    rows = straight.history
    assert [r["iteration"] for r in rows] == [2, 4]
    assert rows[-1]["best_validation_return"] == max(r["validation_return"] for r in rows)
    # The deployed parameters are the best-validated ones: they score that return on the validation episodes.
    learner = make_sensory_bc_learner("cartpole_swingup", BC_TINY, teacher_act=_teacher)
    state = straight.state
    again = make_episode_returns(learner.eval_env, learner.network, 2)(learner.params(state), state.inner.validation_key)
    np.testing.assert_allclose(float(jnp.mean(again)), rows[-1]["best_validation_return"], rtol=1e-5)
    assert int(state.inner.bc.iteration) == 4  # two shuffled and two noisy batches
    with pytest.raises(TypeError, match="recurrent state"):  # no stateless act for the recurrent agent
        learner.policy(state)


def test_pixel_bc_resumes_bit_identically(tmp_path):
    config = PixelBCLearnerConfig(num_episodes=4, segment_steps=8, minibatch_size=16, updates_per_iteration=2,
                                  eval_episodes=1, episode_length=50)
    straight = straight_and_resumed(lambda: make_pixel_bc_learner("pong", config), tmp_path)
    assert {"bc_loss", "beta", "train_return"} <= set(straight.history[-1])


def test_wrong_environments_and_options_are_refused(tmp_path):
    with pytest.raises(ValueError, match="sensory-neuron tasks only"):
        make_agent("sensory_es", "pendulum")
    with pytest.raises(ValueError, match="task's env options"):
        make_agent("sensory_es", "ant", env_kwargs={"include_cfrc_ext_in_observation": True})
    with pytest.raises(ValueError, match="trains 'pong'"):
        make_agent("pixel_bc", "cartpole_swingup")
    with pytest.raises(ValueError, match="network="):
        SensoryESConfig(network="cnn")
    with pytest.raises(ValueError, match="needs a teacher"):
        make_agent("sensory_bc", "cartpole_swingup")
    with pytest.raises(ValueError, match="holds no saved parameters"):
        make_agent("sensory_es", "cartpole_swingup", {"init_from": str(tmp_path / "none")})


def test_cli_trains_through_the_driver_and_continues_es_from_bc(tmp_path):
    teacher = tmp_path / "teacher"
    ppo = make_agent("ppo", "cartpole_swingup", {"num_envs": 8, "rollout_length": 16, "num_minibatches": 2})
    train(ppo, TrainOptions(total_steps=ppo.steps_per_iteration, out_dir=str(teacher), progress=False))
    out = tmp_path / "out"
    assert cli.main(["train", "cartpole_swingup", "--agents", "mlp", "--teacher", str(teacher), "--bc-iterations", "2",
                     "--bc-episodes", "2", "--bc-select-every", "1", "--bc-select-episodes", "1",
                     "--es-generations", "1", "--population", "4", "--es-episodes", "1", "--out", str(out),
                     "--no-progress"]) == 0
    params, meta = load_params(out / "cartpole_swingup_mlp")
    assert meta["bc"]["iterations_run"] == 2 and meta["es"]["generations_run"] == 1
    assert meta["es"]["config"]["init_from"] == str(out / "cartpole_swingup_mlp")  # ES started from BC's result
    for phase in ("bc", "es"):
        run = out / "runs" / f"cartpole_swingup_mlp_{phase}"
        assert (run / "metrics.csv").exists() and list((run / "checkpoints").iterdir())
    assert all(np.isfinite(np.asarray(x)).all() for x in jax.tree_util.tree_leaves(params))
