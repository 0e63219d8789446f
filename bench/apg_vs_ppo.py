"""Sample efficiency of analytic policy gradients against PPO on inverted-pendulum balancing.

    python -m bench.apg_vs_ppo            (also: simlab bench apg_vs_ppo)

Both agents train in this process on `pendulum_balance` (Pendulum-v1 dynamics,
started within 0.3 rad of upright) with their registry defaults and the same
seeds; each is evaluated (64 deterministic episodes) every few iterations. The
script reports the environment steps and wall-clock seconds each needs to reach
`--threshold`, their ratio, and writes OUT/apg_vs_ppo.json + .png.

OUT is `--out DIR` (default ./simlab_results/apg_vs_ppo); `--publish` writes the tracked bench/results/
instead. Existing files are not replaced without `--overwrite` (bench/output.py).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench import harness, output

THRESHOLD = -50.0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="simlab bench apg_vs_ppo", description=__doc__.split("\n")[0])
    p.add_argument("--apg-steps", type=int, default=150_000)
    p.add_argument("--ppo-steps", type=int, default=500_000)
    p.add_argument("--threshold", type=float, default=THRESHOLD, help="eval return that counts as solved")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (each agent runs every seed)")
    output.add_output_arguments(p, "apg_vs_ppo")
    p.add_argument("--json", action="store_true")
    return p


def _first_reaching(history, threshold):
    for row in history:
        if row["eval_return"] >= threshold:
            return row["env_steps"], row["wall_time_s"]
    return None, None


def run(args) -> dict:
    from simlab.agents.registry import make_agent
    from simlab.agents.train import TrainOptions, train

    runs = []
    try:
        seeds = [int(item) for item in args.seeds.split(",")]
    except ValueError:
        raise ValueError(f"--seeds must be comma-separated integers, got {args.seeds!r}") from None
    # Evaluate often enough that "steps to threshold" resolves to about 2k (APG) and 8k (PPO) steps.
    for algo, steps, eval_every in (("apg", args.apg_steps, 10), ("ppo", args.ppo_steps, 1)):
        for seed in seeds:
            agent = make_agent(algo, "pendulum_balance", {"eval_episodes": 64})
            result = train(agent, TrainOptions(total_steps=steps, seed=seed, eval_every=eval_every, progress=True))
            reach_steps, reach_time = _first_reaching(result.history, args.threshold)
            runs.append({"agent": algo, "seed": seed, "steps_to_threshold": reach_steps,
                         "seconds_to_threshold": reach_time, "final_eval_return": result.history[-1]["eval_return"],
                         "curve": [(r["env_steps"], r["eval_return"], r["wall_time_s"]) for r in result.history]})
    summary = {}
    for algo in ("apg", "ppo"):
        reached = [r["steps_to_threshold"] for r in runs if r["agent"] == algo and r["steps_to_threshold"]]
        summary[algo] = {"runs": len([r for r in runs if r["agent"] == algo]), "reached": len(reached),
                         "median_steps_to_threshold": sorted(reached)[len(reached) // 2] if reached else None}
    ratio = None
    if summary["apg"]["median_steps_to_threshold"] and summary["ppo"]["median_steps_to_threshold"]:
        ratio = summary["ppo"]["median_steps_to_threshold"] / summary["apg"]["median_steps_to_threshold"]
    return {"task": "pendulum_balance", "threshold": args.threshold, "summary": summary,
            "sample_efficiency_ratio_ppo_over_apg": ratio, "runs": runs, "machine": harness.machine_info()}


def plot(result: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    colors = {"apg": "tab:blue", "ppo": "tab:orange"}
    for run in result["runs"]:
        steps, returns, _ = zip(*run["curve"])
        ax.plot(steps, returns, color=colors[run["agent"]], alpha=0.8,
                label=run["agent"].upper() if run["seed"] == result["runs"][0]["seed"] else None)
    ax.axhline(result["threshold"], color="gray", linestyle="--", label=f"threshold {result['threshold']:g}")
    ax.set_xscale("log")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("eval return (64 episodes)")
    ax.set_title("APG vs PPO on pendulum_balance (one line per seed)")
    ax.grid(alpha=0.3)
    ax.legend()
    return harness.save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.out = output.prepare_or_report(args, "apg_vs_ppo", ['apg_vs_ppo.json', 'apg_vs_ppo.png'], "simlab bench apg_vs_ppo")
    if args.out is None:
        return 2
    result = run(args)
    json_path = harness.write_json(args.out / "apg_vs_ppo.json", result)
    png_path = plot(result, args.out / "apg_vs_ppo.png")
    if args.json:
        print(json.dumps({k: v for k, v in result.items() if k != "runs"}))
        return 0
    print(f"{'agent':<6} {'seed':>4} {'steps to ' + str(args.threshold):>16} {'seconds':>9} {'final return':>13}")
    for r in result["runs"]:
        steps = f"{r['steps_to_threshold']:,}" if r["steps_to_threshold"] else "not reached"
        secs = f"{r['seconds_to_threshold']:.1f}" if r["seconds_to_threshold"] else "-"
        print(f"{r['agent']:<6} {r['seed']:>4} {steps:>16} {secs:>9} {r['final_eval_return']:>13.1f}")
    ratio = result["sample_efficiency_ratio_ppo_over_apg"]
    print(f"median env steps to threshold, PPO / APG: {ratio:.1f}x" if ratio else "one agent never reached the threshold")
    print(f"wrote {json_path} and {png_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
