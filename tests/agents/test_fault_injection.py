"""Fault injection (issue 26): SIGKILL at random moments, including inside a checkpoint write; `--resume`
always continues from an intact step and `metrics.csv` has no torn or duplicate rows."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from simlab.agents import checkpoint
from simlab.agents.checkpoint import CheckpointError
from simlab.agents.registry import make_agent
from simlab.agents.train import TrainOptions, train

from run_safety_support import ROOT, SPI, TINY, assert_leaves_equal, logged_iterations, train_argv


# --- fault injection: SIGKILL at random moments ------------------------------------------------------

def _newest_intact(out) -> int:
    for step in reversed(checkpoint.steps(out)):
        try:
            checkpoint.verify(out, step)
            return step
        except CheckpointError:
            continue
    return 0


def _start(argv) -> subprocess.Popen:
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "simlab.cli", *argv], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for_step_after(proc, out, step: int, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while max(checkpoint.steps(out), default=0) <= step:
        if proc.poll() is not None:
            raise AssertionError(f"simlab train exited early ({proc.returncode}): {proc.communicate()[1][-3000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("simlab train wrote no checkpoint in time")
        time.sleep(0.01)


def _kill_and_resume(tmp_path, kills: int, seed: int, sigint_at_end: bool = False) -> None:
    """SIGKILLs `simlab train` `kills` times, each a random 0-0.6 s after its first new checkpoint (so kills
    land in iterations, evaluations, metrics writes and checkpoint writes), resuming each time; every resume
    must start from the newest intact step and leave metrics.csv without torn or duplicate rows."""
    rng = random.Random(seed)
    out = tmp_path / "run"
    total = 400  # iterations: never reached
    argv = train_argv(out, total, checkpoint_every=1)
    resume_argv = train_argv(out, total, flag="--resume", checkpoint_every=1)
    expected = 0
    for k in range(kills):
        proc = _start(argv if k == 0 else resume_argv)
        _wait_for_step_after(proc, out, expected)
        time.sleep(rng.uniform(0.0, 0.6))
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate()
        assert proc.returncode == -signal.SIGKILL
        if k > 0:
            assert f"from checkpoint step {expected} " in err, err[-3000:]
            assert "stale lock" in err and "Traceback" not in err, err[-3000:]
        expected = _newest_intact(out)
        assert expected > 0
    if sigint_at_end:
        proc = _start(resume_argv)
        _wait_for_step_after(proc, out, expected)
        time.sleep(rng.uniform(0.0, 0.6))
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 130, err[-3000:]
        assert "Traceback" not in err and "Resume with:" in err and f"from checkpoint step {expected} " in err
        stopped = checkpoint.steps(out)[-1]
        assert logged_iterations(out)[-1] <= stopped
        expected = _newest_intact(out)
        assert expected == stopped
    # the last resume, in-process: two more iterations from the newest intact step
    result = train(make_agent("ppo", "pendulum", TINY),
                   TrainOptions(total_steps=(expected + 2) * SPI, out_dir=str(out), resume=str(out), eval_every=1,
                                checkpoint_every=1, progress=False))
    assert result.resumed_from == expected
    assert logged_iterations(out) == list(range(1, expected + 3))  # no torn, duplicate or missing rows
    straight = train(make_agent("ppo", "pendulum", TINY), TrainOptions(total_steps=(expected + 2) * SPI,
                                                                       eval_every=1000, progress=False))
    assert_leaves_equal(result.state, straight.state)  # resumed through every kill: bit-identical to one straight run


def test_sigkill_at_random_moments_always_resumes_from_an_intact_step(tmp_path):
    _kill_and_resume(tmp_path, kills=2, seed=26)  # 20 kills and a Ctrl-C under -m slow


@pytest.mark.slow
def test_sigkill_at_20_random_moments_then_ctrl_c(tmp_path):
    _kill_and_resume(tmp_path, kills=20, seed=2026, sigint_at_end=True)
