"""Damaged checkpoints are diagnosed, named and skipped (issue 26, item 2); another config is not called damage."""
from __future__ import annotations

import gc
import random
import shutil
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import pytest

from simlab import cli
from simlab.agents import checkpoint
from simlab.agents.checkpoint import CheckpointDamagedError, CheckpointMismatchError

from run_safety_support import assert_leaves_equal, logged_iterations, one_line_error, train_argv


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
    assert_leaves_equal(restored.state["w"], TREE["w"])


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
    assert cli.main(train_argv(run_copy, 6, flag="--resume")) == 0
    err = capsys.readouterr().err
    assert "skipped damaged checkpoint step 6" in err and "state/manifest.ocdbt" in err
    assert "restored step 4, the newest intact checkpoint" in err and "Traceback" not in err
    assert (run_copy / "damaged_checkpoints" / "6").is_dir()
    assert checkpoint.steps(run_copy) == [2, 4, 6] and logged_iterations(run_copy) == [1, 2, 3, 4, 5, 6]
    checkpoint.verify(run_copy, 6)


def test_unusable_checkpoints_on_resume_are_one_line_errors(run_copy, capsys):
    assert cli.main(train_argv(run_copy, 6, "--num-envs", "4", flag="--resume")) == 2
    assert "its config is" in one_line_error(capsys.readouterr().err)
    for step in (2, 4, 6):
        _damage(run_copy / "checkpoints" / str(step) / "state" / "_METADATA", "zeroed")
    assert cli.main(train_argv(run_copy, 8, flag="--resume")) == 2
    line = one_line_error(capsys.readouterr().err)
    assert "every checkpoint" in line and "step 6: state/_METADATA" in line and "step 2" in line
