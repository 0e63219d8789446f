"""Ctrl-C and non-finite losses during `simlab train` (issue 26, item 4): a checkpoint, the plot, a resume hint,
exit code 130; a NaN loss names its iteration and keeps the last good checkpoint."""
from __future__ import annotations

import signal
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from simlab import cli
from simlab.agents import checkpoint, registry, run_log
from simlab.agents.registry import make_agent
from simlab.agents.train import NonFiniteTrainingError, TrainingInterrupted

from run_safety_support import SPI, TINY, logged_iterations, one_line_error, train_argv, train_tiny


# --- Ctrl-C ----------------------------------------------------------------------------------------

@pytest.fixture
def default_sigint():
    """Python's default Ctrl-C handling, unblocked, whatever earlier tests in this worker left behind.

    `agents/train.py` takes Ctrl-C over only from the default handler. A pytest started in the background by a
    non-interactive shell (`nohup pytest &`, some CI runners) inherits SIGINT as ignored, and Python then
    never installs its default handler: these tests saw no interrupt at all. What was found is reported."""
    handler = signal.getsignal(signal.SIGINT)
    blocked = signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, [])
    if handler is not signal.default_int_handler or blocked:
        warnings.warn(f"SIGINT was handled by {handler!r} (blocked: {blocked}); reset to the default for this test")
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT])
    yield
    signal.signal(signal.SIGINT, handler)
    if blocked:
        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGINT])


def _interrupt_after_rows(monkeypatch, rows: int, times: int = 1) -> None:
    original = run_log.RunLog.log
    count = [0]

    def log(self, row):
        original(self, row)
        count[0] += 1
        if count[0] == rows:
            for _ in range(times):
                signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(run_log.RunLog, "log", log)


def test_ctrl_c_saves_a_checkpoint_and_the_plot_and_exits_130(tmp_path, monkeypatch, capsys, default_sigint):
    out = tmp_path / "run"
    _interrupt_after_rows(monkeypatch, 2)
    assert cli.main(train_argv(out, 50, checkpoint_every=100)) == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err and "interrupted at iteration 2" in err
    assert f"Resume with:\n  simlab train pendulum --agent ppo --resume {out} --steps {50 * SPI}" in err
    assert checkpoint.steps(out) == [2] and (out / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    monkeypatch.undo()
    assert cli.main(train_argv(out, 4, flag="--resume", checkpoint_every=100)) == 0
    assert "from checkpoint step 2" in capsys.readouterr().err
    assert logged_iterations(out) == [1, 2, 3, 4]


def test_ctrl_c_in_the_python_api_raises_training_interrupted(tmp_path, monkeypatch, default_sigint):
    _interrupt_after_rows(monkeypatch, 1)
    with pytest.raises(TrainingInterrupted) as exc:
        train_tiny(tmp_path / "run", 50, checkpoint_every=0)
    assert isinstance(exc.value, KeyboardInterrupt)
    assert exc.value.iteration == 1 and exc.value.checkpoint_step == 1 and len(exc.value.history) == 1


def test_a_second_ctrl_c_stops_at_once(tmp_path, monkeypatch, capsys, default_sigint):
    out = tmp_path / "run"
    _interrupt_after_rows(monkeypatch, 3, times=2)
    assert cli.main(train_argv(out, 50, checkpoint_every=2)) == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err and "the last checkpoint is intact" in err
    assert checkpoint.steps(out) == [2]


# --- NaN / inf -------------------------------------------------------------------------------------

class Poisoned:
    """An agent whose iteration makes the policy parameters (and, with `loss`, policy_loss) NaN from `at` on."""

    def __init__(self, agent, at: int, loss: bool):
        self._agent, self._at, self._loss = agent, at, loss

    def __getattr__(self, name):
        return getattr(self._agent, name)

    def iteration(self, state):
        state, metrics = self._agent.iteration(state)
        bad = state.iteration >= self._at
        params = jax.tree_util.tree_map(lambda p: jnp.where(bad, jnp.nan, p), state.policy_params)
        if self._loss:
            metrics = {**metrics, "policy_loss": jnp.where(bad, jnp.nan, metrics["policy_loss"])}
        return state.replace(policy_params=params), metrics


def test_nan_loss_stops_the_cli_naming_the_iteration(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    monkeypatch.setattr(registry, "make_agent", lambda *a, **k: Poisoned(make_agent(*a, **k), at=5, loss=True))
    assert cli.main(train_argv(out, 10, eval_every=2)) == 1
    line = one_line_error(capsys.readouterr().err)
    assert "diverged at iteration 6" in line and "policy_loss = nan" in line and "step 4" in line
    assert checkpoint.steps(out) == [2, 4]
    assert (out / "learning_curve.png").exists()
    state, _ = checkpoint.restore(out, make_agent("ppo", "pendulum", TINY).init(jax.random.key(0)))
    assert int(state.iteration) == 4
    assert all(np.isfinite(np.asarray(x)).all() for x in jax.tree_util.tree_leaves(state.policy_params))


def test_nan_parameters_are_caught_at_a_checkpoint(tmp_path):
    out = tmp_path / "run"
    agent = Poisoned(make_agent("ppo", "pendulum", TINY), at=3, loss=False)
    with pytest.raises(NonFiniteTrainingError) as exc:
        train_tiny(out, 10, agent=agent, eval_every=100, checkpoint_every=2)
    assert exc.value.iteration == 4 and exc.value.last_checkpoint == 2
    assert any(name.startswith("policy_params/") for name in exc.value.names)
    assert checkpoint.steps(out) == [2]
