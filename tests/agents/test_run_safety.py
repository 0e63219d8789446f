"""Run safety of `simlab train` (issue 26, items 1, 2 and 4): no run is overwritten silently, resume keeps
one clean history, damaged checkpoints are diagnosed (and skipped), one process per run directory,
Ctrl-C, NaN losses, unwritable directories, a full disk, option ranges, and SIGKILL fault injection.

Everything trains PPO on pendulum with a tiny config (8 envs x 16 steps = 128 env steps per iteration),
so the programs are the ones `test_training.py` compiles too.
"""
from __future__ import annotations

import builtins
import errno
import gc
import io
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agents import checkpoint, cli, registry, run_log
from agents.checkpoint import CheckpointDamagedError, CheckpointError, CheckpointMismatchError
from agents.loading import load_run
from agents.registry import make_agent
from agents.run_log import RunExistsError, RunLock, RunLockedError
from agents.train import (MAX_STEPS, NonFiniteTrainingError, RunComplete, TrainingInterrupted, TrainOptions,
                          train)

TINY = {"num_envs": 8, "rollout_length": 16, "epochs": 2, "num_minibatches": 2, "eval_episodes": 4}
SPI = 8 * 16  # env steps per iteration
SETS = [f"--set={k}={v}" for k, v in TINY.items()]
ROOT = Path(__file__).resolve().parents[2]


def _argv(out, iterations, *extra, flag="--out", eval_every=1, checkpoint_every=2):
    return ["train", "pendulum", "--steps", str(iterations * SPI), flag, str(out), "--no-progress",
            "--eval-every", str(eval_every), "--checkpoint-every", str(checkpoint_every), *SETS, *extra]


def _train(out, iterations, resume=None, seed=0, agent=None, eval_every=1, checkpoint_every=2, **kw):
    agent = agent or make_agent("ppo", "pendulum", TINY)
    return train(agent, TrainOptions(total_steps=iterations * SPI, seed=seed, out_dir=str(out) if out else None,
                                     eval_every=eval_every, checkpoint_every=checkpoint_every, resume=resume,
                                     progress=False, **kw))


def _rows(out) -> list[list[str]]:
    """metrics.csv rows (without the header); asserts that every line is complete and well-formed."""
    text = (Path(out) / "metrics.csv").read_text()
    assert text.endswith("\n"), "torn last row"
    lines = text.splitlines()
    width = len(lines[0].split(","))
    rows = [line.split(",") for line in lines[1:]]
    assert all(len(r) == width for r in rows), "a row with the wrong number of fields"
    return rows


def _iterations(out) -> list[int]:
    return [int(r[0]) for r in _rows(out)]


def _one_line_error(err: str, prefix: str = "simlab train: error:") -> str:
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith(prefix)]
    assert len(lines) == 1, err
    return lines[0]


def _leaves_equal(a, b) -> None:
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            x, y = jax.random.key_data(x), jax.random.key_data(y)
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@pytest.fixture(scope="module")
def base_run(tmp_path_factory):
    """A finished 6-iteration run: rows for iterations 1..6, checkpoints 2, 4, 6."""
    out = tmp_path_factory.mktemp("base") / "run"
    result = _train(out, 6)
    return out, result


@pytest.fixture
def run_copy(base_run, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(base_run[0], out)
    return out


# --- 1. an existing run is never reused silently ----------------------------------------------------

def test_training_into_an_existing_run_is_refused(run_copy, capsys):
    before = {name: (run_copy / name).read_bytes() for name in ("config.json", "metrics.csv")}
    assert cli.main(_argv(run_copy, 6)) == 2
    line = _one_line_error(capsys.readouterr().err)
    for word in ("already holds a training run", f"--resume {run_copy}", "--out", "--overwrite", "steps 2, 4, 6"):
        assert word in line, (word, line)
    assert {name: (run_copy / name).read_bytes() for name in before} == before
    assert checkpoint.steps(run_copy) == [2, 4, 6]
    with pytest.raises(RunExistsError, match="already holds a training run"):
        _train(run_copy, 2)


def test_overwrite_deletes_the_old_run_first(run_copy, capsys):
    (run_copy / "notes.txt").write_text("mine")  # not a run file: survives --overwrite
    assert cli.main(_argv(run_copy, 4, "--overwrite", "--seed", "1")) == 0
    err = capsys.readouterr().err
    assert "deleted the previous run" in err
    assert json.loads((run_copy / "config.json").read_text())["seed"] == 1
    assert _iterations(run_copy) == [1, 2, 3, 4]
    assert checkpoint.steps(run_copy) == [2, 4]
    assert (run_copy / "notes.txt").read_text() == "mine"
    assert not [p for p in run_copy.iterdir() if p.name.startswith(".simlab-overwritten")]
    _, state, config = load_run(run_copy)
    assert int(state.iteration) == 4 and config["seed"] == 1


def test_clear_run_is_atomic_per_entry(tmp_path):
    """A crash part-way through --overwrite leaves old run files, so the directory still counts as a run."""
    run = tmp_path / "run"
    (run / "checkpoints" / "2").mkdir(parents=True)
    (run / "metrics.csv").write_text("iteration,env_steps\n2,256\n")
    assert run_log.run_contents(run) == ["checkpoints/ (steps 2)", "metrics.csv (1 rows)"]
    removed = run_log.clear_run(run)
    assert removed == ["metrics.csv", "checkpoints"] and not run_log.holds_run(run)
    assert os.listdir(run) == []


# --- resume: no duplicate rows; a finished run says so -------------------------------------------------

def test_resume_truncates_history_to_the_restored_step(base_run, run_copy, capsys):
    _, straight = base_run
    # as if killed after logging iterations 5 and 6 but before checkpoint 6 was written, mid-row:
    shutil.rmtree(run_copy / "checkpoints" / "6")
    with (run_copy / "metrics.csv").open("a") as f:
        f.write("7,896,1.5,-12")
    result = _train(run_copy, 6, resume=str(run_copy))
    assert result.resumed_from == 4
    assert "resuming" in capsys.readouterr().err
    rows = _rows(run_copy)
    assert [int(r[0]) for r in rows] == [1, 2, 3, 4, 5, 6]
    original = [r for r in _rows(base_run[0])]
    for a, b in zip(rows, original):  # same numbers apart from wall-clock time
        assert a[:2] + a[3:] == b[:2] + b[3:]
    _leaves_equal(result.state, straight.state)


def test_resuming_a_finished_run_says_it_is_complete(run_copy, capsys):
    argv = _argv(run_copy, 6, flag="--resume")
    argv.remove("--steps"), argv.remove(str(6 * SPI))  # no --steps: the run's own 768 steps
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "already complete" in out and "6 iterations" in out and "--steps 1536" in out
    with pytest.raises(RunComplete, match="already complete") as exc:
        _train(run_copy, 4, resume=str(run_copy))
    assert exc.value.iteration == 6


# --- one process per run directory -----------------------------------------------------------------

def test_a_live_lock_refuses_a_second_trainer(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    with RunLock(out):
        with pytest.raises(RunLockedError, match=f"process {os.getpid()} is training into it"):
            _train(out, 1)
        assert cli.main(_argv(out, 1)) == 2
        assert "is in use" in _one_line_error(capsys.readouterr().err)
    assert not (out / run_log.LOCK_NAME).exists()


def test_a_stale_lock_is_taken_over_with_a_warning(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    dead = subprocess.Popen(["true"])
    dead.wait()
    (out / run_log.LOCK_NAME).write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(), "start": None}))
    result = _train(out, 1, checkpoint_every=0)
    assert int(result.state.iteration) == 1
    err = capsys.readouterr().err
    assert "stale lock" in err and str(dead.pid) in err
    assert not (out / run_log.LOCK_NAME).exists()


# --- checkpoint diagnosis --------------------------------------------------------------------------

TREE = {"w": jnp.arange(600, dtype=jnp.float32).reshape(20, 30), "b": jnp.ones(30), "key": jax.random.key(1),
        "it": jnp.int32(3)}


@pytest.fixture(scope="module")
def saved_tree(tmp_path_factory):
    out = tmp_path_factory.mktemp("ckpt")
    for step in (1, 2):
        checkpoint.save(out, step, {**TREE, "it": jnp.int32(step)}, {"env_steps": step})
    return out


def _data_file(step_dir: Path) -> str:
    files = [p for p in (step_dir / "state").rglob("*") if p.is_file() and p.parent.name == "d"]
    return max(files, key=lambda p: p.stat().st_size).relative_to(step_dir).as_posix()


def _damage(path: Path, mode: str) -> None:
    data = path.read_bytes()
    if mode == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif mode == "zeroed":
        path.write_bytes(b"\0" * len(data))
    else:
        path.write_bytes(random.Random(0).randbytes(len(data)))


@pytest.mark.parametrize("mode", ["truncated", "zeroed", "random"])
@pytest.mark.parametrize("file", ["state/manifest.ocdbt", "state/_METADATA", "_CHECKPOINT_METADATA", "meta/metadata",
                                  "DATA"])
def test_damaged_files_are_named_and_skipped(saved_tree, tmp_path, file, mode):
    out = tmp_path / "c"
    shutil.copytree(saved_tree, out)
    step_dir = out / "checkpoints" / "2"
    file = _data_file(step_dir) if file == "DATA" else file
    _damage(step_dir / file, mode)
    with pytest.raises(CheckpointDamagedError) as exc:
        checkpoint.restore(out, TREE)
    message = str(exc.value)
    assert exc.value.step == 2 and exc.value.file == file
    assert "step 2" in message and "damaged" in message and file in message and "Earlier steps exist (1)" in message
    assert "another config" not in message and "does not match this run" not in message
    restored = checkpoint.restore_checkpoint(out, TREE, fallback=True)
    assert restored.step == 1 and [e.step for e in restored.skipped] == [2]
    assert int(restored.state["it"]) == 1
    _leaves_equal(restored.state["w"], TREE["w"])


@pytest.mark.parametrize("file, mode", [("state/manifest.ocdbt", "zeroed"), ("state/_METADATA", "truncated"),
                                        ("meta/metadata", "random"), ("DATA", "truncated")])
def test_damage_is_found_without_checksums_and_quietly(saved_tree, tmp_path, capfd, file, mode):
    """Steps without simlab_checksums.json (older runs; a crash right after the orbax commit) are read to check."""
    out = tmp_path / "c"
    shutil.copytree(saved_tree, out)
    step_dir = out / "checkpoints" / "2"
    (step_dir / checkpoint.CHECKSUMS).unlink()
    checkpoint.verify(out, 2)  # intact without its checksums
    file = _data_file(step_dir) if file == "DATA" else file
    _damage(step_dir / file, mode)
    with pytest.raises(CheckpointDamagedError, match="checkpoint step 2 .* is damaged") as exc:
        checkpoint.restore(out, TREE)
    assert exc.value.step == 2 and exc.value.file in (file, None)
    time.sleep(0.3)  # tensorstore reads still in flight report into the closed event loop now
    gc.collect()
    err = capfd.readouterr().err
    assert "Event loop is closed" not in err and "Traceback" not in err, err[:2000]
    assert checkpoint.restore_checkpoint(out, TREE, fallback=True).step == 1


def test_another_config_is_not_called_damage(saved_tree):
    with pytest.raises(CheckpointMismatchError, match=r"intact but belongs to another config: w is float32\[20, 30\] "
                                                      r"in the checkpoint but float32\[20, 31\]"):
        checkpoint.restore(saved_tree, {**TREE, "w": jnp.zeros((20, 31))})
    with pytest.raises(CheckpointMismatchError, match="this run has 'extra' that the checkpoint lacks"):
        checkpoint.restore(saved_tree, {**TREE, "extra": jnp.zeros(2)})


def test_resume_falls_back_to_the_newest_intact_step_loudly(run_copy, capsys):
    _damage(run_copy / "checkpoints" / "6" / "state" / "manifest.ocdbt", "zeroed")
    assert cli.main(_argv(run_copy, 6, flag="--resume")) == 0
    err = capsys.readouterr().err
    assert "skipped damaged checkpoint step 6" in err and "state/manifest.ocdbt" in err
    assert "restored step 4, the newest intact checkpoint" in err and "Traceback" not in err
    assert (run_copy / "damaged_checkpoints" / "6").is_dir()
    assert checkpoint.steps(run_copy) == [2, 4, 6] and _iterations(run_copy) == [1, 2, 3, 4, 5, 6]
    checkpoint.verify(run_copy, 6)


def test_unusable_checkpoints_on_resume_are_one_line_errors(run_copy, capsys):
    assert cli.main(_argv(run_copy, 6, "--num-envs", "4", flag="--resume")) == 2
    assert "its config is" in _one_line_error(capsys.readouterr().err)
    for step in (2, 4, 6):
        _damage(run_copy / "checkpoints" / str(step) / "state" / "_METADATA", "zeroed")
    assert cli.main(_argv(run_copy, 8, flag="--resume")) == 2
    line = _one_line_error(capsys.readouterr().err)
    assert "every checkpoint" in line and "step 6: state/_METADATA" in line and "step 2" in line


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
    assert cli.main(_argv(out, 50, checkpoint_every=100)) == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err and "interrupted at iteration 2" in err
    assert f"Resume with:\n  simlab train pendulum --agent ppo --resume {out} --steps {50 * SPI}" in err
    assert checkpoint.steps(out) == [2] and (out / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    monkeypatch.undo()
    assert cli.main(_argv(out, 4, flag="--resume", checkpoint_every=100)) == 0
    assert "from checkpoint step 2" in capsys.readouterr().err
    assert _iterations(out) == [1, 2, 3, 4]


def test_ctrl_c_in_the_python_api_raises_training_interrupted(tmp_path, monkeypatch, default_sigint):
    _interrupt_after_rows(monkeypatch, 1)
    with pytest.raises(TrainingInterrupted) as exc:
        _train(tmp_path / "run", 50, checkpoint_every=0)
    assert isinstance(exc.value, KeyboardInterrupt)
    assert exc.value.iteration == 1 and exc.value.checkpoint_step == 1 and len(exc.value.history) == 1


def test_a_second_ctrl_c_stops_at_once(tmp_path, monkeypatch, capsys, default_sigint):
    out = tmp_path / "run"
    _interrupt_after_rows(monkeypatch, 3, times=2)
    assert cli.main(_argv(out, 50, checkpoint_every=2)) == 130
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
    assert cli.main(_argv(out, 10, eval_every=2)) == 1
    line = _one_line_error(capsys.readouterr().err)
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
        _train(out, 10, agent=agent, eval_every=100, checkpoint_every=2)
    assert exc.value.iteration == 4 and exc.value.last_checkpoint == 2
    assert any(name.startswith("policy_params/") for name in exc.value.names)
    assert checkpoint.steps(out) == [2]


# --- unwritable run directories and a full disk -----------------------------------------------------

def test_out_that_is_a_file_or_unwritable_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    assert cli.main(_argv(a_file, 1)) == 2
    assert "is a file, not a directory" in _one_line_error(capsys.readouterr().err)
    assert cli.main(_argv(a_file / "run", 1)) == 2
    assert "cannot write to the run directory" in _one_line_error(capsys.readouterr().err)
    read_only = tmp_path / "ro"
    read_only.mkdir()
    if os.geteuid() != 0:
        read_only.chmod(0o555)
    else:  # root ignores permissions: make mkdir fail as on a read-only mount
        real_mkdir = os.mkdir

        def mkdir(path, *args, **kwargs):
            if str(path).startswith(str(read_only)):
                raise OSError(errno.EROFS, "Read-only file system", str(path))
            return real_mkdir(path, *args, **kwargs)

        monkeypatch.setattr(os, "mkdir", mkdir)
    try:
        assert cli.main(_argv(read_only / "run", 1)) == 2
        line = _one_line_error(capsys.readouterr().err)
        assert "cannot write to the run directory" in line and ("Read-only" in line or "Permission denied" in line)
    finally:
        read_only.chmod(0o755)


def _full_disk(monkeypatch, predicate) -> None:
    """Opening a file for writing whose path matches `predicate` fails with ENOSPC (as on a full disk)."""
    for module in (builtins, io):
        real = getattr(module, "open")

        def fake(file, mode="r", *args, _real=real, **kwargs):
            if any(c in mode for c in "wax+") and predicate(str(file)):
                raise OSError(errno.ENOSPC, "No space left on device", str(file))
            return _real(file, mode, *args, **kwargs)

        monkeypatch.setattr(module, "open", fake)


def test_full_disk_during_a_checkpoint_keeps_the_previous_one(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    _full_disk(monkeypatch, lambda path: f"{os.sep}checkpoints{os.sep}4.orbax-checkpoint-tmp" in path)
    assert cli.main(_argv(out, 6)) == 1
    line = _one_line_error(capsys.readouterr().err)
    for word in ("could not write checkpoint step 4", "No space left on device", "step 2, is intact", "--resume"):
        assert word in line, (word, line)
    assert checkpoint.steps(out) == [2] and sorted(os.listdir(out / "checkpoints")) == ["2"]
    checkpoint.verify(out, 2)
    monkeypatch.undo()
    assert cli.main(_argv(out, 6, flag="--resume")) == 0
    assert "from checkpoint step 2" in capsys.readouterr().err
    assert _iterations(out) == [1, 2, 3, 4, 5, 6] and checkpoint.steps(out) == [2, 4, 6]


def test_full_disk_while_logging_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    original = run_log.RunLog.log
    count = [0]

    def log(self, row):
        count[0] += 1
        if count[0] == 3:
            _full_disk(monkeypatch, lambda path: path.endswith("metrics.csv"))
        original(self, row)

    monkeypatch.setattr(run_log.RunLog, "log", log)
    assert cli.main(_argv(out, 6)) == 1
    line = _one_line_error(capsys.readouterr().err)
    assert "metrics.csv" in line and "No space left on device" in line and "step 2, is intact" in line
    monkeypatch.undo()
    assert _iterations(out) == [1, 2] and checkpoint.steps(out) == [2]


# --- option ranges ---------------------------------------------------------------------------------

@pytest.mark.parametrize("args, words", [
    (["--steps", "0"], ["--steps = 0", "valid range [1, 2147483647]"]),
    (["--steps", "-5"], ["--steps = -5", "valid range [1, 2147483647]"]),
    (["--steps", "1e14"], ["--steps = 100000000000000", "int32", "2,147,483,647"]),
    (["--eval-every", "0"], ["--eval-every = 0", "valid range [1, inf)"]),
    (["--checkpoint-every", "-1"], ["--checkpoint-every = -1", "valid range [0, inf)"]),
    (["--devices", "0"], ["--devices = 0", "valid range [1, inf)"]),
    (["--overwrite", "--resume", "somewhere"], ["--resume and --overwrite contradict"]),
])
def test_train_loop_options_are_checked_before_anything_runs(tmp_path, capsys, args, words):
    out = tmp_path / "run"
    argv = ["train", "pendulum", "--out", str(out), "--no-progress", *args]
    if "--resume" in args:
        argv = ["train", "pendulum", "--no-progress", *args]
    assert cli.main(argv) == 2
    line = _one_line_error(capsys.readouterr().err)
    for word in words:
        assert word in line, (word, line)
    assert not out.exists()


def test_steps_take_scientific_notation_but_not_fractions(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["train", "pendulum", "--steps", "2.5"])
    assert exc.value.code == 2 and "invalid count '2.5'" in capsys.readouterr().err


@pytest.mark.parametrize("kwargs, error, words", [
    ({"total_steps": 0}, ValueError, ["total_steps = 0", "[1, 2147483647]"]),
    ({"total_steps": 10**14}, ValueError, ["total_steps = 100000000000000", "int32"]),
    ({"total_steps": 1.5e3}, TypeError, ["total_steps = 1500.0", "integer"]),
    ({"total_steps": 128, "eval_every": 0}, ValueError, ["eval_every = 0", "[1, inf)"]),
    ({"total_steps": 128, "checkpoint_every": -1}, ValueError, ["checkpoint_every = -1", "[0, inf)"]),
])
def test_train_options_are_validated_in_the_python_api(kwargs, error, words):
    with pytest.raises(error) as exc:
        TrainOptions(**kwargs)
    for word in words:
        assert word in str(exc.value)


def test_step_counter_overflow_is_refused_before_the_run_directory_is_made(tmp_path):
    TrainOptions(total_steps=10**12, time_limit_s=60.0)  # time-limited benches stop long before the counter
    agent = make_agent("ppo", "pendulum", TINY)
    with pytest.raises(ValueError, match="rounds up to 2,147,483,648 steps .* beyond the int32 step counter"):
        train(agent, TrainOptions(total_steps=MAX_STEPS, out_dir=str(tmp_path / "run"), progress=False))
    assert not (tmp_path / "run").exists()


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
    return subprocess.Popen([sys.executable, "-m", "agents.cli", *argv], cwd=ROOT, env=env, text=True,
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
    argv = _argv(out, total, checkpoint_every=1)
    resume_argv = _argv(out, total, flag="--resume", checkpoint_every=1)
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
        assert _iterations(out)[-1] <= stopped
        expected = _newest_intact(out)
        assert expected == stopped
    # the last resume, in-process: two more iterations from the newest intact step
    result = train(make_agent("ppo", "pendulum", TINY),
                   TrainOptions(total_steps=(expected + 2) * SPI, out_dir=str(out), resume=str(out), eval_every=1,
                                checkpoint_every=1, progress=False))
    assert result.resumed_from == expected
    assert _iterations(out) == list(range(1, expected + 3))  # no torn, duplicate or missing rows
    straight = train(make_agent("ppo", "pendulum", TINY), TrainOptions(total_steps=(expected + 2) * SPI,
                                                                       eval_every=1000, progress=False))
    _leaves_equal(result.state, straight.state)  # resumed through every kill: bit-identical to one straight run


def test_sigkill_at_random_moments_always_resumes_from_an_intact_step(tmp_path):
    _kill_and_resume(tmp_path, kills=3, seed=26)


@pytest.mark.slow
def test_sigkill_at_20_random_moments_then_ctrl_c(tmp_path):
    _kill_and_resume(tmp_path, kills=20, seed=2026, sigint_at_end=True)
