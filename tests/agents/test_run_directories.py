"""Run directories of `simlab train` (issue 26, items 1 and 4): an existing run is never reused silently,
resume keeps one clean history, one process per run directory, unwritable directories and a full disk.

Everything trains PPO on pendulum with a tiny config (`run_safety_support.TINY`).
"""
from __future__ import annotations

import builtins
import errno
import io
import json
import os
import shutil
import socket
import subprocess

import pytest

from simlab import cli
from simlab.agents import checkpoint, run_log
from simlab.agents.loading import load_run
from simlab.agents.run_log import RunExistsError, RunLock, RunLockedError
from simlab.agents.train import RunComplete

from run_safety_support import (SPI, assert_leaves_equal, logged_iterations, metrics_rows, one_line_error,
                                 train_argv, train_tiny)


# --- 1. an existing run is never reused silently ----------------------------------------------------

def test_training_into_an_existing_run_is_refused(run_copy, capsys):
    before = {name: (run_copy / name).read_bytes() for name in ("config.json", "metrics.csv")}
    assert cli.main(train_argv(run_copy, 6)) == 2
    line = one_line_error(capsys.readouterr().err)
    for word in ("already holds a training run", f"--resume {run_copy}", "--out", "--overwrite", "steps 2, 4, 6"):
        assert word in line, (word, line)
    assert {name: (run_copy / name).read_bytes() for name in before} == before
    assert checkpoint.steps(run_copy) == [2, 4, 6]
    with pytest.raises(RunExistsError, match="already holds a training run"):
        train_tiny(run_copy, 2)


def test_overwrite_deletes_the_old_run_first(run_copy, capsys):
    (run_copy / "notes.txt").write_text("mine")  # not a run file: survives --overwrite
    assert cli.main(train_argv(run_copy, 4, "--overwrite", "--seed", "1")) == 0
    err = capsys.readouterr().err
    assert "deleted the previous run" in err
    assert json.loads((run_copy / "config.json").read_text())["seed"] == 1
    assert logged_iterations(run_copy) == [1, 2, 3, 4]
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
    result = train_tiny(run_copy, 6, resume=str(run_copy))
    assert result.resumed_from == 4
    assert "resuming" in capsys.readouterr().err
    rows = metrics_rows(run_copy)
    assert [int(r[0]) for r in rows] == [1, 2, 3, 4, 5, 6]
    original = [r for r in metrics_rows(base_run[0])]
    for a, b in zip(rows, original):  # same numbers apart from wall-clock time
        assert a[:2] + a[3:] == b[:2] + b[3:]
    assert_leaves_equal(result.state, straight.state)


def test_resuming_a_finished_run_says_it_is_complete(run_copy, capsys):
    argv = train_argv(run_copy, 6, flag="--resume")
    argv.remove("--steps"), argv.remove(str(6 * SPI))  # no --steps: the run's own 768 steps
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "already complete" in out and "6 iterations" in out and "--steps 1536" in out
    with pytest.raises(RunComplete, match="already complete") as exc:
        train_tiny(run_copy, 4, resume=str(run_copy))
    assert exc.value.iteration == 6


# --- one process per run directory -----------------------------------------------------------------

def test_a_live_lock_refuses_a_second_trainer(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    with RunLock(out):
        with pytest.raises(RunLockedError, match=f"process {os.getpid()} is training into it"):
            train_tiny(out, 1)
        assert cli.main(train_argv(out, 1)) == 2
        assert "is in use" in one_line_error(capsys.readouterr().err)
    assert not (out / run_log.LOCK_NAME).exists()


def test_a_stale_lock_is_taken_over_with_a_warning(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    dead = subprocess.Popen(["true"])
    dead.wait()
    (out / run_log.LOCK_NAME).write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(), "start": None}))
    result = train_tiny(out, 1, checkpoint_every=0)
    assert int(result.state.iteration) == 1
    err = capsys.readouterr().err
    assert "stale lock" in err and str(dead.pid) in err
    assert not (out / run_log.LOCK_NAME).exists()


# --- unwritable run directories and a full disk -----------------------------------------------------

def test_out_that_is_a_file_or_unwritable_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    assert cli.main(train_argv(a_file, 1)) == 2
    assert "is a file, not a directory" in one_line_error(capsys.readouterr().err)
    assert cli.main(train_argv(a_file / "run", 1)) == 2
    assert "cannot write to the run directory" in one_line_error(capsys.readouterr().err)
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
        assert cli.main(train_argv(read_only / "run", 1)) == 2
        line = one_line_error(capsys.readouterr().err)
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
    assert cli.main(train_argv(out, 6)) == 1
    line = one_line_error(capsys.readouterr().err)
    for word in ("could not write checkpoint step 4", "No space left on device", "step 2, is intact", "--resume"):
        assert word in line, (word, line)
    assert checkpoint.steps(out) == [2] and sorted(os.listdir(out / "checkpoints")) == ["2"]
    checkpoint.verify(out, 2)
    monkeypatch.undo()
    assert cli.main(train_argv(out, 6, flag="--resume")) == 0
    assert "from checkpoint step 2" in capsys.readouterr().err
    assert logged_iterations(out) == [1, 2, 3, 4, 5, 6] and checkpoint.steps(out) == [2, 4, 6]


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
    assert cli.main(train_argv(out, 6)) == 1
    line = one_line_error(capsys.readouterr().err)
    assert "metrics.csv" in line and "No space left on device" in line and "step 2, is intact" in line
    monkeypatch.undo()
    assert logged_iterations(out) == [1, 2] and checkpoint.steps(out) == [2]
