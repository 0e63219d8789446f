"""SAC on our HalfCheetah for a fixed wall-clock budget: the return it reaches (default 30 minutes).

    python -m bench.sac_halfcheetah                 (also: simlab bench sac_halfcheetah)
    python -m bench.sac_halfcheetah --minutes 5 --set grad_updates_per_step=2

Trains `bench.configs.BENCH_CONFIGS["sac_halfcheetah"]` (SAC with twin Q networks, automatic
temperature and an on-device replay buffer) on `halfcheetah` (gymnasium v5 semantics on our engine),
evaluating the deterministic policy every `--eval-every-steps`; the clock includes building the agent
and XLA compilation. Writes OUT/sac_halfcheetah.json and .png (return against minutes) and
prints the return at the end of the budget.

OUT is `--out DIR` (default ./simlab_results/sac_halfcheetah); `--publish` writes the tracked bench/results/
instead. Existing files are not replaced without `--overwrite` (bench/output.py).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

from bench import harness, output
from bench.configs import BENCH_CONFIGS
from bench.train import parse_overrides

BENCH_CONFIG = "sac_halfcheetah"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="simlab bench sac_halfcheetah", description=__doc__.split("\n")[0])
    p.add_argument("--minutes", type=float, default=30.0, help="wall-clock budget (default 30)")
    p.add_argument("--eval-every-steps", type=int, default=20_000, help="env steps between evaluations")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one SAC setting (repeatable; JSON values)")
    p.add_argument("--seed", type=int, default=0)
    output.add_output_arguments(p, "sac_halfcheetah")
    p.add_argument("--json", action="store_true", help="print the result JSON")
    return p


def run(args) -> dict:
    """SAC on halfcheetah for `args.minutes`; returns the config and the `(seconds, steps, return)` curve."""
    import jax

    from simlab.agents.registry import make_agent
    from simlab.agents.train import TrainOptions, train

    clock_start = time.perf_counter()
    bench = BENCH_CONFIGS[BENCH_CONFIG]
    agent = make_agent(bench["algo"], bench["env"], {**bench["config"], **parse_overrides(args.set, bench["algo"])},
                       env_kwargs=bench.get("env_kwargs", {}))
    eval_every = max(1, round(args.eval_every_steps / agent.steps_per_iteration))
    result = train(agent, TrainOptions(total_steps=10**12, seed=args.seed, eval_every=eval_every,
                                       time_limit_s=60.0 * args.minutes, clock_start=clock_start))
    curve = [[r["wall_time_s"], r["env_steps"], r["eval_return"]] for r in result.history]
    return {"agent": bench["algo"], "env": bench["env"], "minutes": args.minutes,
            "config": dataclasses.asdict(agent.config), "eval_every": eval_every,
            "eval_episodes": agent.config.eval_episodes, "jax": jax.__version__,
            "machine": harness.machine_info(),
            "final_return": curve[-1][2], "final_env_steps": curve[-1][1], "final_wall_s": curve[-1][0],
            "best_return": max(p[2] for p in curve), "curve": curve}


def plot(result: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    curve = result["curve"]
    ax.plot([p[0] / 60 for p in curve], [p[2] for p in curve], marker="o", ms=3, color="tab:green",
            label="simlab SAC, our halfcheetah")
    ax.set_xlabel("wall-clock minutes (compilation included)")
    ax.set_ylabel("evaluation return (deterministic policy)")
    ax.set_title(f"HalfCheetah: SAC for {result['minutes']:g} min on a 2-core CPU")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return harness.save_figure(fig, path)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    args.out = output.prepare_or_report(args, "sac_halfcheetah", ['sac_halfcheetah.json', 'sac_halfcheetah.png'], "simlab bench sac_halfcheetah")
    if args.out is None:
        return 2
    if not args.minutes > 0:
        print(f"--minutes must be positive, got {args.minutes}", file=sys.stderr)
        return 2
    try:
        result = run(args)
    except ValueError as err:  # bad --set keys or values: the message names the fix
        print(f"error: {err}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    harness.write_json(args.out / "sac_halfcheetah.json", result)
    png = plot(result, args.out / "sac_halfcheetah.png")
    print(f"SAC halfcheetah: return {result['final_return']:.0f} after {result['final_wall_s'] / 60:.1f} min "
          f"({result['final_env_steps']:,} env steps; best {result['best_return']:.0f}); wrote {png}")
    if args.json:
        print(json.dumps({k: v for k, v in result.items() if k != "curve"}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
