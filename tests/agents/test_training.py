"""Training driver: resume identity, checkpoint errors, multi-device equality, CLI, gymnasium interop."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import gymnasium
import jax
import imageio.v3 as iio
import numpy as np
import pytest

from simlab import envs  # noqa: F401  (registers the gymnasium ids)
from simlab import cli
from simlab.agents.checkpoint import CheckpointError
from simlab.agents.loading import load_policy, load_run
from simlab.agents.registry import make_agent
from simlab.agents.train import TrainOptions, train

TINY = {"num_envs": 8, "rollout_length": 16, "epochs": 2, "num_minibatches": 2, "eval_episodes": 4}
STEPS_PER_ITER = 8 * 16


def _train(out, iterations, resume=None, overrides=TINY):
    agent = make_agent("ppo", "pendulum", overrides)
    return train(agent, TrainOptions(total_steps=iterations * STEPS_PER_ITER, seed=5, out_dir=str(out), eval_every=2,
                                     checkpoint_every=2, resume=resume, progress=False))


@pytest.fixture(scope="module")
def straight_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("straight")
    return out, _train(out, 6)


def test_resume_gives_identical_parameters(straight_run, tmp_path):
    _, straight = straight_run
    first = _train(tmp_path, 3)
    assert int(first.state.iteration) == 3
    resumed = _train(tmp_path, 6, resume=str(tmp_path))
    assert int(resumed.state.iteration) == 6
    for a, b in zip(jax.tree_util.tree_leaves(straight.state), jax.tree_util.tree_leaves(resumed.state)):
        if jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key):
            a, b = jax.random.key_data(a), jax.random.key_data(b)
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    rows = (tmp_path / "metrics.csv").read_text().strip().splitlines()
    assert rows[0].startswith("iteration,env_steps,wall_time_s,eval_return")
    # one CSV across the resume; the first run also logged its last iteration (3)
    assert [int(r.split(",")[0]) for r in rows[1:]] == [2, 3, 4, 6]


def test_run_directory_contents(straight_run):
    out, result = straight_run
    assert {"config.json", "metrics.csv", "learning_curve.png", "checkpoints", "tensorboard"} <= set(os.listdir(out))
    assert any(f.startswith("events.out.tfevents") for f in os.listdir(out / "tensorboard"))
    assert (out / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"
    config = json.loads((out / "config.json").read_text())
    assert config["agent"] == "ppo" and config["env"] == "pendulum" and config["config"]["num_envs"] == 8
    assert len(result.history) == 3


def test_mismatched_resume_is_rejected(straight_run, tmp_path):
    out, _ = straight_run
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    with pytest.raises(CheckpointError, match="its config is"):
        _train(copy, 8, resume=str(copy), overrides={**TINY, "learning_rate": 1e-2})
    with pytest.raises(CheckpointError, match="no config.json"):
        _train(tmp_path / "empty", 2, resume=str(tmp_path / "empty"))


def test_corrupt_checkpoint_is_reported(straight_run, tmp_path):
    out, _ = straight_run
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    latest = max(int(p) for p in os.listdir(copy / "checkpoints") if p.isdigit())
    for path in (copy / "checkpoints" / str(latest) / "state").rglob("*"):
        if path.is_file() and path.stat().st_size > 0:
            path.write_bytes(b"garbage" * 10)
    with pytest.raises(CheckpointError, match="corrupt|incomplete|does not match"):
        load_run(copy)
    (copy / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_run(copy)


def test_gymnasium_interop_runs_a_trained_policy(straight_run):
    out, _ = straight_run
    agent, state, _ = load_run(out)
    policy = load_policy(out)
    env = gymnasium.make("simlab/Pendulum-v0")
    obs, _ = env.reset(seed=0)
    expected = np.asarray(jax.jit(agent.policy(state, True))(obs[None], jax.random.key(0)))[0]
    np.testing.assert_allclose(policy(obs), expected, rtol=1e-6)
    total, done = 0.0, False
    while not done:
        obs, reward, terminated, truncated, _ = env.step(policy(obs))
        total += reward
        done = terminated or truncated
    assert np.isfinite(total)
    assert policy(np.stack([obs, obs])).shape == (2, 1)


def test_cli_train_and_eval(tmp_path, capsys):
    out = tmp_path / "run"
    code = cli.main(["train", "pendulum", "--steps", str(2 * STEPS_PER_ITER), "--out", str(out), "--no-progress",
                     "--eval-every", "1"] + [f"--set={k}={v}" for k, v in TINY.items()])
    assert code == 0
    header = (out / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"env_steps", "wall_time_s", "eval_return"} <= set(header)
    frames = iio.imread(out / "policy.gif", index=None)  # the trained policy, rendered at the end
    assert frames.shape[0] > 100 and frames.shape[-1] == 3 and frames.std() > 0  # (the GIF writer merges equal frames)
    assert "policy.gif" in capsys.readouterr().out
    assert cli.main(["eval", "pendulum", "--checkpoint", str(out), "--episodes", "5", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"mean_return", "std_return", "episodes"} and result["episodes"] == 5


@pytest.mark.parametrize("argv, message", [
    (["train", "pendulm"], "Did you mean 'pendulum'"),
    (["train", "pendulum", "--agent", "dqn"], "unknown agent 'dqn'"),
    (["train", "pendulum", "--set", "lerning_rate=0.1"], "unknown PPOConfig field 'lerning_rate'"),
    (["train", "pendulum", "--set", "num_envs=-4"], "positive int"),
    (["train", "pendulum", "--seed", "-1"], "seed"),
    (["eval", "pendulum", "--checkpoint", "/nonexistent/run"], "no config.json"),
])
def test_cli_errors(argv, message, capsys):
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err


def test_four_devices_match_one_device():
    script = Path(__file__).parent / "scripts" / "multidevice_ppo.py"
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd=root,
                          env={**os.environ, "PYTHONPATH": str(root), "JAX_PLATFORMS": "cpu",
                               "XLA_FLAGS": "--xla_force_host_platform_device_count=4"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["devices"] == 4 and result["env_state_devices"] == 4
    # Same config and seed: equal up to float-reduction order (documented tolerance 1e-5 absolute).
    assert result["max_abs_diff"] <= 1e-5
    np.testing.assert_allclose(result["eval_one"], result["eval_four"], rtol=1e-4)
