"""`simlab rendezvous train` and `simlab rendezvous eval`.

`eval` writes its JSON table and trajectory PNG to `--out DIR` (default ./simlab_results/rendezvous);
`--publish` (in a source checkout) writes the tracked bench/results/ instead. `train` writes predictor/ (and, with
`--controller`, controller/ and the controller's run directory controller_run/) to `--out DIR` (default
./simlab_results/rendezvous_train); `--publish` replaces the shipped agents/hpp/assets/ instead. Existing
files are not replaced without `--overwrite` (the policy of simlab.engine.io), and a refusal comes before
any training.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np

from simlab.agents.hpp import assets, evaluate, training
from simlab.engine import io as output
from simlab.envs.boundary import check_seed
from simlab.envs.navigation.rendezvous import Rendezvous


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="simlab rendezvous", description="Decentralized multi-agent rendezvous (HPP)")
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train the controller (optional) and the predictor; write them to --out "
                                     "(default ./simlab_results/rendezvous_train; --publish: agents/hpp/assets/)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--controller", action="store_true", help="also retrain the PPO controller (about 10 minutes)")

    output.add_output_arguments(t, "rendezvous_train", published=assets.ASSETS, what="trained parameter files")
    e = sub.add_parser("eval", help="evaluate methods on held-out layouts; JSON table and trajectory PNG")
    e.add_argument("--episodes", type=int, default=500)
    e.add_argument("--methods", default="hpp,straight_line,centroid,oracle,centroid_once")
    e.add_argument("--agents", type=int, default=3)
    e.add_argument("--family", default="heldout", choices=["train", "heldout", "blocks"],
                   help="layout family: heldout (thin walls, default), blocks (large buildings), train")
    e.add_argument("--obstacles", type=int, default=10, help="obstacles per layout (default 10)")
    e.add_argument("--seed", type=int, default=0)

    output.add_output_arguments(e, "rendezvous", published=output.checkout_results_dir(),
                                what="JSON table and trajectory PNG")
    e.add_argument("--json", action="store_true")
    return parser


def plot_trajectories(results: dict, path: Path, arena: float, radius: float, dt: float = 0.1,
                      episodes: tuple[int, ...] = (0, 1, 2)) -> Path:
    """One row per episode (the first three, the same layout for every method), one column per method:
    obstacles, paths until rendezvous (or the whole episode), final goals and, for HPP, the beliefs."""
    import matplotlib  # lazy (heavy): only `eval` plots

    matplotlib.use("Agg")
    import matplotlib.patches as mpatches
    import matplotlib.pyplot as plt

    episodes = tuple(e for e in episodes if e < len(next(iter(results.values()))["success"]))
    fig, axes = plt.subplots(len(episodes), len(results), figsize=(3.4 * len(results), 3.5 * len(episodes)),
                             dpi=100, squeeze=False)
    colors = ["tab:blue", "tab:red", "tab:green", "tab:purple", "tab:orange", "tab:cyan", "tab:pink", "tab:gray"]
    for row, episode in enumerate(episodes):
        for ax, (name, res) in zip(axes[row], results.items()):
            layout = res["layout"]
            for c, h, a in zip(layout.centers[episode], layout.half_extents[episode], layout.angles[episode]):
                corner = np.array(c) - np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) @ h
                ax.add_patch(mpatches.Rectangle(corner, 2 * h[0], 2 * h[1], angle=np.degrees(a), color="0.6"))
            success = bool(res["success"][episode])
            end = int(round(float(res["time_s"][episode]) / dt)) if success else res["poses"].shape[1]
            poses, goals = res["poses"][episode][:end], res["goals"][episode][:end]
            for k in range(poses.shape[1]):
                ax.plot(poses[:, k, 0], poses[:, k, 1], color=colors[k], lw=1.5)
                ax.plot(*poses[0, k, :2], "o", color=colors[k], ms=5)
                ax.plot(*goals[-1, k], "x", color=colors[k], ms=8, mew=2)
                if name in ("hpp", "straight_line"):
                    for t in range(0, poses.shape[0], 20):
                        ax.add_patch(mpatches.Circle(res["belief_mean"][episode][t, k],
                                                     float(res["belief_std"][episode][t, k].mean()),
                                                     fill=False, color=colors[k], alpha=0.4, ls="--"))
            verdict = f"met at {end * dt:.1f} s" if success else "no rendezvous in 30 s"
            ax.set_title(f"{name}: {verdict}", fontsize=9)
            ax.set_xlim(-arena, arena)
            ax.set_ylim(-arena, arena)
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle("Held-out layouts (rows: episodes 0-2, same seeds for every method). Dots: starts; x: final goals; "
                 "dashed: HPP belief (mean, sd) every 2 s.\nSuccess: all robots within 1 m of each other and in "
                 "line of sight; paths end at success.", fontsize=10)
    return output.save_figure(fig, path)


def _train(args) -> int:
    """`simlab rendezvous train`: checks every output path first (exit 2 before any training), then trains."""
    files = ["predictor/"] + (["controller/"] if args.controller else [])
    out = output.prepare_output(args, "rendezvous_train", files, published=assets.ASSETS)
    run_dir = (output.default_out_dir("rendezvous_train") if args.publish else out) / "controller_run"
    if args.controller and run_dir.exists() and any(run_dir.iterdir()) and not (args.overwrite or args.publish):
        raise output.OutputExistsError(f"{run_dir} already holds a controller run; not replacing it. Pass "
                                       "--overwrite to replace, or --out DIR to write elsewhere")
    report = {}
    controller = assets.CONTROLLER
    if args.controller:
        controller = out / "controller"
        if run_dir.exists() and (args.overwrite or args.publish):
            shutil.rmtree(run_dir)
        report.update(training.train_controller(out_dir=str(run_dir), seed=args.seed, path=controller))
    report["predictor"] = training.train_predictor(seed=args.seed, controller_path=controller,
                                                   path=out / "predictor")
    print(json.dumps(report, indent=2))
    print(f"wrote {', '.join(str(out / f) for f in files)} (parameter directories, agents.checkpoint.save_params)",
          file=sys.stderr)
    return 0


def _stem(args) -> str:
    """File stem of `eval`'s outputs: `rendezvous` for the default setting, else one naming the setting."""
    default = (args.agents, args.family, args.obstacles) == (3, "heldout", 10)
    return "rendezvous" if default else f"rendezvous_{args.family}{args.obstacles}_k{args.agents}"


def main(argv: list[str] | None = None) -> int:
    """`simlab rendezvous ARGV...`; returns the exit status."""
    args = build_parser().parse_args(argv)

    try:
        check_seed(args.seed)
        if args.command == "train":
            return _train(args)

        methods = [m.strip() for m in args.methods.split(",")]
        unknown = sorted(set(methods) - set(evaluate.METHODS))
        if unknown:
            raise ValueError(f"unknown method(s) {unknown}; choose from {list(evaluate.METHODS)}")
        if args.episodes < 1:
            raise ValueError("--episodes must be positive")
        if args.agents < 2 or args.obstacles < 0:
            raise ValueError("need --agents >= 2 and --obstacles >= 0")

        stem = _stem(args)
        args.out = output.prepare_output(args, "rendezvous", [f"{stem}.json", f"{stem}.png"],
                                          published=output.checkout_results_dir())
        config = evaluate.EvalConfig(num_agents=args.agents, family=args.family, num_obstacles=args.obstacles)
        results = {m: evaluate.evaluate(m, args.episodes, args.seed, config) for m in methods}
    except (ValueError, RuntimeError) as err:
        print(f"simlab rendezvous: error: {err}", file=sys.stderr)
        return 2
    table = {m: evaluate.summarize(r) for m, r in results.items()}
    args.out.mkdir(parents=True, exist_ok=True)

    output.write_json(args.out / f"{stem}.json", {"config": {"episodes": args.episodes, "agents": args.agents,
                                                      "family": args.family, "obstacles": args.obstacles,
                                                      "seed": args.seed}, "methods": table})
    env = Rendezvous(num_agents=args.agents)
    png = plot_trajectories(results, args.out / f"{stem}.png", env.world.arena, env.robot.radius, env.dt)
    if args.json:
        print(json.dumps(table))
    else:
        for m, row in table.items():
            print(f"{m:<14} success {row['success_rate']:.3f} ± {row['ci95']:.3f}   time {row['mean_time']:.1f} s   "
                  f"final spread {row['mean_final_spread']:.2f} m")
        print(f"wrote {args.out / (stem + '.json')} and {png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
