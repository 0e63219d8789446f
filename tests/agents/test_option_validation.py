"""Agent-config, environment-option and train-loop option validation in one place (issue 26, items 4 and 6).

Each case is refused before anything compiles, with a message naming the field, the value and the
valid range, through the Python API, `simlab train --set/--env-set` and `--config` files alike; and
environments the learners cannot train are refused at once with what to use instead.
"""
from __future__ import annotations

import json
import math

import pytest

from simlab import cli
from simlab.agents.apg import APGConfig
from simlab.agents.bc import BCConfig
from simlab.agents.config_validation import parse_assignments
from simlab.agents.es import ESConfig
from simlab.agents.ppo import PPOConfig
from simlab.agents.registry import make_agent, make_config
from simlab.agents.sac import SACConfig
from simlab.agents.train import MAX_STEPS, TrainOptions, train
from simlab.agents.validation import UntrainableEnvironmentError

from run_safety_support import TINY, one_line_error


@pytest.mark.parametrize("cls, field, value, error, words", [
    (PPOConfig, "learning_rate", -1, ValueError, ["learning_rate", "-1", "> 0", "(0, inf)"]),
    (PPOConfig, "learning_rate", "abc", TypeError, ["learning_rate", "'abc'", "number"]),
    (PPOConfig, "learning_rate", math.nan, ValueError, ["learning_rate", "nan"]),
    (PPOConfig, "gamma", 1.5, ValueError, ["gamma", "1.5", "(0, 1]"]),
    (PPOConfig, "gamma", 0, ValueError, ["gamma", "(0, 1]"]),
    (PPOConfig, "num_envs", 64.0, TypeError, ["num_envs", "64.0", "integer"]),
    (PPOConfig, "num_minibatches", 0, ValueError, ["num_minibatches", "positive integer"]),
    (PPOConfig, "entropy_coef", -0.1, ValueError, ["entropy_coef", ">= 0"]),
    (PPOConfig, "hidden", [64, 0], ValueError, ["hidden", "positive integers"]),
    (PPOConfig, "activation", "sigmoid", ValueError, ["activation", "'sigmoid'", "'tanh'"]),
    (PPOConfig, "normalize_obs", "yes", TypeError, ["normalize_obs", "true or false"]),
    (SACConfig, "learning_rate", 0.0, ValueError, ["SACConfig.learning_rate", "> 0"]),
    (SACConfig, "batch_size", -256, ValueError, ["batch_size", "positive integer"]),
    (SACConfig, "tau", 2, ValueError, ["tau", "(0, 1]"]),
    (SACConfig, "warmup_steps", -1, ValueError, ["warmup_steps", ">= 0"]),
    (APGConfig, "learning_rate", -1e-3, ValueError, ["APGConfig.learning_rate", "> 0"]),
    (APGConfig, "gamma", 1.01, ValueError, ["APGConfig.gamma", "(0, 1]"]),
    (APGConfig, "lr_end", -1e-4, ValueError, ["APGConfig.lr_end", ">= 0"]),
    (APGConfig, "lr_end", 1e-2, ValueError, ["APGConfig.lr_end", "0.01", "<= learning_rate", "(0.001)"]),
    (APGConfig, "lr_decay_steps", 0, ValueError, ["APGConfig.lr_decay_steps", ">= 1"]),
    (ESConfig, "sigma_init", -0.1, ValueError, ["sigma_init", "> 0"]),
    (ESConfig, "learning_rate", "fast", TypeError, ["learning_rate", "number"]),
    (BCConfig, "learning_rate", -3e-3, ValueError, ["BCConfig.learning_rate", "> 0"]),
])
def test_config_fields_are_validated(cls, field, value, error, words):
    with pytest.raises(error) as exc:
        cls(**{field: value})
    for word in words:
        assert word in str(exc.value), (word, str(exc.value))


def test_valid_values_are_normalized():
    config = PPOConfig(learning_rate=1, hidden=[32, 32], value_hidden=[16])
    assert config.learning_rate == 1.0 and isinstance(config.learning_rate, float)
    assert config.hidden == (32, 32) and config.value_hidden == (16,)
    assert SACConfig(target_entropy=None).target_entropy is None
    assert make_config("ppo", "cartpole_swingup", {"gamma": 1}).gamma == 1.0


@pytest.mark.parametrize("item, value", [
    ("num_envs=64", 64), ("num_envs=1e3", 1000), ("num_envs=1_024", 1024), ("learning_rate=3e-4", 3e-4),
    ("learning_rate=1", 1.0), ("hidden=64,32", (64, 32)), ("hidden=[64, 64]", (64, 64)), ("hidden=(8,)", (8,)),
    ("normalize_obs=false", False), ("normalize_obs=Yes", True), ("activation=swish", "swish"),
])
def test_set_values_are_typed_by_the_config_field(item, value):
    parsed = parse_assignments(PPOConfig, [item])
    assert parsed == {item.split("=")[0]: value} and type(next(iter(parsed.values()))) is type(value)


@pytest.mark.parametrize("item, words", [
    ("num_envs=1.5", ["PPOConfig.num_envs = '1.5'", "integer"]),
    ("normalize_obs=maybe", ["normalize_obs", "true or false"]),
    ("hidden=64,x", ["hidden", "comma-separated positive integers"]),
    ("num_env=4", ["unknown PPOConfig field 'num_env'", "num_envs"]),
    ("learning_rate", ["KEY=VALUE"]),
])
def test_set_values_of_the_wrong_type_are_refused(item, words):
    with pytest.raises(ValueError) as exc:
        parse_assignments(PPOConfig, [item])
    for word in words:
        assert word in str(exc.value), (word, str(exc.value))
    assert SACConfig(target_entropy=parse_assignments(SACConfig, ["target_entropy=none"])["target_entropy"])


@pytest.mark.parametrize("overrides, env_kwargs, error, words", [
    ({"learning_rate": -1}, None, ValueError, ["PPOConfig.learning_rate", "-1", "> 0"]),
    ({"learning_rate": "abc"}, None, TypeError, ["PPOConfig.learning_rate", "'abc'"]),
    (None, {"gravity": "abc"}, TypeError, ["gravity", "'abc'", "number"]),
    (None, {"dt": 0}, ValueError, ["dt", "0", "> 0"]),
    (None, {"num_envs": 5}, ValueError, ["num_envs", "--num-envs"]),
])
def test_python_api_validates_before_building(overrides, env_kwargs, error, words):
    with pytest.raises(error) as exc:
        make_agent("ppo", "cartpole_swingup", overrides, env_kwargs=env_kwargs)
    for word in words:
        assert word in str(exc.value)


@pytest.mark.parametrize("args, words", [
    (["--set", "learning_rate=-1"], ["PPOConfig.learning_rate = -1", "out of range", "(0, inf)"]),
    (["--set", "learning_rate=abc"], ["PPOConfig.learning_rate = 'abc'", "must be a number"]),
    (["--env-set", "gravity=abc"], ["gravity = 'abc'", "must be a number"]),
    (["--env-set", "dt=0"], ["dt = 0", "time step", "> 0"]),
    (["--env-set", "num_envs=5"], ["'num_envs'", "--num-envs"]),
])
def test_train_cli_refuses_bad_options_before_making_a_run(args, words, tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["train", "cartpole_swingup", "--out", str(out), "--no-progress", *args]) == 2
    err = capsys.readouterr().err
    for word in words:
        assert word in err, (word, err)
    assert not out.exists()  # nothing half-made


def test_config_file_is_validated_like_set(tmp_path, capsys):
    path = tmp_path / "ppo.json"
    path.write_text(json.dumps({"learning_rate": -0.5, "hidden": [32, 32]}))
    out = tmp_path / "run"
    assert cli.main(["train", "cartpole_swingup", "--config", str(path), "--out", str(out)]) == 2
    assert "PPOConfig.learning_rate = -0.5 is out of range" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("env, words", [
    ("rendezvous", ["multi-agent", "simlab rendezvous train", "ParallelRendezvous"]),
    ("pong", ["32x32x2", "flat observation", "pong_state", "simlab sensory train pong"]),
])
def test_untrainable_envs_are_refused_at_once(env, words, tmp_path, capsys):
    with pytest.raises(UntrainableEnvironmentError) as exc:
        make_agent("ppo", env)
    for word in words:
        assert word in str(exc.value)
    out = tmp_path / "run"
    assert cli.main(["train", env, "--agent", "sac", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "simlab train: error:" in err and words[0] in err
    assert not out.exists()


def test_resume_of_a_missing_run_directory_is_refused_without_creating_it(tmp_path, capsys):
    """`--resume` with a mistyped directory used to create it (and a lock) before failing; found by
    tests/fuzz/test_fuzz_cli.py."""
    missing = tmp_path / "no_such_run"
    assert cli.main(["train", "pendulum", "--no-progress", "--resume", str(missing)]) == 2
    err = capsys.readouterr().err
    assert "no such run directory" in err and str(missing) in err and err.count("error:") == 1
    assert not missing.exists()


# --- train-loop option ranges (--steps, --eval-every, --checkpoint-every) ------------------------------

@pytest.mark.parametrize("args, words", [
    (["--steps", "0"], ["--steps = 0", "valid range [1, 2147483647]"]),
    (["--steps", "-5"], ["--steps = -5", "valid range [1, 2147483647]"]),
    (["--steps", "1e14"], ["--steps = 100000000000000", "int32", "2,147,483,647"]),
    (["--eval-every", "0"], ["--eval-every = 0", "valid range [1, inf)"]),
    (["--checkpoint-every", "-1"], ["--checkpoint-every = -1", "valid range [0, inf)"]),
    (["--devices", "-1"], ["--devices = -1", "valid range [0, inf)"]),
    (["--overwrite", "--resume", "somewhere"], ["--resume and --overwrite contradict"]),
])
def test_train_loop_options_are_checked_before_anything_runs(tmp_path, capsys, args, words):
    out = tmp_path / "run"
    argv = ["train", "pendulum", "--out", str(out), "--no-progress", *args]
    if "--resume" in args:
        argv = ["train", "pendulum", "--no-progress", *args]
    assert cli.main(argv) == 2
    line = one_line_error(capsys.readouterr().err)
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
