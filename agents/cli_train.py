"""`simlab train` and `simlab eval`."""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

import jax

from simlab import envs
from simlab.agents import cli_render, registry, train as training
from simlab.agents.checkpoint import CheckpointError
from simlab.agents.config_validation import parse_assignments, parse_json_assignments
from simlab.agents.evaluation import make_episode_returns, summarize
from simlab.agents.loading import load_run
from simlab.agents.run_log import RunDirectoryError
from simlab.agents.train import (MAX_STEPS, NonFiniteTrainingError, RunComplete, RunWriteError, TrainingInterrupted,
                                 TrainOptions, check_count)
from simlab.engine import sharding
from simlab.engine.devices import use_all_cpu_cores
from simlab.envs.boundary import check_seed


def _overrides(args) -> dict[str, Any]:
    """The config overrides: the `--config` JSON file, then each `--set KEY=VALUE` converted by the type of the
    agent's config field KEY (`config_validation.parse_assignments`), then `--num-envs`."""
    values: dict[str, Any] = {}
    if args.config:
        path = Path(args.config)
        if not path.exists():
            raise ValueError(f"--config {path} does not exist")
        try:
            values.update(json.loads(path.read_text()))
        except json.JSONDecodeError as err:
            raise ValueError(f"--config {path} is not valid JSON: {err}") from None
    values.update(parse_assignments(registry.config_class(args.agent), args.set or []))
    if args.num_envs is not None:
        values["num_envs"] = args.num_envs
    if "hidden" in values:
        values["hidden"] = tuple(values["hidden"])
    return values


def _env_kwargs(args) -> dict[str, Any]:
    """`--env-set KEY=VALUE` items as keyword arguments of `envs.make` (JSON values, bare words stay strings)."""
    return parse_json_assignments(args.env_set or [])


def _count(text: str) -> int:
    """argparse type for step counts: an integer, also written as 1e6 or 1_000_000 (range checked later)."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid count {text!r}: expected an integer such as 1000000 or 1e6") from None
    if not value.is_integer():
        raise argparse.ArgumentTypeError(f"invalid count {text!r}: expected a whole number")
    return int(value)


def add_train_parser(sub) -> None:
    p = sub.add_parser("train", help="train an agent in-process (writes OUT/metrics.csv, checkpoints, plot)")
    p.add_argument("env", help="registered environment (see `simlab envs`)")
    p.add_argument("--agent", default="ppo", help="algorithm: ppo, sac or apg (default ppo)")
    p.add_argument("--steps", type=_count, default=None,
                   help="environment steps, 1 to 2147483647 (e.g. 1000000 or 1e6; default: per-env default, or the "
                        "resumed run's own --steps)")
    p.add_argument("--num-envs", type=int, default=None, help="parallel environments")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--config", help="JSON file of config overrides")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="one config override (repeatable)")
    p.add_argument("--env-set", action="append", metavar="KEY=VALUE",
                   help="one keyword argument of the environment's constructor (repeatable; JSON values), e.g. "
                        "include_cfrc_ext_in_observation=false; stored in the run's config.json")
    p.add_argument("--out", default=None, help="run directory (default runs/<agent>_<env>_s<seed>); one that "
                                               "already holds a run is refused unless --overwrite")
    p.add_argument("--resume", default=None, metavar="DIR",
                   help="continue the run in DIR from its newest intact checkpoint (same agent, env and config)")
    p.add_argument("--overwrite", action="store_true",
                   help="delete the run already in --out (its files only) and start a new one")
    p.add_argument("--eval-every", type=int, default=10, help="iterations between evaluations (>= 1)")
    p.add_argument("--checkpoint-every", type=int, default=50,
                   help="iterations between checkpoints (>= 0; 0: only at the end)")
    p.add_argument("--devices", type=int, default=0,
                   help="split the env batch over this many local devices (default 0: all of them, one CPU device per "
                        "core on a CPU host; 1: one device)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--no-gif", action="store_true",
                   help=f"skip OUT/{GIF_NAME}, the {GIF_STEPS}-step rollout of the trained policy rendered at the end "
                        "(environments with rendering only; `simlab render ENV --checkpoint OUT` does it later)")
    p.set_defaults(func=cmd_train)


def add_eval_parser(sub) -> None:
    p = sub.add_parser("eval", help="evaluate a trained run with its deterministic policy")
    p.add_argument("env", help="environment the run was trained on")
    p.add_argument("--checkpoint", required=True, help="run directory written by `simlab train`")
    p.add_argument("--episodes", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_eval)


def _batch_mesh(agent, requested: int):
    """The mesh `simlab train` splits the learner's env batch over: `requested` local devices (0: all), reduced to
    the largest count that divides the batch (printing why), or None for one device or learners without one."""
    num_envs = getattr(getattr(agent, "config", None), "num_envs", None)
    available = jax.local_device_count()
    if requested > available:
        raise ValueError(f"--devices {requested} but only {available} local devices")
    count = requested or available
    if num_envs is None or count <= 1:
        return None
    usable = max(d for d in range(1, count + 1) if num_envs % d == 0)
    if usable < count:
        print(f"simlab train: {num_envs} environments do not split over {count} devices; using {usable} (set "
              f"num_envs to a multiple of {count} to use all of them)", file=sys.stderr)
    return sharding.make_mesh(jax.local_devices()[:usable]) if usable > 1 else None


def _saved_total_steps(run_dir: str) -> int | None:
    """`total_steps` from RUN_DIR/config.json, or None if unreadable (the resume then reports why)."""
    try:
        value = json.loads((Path(run_dir) / "config.json").read_text()).get("total_steps")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _check_train_options(args) -> None:
    """Range checks of the train-loop options, naming the flag, the value and the valid range."""
    if args.steps is not None:
        check_count("--steps", args.steps, 1, MAX_STEPS, "environment steps (the step counter is int32)")
    check_count("--eval-every", args.eval_every, 1, None, "iterations between evaluations")
    check_count("--checkpoint-every", args.checkpoint_every, 0, None,
                "iterations between checkpoints, 0 for only at the end")
    check_count("--devices", args.devices, 0, None, "local devices to split the env batch over (0: all)")
    if args.resume and args.overwrite:
        raise ValueError("--resume and --overwrite contradict each other: --resume continues the run in the "
                         "directory, --overwrite deletes it; pass one of them")
    if args.out and os.path.exists(args.out) and not os.path.isdir(args.out):
        raise ValueError(f"--out {args.out} is a file, not a directory; pass a directory path (it is created if "
                         "missing)")
    if args.resume and not os.path.isdir(args.resume):
        raise ValueError(f"--resume {args.resume}: no such run directory; pass the --out directory of an earlier "
                         "`simlab train` run")
    if args.resume and args.out and not _same_path(args.resume, args.out):
        raise ValueError(f"--resume {args.resume} continues that run in place; drop --out {args.out} "
                         "(or pass the same directory)")


def _same_path(a: str, b: str) -> bool:
    return os.path.abspath(a) == os.path.abspath(b)


def _resume_command(args, out: str, steps: int) -> str:
    """The `simlab train` command line that continues the run in `out`."""
    argv = ["simlab", "train", args.env, "--agent", args.agent, "--resume", str(out), "--steps", str(steps)]
    if args.seed:
        argv += ["--seed", str(args.seed)]
    if args.num_envs is not None:
        argv += ["--num-envs", str(args.num_envs)]
    if args.config:
        argv += ["--config", args.config]
    for item in args.set or []:
        argv += ["--set", item]
    for item in args.env_set or []:
        argv += ["--env-set", item]
    if args.eval_every != 10:
        argv += ["--eval-every", str(args.eval_every)]
    if args.checkpoint_every != 50:
        argv += ["--checkpoint-every", str(args.checkpoint_every)]
    if args.devices != 0:
        argv += ["--devices", str(args.devices)]
    return shlex.join(argv)


GIF_NAME, GIF_STEPS = "policy.gif", 200


def _write_gif(env_name: str, out_dir: Path, seed: int) -> str:
    """Renders the run's deterministic policy to `out_dir/policy.gif`; returns what to print. A missing OpenGL
    backend is reported (with the fix) rather than failing the finished training."""
    if not envs.make(env_name).supports_rendering:
        return ""
    try:
        cli_render.render_to_file(env_name, out_dir / GIF_NAME, checkpoint=str(out_dir), steps=GIF_STEPS, seed=seed)
    except TypeError as err:  # a recurrent policy (e.g. the sensory agent) has no stateless host-side act
        print(f"simlab train: no {GIF_NAME}: {err}", file=sys.stderr)
        return ""
    except (RuntimeError, OSError, ImportError) as err:
        print(f"simlab train: no {GIF_NAME}: {err}. Install an OpenGL backend (e.g. `apt-get install libosmesa6`) and "
              f"run `simlab render {env_name} --checkpoint {out_dir} --out {out_dir / GIF_NAME}`", file=sys.stderr)
        return ""
    return f", {GIF_NAME}"


def cmd_train(args) -> int:
    """`simlab train`: exit 0 on success (or when a resumed run is already complete), 2 for bad options or an
    unusable run directory/checkpoint, 1 when training fails (diverged, disk full), 130 on Ctrl-C."""
    out = None
    steps = None
    try:
        _check_train_options(args)
        if args.devices != 1:  # before anything starts JAX (a no-op if it has)
            use_all_cpu_cores(args.devices or None, quiet=True)
        check_seed(args.seed)

        envs.entry(args.env)
        overrides = _overrides(args)
        steps = args.steps
        if steps is None and args.resume:
            steps = _saved_total_steps(args.resume)
        if steps is None:
            steps = registry.default_steps(args.agent, args.env)
        agent = registry.make_agent(args.agent, args.env, overrides, total_steps=steps, env_kwargs=_env_kwargs(args))
        mesh = _batch_mesh(agent, args.devices)
        out = args.resume or args.out or f"runs/{args.agent}_{args.env}_s{args.seed}"
        result = training.train(agent, TrainOptions(total_steps=steps, seed=args.seed, out_dir=out,
                                                    eval_every=args.eval_every, checkpoint_every=args.checkpoint_every,
                                                    resume=args.resume, overwrite=args.overwrite,
                                                    progress=not args.no_progress, mesh=mesh))
    except RunComplete as done:
        print(f"simlab train: {done}")
        print(f"  {_resume_command(args, str(done.out_dir), max(2 * done.env_steps, 2 * (steps or 0)))}")
        return 0
    except TrainingInterrupted as stop:
        if stop.checkpoint_step is not None:
            print(f"\nsimlab train: interrupted at iteration {stop.iteration} ({stop.env_steps:,} env steps); saved "
                  f"checkpoint step {stop.checkpoint_step} and learning_curve.png in {stop.out_dir}.\n"
                  f"Resume with:\n  {_resume_command(args, str(stop.out_dir), steps)}", file=sys.stderr)
        else:
            print(f"\nsimlab train: interrupted at iteration {stop.iteration}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        resumable = out is not None and Path(out, "checkpoints").is_dir()
        hint = (f"; the last checkpoint is intact. Resume with:\n  {_resume_command(args, out, steps)}"
                if resumable and steps else "; nothing was saved by this run")
        print(f"\nsimlab train: interrupted{hint}", file=sys.stderr)
        return 130
    except (ValueError, TypeError, KeyError, CheckpointError, RunDirectoryError) as err:
        print(f"simlab train: error: {err}", file=sys.stderr)
        return 2
    except (NonFiniteTrainingError, RunWriteError) as err:
        print(f"simlab train: error: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"simlab train: error: {err}", file=sys.stderr)
        return 1
    last = result.history[-1]
    print(f"{args.agent} on {args.env}: eval return {last['eval_return']:.1f} ± {last['eval_return_std']:.1f} "
          f"after {last['env_steps']:,} steps in {last['wall_time_s']:.1f} s")
    gif = "" if args.no_gif else _write_gif(args.env, Path(result.out_dir), args.seed)
    print(f"wrote {result.out_dir}/metrics.csv, learning_curve.png{gif}, checkpoints/ and tensorboard/")
    return 0


def cmd_eval(args) -> int:
    try:
        check_seed(args.seed)
        if args.episodes < 1:
            raise ValueError(f"--episodes must be positive, got {args.episodes}")
        agent, state, config = load_run(args.checkpoint)
        if config["env"] != args.env:
            raise ValueError(f"{args.checkpoint} was trained on {config['env']!r}, not {args.env!r}")
        # Every learner deploys the one policy type (`agent.network`, recurrent or not) with `agent.params(state)`.
        evaluate = jax.jit(make_episode_returns(agent.eval_env, agent.network, args.episodes))
        result = summarize(evaluate(agent.params(state), jax.random.key(args.seed)))
    except (ValueError, KeyError, CheckpointError) as err:
        print(f"simlab eval: error: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{args.env}: mean return {result['mean_return']:.1f} ± {result['std_return']:.1f} "
              f"over {result['episodes']} episodes")
    return 0
