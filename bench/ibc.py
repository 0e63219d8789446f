"""Implicit BC on the N-D particle: success against dimension for EBM (Langevin), EBM (DFO), MSE and MDN.

    python -m bench.ibc                         # N = 1, 2, 4, 8, 16, 32; every model
    python -m bench.ibc --dims 2,16 --models ebm_langevin,mse --episodes 100
    python -m bench.ibc --steps 2000            # a quick look: 2,000 steps per model instead of 20,000

For each N: 2,000 oracle demonstrations (seed 0), then each model trained on them with the particle
recipe of `simlab.plugins.ibc.tasks` (one network size for all models; a fixed number of optimiser steps
per model, capped by `--time-budget` seconds per row) and evaluated on 100 episodes seeded 0..99 with the
same goal tolerance (0.05) for every model. The paper's claim (Florence et al. 2021, Fig. 4): IBC keeps
>= 95 % success up to 16-D, explicit MSE only up to 8-D. Writes OUT/ibc.json (rows: dim, model, steps,
training seconds, success) and OUT/ibc.png (success against N).

OUT is `--out DIR` (default ./simlab_results/ibc); `--publish` writes the tracked bench/results/ instead.
Existing files are not replaced without `--overwrite` (bench/output.py).
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from bench import harness, output
from simlab.plugins.ibc import pipeline
from simlab.plugins.ibc.models import MODEL_NAMES
from simlab.plugins.ibc.particle import check_dim
from simlab.plugins.ibc.tasks import get_task

NAME = "ibc"
DIMS = (1, 2, 4, 8, 16, 32)
LABELS = {"ebm_langevin": "EBM (Langevin)", "ebm_dfo": "EBM (DFO)", "mse": "MSE", "mdn": "MDN"}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="simlab bench ibc", description=__doc__.split("\n")[0])
    p.add_argument("--dims", default=",".join(map(str, DIMS)), help="comma-separated N of the N-D particle (1..32)")
    p.add_argument("--models", default=",".join(MODEL_NAMES), help=f"comma-separated, from {', '.join(MODEL_NAMES)}")
    p.add_argument("--episodes", type=harness.positive_int, default=100, help="evaluation episodes per row")
    p.add_argument("--demos", type=harness.positive_int, default=2000, help="oracle demonstrations per N")
    p.add_argument("--steps", type=harness.positive_int, default=None,
                   help="optimiser steps per row for every model (default: the recipe's, 20,000)")
    p.add_argument("--time-budget", type=float, default=1200.0, help="training seconds per row at most (20 min)")
    p.add_argument("--seed", type=int, default=0, help="seed of the demos and of training")
    output.add_output_arguments(p, NAME)
    return p


def _parse(args) -> tuple[list[int], list[str]]:
    dims = harness.parse_int_list(args.dims)
    for dim in dims:
        check_dim(dim)
    models = harness.parse_name_list(args.models)
    unknown = [m for m in models if m not in MODEL_NAMES]
    if unknown or not models:
        raise ValueError(f"--models {args.models!r}: choose from {', '.join(MODEL_NAMES)}")
    if not args.time_budget > 0:
        raise ValueError("--time-budget must be > 0 seconds")
    return dims, models


def run(args, dims: list[int], models: list[str]) -> dict:
    rows = []
    for dim in dims:
        options = {"dim": dim}
        recipe = get_task("particle").recipe(options)
        demos = pipeline.make_demos("particle", options, args.demos, seed=args.seed)
        for name in models:
            train_config = dataclasses.replace(recipe.train[name], time_budget_s=args.time_budget)
            if args.steps is not None:
                train_config = dataclasses.replace(train_config, steps=args.steps)
            trained = pipeline.fit_model("particle", options, name, demos, train_config=train_config, seed=args.seed,
                                         progress=False, meta={"command": "simlab bench ibc"})
            result = pipeline.evaluate_trained("particle", options, trained, args.episodes)
            config = recipe.configs[name]
            row = {"dim": dim, "model": name, "success_rate": result["success_rate"], "episodes": result["episodes"],
                   "steps": trained.meta["steps"], "planned_steps": train_config.steps,
                   "batch_size": train_config.batch_size, "train_seconds": round(trained.meta["train_seconds"], 1),
                   "eval_seconds": round(result["seconds"], 1), "network": dataclasses.asdict(config.network),
                   "final_metrics": result["final_metrics"]}
            rows.append(row)
            print(f"N={dim:2d} {LABELS[name]:>15}: success {row['success_rate']:.2f} ({row['steps']} steps, "
                  f"{row['train_seconds']:.0f}s training, {row['eval_seconds']:.0f}s eval)", flush=True)
    return {"task": "particle", "dims": dims, "models": models, "demos": args.demos, "episodes": args.episodes,
            "goal_tolerance": 0.05, "time_budget_s_per_row": args.time_budget, "rows": rows,
            "acceptance": _acceptance(rows), "machine": harness.machine_info(),
            "paper": "IBC >= 95 % up to 16-D, explicit MSE only up to 8-D (Florence et al. 2021, Fig. 4; 2,000 demos)",
            "note": "2-core CPU shared with other jobs: training seconds are noisy."}


def _acceptance(rows: list[dict]) -> dict[str, bool]:
    """Issue 19's particle checks, for the rows that ran."""
    rate = {(r["dim"], r["model"]): r["success_rate"] for r in rows}
    checks = {}
    ebm_2d = [rate[(2, m)] for m in ("ebm_langevin", "ebm_dfo") if (2, m) in rate]
    if ebm_2d:
        checks["2d_ebm_at_least_0.90"] = max(ebm_2d) >= 0.90
    if (2, "mse") in rate:
        checks["2d_mse_at_most_0.50"] = rate[(2, "mse")] <= 0.50
    if (16, "ebm_langevin") in rate:
        checks["16d_ebm_langevin_at_least_0.80"] = rate[(16, "ebm_langevin")] >= 0.80
        if (16, "mse") in rate:
            checks["16d_mse_below_ebm_langevin"] = rate[(16, "mse")] < rate[(16, "ebm_langevin")]
    return checks


def report(payload: dict) -> None:
    models = payload["models"]
    print(f"particle: success over {payload['episodes']} episodes (seeds 0..{payload['episodes'] - 1}), "
          f"{payload['demos']} demos, tolerance {payload['goal_tolerance']}")
    print("   N " + "".join(f"{LABELS[m]:>16}" for m in models))
    rate = {(r["dim"], r["model"]): r for r in payload["rows"]}
    for dim in payload["dims"]:
        print(f"{dim:4d} " + "".join(f"{rate[(dim, m)]['success_rate']:>9.2f} ({rate[(dim, m)]['steps']:>5})"
                                     for m in models))
    print("(training steps in brackets)")
    for name, ok in payload["acceptance"].items():
        print(f"  {'PASS' if ok else 'FAIL'}  {name}")


def plot(payload: dict, path: Path) -> Path:
    import matplotlib  # heavy: imported only to draw

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name in payload["models"]:
        points = sorted((r["dim"], r["success_rate"]) for r in payload["rows"] if r["model"] == name)
        ax.plot(*zip(*points), marker="o", label=LABELS[name])
    ax.set_xscale("log", base=2)
    ax.set_xticks(payload["dims"], [str(d) for d in payload["dims"]])
    ax.set_ylim(-0.03, 1.03)
    ax.axhline(0.95, color="0.6", linestyle=":", label="paper: IBC >= 0.95 up to 16-D")
    ax.set_xlabel("N (dimensions of the particle)")
    ax.set_ylabel(f"success ({payload['episodes']} episodes)")
    ax.set_title(f"Implicit BC on the N-D particle, {payload['demos']} demos")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return harness.save_figure(fig, path, dpi=110)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        dims, models = _parse(args)
    except ValueError as err:
        print(f"simlab bench ibc: error: {err}", file=sys.stderr)
        return 2
    args.out = output.prepare_or_report(args, NAME, [f"{NAME}.json", f"{NAME}.png"], "simlab bench ibc")
    if args.out is None:
        return 2
    start = time.perf_counter()
    payload = run(args, dims, models)
    payload["seconds"] = round(time.perf_counter() - start, 1)
    report(payload)
    args.out.mkdir(parents=True, exist_ok=True)
    print("wrote", harness.write_json(args.out / f"{NAME}.json", payload), plot(payload, args.out / f"{NAME}.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
