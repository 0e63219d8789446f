"""Outputs go where the user says (issue 26, item 5): benchmarks and application commands write to
`--out` (default ./simlab_results/<name>), never silently replace files, and change the tracked
bench/results/ only with `--publish`."""
from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import pytest

from agents import cli
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
    from agents.hpp import cli as hpp_cli

    args = hpp_cli.build_parser().parse_args(["eval"])
    assert output.resolve_out_dir(args, "rendezvous") == Path("simlab_results") / "rendezvous"
    (tmp_path / "rendezvous.json").write_text("{}")
    assert cli.main(["rendezvous", "eval", "--episodes", "1", "--methods", "oracle", "--out", str(tmp_path)]) == 2
    assert "rendezvous.json already exists" in capsys.readouterr().err
    assert (tmp_path / "rendezvous.json").read_text() == "{}"


def test_recsim_ecosystem_plot_goes_to_out_not_the_working_directory(tmp_path, monkeypatch, capsys):
    from recsim import cli as recsim_cli

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
    from agents.sensory import cli as sensory_cli
    from agents.sensory.tasks import PARAMS_DIR

    monkeypatch.chdir(tmp_path)
    shipped = _digest(PARAMS_DIR)
    mine = tmp_path / "simlab_results" / "sensory" / "cartpole_swingup_mlp.npz"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(b"keep")
    argv = ["sensory", "train", "cartpole_swingup", "--es-generations", "1"]
    assert cli.main(argv) == 2  # the default OUT holds this run's file: refused before training
    err = capsys.readouterr().err
    assert "cartpole_swingup_mlp.npz already exists" in err and "--overwrite" in err
    assert mine.read_bytes() == b"keep" and _digest(PARAMS_DIR) == shipped
    args = sensory_cli.build_parser().parse_args(["train", "pong", "--publish"])
    assert output.resolve_out_dir(args, "sensory", PARAMS_DIR) == PARAMS_DIR
    args.out_dir = tmp_path
    args.init_from = "pong"
    assert sensory_cli.init_file(args, "sensory") == PARAMS_DIR / "pong_sensory.npz"  # falls back to the shipped one
