"""`simlab train` and `simlab eval`."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import jax


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _overrides(args) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if args.config:
        path = Path(args.config)
        if not path.exists():
            raise ValueError(f"--config {path} does not exist")
        try:
            values.update(json.loads(path.read_text()))
        except json.JSONDecodeError as err:
            raise ValueError(f"--config {path} is not valid JSON: {err}") from None
    for item in args.set or []:
        if "=" not in item:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        values[key] = _parse_value(value)
    if args.num_envs is not None:
        values["num_envs"] = args.num_envs
    if "hidden" in values:
        values["hidden"] = tuple(values["hidden"])
    return values


def _env_kwargs(args) -> dict[str, Any]:
    """`--env-set KEY=VALUE` items as keyword arguments of `envs.make` (JSON values, bare words stay strings)."""
    values: dict[str, Any] = {}
    for item in args.env_set or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--env-set expects KEY=VALUE, got {item!r}")
        values[key] = _parse_value(value)
    return values


def add_train_parser(sub) -> None:
    p = sub.add_parser("train", help="train an agent in-process (writes OUT/metrics.csv, checkpoints, plot)")
    p.add_argument("env", help="registered environment (see `simlab envs`)")
    p.add_argument("--agent", default="ppo", help="algorithm: ppo, sac or apg (default ppo)")
    p.add_argument("--steps", type=int, default=None, help="environment steps (default: per-env default)")
    p.add_argument("--num-envs", type=int, default=None, help="parallel environments")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--config", help="JSON file of config overrides")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="one config override (repeatable)")
    p.add_argument("--env-set", action="append", metavar="KEY=VALUE",
                   help="one keyword argument of the environment's constructor (repeatable; JSON values), e.g. "
                        "include_cfrc_ext_in_observation=false; stored in the run's config.json")
    p.add_argument("--out", default=None, help="run directory (default runs/<agent>_<env>_s<seed>)")
    p.add_argument("--resume", default=None, help="continue the run in this directory")
    p.add_argument("--eval-every", type=int, default=10, help="iterations between evaluations")
    p.add_argument("--checkpoint-every", type=int, default=50, help="iterations between checkpoints")
    p.add_argument("--devices", type=int, default=1,
                   help="shard the env batch over this many local devices (on a CPU host: one CPU device per core, e.g. 2)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_train)


def add_eval_parser(sub) -> None:
    p = sub.add_parser("eval", help="evaluate a trained run with its deterministic policy")
    p.add_argument("env", help="environment the run was trained on")
    p.add_argument("--checkpoint", required=True, help="run directory written by `simlab train`")
    p.add_argument("--episodes", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_eval)


def _declare_cpu_devices(count: int) -> None:
    """On a CPU host, declare `count` CPU devices (one per core is fastest) unless JAX already started.

    `XLA_FLAGS=--xla_force_host_platform_device_count=N` set by the user takes precedence.
    """
    if "xla_force_host_platform_device_count" in os.environ.get("XLA_FLAGS", ""):
        return
    try:
        jax.config.update("jax_num_cpu_devices", count)
    except RuntimeError:  # backends already initialized: the device count is what it is
        pass


def cmd_train(args) -> int:
    from agents.registry import default_steps, make_agent
    from agents.train import TrainOptions, train
    from envs.boundary import check_seed
    from engine import sharding

    if args.devices > 1:
        _declare_cpu_devices(args.devices)  # before anything starts JAX
    try:
        check_seed(args.seed)
        import envs

        envs.entry(args.env)
        overrides = _overrides(args)
        steps = args.steps or default_steps(args.agent, args.env)
        if steps < 1:
            raise ValueError(f"--steps must be positive, got {steps}")
        agent = make_agent(args.agent, args.env, overrides, total_steps=steps, env_kwargs=_env_kwargs(args))
        mesh = None
        if args.devices > 1:
            if args.devices > jax.local_device_count():
                raise ValueError(f"--devices {args.devices} but only {jax.local_device_count()} local devices")
            mesh = sharding.make_mesh(jax.local_devices()[: args.devices])
        out = args.resume or args.out or f"runs/{args.agent}_{args.env}_s{args.seed}"
        result = train(agent, TrainOptions(total_steps=steps, seed=args.seed, out_dir=out, eval_every=args.eval_every,
                                           checkpoint_every=args.checkpoint_every, resume=args.resume,
                                           progress=not args.no_progress, mesh=mesh))
    except (ValueError, TypeError, KeyError) as err:
        print(f"simlab train: error: {err}", file=sys.stderr)
        return 2
    last = result.history[-1]
    print(f"{args.agent} on {args.env}: eval return {last['eval_return']:.1f} ± {last['eval_return_std']:.1f} "
          f"after {last['env_steps']:,} steps in {last['wall_time_s']:.1f} s")
    print(f"wrote {result.out_dir}/metrics.csv, learning_curve.png, checkpoints/ and tensorboard/")
    return 0


def cmd_eval(args) -> int:
    from agents.checkpoint import CheckpointError
    from agents.evaluation import make_evaluator, summarize
    from agents.loading import load_run
    from envs.boundary import check_seed

    try:
        check_seed(args.seed)
        if args.episodes < 1:
            raise ValueError(f"--episodes must be positive, got {args.episodes}")
        agent, state, config = load_run(args.checkpoint)
        if config["env"] != args.env:
            raise ValueError(f"{args.checkpoint} was trained on {config['env']!r}, not {args.env!r}")
        evaluate = jax.jit(make_evaluator(agent.eval_env, agent.policy(state, True), args.episodes))
        result = summarize(evaluate(jax.random.key(args.seed)))
    except (ValueError, KeyError, CheckpointError) as err:
        print(f"simlab eval: error: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{args.env}: mean return {result['mean_return']:.1f} ± {result['std_return']:.1f} "
              f"over {result['episodes']} episodes")
    return 0
