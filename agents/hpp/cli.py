"""`simlab rendezvous train` and `simlab rendezvous eval`."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="simlab rendezvous", description="Decentralized multi-agent rendezvous (HPP)")
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train the controller (optional) and the predictor; write agents/hpp/assets/")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--controller", action="store_true", help="also retrain the PPO controller (about 10 minutes)")
    e = sub.add_parser("eval", help="evaluate methods on held-out layouts; JSON table and trajectory PNG")
    e.add_argument("--episodes", type=int, default=500)
    e.add_argument("--methods", default="hpp,straight_line,centroid,oracle")
    e.add_argument("--agents", type=int, default=3)
    e.add_argument("--family", default="heldout", choices=["train", "heldout"])
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--out", type=Path, default=Path("bench/results"))
    e.add_argument("--json", action="store_true")
    return parser


def plot_trajectories(results: dict, path: Path, arena: float, radius: float) -> Path:
    """One panel per method: episode 0's layout, paths, final goals and (for HPP) belief means and spreads."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.patches as mpatches
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(4 * len(results), 4.2), dpi=110)
    axes = np.atleast_1d(axes)
    colors = ["tab:blue", "tab:red", "tab:green", "tab:purple", "tab:orange", "tab:cyan", "tab:pink", "tab:gray"]
    for ax, (name, res) in zip(axes, results.items()):
        layout = res["layout"]
        for c, h, a in zip(layout.centers[0], layout.half_extents[0], layout.angles[0]):
            corner = np.array(c) - np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) @ h
            ax.add_patch(mpatches.Rectangle(corner, 2 * h[0], 2 * h[1], angle=np.degrees(a), color="0.6"))
        poses, goals = res["poses"][0], res["goals"][0]
        for k in range(poses.shape[1]):
            ax.plot(poses[:, k, 0], poses[:, k, 1], color=colors[k], lw=1.5)
            ax.plot(*poses[0, k, :2], "o", color=colors[k], ms=5)
            ax.plot(*goals[-1, k], "x", color=colors[k], ms=8, mew=2)
            if name in ("hpp", "straight_line"):
                for t in range(0, poses.shape[0], 50):
                    ax.add_patch(mpatches.Circle(res["belief_mean"][0][t, k], float(res["belief_std"][0][t, k].mean()),
                                                 fill=False, color=colors[k], alpha=0.35, ls="--"))
        ok = "success" if res["success"][0] else "no rendezvous"
        ax.set_title(f"{name}: {ok}")
        ax.set_xlim(-arena, arena)
        ax.set_ylim(-arena, arena)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("Held-out layout, episode 0: paths over the whole 30 s (dots: starts, x: final goals, "
                 "dashed: HPP beliefs every 5 s; success = all within 1 m at some step)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from envs.boundary import check_seed

    try:
        check_seed(args.seed)
        if args.command == "train":
            from agents.hpp import training

            report = {}
            if args.controller:
                report.update(training.train_controller(seed=args.seed))
            report["predictor"] = training.train_predictor(seed=args.seed)
            print(json.dumps(report, indent=2))
            return 0
        from agents.hpp import evaluate

        methods = [m.strip() for m in args.methods.split(",")]
        unknown = sorted(set(methods) - set(evaluate.METHODS))
        if unknown:
            raise ValueError(f"unknown method(s) {unknown}; choose from {list(evaluate.METHODS)}")
        if args.episodes < 1:
            raise ValueError("--episodes must be positive")
        config = evaluate.EvalConfig(num_agents=args.agents, family=args.family)
        results = {m: evaluate.evaluate(m, args.episodes, args.seed, config) for m in methods}
    except (ValueError, RuntimeError) as err:
        print(f"simlab rendezvous: error: {err}", file=sys.stderr)
        return 2
    table = {m: evaluate.summarize(r) for m, r in results.items()}
    args.out.mkdir(parents=True, exist_ok=True)
    from bench.harness import write_json
    from envs.navigation.rendezvous import Rendezvous

    write_json(args.out / "rendezvous.json", {"config": {"episodes": args.episodes, "agents": args.agents,
                                                          "family": args.family, "seed": args.seed}, "methods": table})
    env = Rendezvous(num_agents=args.agents)
    png = plot_trajectories(results, args.out / "rendezvous.png", env.world.arena, env.robot.radius)
    if args.json:
        print(json.dumps(table))
    else:
        for m, row in table.items():
            print(f"{m:<14} success {row['success_rate']:.3f} ± {row['ci95']:.3f}   time {row['mean_time']:.1f} s   "
                  f"final spread {row['mean_final_spread']:.2f} m")
        print(f"wrote {args.out / 'rendezvous.json'} and {png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
