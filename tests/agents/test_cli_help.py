"""Every `simlab` subcommand, sub-subcommand and benchmark answers `--help` (issue 26, item 6).

The commands are discovered from the parsers themselves (the top-level parser, the application
parsers it forwards to and `bench.BENCHMARKS`), so a new subcommand is covered without editing this test.
"""
from __future__ import annotations

import argparse
import importlib

import pytest

import bench
from simlab import cli, commands


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The sub-parsers of `parser` by name (aliases excluded), or {}."""
    for action in parser._actions:  # argparse keeps sub-parsers only here
        if isinstance(action, argparse._SubParsersAction):
            seen, found = set(), {}
            for name, sub in action.choices.items():
                if id(sub) not in seen:
                    seen.add(id(sub))
                    found[name] = sub
            return found
    return {}


def _walk(prefix: list[str], parser: argparse.ArgumentParser) -> list[list[str]]:
    """`prefix` and every nested sub-command path below `parser`."""
    paths = [prefix]
    for name, sub in _subcommands(parser).items():
        paths.extend(_walk(prefix + [name], sub))
    return paths


def all_command_paths() -> list[list[str]]:
    """Every command path of `simlab`: built-in subcommands, forwarded applications (walked through their
    own parsers) and each benchmark in `BENCHMARKS`."""
    top = cli.build_parser()
    paths = [[]]
    for name, sub in _subcommands(top).items():
        if name == "bench":
            paths.append(["bench"])
            paths.extend(["bench", b] for b in bench.BENCHMARKS)
        elif commands.get(name).kind == "forward":
            module = importlib.import_module(commands.get(name).target.partition(":")[0])
            paths.extend(_walk([name], module.build_parser()))
        else:
            paths.extend(_walk([name], sub))
    return paths


PATHS = all_command_paths()


def test_discovery_finds_the_nested_commands():
    joined = {" ".join(p) for p in PATHS}
    for expected in ["train", "eval", "envs", "render", "recsim", "recsim ecosystem", "rendezvous eval",
                     "rendezvous train", "sensory train", "sensory eval", "bench steps", "bench sac_halfcheetah"]:
        assert expected in joined
    assert len([p for p in PATHS if p[:1] == ["bench"]]) == len(bench.BENCHMARKS) + 1


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "simlab")
def test_every_command_answers_help(path, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(path + ["--help"])
    assert exc.value.code in (0, None)
    out = capsys.readouterr().out
    assert out.startswith("usage: simlab" + "".join(f" {p}" for p in path)), out[:200]
    assert "--help" in out or "-h" in out
