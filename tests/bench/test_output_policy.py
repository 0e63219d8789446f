"""Outputs go where the user says (issue 26, item 5): benchmarks and application commands write to
`--out` (default ./simlab_results/<name>), never silently replace files, and change the tracked
bench/results/ only with `--publish`."""
from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import pytest

from simlab import cli
from simlab.engine import io
from bench import output

PUBLISHED = Path(__file__).resolve().parents[2] / "bench" / "results"


def _digest(directory: Path) -> dict[str, tuple[str, int]]:
    return {str(p.relative_to(directory)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(directory.rglob("*")) if p.is_file()}


def test_bench_steps_writes_under_the_default_out_and_never_to_published_results(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    before = _digest(PUBLISHED)
    argv = ["bench", "steps", "--env", "pendulum", "--num-envs", "2", "--steps-per-call", "8", "--repeats", "1",
            "--no-anchor", "--json"]
    assert cli.main(argv) == 0
    assert _digest(PUBLISHED) == before
    out = tmp_path / "simlab_results" / "steps"
    assert sorted(p.name for p in out.iterdir()) == ["steps_pendulum.json", "steps_pendulum.png"]
    assert [p.name for p in tmp_path.iterdir()] == ["simlab_results"]  # nothing else in the working directory
    written = _digest(out)
    capsys.readouterr()
    # Again: refused before any work, naming the files and the way out; nothing replaced.
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "steps_pendulum.json" in err and "already exist" in err and "--overwrite" in err
    assert _digest(out) == written


def test_overwrite_and_publish_flags(tmp_path):
    parser = argparse.ArgumentParser()
    output.add_output_arguments(parser, "demo")
    (tmp_path / "a.json").write_text("{}")
    args = parser.parse_args(["--out", str(tmp_path)])
    with pytest.raises(output.OutputExistsError, match="a.json already exists.*--overwrite"):
        output.prepare_output(args, "demo", ["a.json", "a.png"])
    assert output.prepare_output(parser.parse_args(["--out", str(tmp_path), "--overwrite"]), "demo",
                                 ["a.json"]) == tmp_path
    assert output.resolve_out_dir(parser.parse_args([]), "demo") == Path("simlab_results") / "demo"
    assert output.resolve_out_dir(parser.parse_args(["--publish"]), "demo") == output.PUBLISHED_DIR == PUBLISHED
    with pytest.raises(ValueError, match="cannot be combined with --out"):
        output.prepare_output(parser.parse_args(["--publish", "--out", str(tmp_path)]), "demo", ["a.json"])
    with pytest.raises(ValueError, match="is a file, not a directory"):
        output.prepare_output(parser.parse_args(["--out", str(tmp_path / "a.json")]), "demo", ["x.json"])


def test_rendezvous_eval_defaults_outside_the_package_and_refuses_to_overwrite(tmp_path, capsys):
    from simlab.agents.hpp import cli as hpp_cli

    args = hpp_cli.build_parser().parse_args(["eval"])
    assert output.resolve_out_dir(args, "rendezvous") == Path("simlab_results") / "rendezvous"
    (tmp_path / "rendezvous.json").write_text("{}")
    assert cli.main(["rendezvous", "eval", "--episodes", "1", "--methods", "oracle", "--out", str(tmp_path)]) == 2
    assert "rendezvous.json already exists" in capsys.readouterr().err
    assert (tmp_path / "rendezvous.json").read_text() == "{}"


def test_recsim_ecosystem_plot_goes_to_out_not_the_working_directory(tmp_path, monkeypatch, capsys):
    from simlab.recsim import cli as recsim_cli

    monkeypatch.chdir(tmp_path)
    parser = recsim_cli.build_parser()
    path = recsim_cli._plot_path(parser.parse_args(["ecosystem"]))
    assert Path(path) == Path("simlab_results") / "recsim_ecosystem" / "recsim_ecosystem.png"
    assert recsim_cli._plot_path(parser.parse_args(["ecosystem", "--plot", ""])) is None
    assert list(tmp_path.iterdir()) == []  # resolving creates nothing
    existing = tmp_path / "mine" / "recsim_ecosystem.png"
    existing.parent.mkdir()
    existing.write_bytes(b"keep")
    assert cli.main(["recsim", "ecosystem", "--runs", "1", "--out", str(existing.parent)]) == 2
    assert "already exists" in capsys.readouterr().err and existing.read_bytes() == b"keep"


def test_sensory_train_writes_outside_the_package_and_refuses_to_overwrite(tmp_path, monkeypatch, capsys):
    from simlab.agents.sensory import cli as sensory_cli
    from simlab.agents.sensory.tasks import PARAMS_DIR

    monkeypatch.chdir(tmp_path)
    shipped = _digest(PARAMS_DIR)
    mine = tmp_path / "simlab_results" / "sensory" / "cartpole_swingup_mlp"
    mine.mkdir(parents=True)
    (mine / "keep").write_bytes(b"keep")
    argv = ["sensory", "train", "cartpole_swingup", "--es-generations", "1"]
    assert cli.main(argv) == 2  # the default OUT holds this run's file: refused before training
    err = capsys.readouterr().err
    assert "cartpole_swingup_mlp already exists" in err and "--overwrite" in err
    assert (mine / "keep").read_bytes() == b"keep" and _digest(PARAMS_DIR) == shipped
    args = sensory_cli.build_parser().parse_args(["train", "pong", "--publish"])
    assert io.resolve_out_dir(args, "sensory", PARAMS_DIR) == PARAMS_DIR
    args.out_dir = tmp_path
    args.init_from = "pong"
    assert sensory_cli.init_file(args, "sensory") == PARAMS_DIR / "pong_sensory"  # falls back to the shipped one


def test_rendezvous_train_writes_to_out_and_refuses_existing_files_before_training(tmp_path, monkeypatch, capsys):
    """`simlab rendezvous train` follows simlab.engine.io: default ./simlab_results/rendezvous_train, the shipped
    agents/hpp/assets/ only with --publish, and existing files refused (exit 2) before any training."""
    from simlab.agents.hpp import assets, training
    from simlab.agents.hpp import cli as hpp_cli

    def no_training(*args, **kwargs):
        raise AssertionError("training started although the output was refused")

    monkeypatch.setattr(training, "train_predictor", no_training)
    monkeypatch.setattr(training, "train_controller", no_training)
    parser = hpp_cli.build_parser()
    assert io.resolve_out_dir(parser.parse_args(["train"]), "rendezvous_train", assets.ASSETS) == \
        Path("simlab_results") / "rendezvous_train"
    assert io.resolve_out_dir(parser.parse_args(["train", "--publish"]), "rendezvous_train",
                                  assets.ASSETS) == assets.ASSETS
    shipped = _digest(assets.ASSETS)
    (tmp_path / "predictor").mkdir()
    assert cli.main(["rendezvous", "train", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "predictor already exists" in err and "--overwrite" in err and err.count("error:") == 1
    # With --controller the controller directory and run directory are checked too.
    (tmp_path / "predictor").rmdir()
    (tmp_path / "controller").mkdir()
    assert cli.main(["rendezvous", "train", "--controller", "--out", str(tmp_path)]) == 2
    assert "controller already exists" in capsys.readouterr().err
    (tmp_path / "controller").rmdir()
    (tmp_path / "controller_run").mkdir()
    (tmp_path / "controller_run" / "metrics.csv").write_text("iteration\n")
    assert cli.main(["rendezvous", "train", "--controller", "--out", str(tmp_path)]) == 2
    assert "already holds a controller run" in capsys.readouterr().err
    assert cli.main(["rendezvous", "train", "--publish", "--out", str(tmp_path)]) == 2
    assert "cannot be combined with --out" in capsys.readouterr().err
    assert (tmp_path / "controller_run" / "metrics.csv").read_text() == "iteration\n"
    assert _digest(assets.ASSETS) == shipped


def test_rendezvous_train_passes_out_paths_to_training(tmp_path, monkeypatch, capsys):
    """The trained files go to --out (the shipped assets are untouched); the predictor is fitted on the
    controller trained in the same command."""
    from simlab.agents.hpp import assets, training

    calls = {}

    def fake_controller(out_dir, seed, path):
        calls["controller"] = (out_dir, seed, Path(path))
        Path(path).mkdir()
        return {"controller_run": out_dir}

    def fake_predictor(seed, controller_path, path):
        calls["predictor"] = (seed, Path(controller_path), Path(path))
        Path(path).mkdir(exist_ok=True)
        return {"final_train_loss": 0.0}

    monkeypatch.setattr(training, "train_controller", fake_controller)
    monkeypatch.setattr(training, "train_predictor", fake_predictor)
    shipped = _digest(assets.ASSETS)
    assert cli.main(["rendezvous", "train", "--controller", "--seed", "4", "--out", str(tmp_path)]) == 0
    assert calls["controller"] == (str(tmp_path / "controller_run"), 4, tmp_path / "controller")
    assert calls["predictor"] == (4, tmp_path / "controller", tmp_path / "predictor")
    assert _digest(assets.ASSETS) == shipped
    capsys.readouterr()
    assert cli.main(["rendezvous", "train", "--out", str(tmp_path)]) == 2  # predictor/ exists now
    assert cli.main(["rendezvous", "train", "--out", str(tmp_path), "--overwrite"]) == 0
    assert calls["predictor"] == (0, assets.CONTROLLER, tmp_path / "predictor")


def test_sensory_ant_teacher_export_goes_to_out_and_is_refused_before_work(tmp_path, monkeypatch, capsys):
    """`simlab bench sensory_ant --teacher RUN` exports the teacher to OUT/ant_teacher/ (the shipped
    agents/sensory/params/ file only with --publish) and refuses existing files before any work."""
    import bench.sensory_ant as sensory_ant

    def no_work(*args, **kwargs):
        raise AssertionError("work started although the output was refused")

    monkeypatch.setattr(sensory_ant, "run", no_work)
    monkeypatch.chdir(tmp_path)
    params_dir = sensory_ant.teacher_path().parent
    shipped = _digest(params_dir)
    run = tmp_path / "teacher_run"
    run.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / sensory_ant.TEACHER_FILE).mkdir()
    (out / sensory_ant.TEACHER_FILE / "mine").write_bytes(b"mine")
    assert cli.main(["bench", "sensory_ant", "--teacher", str(run), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "ant_teacher already exists" in err and "--overwrite" in err and "simlab bench sensory_ant: error:" in err
    assert cli.main(["bench", "sensory_ant", "--teacher", str(tmp_path / "missing"), "--out",
                     str(tmp_path / "new")]) == 2
    assert "no such run directory" in capsys.readouterr().err
    assert (out / sensory_ant.TEACHER_FILE / "mine").read_bytes() == b"mine"
    assert _digest(params_dir) == shipped
    assert sorted(tmp_path.iterdir()) == sorted([run, out])  # nothing else written to the working directory


def test_sensory_ant_exports_the_teacher_into_out(tmp_path, monkeypatch):
    """Past the checks, the export target handed to `run` is OUT/ant_teacher/, not the package."""
    import bench.sensory_ant as sensory_ant

    seen = {}

    def fake_run(args):
        seen["teacher_file"] = args.teacher_file
        raise ValueError("stop here")  # reported as a one-line error, exit 2

    monkeypatch.setattr(sensory_ant, "run", fake_run)
    run = tmp_path / "teacher_run"
    run.mkdir()
    assert cli.main(["bench", "sensory_ant", "--teacher", str(run), "--out", str(tmp_path / "o")]) == 2
    assert seen["teacher_file"] == tmp_path / "o" / sensory_ant.TEACHER_FILE
    assert cli.main(["bench", "sensory_ant", "--teacher", str(run), "--publish"]) == 2
    assert seen["teacher_file"] == sensory_ant.teacher_path()
