"""Env-steps/s against batch size for any registered environment, with gymnasium as anchor.

    python -m bench.steps --env cartpole_swingup --num-envs 1,64,1024,4096,16384
    simlab bench steps --env pendulum --num-envs 4096 --json

Measures, in one run:
  * simlab fused: `jit(lax.scan(vmap(step)))` with auto-reset and uniform random actions
    (what an in-process learner sees);
  * simlab gymnasium vector API: `gymnasium.make_vec("simlab/<Name>-v0", vectorization_mode=
    "vector_entry_point")` driven from Python with NumPy actions;
  * anchor: gymnasium's own JAX `phys2d/CartPole-v1` through `FunctionalJaxVectorEnv`
    (`make_vec(..., vectorization_mode="vector_entry_point")`), driven the same way.
Writes OUT/steps_<env>.json and .png (default OUT: ./simlab_results/steps; `--publish`:
bench/results, the README's numbers; existing files are kept unless `--overwrite`); `--json` prints the JSON to stdout.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import gymnasium
import numpy as np
from tqdm import tqdm

from bench import harness, output

DEFAULT_SIZES = "1,16,256,1024,4096,16384"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="simlab bench steps", description=__doc__.split("\n")[0])
    parser.add_argument("--env", default="cartpole_swingup", help="registered environment name (see `simlab envs`)")
    parser.add_argument("--num-envs", default=DEFAULT_SIZES, help=f"comma-separated batch sizes (default {DEFAULT_SIZES})")
    parser.add_argument("--steps-per-call", type=int, default=0,
                        help="scan length of one fused call (default: adapted to the batch size)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats; the best is reported")
    parser.add_argument("--anchor-budget", type=float, default=3.0,
                        help="seconds spent per size on each host-driven (gymnasium API) measurement")
    parser.add_argument("--no-anchor", action="store_true", help="skip the gymnasium API measurements")
    output.add_output_arguments(parser, "steps")
    parser.add_argument("--json", action="store_true", help="print the result JSON to stdout")
    return parser


def _steps_per_call(num_envs: int, override: int) -> int:
    return override if override > 0 else int(np.clip(2**21 // num_envs, 64, 2000))


def measure_fused(env_name: str, sizes: list[int], args, progress) -> list[dict]:
    from simlab import engine
    from simlab import envs

    rows = []
    for n in sizes:
        progress.set_description(f"simlab fused n={n}")
        env = envs.make(env_name, num_envs=n)
        policy = engine.uniform_policy(env.action_spec) if hasattr(env.action_spec, "low") else None
        if policy is None:
            raise ValueError(f"bench steps supports continuous (Box) actions; {env_name} has {env.action_spec}")
        rows.append(harness.time_fused(env, policy, n, _steps_per_call(n, args.steps_per_call), args.repeats))
        progress.update()
    return rows


def measure_gym_vector(gym_id: str, sizes: list[int], args, progress, label: str) -> list[dict]:
    rows = []
    for n in sizes:
        progress.set_description(f"{label} n={n}")
        venv = gymnasium.make_vec(gym_id, num_envs=n, vectorization_mode="vector_entry_point")
        venv.reset(seed=0)
        venv.action_space.seed(0)
        actions = [venv.action_space.sample() for _ in range(8)]
        counter = iter(range(10**9))
        rows.append(harness.time_python_loop(lambda: venv.step(actions[next(counter) % 8]), n,
                                             max_steps=20000, budget_s=args.anchor_budget))
        venv.close()
        progress.update()
    return rows


def run(args) -> dict:
    from simlab import envs

    sizes = harness.parse_int_list(args.num_envs)
    entry = envs.entry(args.env)
    total = len(sizes) * (1 if args.no_anchor else 3)
    with tqdm(total=total, file=sys.stderr, leave=False) as progress:
        fused = measure_fused(args.env, sizes, args, progress)
        ours_gym = anchor = []
        if not args.no_anchor:
            ours_gym = measure_gym_vector(entry.gym_id, sizes, args, progress, "simlab make_vec")
            anchor = measure_gym_vector("phys2d/CartPole-v1", sizes, args, progress, "gymnasium FunctionalJaxVectorEnv")
    result = {
        "env": args.env,
        "results": [{"num_envs": r["num_envs"], "steps_per_s": r["steps_per_s"], "compile_s": r["compile_s"]}
                    for r in fused],
        "simlab_gym_make_vec": ours_gym,
        "anchor": {"name": "gymnasium phys2d/CartPole-v1 FunctionalJaxVectorEnv", "results": anchor},
        "ratio_fused_to_anchor": {str(a["num_envs"]): f["steps_per_s"] / a["steps_per_s"] for f, a in zip(fused, anchor)},
        "ratio_make_vec_to_anchor": {str(a["num_envs"]): o["steps_per_s"] / a["steps_per_s"]
                                     for o, a in zip(ours_gym, anchor)},
        "machine": harness.machine_info(),
    }
    return result


def report(result: dict, out: Path) -> tuple[Path, Path]:
    name = f"steps_{result['env']}"
    json_path = harness.write_json(out / f"{name}.json", result)
    series = {f"simlab {result['env']} (fused jit/scan/vmap)": [(r["num_envs"], r["steps_per_s"]) for r in result["results"]]}
    if result["simlab_gym_make_vec"]:
        series[f"simlab {result['env']} (gymnasium make_vec)"] = [
            (r["num_envs"], r["steps_per_s"]) for r in result["simlab_gym_make_vec"]]
        series["gymnasium phys2d CartPole (FunctionalJaxVectorEnv)"] = [
            (r["num_envs"], r["steps_per_s"]) for r in result["anchor"]["results"]]
    png_path = harness.plot_lines(
        out / f"{name}.png", series, title=f"Env-steps/s vs batch size ({result['machine']['backend']}, "
        f"{result['machine']['cpu_count']} cores)", xlabel="parallel environments", ylabel="env-steps / s",
        annotate_ratio=(list(series)[0], list(series)[-1]) if len(series) > 1 else None)
    return json_path, png_path


def print_table(result: dict, file=sys.stdout) -> None:
    anchor = {r["num_envs"]: r["steps_per_s"] for r in result["anchor"]["results"]}
    gym = {r["num_envs"]: r["steps_per_s"] for r in result["simlab_gym_make_vec"]}
    print(f"{'num_envs':>9} {'simlab fused':>14} {'compile s':>9} {'simlab make_vec':>16} {'gymnasium FJVE':>15} {'fused/anchor':>13}",
          file=file)
    for r in result["results"]:
        n = r["num_envs"]
        a = anchor.get(n)
        print(f"{n:>9} {r['steps_per_s']:>14,.0f} {r['compile_s']:>9.2f} {gym.get(n, float('nan')):>16,.0f} "
              f"{a if a else float('nan'):>15,.0f} {r['steps_per_s'] / a if a else float('nan'):>12,.0f}x", file=file)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.out = output.prepare_or_report(args, "steps", [f"steps_{args.env}.json", f"steps_{args.env}.png"],
                                        "simlab bench steps")
    if args.out is None:
        return 2
    try:
        result = run(args)
    except (ValueError, KeyError) as err:
        print(f"simlab bench steps: error: {err}", file=sys.stderr)
        return 2
    json_path, png_path = report(result, args.out)
    if args.json:
        print(json.dumps(result))
    else:
        print_table(result)
        print(f"wrote {json_path} and {png_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
