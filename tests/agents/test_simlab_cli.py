"""The `simlab` command-line tool."""
import json
import subprocess
import sys

import pytest

from simlab import cli


def test_help_works():
    proc = subprocess.run([sys.executable, "-m", "simlab.cli", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "envs" in proc.stdout and "bench" in proc.stdout


def test_envs_lists_sizes(capsys):
    assert cli.main(["envs", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["cartpole_swingup"]["observation_size"] == 5
    assert rows["cartpole_swingup"]["action_size"] == 1
    assert rows["pendulum"]["observation_size"] == 3
    assert rows["pendulum"]["gym_id"] == "simlab/Pendulum-v0"
    assert cli.main(["envs"]) == 0
    assert "simlab/CartPoleSwingUp-v0" in capsys.readouterr().out


def test_unknown_command_and_benchmark_fail_clearly(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["trian"])
    assert exc.value.code == 2
    assert "invalid choice: 'trian'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["bench", "nope"])
    assert "invalid choice: 'nope'" in capsys.readouterr().err
