"""Fuzzing `simlab` argument vectors (issue 26): random combinations of subcommands, options and values
end with exit status 0 (`--help`) or 2 and exactly one `error:` line on stderr; never a traceback.

The vectors are built so that each one fails validation (or asks for help) before any work: every
`train`/`eval`/`render` vector holds at least one invalid value (mixed with valid options), and the
benchmarks and applications get `--help`, unknown options or values their parsers refuse. Training is
replaced by a sentinel that fails the test, so a vector that should have been refused but starts training
is caught in milliseconds instead of training.
"""
from __future__ import annotations

import contextlib
import os

import pytest
from hypothesis import given, strategies as st

import bench
from simlab import cli
from fuzz_settings import bounded, deep

ENVS = ["cartpole_swingup", "pendulum", "pendulum_balance", "ant", "pong", "rendezvous", "no_such_env", "Pendulum"]
AGENTS = ["ppo", "sac", "apg"]

VALID_TRAIN = [["--steps", "1000"], ["--steps", "1e4"], ["--seed", "3"], ["--eval-every", "5"],
               ["--checkpoint-every", "0"], ["--no-progress"], ["--set", "gamma=0.9"], ["--num-envs", "8"]]
INVALID_TRAIN = [["--steps", "0"], ["--steps", "-5"], ["--steps", "1e14"], ["--steps", "abc"], ["--steps", "1.5"],
                 ["--eval-every", "0"], ["--eval-every", "-2"], ["--eval-every", "x"], ["--checkpoint-every", "-1"],
                 ["--seed", "-1"], ["--seed", str(2**40)], ["--seed", "nan"], ["--set", "learning_rate=-1"],
                 ["--set", "learning_rate=abc"], ["--set", "no_such_field=1"], ["--set", "noequals"],
                 ["--env-set", "dt=0"], ["--env-set", "gravity=abc"], ["--env-set", "num_envs=5"],
                 ["--env-set", "no_such_param=1"], ["--num-envs", "0"], ["--num-envs", "-3"], ["--devices", "-1"],
                 ["--agent", "no_such_agent"], ["--resume", "{tmp}/missing_run"],
                 ["--resume", "{tmp}/a", "--overwrite"], ["--out", "{tmp}/a_file"], ["--config", "{tmp}/missing.json"],
                 ["--bogus-option"]]
INVALID_EVAL = [["--checkpoint", "{tmp}/missing_run"], ["--episodes", "0"], ["--seed", "-1"], ["--episodes", "x"]]
INVALID_RENDER = [["--out", "{tmp}/frame.txt"], ["--steps", "-1"], ["--out", "{tmp}/anim.gif", "--steps", "0"],
                  ["--width", "x"]]
APP_ERRORS = [["recsim", "ecosystem", "--runs", "0"], ["recsim", "ecosystem", "--users", "-1"],
              ["recsim", "ecosystem", "--horizon", "x"], ["recsim", "no_such_app"], ["recsim"],
              ["rendezvous", "eval", "--family", "no_such_family"], ["rendezvous", "eval", "--episodes", "0"],
              ["rendezvous", "eval", "--methods", "no_such_method"], ["rendezvous", "eval", "--agents", "1"],
              ["rendezvous", "eval", "--seed", "-1"], ["rendezvous", "no_such_command"],
              ["sensory", "train", "no_such_task"], ["sensory", "eval", "no_such_task"], ["sensory"],
              ["bench"], ["bench", "no_such_bench"], ["envs", "--bogus"], [], ["no_such_command"], ["--bogus"]]


def _fill(tokens: list[str], tmp: str) -> list[str]:
    return [t.replace("{tmp}", tmp) for t in tokens]


@st.composite
def train_argv(draw):
    invalid = draw(st.lists(st.sampled_from(INVALID_TRAIN), min_size=1, max_size=2))
    # A later valid value of the same single-valued option would replace the invalid one (argparse keeps the
    # last), so valid options never repeat an invalid one's flag (--set/--env-set accumulate: kept).
    replaced = {option[0] for option in invalid} - {"--set", "--env-set"}
    options = [o for o in draw(st.lists(st.sampled_from(VALID_TRAIN), max_size=3)) if o[0] not in replaced]
    mixed = draw(st.permutations(options + invalid))
    agent = draw(st.sampled_from(AGENTS))
    return ["train", draw(st.sampled_from(ENVS)), "--agent", agent] + [t for option in mixed for t in option]


@st.composite
def eval_argv(draw):
    invalid = draw(st.lists(st.sampled_from(INVALID_EVAL), min_size=1, max_size=2))
    if not any(option[0] == "--checkpoint" for option in invalid):
        invalid.append(["--checkpoint", "{tmp}/missing_run"])
    return ["eval", draw(st.sampled_from(ENVS))] + [t for option in draw(st.permutations(invalid)) for t in option]


@st.composite
def render_argv(draw):
    invalid = draw(st.lists(st.sampled_from(INVALID_RENDER), min_size=1, max_size=2))
    if not any("--out" in option for option in invalid):
        invalid.append(["--out", "{tmp}/frame.txt"])
    return ["render", draw(st.sampled_from(ENVS))] + [t for option in invalid for t in option]


@st.composite
def forwarded_argv(draw):
    """Benchmarks and applications: `--help` somewhere, an unknown option, or a value their parser refuses."""
    kind = draw(st.sampled_from(["bench_help", "bench_unknown", "app_error", "app_help"]))
    if kind.startswith("bench"):
        name = draw(st.sampled_from(sorted(bench.BENCHMARKS)))
        return ["bench", name, "--help" if kind == "bench_help" else "--no-such-option"]
    argv = list(draw(st.sampled_from(APP_ERRORS)))
    if kind == "app_help":
        argv.insert(draw(st.integers(0, len(argv))), "--help")
    return argv


junk = st.lists(st.one_of(st.sampled_from(["train", "eval", "bench", "--help", "-h", "--", "-", "--out", "=",
                                           "--steps", "--set"]),
                          st.text(alphabet="abc-=_.0123456789 \x00", max_size=6)), max_size=4)


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        code = cli.main(list(argv))
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    out, err = capsys.readouterr()
    return code, out, err


class TrainingReached(AssertionError):
    """Raised by the stand-in for `agents.train.train`: validation let an invalid vector through."""


@pytest.fixture
def no_training(monkeypatch, tmp_path):
    from simlab.agents import train as train_module

    def refuse(*args, **kwargs):
        raise TrainingReached("training started although the argument vector holds an invalid value")

    monkeypatch.setattr(train_module, "train", refuse)
    (tmp_path / "a_file").write_text("not a directory")
    (tmp_path / "a").mkdir()
    return str(tmp_path)


def _property(argv: list[str], tmp: str, capsys) -> None:
    argv = _fill(argv, tmp)
    with contextlib.chdir(tmp):  # nothing may land in the repository
        code, out, err = _run(argv, capsys)
    assert "Traceback" not in out + err, f"simlab {argv}: traceback\n{err[-3000:]}"
    asked_help = any(t in ("--help", "-h") for t in argv)
    if code == 0:
        assert asked_help, f"simlab {argv} succeeded although it holds an invalid value:\n{out[-1000:]}"
        assert "usage" in out.lower(), f"simlab {argv}: --help printed no usage"
        return
    assert code == 2, f"simlab {argv}: exit status {code}\n{err[-2000:]}"
    error_lines = [line for line in err.splitlines() if "error:" in line]
    assert len(error_lines) == 1, f"simlab {argv}: expected one 'error:' line on stderr, got:\n{err[-2000:]}"
    assert len(error_lines[0].split("error:", 1)[1].strip()) > 3, f"simlab {argv}: empty error message"


commands = st.one_of(train_argv(), eval_argv(), render_argv(), forwarded_argv(), junk)


@bounded(80)
@given(argv=commands)
def test_cli_argument_vectors_fuzz(no_training, capsys, argv):
    _property(argv, no_training, capsys)


@pytest.mark.slow
@deep(1000)
@given(argv=commands)
def test_cli_argument_vectors_fuzz_deep(no_training, capsys, argv):
    _property(argv, no_training, capsys)


def test_sentinel_catches_a_valid_training_vector(no_training, capsys):
    """The stand-in really stops a vector that passes validation (so the fuzz test can fail)."""
    with contextlib.chdir(no_training), pytest.raises(TrainingReached):
        cli.main(["train", "pendulum", "--steps", "1000", "--out", os.path.join(no_training, "run"), "--no-progress"])
