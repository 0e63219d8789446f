"""The ibc plug-in from the outside (issue 19): discovery through the entry point, `simlab ibc eval --json` on
the shipped parameters, demos -> train -> eval round trips, and clear errors for bad input."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from simlab.plugins.ibc import cli
from simlab.plugins.ibc.artifacts import PARAMS_DIR, load_trained
from simlab.plugins.ibc.demos import load_demos
from simlab.plugins.ibc.models import MODEL_NAMES

ROOT = Path(__file__).resolve().parents[3]
SHIPPED_DIMS = (2, 16)


# One fresh interpreter runs `simlab plugins --json` and `simlab ibc eval ... --json`, as a user would (the
# plug-in is found through its entry point; nothing is registered in the test process).
SCRIPT = """
import sys
from simlab import cli
codes = [cli.main(["plugins", "--json"])]
print("=====", flush=True)
codes.append(cli.main(["ibc", "eval", "particle", "--dim", "2", "--episodes", "10", "--json"]))
sys.exit(max(codes))
"""


@pytest.fixture(scope="module")
def fresh_run() -> tuple[dict, dict]:
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env={**os.environ, "JAX_PLATFORMS": "cpu"},
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    plugins, evaluation = done.stdout.split("=====\n")
    return json.loads(plugins), json.loads(evaluation)


def test_the_plugin_is_discovered_with_its_envs_and_command(fresh_run):
    reports = {p["name"]: p for p in fresh_run[0]["plugins"]}
    assert reports["ibc"]["error"] is None
    assert reports["ibc"]["envs"] == ["particle", "block_push"] and reports["ibc"]["commands"] == ["ibc"]


def test_eval_json_of_the_shipped_parameters(fresh_run):
    payload = fresh_run[1]
    assert list(payload) == ["env", "dim", "results"] and payload["env"] == "particle" and payload["dim"] == 2
    assert list(payload["results"]) == list(MODEL_NAMES)
    for result in payload["results"].values():
        assert list(result) == ["success_rate"] and 0.0 <= result["success_rate"] <= 1.0


@pytest.mark.parametrize("dim", SHIPPED_DIMS)
def test_shipped_parameters_load_with_their_record(dim):
    for name in MODEL_NAMES:
        trained = load_trained(PARAMS_DIR / f"particle_dim{dim}" / name)
        assert trained.name == name and (trained.obs_size, trained.action_size) == (4 * dim, dim)
        assert trained.meta["options"] == {"dim": dim} and trained.meta["command"].startswith("simlab ibc train")
    size = sum(p.stat().st_size for p in PARAMS_DIR.rglob("*") if p.is_file())
    assert size < 2.5e6, f"the shipped parameters take {size / 1e6:.1f} MB"


@pytest.mark.parametrize("argv, message", [
    (["eval", "particle", "--dim", "33"], "dim must be from 1 to 32"),
    (["eval", "particle", "--dim", "0", "--json"], "dim must be from 1 to 32"),
    (["eval", "particles"], "unknown IBC environment 'particles' (did you mean particle"),
    (["eval", "particle", "--dim", "5"], "train them with `simlab ibc train particle --dim 5"),
    (["eval", "particle", "--models", "ebm,mse"], "--models 'ebm,mse': choose from"),
    (["eval", "particle", "--option", "colour=red"], "expected KEY=VALUE with KEY one of the options"),
    (["train", "particle", "--time-budget", "-1"], "--time-budget must be > 0"),
])
def test_bad_input_is_refused_before_any_work(argv, message, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith(f"simlab ibc {argv[0]}: error:")


def test_demos_train_eval_round_trip(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["demos", "particle", "--dim", "3", "--num", "20", "--out", str(out)]) == 0
    demos = load_demos(out / "particle_dim3_demos.npz")
    assert demos.obs.shape == (20, 50, 12) and demos.success.mean() == 1.0
    assert cli.main(["demos", "particle", "--dim", "3", "--num", "20", "--out", str(out)]) == 2  # no overwrite
    assert "--overwrite" in capsys.readouterr().err

    argv = ["train", "particle", "--dim", "3", "--models", "mse", "--demos",
            str(out / "particle_dim3_demos.npz"), "--steps", "20", "--eval-episodes", "0", "--no-progress",
            "--out", str(out)]
    assert cli.main(argv) == 0
    trained = load_trained(out / "particle_dim3" / "mse")
    assert trained.meta["steps"] == 20 and trained.meta["demos"]["num_episodes"] == 20
    capsys.readouterr()
    assert cli.main(["eval", "particle", "--dim", "3", "--models", "mse", "--episodes", "3", "--checkpoint",
                     str(out), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["dim"] == 3 and set(payload["results"]) == {"mse"}
    assert cli.main(["eval", "particle", "--dim", "3", "--models", "ebm_dfo", "--checkpoint", str(out)]) == 2
    assert "--models ebm_dfo --out" in capsys.readouterr().err
    assert cli.main(argv) == 2  # the parameters exist: refused without --overwrite
    np.testing.assert_array_equal(load_trained(out / "particle_dim3" / "mse").normalizer.obs_mean,
                                  trained.normalizer.obs_mean)
