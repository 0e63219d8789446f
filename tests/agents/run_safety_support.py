"""Shared helpers of the run-safety tests (`test_run_directories`, `test_checkpoint_damage`, `test_interrupts`,
`test_fault_injection`, `test_option_validation`): tiny PPO-on-pendulum runs, metrics.csv readers, error checks.
"""
from __future__ import annotations

from pathlib import Path

import jax
import numpy as np

from simlab.agents.registry import make_agent
from simlab.agents.train import TrainOptions, train

TINY = {"num_envs": 8, "rollout_length": 16, "epochs": 2, "num_minibatches": 2, "eval_episodes": 4}
SPI = 8 * 16  # env steps per iteration
SETS = [f"--set={k}={v}" for k, v in TINY.items()]
ROOT = Path(__file__).resolve().parents[2]


def train_argv(out, iterations, *extra, flag="--out", eval_every=1, checkpoint_every=2):
    # --devices 1: the in-process reference runs these are compared with bit for bit run on one device
    return ["train", "pendulum", "--steps", str(iterations * SPI), flag, str(out), "--no-progress", "--no-gif",
            "--eval-every", str(eval_every), "--checkpoint-every", str(checkpoint_every), "--devices", "1", *SETS,
            *extra]


def train_tiny(out, iterations, resume=None, seed=0, agent=None, eval_every=1, checkpoint_every=2, **kw):
    agent = agent or make_agent("ppo", "pendulum", TINY)
    return train(agent, TrainOptions(total_steps=iterations * SPI, seed=seed, out_dir=str(out) if out else None,
                                     eval_every=eval_every, checkpoint_every=checkpoint_every, resume=resume,
                                     progress=False, **kw))


def metrics_rows(out) -> list[list[str]]:
    """metrics.csv rows (without the header); asserts that every line is complete and well-formed."""
    text = (Path(out) / "metrics.csv").read_text()
    assert text.endswith("\n"), "torn last row"
    lines = text.splitlines()
    width = len(lines[0].split(","))
    rows = [line.split(",") for line in lines[1:]]
    assert all(len(r) == width for r in rows), "a row with the wrong number of fields"
    return rows


def logged_iterations(out) -> list[int]:
    return [int(r[0]) for r in metrics_rows(out)]


def one_line_error(err: str, prefix: str = "simlab train: error:") -> str:
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith(prefix)]
    assert len(lines) == 1, err
    return lines[0]


def assert_leaves_equal(a, b) -> None:
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            x, y = jax.random.key_data(x), jax.random.key_data(y)
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))




def straight_and_resumed(make, tmp_path):
    """Trains `make()` 4 iterations in one go and 2 + 2 with a resume (of a freshly made learner) in between;
    asserts identical states, evaluations and TensorBoard output; returns the straight run's result."""
    agent = make()
    options = dict(eval_every=2, checkpoint_every=2, progress=False)
    steps = agent.steps_per_iteration
    straight = train(agent, TrainOptions(total_steps=4 * steps, out_dir=str(tmp_path / "a"), **options))
    train(agent, TrainOptions(total_steps=2 * steps, out_dir=str(tmp_path / "b"), **options))
    resumed = train(make(), TrainOptions(total_steps=4 * steps, out_dir=str(tmp_path / "b"),
                                         resume=str(tmp_path / "b"), **options))
    assert resumed.resumed_from == 2
    assert_leaves_equal(straight.state, resumed.state)
    assert straight.history[-1]["eval_return"] == resumed.history[-1]["eval_return"]
    assert list((tmp_path / "a" / "tensorboard").glob("events.out.tfevents.*"))
    return straight
