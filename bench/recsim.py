"""Ecosystem simulation throughput (user-steps/s) at 2k, 20k and 200k users, plus the 80-run study.

    python -m bench.recsim [--users 2000,20000,200000] [--study] [--json]

Also trains the REINFORCE slate recommender (`recsim.apps.slate_rl`) and
compares it with random and myopic slates on mean cumulative utility.

Ours: one ecosystem run (provider-aware recommender, 80 providers, 400
documents per step, slate 3) compiled as a `lax.scan` over steps; best of
`--repeats` timed calls after compilation.

Anchor: the original RecSim NG TensorFlow runtime on the same model. It needs
a side environment (TensorFlow + Edward2 with `scipy<1.11`, `numpy<2`, no
JAX) that is not installed here, so this script does not re-measure it; it
quotes the project's earlier measurement on this CPU: about 8 s per
2000-user, 300-step run (75,000 user-steps/s). The JSON marks it as quoted.

`--study` also times the full study (40 runs per policy, 2000 users, 300
steps, all 80 runs as one program) and writes its utility/concentration plot.
Writes OUT/recsim.json and recsim.png (and recsim_ecosystem.png with --study); default OUT:
./simlab_results/recsim, `--publish`: bench/results; existing files are kept unless `--overwrite`.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import jax
import jax.numpy as jnp

from bench import harness, output

QUOTED_ANCHOR_SECONDS_PER_RUN = 8.0  # RecSim NG TF, 2000 users x 300 steps, this CPU (quoted)
ANCHOR_USER_STEPS_PER_S = 2000 * 300 / QUOTED_ANCHOR_SECONDS_PER_RUN


def _steps_for(num_users: int) -> int:
    return int(min(300, max(5, 600_000 // num_users)))


def measure_throughput(num_users: int, repeats: int, seed: int = 0) -> dict:
    """User-steps/s of one provider-aware ecosystem run with `num_users` users."""
    from simlab.recsim.apps import ecosystem

    num_steps = _steps_for(num_users)
    means = ecosystem.provider_means(jax.random.PRNGKey(seed))
    run = jax.jit(lambda key: ecosystem.simulate(key, jnp.float32(1.2), means, num_users, num_steps)[0])
    key = jax.random.PRNGKey(seed + 1)
    start = time.perf_counter()
    compiled = run.lower(key).compile()
    compile_s = time.perf_counter() - start
    jax.block_until_ready(compiled(key))
    best = float("inf")
    for i in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(compiled(jax.random.fold_in(key, i)))
        best = min(best, time.perf_counter() - start)
    return {"users": num_users, "steps": num_steps, "seconds": best, "compile_s": compile_s,
            "user_steps_per_s": num_users * num_steps / best}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="simlab bench recsim", description=__doc__.split("\n")[0])
    parser.add_argument("--users", default="2000,20000,200000", help="comma-separated population sizes")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--study", action="store_true", help="also time the full 80-run ecosystem study")
    parser.add_argument("--study-runs", type=int, default=40, help="runs per policy for --study")
    parser.add_argument("--no-slate-rl", action="store_true",
                        help="skip training/evaluating the REINFORCE slate recommender")
    output.add_output_arguments(parser, "recsim")
    parser.add_argument("--json", action="store_true", help="print the result JSON")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    files = ["recsim.json", "recsim.png"] + (["recsim_ecosystem.png"] if args.study else [])
    args.out = output.prepare_or_report(args, "recsim", files, "simlab bench recsim")
    if args.out is None:
        return 2
    sizes = harness.parse_int_list(args.users)
    rows = []
    print(f"{'users':>8} {'steps':>6} {'ours user-steps/s':>18} {'anchor (quoted)':>16} {'ratio':>7}")
    for n in sizes:
        row = measure_throughput(n, args.repeats)
        row["anchor_user_steps_per_s"] = ANCHOR_USER_STEPS_PER_S
        row["ratio"] = row["user_steps_per_s"] / ANCHOR_USER_STEPS_PER_S
        rows.append(row)
        print(f"{n:>8} {row['steps']:>6} {row['user_steps_per_s']:>18,.0f} {ANCHOR_USER_STEPS_PER_S:>16,.0f} "
              f"{row['ratio']:>6.1f}x", flush=True)
    result = {
        "machine": harness.machine_info(),
        "note": "machine shared with other jobs during the run; anchor is quoted, not re-measured",
        "anchor": {"name": "RecSim NG TensorFlow runtime", "measured_in_this_run": False,
                   "seconds_per_2000_user_300_step_run": QUOTED_ANCHOR_SECONDS_PER_RUN,
                   "user_steps_per_s": ANCHOR_USER_STEPS_PER_S},
        "throughput": rows,
    }
    if args.study:
        from simlab.recsim.apps import ecosystem

        study = ecosystem.run_study(num_runs=args.study_runs)
        summary = study.summary()
        args.out.mkdir(parents=True, exist_ok=True)
        plot = ecosystem.plot_study(study, str(args.out / "recsim_ecosystem.png"))
        result["study"] = {"runs_per_policy": args.study_runs, "users": 2000, "horizon": 300,
                           "seconds_all_runs": study.seconds, "compile_s": study.compile_seconds,
                           "summary": summary, "plot": plot}
        for policy, s in summary.items():
            print(f"{policy:>15}: {s['mean']:.2f} ± {s['stderr']:.2f}; click HHI {s['hhi_start']:.4f} -> "
                  f"{s['hhi_end']:.4f}")
        print(f"{2 * args.study_runs} runs in {study.seconds:.1f} s (compile {study.compile_seconds:.1f} s)")
    if not args.no_slate_rl:
        from simlab.recsim.apps import slate_rl

        start = time.perf_counter()
        comparison = slate_rl.compare_policies(slate_rl.SlateConfig(), jax.random.PRNGKey(0))
        result["slate_rl"] = {
            "config": "10 candidates, slate 3, horizon 100; 150 REINFORCE iterations x 256 episodes; "
                      "512 evaluation episodes (same keys for every policy)",
            "seconds": time.perf_counter() - start,
            **{name: comparison[name] for name in ("learned", "random", "myopic")},
            "weights": [float(w) for w in comparison["weights"]],
        }
        print("slate RL, mean cumulative utility over 100 steps (± s.e.):")
        for name in ("learned", "random", "myopic"):
            print(f"{name:>10}: {comparison[name]['mean']:.2f} ± {comparison[name]['stderr']:.2f}")
    harness.write_json(args.out / "recsim.json", result)
    series = {"simlab recsim (JAX)": [(r["users"], r["user_steps_per_s"]) for r in rows],
              "RecSim NG TF (quoted)": [(r["users"], ANCHOR_USER_STEPS_PER_S) for r in rows]}
    harness.plot_lines(args.out / "recsim.png", series, title="Ecosystem simulation throughput",
                       xlabel="users", ylabel="user-steps / s", logx=True, logy=True)
    if args.json:
        print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
