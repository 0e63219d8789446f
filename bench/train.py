"""Time to a return on Ant: our PPO on our `ant` against Brax's PPO on Brax's spring Ant, in one run.

    python -m bench.train                    (also: simlab bench train)
    python -m bench.train --skip-brax --minutes 5 --set num_envs=2048

Ours trains in this process with the `bench.configs.BENCH_CONFIGS["train_ant"]` settings, its
environment batch split over one CPU device per core (`--devices`, default: all cores), for
`--minutes` of wall-clock. Then Brax's own PPO (`brax.training.agents.ppo.train`, Brax's
training-notebook Ant hyperparameters) trains on Brax's spring Ant for `--brax-minutes` in a
subprocess: Brax 0.14's trainers do not run on simlab's JAX 0.10, so that subprocess uses a
separate virtualenv with jax 0.9.2 and brax 0.14.2 (created on first use, see bench/brax_anchor.py).
The two never run at the same time. Both clocks include start-up and XLA compilation.

It prints, for returns 1000/1500/2000/2500, the wall-clock time each side needed (interpolated
between evaluations) and Brax's time over ours, and writes OUT/train_ant.json and
train_ant.png (eval return against wall-clock minutes, both curves, the target return dashed).

OUT is `--out DIR` (default ./simlab_results/train); `--publish` writes the tracked bench/results/
instead. Existing files are not replaced without `--overwrite` (bench/output.py).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from bench import brax_anchor, harness, output
from bench.configs import BENCH_CONFIGS
from simlab.agents import registry
from simlab.agents.config_validation import parse_assignments, parse_json_assignments
from bench.curves import CurvePoint, comparison, format_table, parse_jsonl_curve, point_from_record

THRESHOLDS = (1000.0, 1500.0, 2000.0, 2500.0)
TARGET_RETURN = 2000.0
TARGET_SPEEDUP = 3.0
BENCH_CONFIG = "train_ant"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="simlab bench train", description=__doc__.split("\n")[0])
    p.add_argument("--minutes", type=float, default=8.0, help="wall-clock budget of our PPO (default 8)")
    p.add_argument("--brax-minutes", type=float, default=17.0, help="wall-clock budget of Brax's PPO (default 17)")
    p.add_argument("--brax-python", type=Path, default=None,
                   help="a Python with jax 0.9.2 + brax 0.14.2 (default: the virtualenv below, created if missing)")
    p.add_argument("--venv", type=Path, default=None, help="virtualenv for Brax (default ~/.cache/simlab/brax-jax092)")
    p.add_argument("--skip-brax", action="store_true", help="run ours only")
    p.add_argument("--brax-json", type=Path, default=None,
                   help="reuse Brax's curve from an earlier train_ant.json or worker .jsonl instead of running it")
    p.add_argument("--devices", type=int, default=0, help="CPU devices for ours (0: one per core)")
    p.add_argument("--eval-every-steps", type=int, default=300_000, help="our env steps between evaluations")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one of our PPO settings (repeatable; JSON values)")
    p.add_argument("--env-set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one of our ant's options (repeatable; JSON values)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--target", type=float, default=TARGET_RETURN, help="the return the headline ratio is taken at")
    output.add_output_arguments(p, "train")
    p.add_argument("--json", action="store_true", help="print the result JSON (without curves)")
    return p


def parse_overrides(items: list[str], algo: str = "ppo") -> dict:
    """`--set` items, typed by the fields of `algo`'s config: ['num_envs=2048', 'hidden=64,64'] ->
    {'num_envs': 2048, 'hidden': (64, 64)} (`config_validation.parse_assignments`)."""
    return parse_assignments(registry.config_class(algo), items)


def load_brax_curve(path: Path) -> dict:
    """Brax's side of an earlier run: a `train_ant.json` (its "brax" entry) or a worker's JSON-lines curve."""
    if not path.exists():
        raise ValueError(f"--brax-json {path} does not exist")
    text = path.read_text()
    if path.suffix == ".jsonl":
        header, points = parse_jsonl_curve(text, str(path))
        brax = {"header": header, "curve": [list(p) for p in points], "ended": "reused"}
    else:
        try:
            brax = json.loads(text)["brax"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise ValueError(f"--brax-json {path} is neither a worker .jsonl curve nor a train_ant.json with a "
                             "'brax' entry") from None
        [point_from_record(p, f"{path} brax curve") for p in brax.get("curve", [])]
    if not brax.get("curve"):
        raise ValueError(f"--brax-json {path} holds no Brax evaluations")
    return {**brax, "reused_from": str(path)}


def run_ours(args, overrides: dict, env_overrides: dict) -> dict:
    """Our PPO on `ant` for `args.minutes`; the clock starts before the agent (env, networks) is built."""
    import dataclasses

    import jax

    from simlab.agents.registry import make_agent
    from simlab.agents.train import TrainOptions, train
    from simlab.engine.sharding import make_mesh

    clock_start = time.perf_counter()
    bench = BENCH_CONFIGS[BENCH_CONFIG]
    env_kwargs = {**bench.get("env_kwargs", {}), **env_overrides}
    agent = make_agent(bench["algo"], bench["env"], {**bench["config"], **overrides}, env_kwargs=env_kwargs)
    devices = jax.local_devices()[: args.devices] if args.devices else jax.local_devices()
    mesh = make_mesh(devices) if len(devices) > 1 else None
    eval_every = max(1, round(args.eval_every_steps / agent.steps_per_iteration))
    result = train(agent, TrainOptions(total_steps=10**12, seed=args.seed, eval_every=eval_every, mesh=mesh,
                                       time_limit_s=60.0 * args.minutes, clock_start=clock_start))
    curve = [CurvePoint(r["wall_time_s"], r["env_steps"], r["eval_return"]) for r in result.history]
    return {"agent": bench["algo"], "env": bench["env"], "env_kwargs": env_kwargs,
            "config": dataclasses.asdict(agent.config), "devices": len(devices), "eval_every": eval_every,
            "eval_episodes": agent.config.eval_episodes, "jax": jax.__version__, "curve": [list(p) for p in curve]}


def plot(result: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.5), dpi=120)
    sides = [("ours", "simlab PPO, our ant (jax %s)" % result["ours"]["jax"], "tab:orange")]
    if result.get("brax"):
        sides.append(("brax", "Brax PPO, Brax spring ant (jax %s)" % result["brax"]["header"].get("jax", "?"),
                      "tab:blue"))
    for key, label, color in sides:
        curve = result[key]["curve"]
        if curve:
            ax.plot([p[0] / 60 for p in curve], [p[2] for p in curve], marker="o", ms=3, color=color, label=label)
    ax.axhline(result["target"], color="gray", linestyle="--", label=f"target return {result['target']:g}")
    ax.set_xlabel("wall-clock minutes (compilation included)")
    ax.set_ylabel("evaluation return")
    ax.set_title("Ant: time to return, 2-core CPU")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return harness.save_figure(fig, path)


def summarize(result: dict) -> dict:
    """Adds the threshold table (`rows`) and the headline ratio at the target return to `result`."""
    ours = [CurvePoint(*p) for p in result["ours"]["curve"]]
    brax = [CurvePoint(*p) for p in result["brax"]["curve"]] if result.get("brax") else None
    thresholds = sorted(set(THRESHOLDS) | {result["target"]})
    result["rows"] = comparison(ours, brax, thresholds)
    headline = next(r for r in result["rows"] if r["threshold"] == result["target"])
    result["speedup_at_target"] = headline["speedup"]
    result["speedup_at_target_at_least"] = headline["speedup_at_least"]
    known = headline["speedup"] if headline["speedup"] is not None else headline["speedup_at_least"]
    result["meets_target_speedup"] = known is not None and known >= TARGET_SPEEDUP
    result["table"] = format_table(result["rows"], ours, brax)
    return result


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.minutes <= 0 or args.brax_minutes <= 0:
            raise ValueError(f"--minutes and --brax-minutes must be positive, got {args.minutes}, {args.brax_minutes}")
        if args.eval_every_steps < 1:
            raise ValueError(f"--eval-every-steps must be positive, got {args.eval_every_steps}")
        overrides = parse_overrides(args.set, BENCH_CONFIGS[BENCH_CONFIG]["algo"])
        env_overrides = parse_json_assignments(args.env_set)
        files = ["train_ant.json", "train_ant.png"] + ([] if args.skip_brax or args.brax_json else ["train_ant_brax.jsonl"])
        args.out = output.prepare_output(args, "train", files)
        brax_python = None
        reused = load_brax_curve(args.brax_json) if args.brax_json else None
        if not (args.skip_brax or reused):  # settle Brax's Python first: a broken one fails before any training
            brax_python, versions = brax_anchor.ensure_brax_python(args.venv or brax_anchor.DEFAULT_VENV,
                                                                   args.brax_python, log=lambda m: print(m, file=sys.stderr))
            print(f"Brax's PPO will run in a separate Python ({brax_python}: jax {versions['jax']}, brax "
                  f"{versions['brax']}) because Brax 0.14's trainers do not run on simlab's JAX", file=sys.stderr)
        from bench.physics import configure_devices

        configure_devices(args.devices)  # before anything starts JAX
        load_before = list(os.getloadavg())
        ours = run_ours(args, overrides, env_overrides)
    except (ValueError, TypeError, KeyError, brax_anchor.BraxEnvironmentError) as err:
        print(f"simlab bench train: error: {err}", file=sys.stderr)
        return 2
    brax, brax_error = reused, None
    if brax_python is not None:
        try:
            brax = brax_anchor.run_worker(brax_python, args.out / "train_ant_brax.jsonl", args.brax_minutes)
        except (ValueError, brax_anchor.BraxEnvironmentError) as err:  # keep our side's results all the same
            brax_error = str(err)
            print(f"simlab bench train: Brax's side failed: {err}", file=sys.stderr)
    note = None
    if brax:
        header = brax.get("header", {})
        note = (f"Brax's PPO ran in a separate Python (jax {header.get('jax', '?')}, brax {header.get('brax', '?')}): "
                "Brax 0.14's trainers do not run on simlab's jax 0.10. Brax evaluates its stochastic policy on 128 "
                "episodes (its default), ours the deterministic policy on "
                f"{ours['eval_episodes']} episodes.")
    result = summarize({"target": args.target, "target_speedup": TARGET_SPEEDUP, "minutes": args.minutes,
                        "brax_minutes": args.brax_minutes, "machine": harness.machine_info(),
                        "load_average_before": load_before, "ours": ours, "brax": brax, "brax_note": note,
                        "brax_error": brax_error})
    json_path = harness.write_json(args.out / "train_ant.json", result)
    png_path = plot(result, args.out / "train_ant.png")
    if args.json:
        print(json.dumps({k: v for k, v in result.items() if k not in ("ours", "brax", "table")}))
        return 1 if brax_error else 0
    print(result["table"])
    if result["brax_note"]:
        print(result["brax_note"] + ("" if not brax.get("reused_from") else f"; curve reused from {brax['reused_from']}"))
    verdict = "meets" if result["meets_target_speedup"] else "misses"
    if result["speedup_at_target"] is not None:
        print(f"return {args.target:g}: Brax / ours = {result['speedup_at_target']:.2f}x ({verdict} the "
              f"{TARGET_SPEEDUP:g}x target)")
    elif result["speedup_at_target_at_least"] is not None:
        print(f"return {args.target:g}: Brax did not reach it within its {args.brax_minutes:g} minutes; Brax / ours "
              f"> {result['speedup_at_target_at_least']:.2f}x ({verdict} the {TARGET_SPEEDUP:g}x target)")
    print(f"wrote {json_path} and {png_path}")
    return 1 if brax_error else 0


if __name__ == "__main__":
    raise SystemExit(main())
