"""Learnability of the MJCF locomotion tasks: our PPO against a uniform-random policy, in one run.

    python -m bench.locomotion                       (also: simlab bench locomotion)
    python -m bench.locomotion --envs reacher --steps 300000
    python -m bench.locomotion --solver penalty      (the faster soft contacts instead of MuJoCo's model)

For each task (default `ant`, `halfcheetah`, `reacher`) this evaluates a uniform-random policy
(`--episodes` full episodes), then trains PPO with its `agents/registry.py` defaults for the
task's step budget (sized for about 5 minutes per task on a 2-core CPU, compilation included),
evaluating the deterministic policy every few iterations. It writes
OUT/locomotion.json (curves, final and random returns) and locomotion.png.

OUT is `--out DIR` (default ./simlab_results/locomotion); `--publish` writes the tracked bench/results/
instead. Existing files are not replaced without `--overwrite` (bench/output.py).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

from bench import harness, output

# Env steps per task: about 5 minutes each on the 2-core CPU this project is measured on.
DEFAULT_STEPS = {"ant": 262_144, "halfcheetah": 524_288, "reacher": 1_024_000}
EVAL_POINTS = 12  # evaluations along each training curve


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="simlab bench locomotion", description=__doc__.split("\n")[0])
    p.add_argument("--envs", default="ant,halfcheetah,reacher", help="comma-separated task names")
    p.add_argument("--steps", type=int, default=None, help="env steps per task (default: per-task budget)")
    p.add_argument("--episodes", type=int, default=16, help="evaluation episodes (random and trained)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--solver", choices=("mujoco", "penalty"), default="mujoco",
                   help="contact model of every task (default: mujoco, the tasks' default)")
    output.add_output_arguments(p, "locomotion")
    p.add_argument("--json", action="store_true")
    return p


def random_policy_return(name: str, episodes: int, seed: int, solver: str = "mujoco") -> dict[str, float]:
    """Mean/std undiscounted return of uniform-random actions over `episodes` full episodes."""
    import jax

    from simlab import envs
    from simlab.agents.evaluation import make_evaluator, summarize

    env = envs.make(name, solver=solver)
    spec = env.action_spec

    def uniform(obs, key):
        return jax.random.uniform(key, (obs.shape[0], *spec.shape), minval=spec.low, maxval=spec.high)

    evaluate = jax.jit(make_evaluator(env, uniform, episodes))
    return summarize(evaluate(jax.random.key(seed)))


def run_task(name: str, steps: int, episodes: int, seed: int, solver: str = "mujoco") -> dict:
    from simlab.agents.registry import make_agent
    from simlab.agents.train import TrainOptions, train

    started = time.perf_counter()
    random = random_policy_return(name, episodes, seed, solver)
    agent = make_agent("ppo", name, {"eval_episodes": episodes}, env_kwargs={"solver": solver})
    iterations = max(1, steps // agent.steps_per_iteration)
    result = train(agent, TrainOptions(total_steps=steps, seed=seed, eval_every=max(1, iterations // EVAL_POINTS),
                                       progress=True))
    curve = [(row["env_steps"], row["eval_return"], row["wall_time_s"]) for row in result.history]
    best = max(ret for _, ret, _ in curve)
    final = result.history[-1]
    return {"env": name, "solver": solver, "steps": int(final["env_steps"]), "seconds": time.perf_counter() - started,
            "random_return": random["mean_return"], "random_return_std": random["std_return"],
            "final_eval_return": final["eval_return"], "final_eval_return_std": final["eval_return_std"],
            "best_eval_return": best, "improvement_over_random": final["eval_return"] - random["mean_return"],
            "config": dataclasses.asdict(agent.config), "curve": curve}


def plot(result: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = result["tasks"]
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.6 * len(tasks), 3.8), dpi=120, squeeze=False)
    for ax, task in zip(axes[0], tasks):
        steps, returns, _ = zip(*task["curve"])
        ax.plot(steps, returns, marker="o", color="tab:orange", label="PPO (deterministic eval)")
        ax.axhline(task["random_return"], color="gray", linestyle="--", label="uniform random policy")
        ax.set_title(f"{task['env']} ({task['seconds'] / 60:.1f} min)")
        ax.set_xlabel("environment steps")
        ax.set_ylabel(f"return ({result['episodes']} episodes)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"PPO on simlab's gymnasium-v5-equivalent tasks (engine.physics, solver={result.get('solver', 'penalty')!r}, "
                 "2-core CPU)")
    return harness.save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.out = output.prepare_or_report(args, "locomotion", ['locomotion.json', 'locomotion.png'], "simlab bench locomotion")
    if args.out is None:
        return 2
    names = harness.parse_name_list(args.envs)
    unknown = sorted(set(names) - set(DEFAULT_STEPS)) if args.steps is None else []
    if unknown:
        raise SystemExit(f"no default step budget for {unknown}; pass --steps N")
    tasks = [run_task(n, args.steps or DEFAULT_STEPS[n], args.episodes, args.seed, args.solver) for n in names]
    result = {"episodes": args.episodes, "seed": args.seed, "solver": args.solver, "tasks": tasks,
              "machine": harness.machine_info()}
    json_path = harness.write_json(args.out / "locomotion.json", result)
    png_path = plot(result, args.out / "locomotion.png")
    if args.json:
        print(json.dumps([{k: v for k, v in t.items() if k not in ("curve", "config")} for t in tasks]))
        return 0
    print(f"{'task':<12} {'steps':>10} {'minutes':>8} {'random':>10} {'PPO final':>10} {'PPO best':>10}")
    for t in tasks:
        print(f"{t['env']:<12} {t['steps']:>10,} {t['seconds'] / 60:>8.1f} {t['random_return']:>10.1f} "
              f"{t['final_eval_return']:>10.1f} {t['best_eval_return']:>10.1f}")
    print(f"wrote {json_path} and {png_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
