"""Learnability of grasp, fetch and ur5e: PPO's success metric against a random policy's, same run.

    python -m bench.manipulation [--minutes 4] [--envs grasp,fetch,ur5e]

For each task, PPO (registry defaults) trains for a wall-clock budget (training
iterations only; compilation and evaluation are timed separately); every few
iterations its deterministic policy is evaluated on `--episodes` fresh episodes, and a
uniformly random policy is evaluated the same way once. The success metric is read at
the last step of each episode: `success` (ball within 5 cm of the target for grasp,
flange within 5 cm for ur5e; fraction of episodes) and `targets_reached` (targets
reached in the episode; mean) for fetch. Writes OUT/manipulation.json + .png.

OUT is `--out DIR` (default ./simlab_results/manipulation); `--publish` writes the tracked bench/results/
instead. Existing files are not replaced without `--overwrite` (bench/output.py).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from bench import harness, output

METRIC = {"grasp": "success", "fetch": "targets_reached", "ur5e": "success"}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="simlab bench manipulation", description=__doc__.split("\n")[0])
    p.add_argument("--minutes", type=float, default=4.0, help="PPO wall-clock training budget per task")
    p.add_argument("--envs", default="grasp,fetch,ur5e", help="comma-separated tasks")
    p.add_argument("--episodes", type=int, default=128, help="evaluation episodes (run in parallel)")
    p.add_argument("--eval-every", type=int, default=20, help="PPO iterations between evaluations")
    p.add_argument("--seed", type=int, default=0)
    output.add_output_arguments(p, "manipulation")
    p.add_argument("--merge", action="store_true",
                   help="replace only these tasks in an existing OUT/manipulation.json (each task keeps its own run); "
                        "implies --overwrite of manipulation.json and .png")
    p.add_argument("--json", action="store_true")
    return p


def make_episode_metric(name: str, episodes: int):
    """`run(policy_fn, params, key) -> (metric at the last step [episodes], mean return)` as one jitted scan."""
    from simlab import envs

    env = envs.make(name, num_envs=episodes, auto_reset=None)
    horizon = env.default_episode_length
    metric = METRIC[name]

    def run(act, params, key):
        reset_key, policy_key = jax.random.split(key)
        state = env.reset(reset_key)

        def body(carry, k):
            state, total = carry
            state = env.step(state, act(params, state.obs, k))
            return (state, total + state.reward), None

        (state, total), _ = jax.lax.scan(body, (state, jnp.zeros(episodes)), jax.random.split(policy_key, horizon))
        return state.metrics[metric], jnp.mean(total)

    return env, run


def bench_task(name: str, args) -> dict:
    from simlab.agents.registry import make_agent

    env, run = make_episode_metric(name, args.episodes)
    spec = env.action_spec
    low, high = jnp.asarray(spec.low), jnp.asarray(spec.high)

    def random_act(_, obs, key):
        return jax.random.uniform(key, (obs.shape[0], *spec.shape), jnp.float32, low, high)

    random_metric, random_return = jax.jit(lambda k: run(random_act, None, k))(jax.random.key(args.seed + 1000))
    random_value = float(np.mean(random_metric))
    print(f"{name}: random policy {METRIC[name]} = {random_value:.3f}, return {float(random_return):.1f}", flush=True)

    agent = make_agent("ppo", name)

    def ppo_act(params, obs, key):
        policy_params, obs_stats = params
        return agent.policy_from(policy_params, obs_stats, deterministic=True)(obs, key)

    evaluate = jax.jit(lambda params, k: run(ppo_act, params, k))
    iteration = jax.jit(agent.iteration)
    state = agent.init(jax.random.key(args.seed))
    t0 = time.perf_counter()
    iteration = iteration.lower(state).compile()  # compile time is reported, not counted in the budget
    compile_seconds = time.perf_counter() - t0
    curve, budget, i, train_time = [], args.minutes * 60.0, 0, 0.0
    while True:
        t0 = time.perf_counter()
        state, _ = iteration(state)
        jax.block_until_ready(state.env_steps)
        train_time += time.perf_counter() - t0
        i += 1
        done = train_time >= budget
        if i % args.eval_every == 0 or i == 1 or done:
            value, ret = evaluate((state.policy_params, state.obs_stats), jax.random.key(args.seed + 2000 + i))
            curve.append({"iteration": i, "env_steps": int(state.env_steps), "train_seconds": round(train_time, 1),
                          "metric": float(np.mean(value)), "eval_return": float(ret)})
            print(f"{name}: iter {i:5d} steps {int(state.env_steps):>10,} train {train_time:6.0f}s "
                  f"{METRIC[name]} {float(np.mean(value)):.3f} return {float(ret):.1f}", flush=True)
        if done:
            break
    final = curve[-1]["metric"]
    best = max(row["metric"] for row in curve)
    return {"env": name, "metric": METRIC[name], "random_policy": random_value, "random_return": float(random_return),
            "ppo_final": final, "ppo_best": best, "env_steps": curve[-1]["env_steps"], "train_seconds": train_time,
            "compile_seconds": compile_seconds, "budget_minutes": args.minutes, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "above_random": final > random_value, "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in
                                                            vars(agent.config).items()},
            "curve": curve}


def plot(result: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = result["tasks"]
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3.6), dpi=120, squeeze=False)
    for ax, task in zip(axes[0], tasks):
        steps = [row["env_steps"] for row in task["curve"]]
        ax.plot(steps, [row["metric"] for row in task["curve"]], marker="o", ms=3, label="PPO (deterministic)")
        ax.axhline(task["random_policy"], color="gray", linestyle="--", label="random policy")
        ax.set_title(f"{task['env']} ({task['train_seconds'] / 60:.1f} min of training)")
        ax.set_xlabel("environment steps")
        ax.set_ylabel(task["metric"] + (" (fraction of episodes)" if task["metric"] == "success" else " per episode"))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return harness.save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    names = harness.parse_name_list(args.envs)
    unknown = sorted(set(names) - set(METRIC))
    if unknown:
        raise SystemExit(f"--envs: unknown task(s) {unknown}; choose from {sorted(METRIC)}")
    if args.minutes <= 0 or args.episodes < 1 or args.eval_every < 1:
        raise SystemExit("--minutes must be > 0, --episodes and --eval-every >= 1")
    # --merge updates manipulation.json in place: it is the permission to replace it (and its plot).
    args.overwrite = args.overwrite or args.merge
    args.out = output.prepare_or_report(args, "manipulation", ["manipulation.json", "manipulation.png"],
                                        "simlab bench manipulation")
    if args.out is None:
        return 2
    tasks = [bench_task(name, args) for name in names]
    previous = args.out / "manipulation.json"
    if args.merge and previous.exists():
        kept = [t for t in json.loads(previous.read_text())["tasks"] if t["env"] not in names]
        tasks = sorted(kept + tasks, key=lambda t: list(METRIC).index(t["env"]))
    result = {"tasks": tasks, "episodes": args.episodes, "machine": harness.machine_info()}
    json_path = harness.write_json(args.out / "manipulation.json", result)
    png_path = plot(result, args.out / "manipulation.png")
    if args.json:
        print(json.dumps([{k: v for k, v in t.items() if k != "curve"} for t in result["tasks"]]))
        return 0
    print(f"{'task':<7} {'metric':<16} {'random':>7} {'PPO final':>10} {'PPO best':>9} {'env steps':>11} {'minutes':>8}")
    for t in result["tasks"]:
        print(f"{t['env']:<7} {t['metric']:<16} {t['random_policy']:>7.3f} {t['ppo_final']:>10.3f} "
              f"{t['ppo_best']:>9.3f} {t['env_steps']:>11,} {t['train_seconds'] / 60:>8.1f}")
    print(f"wrote {json_path} and {png_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
