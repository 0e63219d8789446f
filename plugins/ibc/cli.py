"""`simlab ibc demos|train|eval`: implicit behavioural cloning on the plug-in's tasks (`tasks.TASKS`).

    simlab ibc demos particle --dim 2 --num 2000 --out DIR     # DIR/particle_dim2_demos.npz
    simlab ibc train particle --dim 2 --out DIR                # DIR/particle_dim2/<model>/ for every model
    simlab ibc train particle --dim 2 --models mse --publish   # the shipped plugins/ibc/params/particle_dim2/mse/
    simlab ibc eval particle --dim 2 --episodes 100 --json     # success rates of the shipped parameters

`eval --json` prints `{"env": "particle", "dim": N, "results": {MODEL: {"success_rate": x}, ...}}`; episodes
are seeded `--first-seed` + 0..E-1. `--option KEY=VALUE` sets another env option of the task (see
`tasks.Task.options`). Output follows simlab's policy (`simlab.engine.io`): `--out DIR` (default
./simlab_results/ibc), nothing replaced without `--overwrite`; `train --publish` writes the shipped
parameters instead (weights stored as float16 there, to keep the package small).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

from simlab.agents.config_validation import parse_text
from simlab.engine import io
from simlab.plugins.ibc import pipeline
from simlab.plugins.ibc.artifacts import PARAMS_DIR
from simlab.plugins.ibc.demos import load_demos, save_demos
from simlab.plugins.ibc.models import MODEL_NAMES
from simlab.plugins.ibc.tasks import TASKS, Task, get_task

OUT_NAME = "ibc"


class UsageError(ValueError):
    """A bad command line, reported as `simlab ibc CMD: error: ...` with exit status 2."""


def _add_task_arguments(parser: argparse.ArgumentParser, seed: bool = True) -> None:
    parser.add_argument("env", help=f"the task: {', '.join(TASKS)}")
    parser.add_argument("--dim", type=int, default=None, help="particle: the N of the N-D particle, 1..32 (default 2)")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="another env option of the task (repeatable)")
    if seed:
        parser.add_argument("--seed", type=int, default=0, help="seed of the demonstrations and of training")


def build_parser() -> argparse.ArgumentParser:
    """The parser of `simlab ibc`."""
    parser = argparse.ArgumentParser(prog="simlab ibc", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    demos = sub.add_parser("demos", help="write oracle demonstrations (.npz)")
    _add_task_arguments(demos)
    demos.add_argument("--num", type=io.positive_int, default=None, help="episodes (default: the task's, 2000)")
    io.add_output_arguments(demos, OUT_NAME, what="demonstrations")

    train = sub.add_parser("train", help="train models and save their parameters")
    _add_task_arguments(train)
    train.add_argument("--models", default=",".join(MODEL_NAMES), help=f"comma-separated: {', '.join(MODEL_NAMES)}")
    train.add_argument("--demos", type=Path, default=None, help="a `simlab ibc demos` file (default: generate them)")
    train.add_argument("--num-demos", type=io.positive_int, default=None, help="episodes to generate (default 2000)")
    train.add_argument("--steps", type=io.positive_int, default=None, help="optimiser steps per model (default: recipe)")
    train.add_argument("--time-budget", type=float, default=None, help="seconds per model at most")
    train.add_argument("--eval-episodes", type=int, default=100, help="episodes to evaluate each model on (0: none)")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    io.add_output_arguments(train, OUT_NAME, published=PARAMS_DIR, what="parameters")

    ev = sub.add_parser("eval", help="success rates of trained models (the shipped ones by default)")
    _add_task_arguments(ev, seed=False)
    ev.add_argument("--models", default=",".join(MODEL_NAMES), help=f"comma-separated: {', '.join(MODEL_NAMES)}")
    ev.add_argument("--episodes", type=io.positive_int, default=100, help="evaluation episodes per model (default 100)")
    ev.add_argument("--first-seed", type=int, default=0, help="episode i is seeded first_seed + i (default 0)")
    ev.add_argument("--checkpoint", type=Path, default=None, help="a `simlab ibc train --out` directory")
    ev.add_argument("--json", action="store_true", help='print {"env", <options>, "results": {MODEL: {"success_rate"}}')
    return parser


def _resolve(args) -> tuple[Task, dict[str, Any]]:
    """The task and its checked options from the command line (errors before any work)."""
    task = get_task(args.env)
    options: dict[str, Any] = {}
    if args.dim is not None:
        if "dim" not in task.options:
            raise UsageError(f"{task.name} takes no --dim")
        options["dim"] = args.dim
    for item in args.option:
        key, sep, text = item.partition("=")
        if not sep or key not in task.options or key == "dim":
            valid = ", ".join(k for k in task.options if k != "dim") or "none"
            raise UsageError(f"--option {item!r}: expected KEY=VALUE with KEY one of the options of {task.name} "
                             f"({valid}; --dim sets dim)")
        options[key] = parse_text(task.name, key, text, task.options[key].__name__)
    return task, task.resolve(options)


def _models(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in MODEL_NAMES]
    if unknown or not names:
        raise UsageError(f"--models {text!r}: choose from {', '.join(MODEL_NAMES)}")
    return names


def _demos(args, task, options) -> int:
    tag = task.tag(options)
    out = io.prepare_output(args, OUT_NAME, [f"{tag}_demos.npz"])
    start = time.perf_counter()
    demos = pipeline.make_demos(task, options, args.num, seed=args.seed)
    path = save_demos(out / f"{tag}_demos.npz", demos)
    print(f"{tag}: {demos.num_episodes} episodes x {demos.obs.shape[1]} steps (obs {demos.obs.shape[2]}, action "
          f"{demos.actions.shape[2]}), oracle success {demos.meta['oracle_success_rate']:.3f}, "
          f"{time.perf_counter() - start:.1f}s -> {path}")
    return 0


def _train(args, task, options) -> int:
    names, tag = _models(args.models), task.tag(options)
    if args.time_budget is not None and not args.time_budget > 0:
        raise UsageError("--time-budget must be > 0 seconds")
    out = io.prepare_output(args, OUT_NAME, [f"{tag}/{name}/" for name in names], published=PARAMS_DIR)
    if args.demos is not None:
        demos = load_demos(args.demos)
        if demos.meta.get("env") not in (None, task.name) or demos.meta.get("options", options) != options:
            raise UsageError(f"--demos {args.demos} holds {demos.meta.get('env')} {demos.meta.get('options')}, "
                             f"not {task.name} {options}")
    else:
        demos = pipeline.make_demos(task, options, args.num_demos, seed=args.seed)
    print(f"{tag}: {demos.num_episodes} demonstrations (oracle success {demos.meta['oracle_success_rate']:.3f})",
          flush=True)
    recipe = task.recipe(options)
    command = "simlab ibc " + " ".join(args.argv)
    for name in names:
        overrides = {"steps": args.steps, "time_budget_s": args.time_budget}
        train_config = dataclasses.replace(recipe.train[name], **{k: v for k, v in overrides.items() if v is not None})
        trained = pipeline.fit_model(task, options, name, demos, train_config=train_config, seed=args.seed,
                                     progress=not args.no_progress, meta={"command": command})
        line = f"{tag} {name}: {trained.meta['steps']} steps in {trained.meta['train_seconds']:.0f}s"
        if args.eval_episodes > 0:
            result = pipeline.evaluate_trained(task, options, trained, args.eval_episodes)
            trained = dataclasses.replace(trained, meta={**trained.meta, "eval": {
                "episodes": result["episodes"], "first_seed": 0, "success_rate": result["success_rate"]}})
            line += f", success {result['success_rate']:.3f} over {result['episodes']} episodes"
        path = pipeline.save_model(out, task, options, trained, half=bool(getattr(args, "publish", False)))
        print(f"{line} -> {path}", flush=True)
    return 0


def _eval(args, task, options) -> int:
    names = _models(args.models)
    loaded = pipeline.load_models(task, options, names, args.checkpoint)  # every file checked before any rollout
    results = {}
    for name in names:
        result = pipeline.evaluate_trained(task, options, loaded[name], args.episodes, first_seed=args.first_seed)
        results[name] = result
        if not args.json:
            print(f"{task.tag(options)} {name:>13}: success {result['success_rate']:.3f} over {result['episodes']} "
                  f"episodes ({result['seconds']:.1f}s)", flush=True)
    if args.json:
        print(json.dumps({"env": task.name, **options,
                          "results": {name: {"success_rate": r["success_rate"]} for name, r in results.items()}}))
    return 0


COMMANDS = {"demos": _demos, "train": _train, "eval": _eval}


def main(argv: list[str] | None = None) -> int:
    """`simlab ibc ARGV...`; returns the exit status (2 for a bad command line or missing parameters)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    prog = f"simlab ibc {args.command}"
    try:
        task, options = _resolve(args)
        return COMMANDS[args.command](args, task, options)
    except (UsageError, pipeline.MissingParamsError) as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    except ValueError as err:  # bad options, output refusals (io.OutputExistsError), unreadable demos
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
