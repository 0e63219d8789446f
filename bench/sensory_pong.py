"""Puzzle Pong: the pixel sensory-neuron agent from shuffled, partly hidden patches.

    python -m bench.sensory_pong --episodes 100

Loads `agents/sensory/params/pong_sensory/` (made by the `simlab sensory
train pong` command stored inside it) and scores, over `--episodes` episodes of
1000 steps each: the random policy, the scripted teacher (true state), and the
agent unshuffled, shuffled, and shuffled with 10/30/50/70/100% of the 64
patches shown (a new random subset every step; the same parameters throughout).
Score = points for minus points against. Writes OUT/sensory_pong.json
and .png (score against the fraction of patches shown, random and teacher lines), and
sensory_pong_frames.png (one frame as the screen, as shuffled patches, with 30% shown).

OUT is `--out DIR` (default ./simlab_results/sensory_pong); `--publish` writes the tracked bench/results/
instead. Existing files are not replaced without `--overwrite` (bench/output.py).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from bench import harness, output


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="simlab bench sensory_pong", description=__doc__.split("\n")[0])
    p.add_argument("--episodes", type=harness.positive_int, default=100)
    p.add_argument("--seed", type=int, default=0)
    output.add_output_arguments(p, "sensory_pong")
    return p


def run(args) -> dict:
    from simlab.agents.sensory.pong import CONDITIONS, FRACTIONS, evaluate_pong, pong_params_path, shown_condition
    from simlab.agents.sensory.tasks import load_params

    params, meta = load_params(pong_params_path())
    start = time.perf_counter()
    results = evaluate_pong(params, args.episodes, seed=args.seed, conditions=CONDITIONS,
                            log=lambda m: print(m, flush=True))
    by_fraction = {f: results[shown_condition(f) if f < 1.0 else "shuffled"] for f in FRACTIONS}
    means = [by_fraction[f]["mean"] for f in FRACTIONS]
    random_mean = results["random"]["mean"]
    checks = {
        "shuffled_clearly_better_than_random": results["shuffled"]["mean"] > random_mean + 3 * (
            results["shuffled"]["std"] + results["random"]["std"]) / args.episodes ** 0.5,
        "score_rises_with_fraction_shown": all(b > a for a, b in zip(means, means[1:])),
        "shuffled_within_1_point_of_unshuffled":
            abs(results["shuffled"]["mean"] - results["unshuffled"]["mean"]) <= 1.0,
    }
    return {"task": "pong", "episodes": args.episodes, "episode_steps": 1000, "score": "points for - points against",
            "results": results, "fractions": list(FRACTIONS),
            "training": {"command": meta.get("command"), "train_seconds": meta.get("train_seconds"),
                         "teacher": meta.get("teacher"), "bc": meta.get("bc")},
            "eval_seconds": time.perf_counter() - start, "acceptance": checks, "machine": harness.machine_info(),
            "note": "CPU shared with other jobs while training and evaluating; timings are noisy."}


def report(payload: dict) -> None:
    print(f"pong: mean ± sd of the score over {payload['episodes']} episodes of 1000 steps")
    for name, row in payload["results"].items():
        print(f"  {name:>11}: {row['mean']:6.2f} ± {row['std']:5.2f}   ({row['num_shown']}/64 patches)")
    for name, ok in payload["acceptance"].items():
        print(f"  {'PASS' if ok else 'FAIL'}  {name}")
    seconds = payload["training"]["train_seconds"]
    print(f"  trained in {seconds:.0f}s on this machine" if seconds else "  training time unknown")


def plot(payload: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from simlab.agents.sensory.pong import shown_condition

    results, fractions = payload["results"], payload["fractions"]
    rows = [results[shown_condition(f) if f < 1.0 else "shuffled"] for f in fractions]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    percent = [100 * f for f in fractions]
    ax.errorbar(percent, [r["mean"] for r in rows], yerr=[r["std"] for r in rows], marker="o", capsize=3,
                color="tab:blue", label="sensory agent, shuffled patches")
    ax.scatter([100], [results["unshuffled"]["mean"]], marker="s", color="tab:green", zorder=3,
               label="sensory agent, unshuffled")
    for name, color, style in (("random", "tab:red", "--"), ("teacher", "k", ":")):
        ax.axhline(results[name]["mean"], color=color, linestyle=style, label=f"{name} policy")
    ax.axvspan(30, 70, color="0.9", zorder=0, label="shown in training")
    ax.set_xlabel("patches shown (%), a new random subset every step")
    ax.set_ylabel("score per episode (points for - against)")
    ax.set_title(f"Puzzle Pong, no retraining between fractions ({payload['episodes']} episodes each)")
    ax.legend(fontsize=8, loc="lower right")
    return harness.save_figure(fig, path, dpi=110)


def illustrate(path: Path, seed: int = 3) -> Path:
    """One frame as the agent sees it: the screen, its shuffled patches, and 30% of them (hidden: light blue)."""
    import jax
    import jax.numpy as jnp
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from simlab.agents.sensory.pong import num_shown_of, pong_patch_env
    from simlab.engine.wrappers import patches_to_image

    env = pong_patch_env("shown_30")
    state = env.reset(jax.random.key(seed))
    for _ in range(20):
        state = env.step(state, jnp.zeros(1))
    full = np.asarray(state.info["all_patches"])                   # shuffled [64, 32]
    inverse = np.argsort(np.asarray(state.info["patch_permutation"]))
    hidden = np.full_like(full, np.nan)
    shown = np.asarray(state.info["shown_patches"])
    hidden[shown] = full[shown]
    cmap = plt.get_cmap("gray").copy()
    cmap.set_bad((0.75, 0.85, 1.0))
    panels = {"screen (latest frame)": full[inverse], "shuffled 4x4 patches": full,
              f"shuffled, {num_shown_of('shown_30')} of 64 shown": hidden}
    fig, axes = plt.subplots(1, 3, figsize=(9, 3.3))
    for ax, (title, patches) in zip(axes, panels.items()):
        ax.imshow(np.asarray(patches_to_image(patches, 32, 32, 4))[:, :, -1], cmap=cmap, vmin=0, vmax=1)
        ax.set_title(title, fontsize=9)
        ax.set_xticks(np.arange(-0.5, 32, 4), [])
        ax.set_yticks(np.arange(-0.5, 32, 4), [])
        ax.grid(color="tab:blue", linewidth=0.3)
    return harness.save_figure(fig, path, dpi=110)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    args.out = output.prepare_or_report(args, "sensory_pong", ['sensory_pong.json', 'sensory_pong.png', 'sensory_pong_frames.png'], "simlab bench sensory_pong")
    if args.out is None:
        return 2
    payload = run(args)
    report(payload)
    args.out.mkdir(parents=True, exist_ok=True)
    print("wrote", harness.write_json(args.out / "sensory_pong.json", payload),
          plot(payload, args.out / "sensory_pong.png"), illustrate(args.out / "sensory_pong_frames.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
