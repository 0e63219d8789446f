"""The `simlab` command-line tool.

    simlab envs [--json]                      list environments with their sizes
    simlab train ENV --agent ppo ...          train in-process; metrics.csv, checkpoints, plot
    simlab eval ENV --checkpoint DIR          evaluate a trained run
    simlab render ENV --out FILE.gif          render a rollout (random, or --checkpoint DIR) to png/gif/mp4
    simlab bench steps --env NAME ...         env-steps/s vs batch size (bench/steps.py)
    simlab bench physics --env ant ...        physics throughput vs Brax/MuJoCo (bench/physics.py)
    simlab bench train                        time to return on Ant vs Brax's PPO (bench/train.py)
    simlab bench sac_halfcheetah              SAC on HalfCheetah, return after 30 min
    simlab recsim | rendezvous | sensory ...  applications (each has its own --help)
    simlab --help                             (every subcommand and benchmark answers --help too)

Benchmarks and applications write to `--out DIR` (default ./simlab_results/<name>), refuse to replace
existing files without `--overwrite`, and change the tracked bench/results/ only with `--publish`
(`simlab.engine.io`).

This module is the top of the import graph: it imports downward only (engine, envs, agents, recsim,
and at run time the checkout's bench/). Its commands come from the registry in `simlab.commands`,
which plug-ins extend too; each target is imported only when its command runs, so `simlab envs` does
not import (or compile) anything it does not need.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

from simlab import commands, ring
from simlab.engine.cache import enable_compilation_cache


class BenchUnavailable(RuntimeError):
    """`simlab bench` was called outside a source checkout (bench/ is not installed with the package)."""


def load_bench():
    """The `bench` package of a source checkout: importable already (the repository root is on `sys.path`,
    as under pytest or `python -m`), or found in the working directory or next to an editable install.

    Benchmarks compare simlab with other tools and write the repository's tracked results, so they ship
    with the source, not the wheel. Raises BenchUnavailable with what to do when there is no checkout.
    """
    candidates = [Path.cwd(), Path(__file__).resolve().parents[1]]
    try:
        module = importlib.import_module("bench")
        if hasattr(module, "BENCHMARKS"):
            return module
    except ModuleNotFoundError as err:
        if err.name != "bench":
            raise
    for root in candidates:
        if (root / "bench" / "__init__.py").is_file():
            sys.modules.pop("bench", None)
            sys.path.insert(0, str(root))
            module = importlib.import_module("bench")
            if hasattr(module, "BENCHMARKS"):
                return module
    raise BenchUnavailable("simlab bench needs a source checkout: the benchmarks (bench/) are not installed with the "
                           "package. Clone the repository, `pip install -e \".[bench]\"` there, and run `simlab bench` "
                           "from its root")


def bench_main(argv: list[str]) -> int:
    """`simlab bench NAME ARGS...`: forwards to the checkout's `bench.main` (see `load_bench`)."""
    try:
        bench = load_bench()
    except BenchUnavailable as err:
        print(f"simlab bench: error: {err}", file=sys.stderr)
        return 2
    return int(bench.main(list(argv)) or 0)


BUILTIN = (
    commands.Command("envs", "list registered environments with observation/action sizes", "simlab.envs.cli:add_envs_parser",
                     kind="parser"),
    commands.Command("train", "train an agent in-process (writes OUT/metrics.csv, checkpoints, plot)",
                     "simlab.agents.cli_train:add_train_parser", kind="parser"),
    commands.Command("eval", "evaluate a trained run with its deterministic policy",
                     "simlab.agents.cli_train:add_eval_parser", kind="parser"),
    commands.Command("render", "render a rollout to PNG/GIF/MP4 (random or trained policy)",
                     "simlab.agents.cli_render:add_render_parser", kind="parser"),
    commands.Command("bench", "run a benchmark from a source checkout (writes OUT/<name>.json and .png; default OUT: "
                              "./simlab_results/<benchmark>; --publish: bench/results)", "simlab.cli:bench_main"),
    commands.Command("recsim", "recommender-ecosystem simulations", "simlab.recsim.cli:main"),
    commands.Command("rendezvous", "multi-agent rendezvous with HPP", "simlab.agents.hpp.cli:main"),
    commands.Command("sensory", "permutation-invariant sensory-neuron agents", "simlab.agents.sensory.cli:main"),
    commands.Command("plugins", "installed plug-ins and what each contributes (--json)", "simlab.ring:main"),
)
for _command in BUILTIN:
    commands.register(_command)


def _run_forwarded(command: commands.Command, argv: list[str]) -> int:
    """Imports a forwarded command's target and returns `target(argv)` as an exit status."""
    try:
        target = command.load()
    except ModuleNotFoundError as err:
        print(f"simlab {command.name}: not available in this installation ({err})", file=sys.stderr)
        return 2
    return int(target(list(argv)) or 0)


def build_parser() -> argparse.ArgumentParser:
    """The top-level `simlab` parser, built from the command registry (`simlab.commands`)."""
    parser = argparse.ArgumentParser(
        prog="simlab",
        description="simlab: branch-free JAX simulation (physics and recommender ecosystems) with in-process RL.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for command in commands.all_commands():
        if command.kind == "parser":
            command.load()(sub)
        else:
            p = sub.add_parser(command.name, help=f"{command.help} (see `simlab {command.name} --help`)",
                               add_help=False)
            p.add_argument("rest", nargs=argparse.REMAINDER)
            p.set_defaults(func=lambda args, command=command: _run_forwarded(command, args.rest))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs `simlab ARGV...` and returns the exit status (argparse exits with 0 on `--help`, 2 on bad usage).

    A forwarded command gets every argument after its name untouched: argparse cannot hand an argument
    list that starts with an option (`simlab recsim --help`) to a sub-parser unparsed, so these are
    routed before parsing.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    ring.load_all()  # plug-ins add their commands, envs and agents first; a broken one is only reported
    command = commands.get(argv[0]) if argv else None
    try:
        if command is not None and command.kind == "forward":
            enable_compilation_cache()
            return _run_forwarded(command, argv[1:])
        args = build_parser().parse_args(argv)
        enable_compilation_cache()
        return args.func(args)
    except BrokenPipeError:  # `simlab envs | head`: the reader left; say nothing more (Python's documented recipe)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
