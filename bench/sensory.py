"""Sensory-neuron agent vs a same-budget MLP on shuffled / noisy cart-pole swing-up, beside the paper.

    python -m bench.sensory --episodes 1000        (also: simlab bench sensory)

Loads the shipped parameters (`agents/sensory/params/`, produced by the
`simlab sensory train` command recorded inside them), evaluates both agents in
this process on 1000 episodes per condition (unshuffled, shuffled, re-shuffled
every 25 steps, shuffled + 5 N(0, 0.1) noise channels), prints mean ± sd beside
Tang & Ha (2021)'s Table, and writes OUT/sensory.json + .png. Training
time on this machine is read from the parameter files' metadata.

OUT is `--out DIR` (default ./simlab_results/sensory); `--publish` writes the tracked bench/results/
instead. Existing files are not replaced without `--overwrite` (bench/output.py).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from bench import harness, output

# Tang & Ha 2021, CartPoleSwingUpHarder (mean returns); None where the paper reports nothing.
PAPER = {
    "sensory": {"unshuffled": 472.0, "shuffled": 471.0, "reshuffle_25": 107.0, "noise": 461.0},
    "mlp": {"unshuffled": 593.0, "shuffled": 38.0, "reshuffle_25": None, "noise": None},
}


def training_stages(meta: dict) -> list[dict]:
    """The chain of training runs behind a parameter file, oldest first (`--init-from` links them)."""
    stages = []
    while meta:
        stages.append({k: meta.get(k) for k in ("command", "train_seconds", "bc", "es")})
        meta = meta.get("init_from")
    return stages[::-1]


def total_train_seconds(meta: dict) -> float:
    """Training wall-clock seconds summed over every stage."""
    return float(sum(stage["train_seconds"] or 0.0 for stage in training_stages(meta)))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="simlab bench sensory", description=__doc__.split("\n")[0])
    p.add_argument("--task", default="cartpole_swingup")
    p.add_argument("--episodes", type=harness.positive_int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    output.add_output_arguments(p, "sensory")
    return p


def run(args) -> dict:
    from simlab.agents.sensory.evaluate import evaluate_conditions
    from simlab.agents.sensory.tasks import AGENT_NAMES, CONDITIONS, load_params, params_path, task_of

    task = task_of(args.task)
    results, training = {}, {}
    for agent in AGENT_NAMES:
        params, meta = load_params(params_path(args.task, agent))
        start = time.perf_counter()
        results[agent] = evaluate_conditions(task, agent, params, args.episodes, seed=args.seed)
        training[agent] = {"train_seconds": total_train_seconds(meta), "stages": training_stages(meta),
                           "eval_seconds": time.perf_counter() - start}
    sens = results["sensory"]
    checks = {
        "sensory_shuffled_within_3pct_of_unshuffled":
            abs(sens["shuffled"]["mean"] - sens["unshuffled"]["mean"]) <= 0.03 * abs(sens["unshuffled"]["mean"]),
        "sensory_shuffled_at_least_400": sens["shuffled"]["mean"] >= 400.0,
        "sensory_noise_loses_at_most_5pct": sens["noise"]["mean"] >= 0.95 * sens["shuffled"]["mean"],
        "mlp_collapses_when_shuffled": results["mlp"]["shuffled"]["mean"] <= 0.5 * results["mlp"]["unshuffled"]["mean"],
    }
    return {"task": args.task, "episodes": args.episodes, "results": results, "paper": PAPER,
            "ratio_to_paper": {a: {c: (results[a][c]["mean"] / PAPER[a][c] if PAPER[a][c] else None)
                                   for c in CONDITIONS} for a in AGENT_NAMES},
            "acceptance": checks, "training": training, "machine": harness.machine_info(),
            "note": "CPU shared with other jobs while training and evaluating; timings are noisy."}


def report(payload: dict) -> None:
    from simlab.agents.sensory.tasks import CONDITIONS

    print(f"{payload['task']}: mean ± sd over {payload['episodes']} episodes (paper in brackets, ratio ours/paper)")
    print(f"{'agent':<8}" + "".join(f"{c:>30}" for c in CONDITIONS))
    for agent, row in payload["results"].items():
        cells = []
        for c in CONDITIONS:
            paper = payload["paper"][agent][c]
            ratio = payload["ratio_to_paper"][agent][c]
            extra = f" [{paper:.0f}] x{ratio:.2f}" if paper else " [-]"
            cells.append(f"{row[c]['mean']:.1f} ± {row[c]['std']:.1f}{extra}")
        print(f"{agent:<8}" + "".join(f"{cell:>30}" for cell in cells))
    for name, ok in payload["acceptance"].items():
        print(f"  {'PASS' if ok else 'FAIL'}  {name}")
    for agent, info in payload["training"].items():
        secs = info["train_seconds"]
        print(f"  {agent}: trained in {secs:.0f}s on this machine" if secs else f"  {agent}: training time unknown")


def plot(payload: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from simlab.agents.sensory.tasks import CONDITIONS

    fig, ax = plt.subplots(figsize=(8, 4))
    x = np.arange(len(CONDITIONS))
    for offset, (agent, color) in zip((-0.2, 0.2), (("sensory", "tab:blue"), ("mlp", "tab:orange"))):
        row = payload["results"][agent]
        ax.bar(x + offset, [row[c]["mean"] for c in CONDITIONS], 0.38, yerr=[row[c]["std"] for c in CONDITIONS],
               color=color, alpha=0.8, capsize=3, label=f"{agent} (ours)")
        paper = payload["paper"][agent]
        ax.scatter([x[i] + offset for i, c in enumerate(CONDITIONS) if paper[c]],
                   [paper[c] for c in CONDITIONS if paper[c]], marker="_", s=400, color="k",
                   label="paper" if agent == "sensory" else None)
    ax.set_xticks(x, CONDITIONS)
    ax.set_ylabel("episode return")
    ax.set_title(f"{payload['task']}: sensory-neuron agent vs MLP ({payload['episodes']} episodes each)")
    ax.legend()
    return harness.save_figure(fig, path, dpi=110)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    args.out = output.prepare_or_report(args, "sensory", ['sensory.json', 'sensory.png'], "simlab bench sensory")
    if args.out is None:
        return 2
    payload = run(args)
    report(payload)
    args.out.mkdir(parents=True, exist_ok=True)
    print("wrote", harness.write_json(args.out / "sensory.json", payload), plot(payload, args.out / "sensory.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
