"""`envs.make` checks option types and ranges before anything runs (issue 26, item 4), and keeps
MuJoCo's deprecation warning out of the terminal and out of `MUJOCO_LOG.TXT` (item 5)."""
from __future__ import annotations

import math
import warnings

import pytest

from simlab import envs


@pytest.mark.parametrize("name, kwargs, error, words", [
    ("cartpole_swingup", {"gravity": "abc"}, TypeError, ["'cartpole_swingup'", "gravity = 'abc'", "number", "9.82"]),
    ("cartpole_swingup", {"gravity": math.nan}, ValueError, ["gravity", "not a number"]),
    ("cartpole_swingup", {"dt": 0}, ValueError, ["dt = 0", "> 0", "(0, inf)"]),
    ("cartpole_swingup", {"dt": -0.01}, ValueError, ["dt = -0.01", "> 0"]),
    ("pendulum_balance", {"dt": "x"}, TypeError, ["dt = 'x'", "number"]),       # factory without a signature
    ("pong_state", {"paddle_speed": "fast"}, TypeError, ["paddle_speed", "number"]),
    ("goal_navigation", {"num_obstacles": "3"}, TypeError, ["num_obstacles = '3'", "integer"]),
    ("ant", {"frame_skip": 0}, ValueError, ["frame_skip = 0", ">= 1"]),
    ("ant", {"frame_skip": 2.5}, TypeError, ["frame_skip = 2.5", "integer"]),
    ("ant", {"include_cfrc_ext_in_observation": "no"}, TypeError, ["include_cfrc_ext_in_observation", "true or false"]),
])
def test_make_refuses_bad_option_values(name, kwargs, error, words):
    with pytest.raises(error) as exc:
        envs.make(name, **kwargs)
    for word in words:
        assert word in str(exc.value), (word, str(exc.value))


def test_make_accepts_valid_option_values():
    assert envs.make("cartpole_swingup", gravity=10, dt=0.02).dt == 0.02  # an int for a float option is fine
    assert envs.make("goal_navigation", family="heldout", num_obstacles=3) is not None


def test_mujoco_deprecation_warning_leaves_no_log_file(tmp_path, monkeypatch, capfd):
    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        envs.make("halfcheetah")  # gymnasium's half_cheetah.xml uses the deprecated `settotalmass`
    assert not (tmp_path / "MUJOCO_LOG.TXT").exists()
    assert list(tmp_path.iterdir()) == []
    assert "settotalmass" not in capfd.readouterr().out
    assert any(issubclass(w.category, DeprecationWarning) and "settotalmass" in str(w.message) for w in caught)
