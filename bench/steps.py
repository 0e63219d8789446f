"""Env-steps/s against batch size at env level: ours through the default path against the tools people would pick.

    python -m bench.steps --env ant --num-envs 1,64,1024,4096,16384
    python -m bench.steps --env cartpole --num-envs 1,64,1024,4096,16384
    simlab bench steps --env pendulum --num-envs 4096 --json

Measured per batch size, in one run:
  * ours through the default path: `envs.make(env, num_envs=n)` (fresh auto-reset, episode statistics, the default
    episode length and devices, exactly what a user gets) stepped by `harness.time_fused`: `jit(lax.scan(env.step))`
    with uniform random actions, best of `--repeats` calls of `--steps-per-call` steps (default: by batch size);
  * locomotion envs (ant, halfcheetah, humanoid), at the same control period on every side:
    - Brax's env (`brax.envs.get_environment(env, backend="spring"|"mjx")`) as its users write it:
      `brax.envs.training.wrap(env, episode_length=1000)` (`jax.vmap(env.step)` and Brax's auto-reset, which
      restores each episode's cached first state), `jit(lax.scan)` with random actions, same steps per call;
    - EnvPool's MuJoCo v5 env (`Ant-v5`, ...) with `num_threads=1` and `2`, synchronous `step` of random actions
      driven from Python for `--anchor-budget` seconds per size;
    - gymnasium `make_vec(<v5 id>, vectorization_mode="async")` (MuJoCo C, one worker process per env) for sizes
      up to `--gym-max-envs` (default 64), time-budgeted the same way;
  * classic control: gymnax (`bench.gymnax_anchor.measure_gymnax`, for the envs in its `GYMNAX_ANCHORS`), and
    gymnasium's JAX `phys2d/*` env through `FunctionalJaxVectorEnv`; our own gymnasium `make_vec` path too.
An anchor that cannot run (package missing, crash, non-finite output) is recorded with its error; the bench goes on.
`--no-brax`, `--no-envpool`, `--no-gym`, `--no-gymnax`, `--no-anchor` (all) skip anchors.

`--json` prints `{"env", "results": [{"num_envs", "steps_per_s", "compile_s", "anchors": {name: env-steps/s or
None}}], "ratios", "anchor_details", "machine", "setup"}`. Writes OUT/steps_<env>.json and .png (default OUT:
./simlab_results/steps; `--publish`: bench/results, the README's numbers; existing files are kept unless
`--overwrite`). Timings on a shared machine are noisy: compare within one run.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from bench import harness, output, steps_anchors as anchors
from simlab.engine.devices import use_all_cpu_cores

CLASSIC_SIZES = "1,16,256,1024,4096,16384"
LOCOMOTION_SIZES = "1,64,1024,4096,16384"
ANCHOR_KEYS = {"locomotion": ("brax_spring", "brax_mjx", "envpool_1thread", "envpool_2threads", "gym_make_vec"),
               "classic": ("gymnax", "gym_make_vec")}
RATIOS = {"ours_over_best_brax": ("brax_spring", "brax_mjx"), "ours_over_envpool_2threads": ("envpool_2threads",),
          "ours_over_gymnax": ("gymnax",), "ours_over_gym_make_vec": ("gym_make_vec",)}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="simlab bench steps", description=__doc__.split("\n")[0])
    parser.add_argument("--env", default="cartpole_swingup", help="registered environment name (see `simlab envs`)")
    parser.add_argument("--num-envs", default=None, help=f"comma-separated batch sizes (default {LOCOMOTION_SIZES} "
                                                         f"for ant/halfcheetah/humanoid, else {CLASSIC_SIZES})")
    parser.add_argument("--steps-per-call", type=int, default=0,
                        help="scan length of one fused call, ours and JAX anchors (default: adapted to the batch size)")
    parser.add_argument("--repeats", type=harness.positive_int, default=3, help="timed repeats; the best is reported")
    parser.add_argument("--anchor-budget", type=float, default=3.0,
                        help="seconds per size for each host-driven measurement (EnvPool, gymnasium)")
    parser.add_argument("--gym-max-envs", type=int, default=64,
                        help="largest batch for gymnasium's async make_vec (one process per env; default 64)")
    parser.add_argument("--solvers", default="penalty,mujoco",
                        help="locomotion only: our contact solvers to measure, first is the headline (penalty: soft "
                             "contacts, the fast default for throughput; mujoco: MuJoCo's constraint model, the envs' "
                             "default; default penalty,mujoco)")
    parser.add_argument("--auto-reset", choices=("fresh", "cached"), default="fresh",
                        help="our auto-reset mode (default fresh, as envs.make; cached: every episode of an env "
                             "restarts from its first state, as Brax's envs do)")
    parser.add_argument("--no-brax", action="store_true", help="skip Brax's envs")
    parser.add_argument("--no-envpool", action="store_true", help="skip EnvPool")
    parser.add_argument("--no-gym", action="store_true", help="skip gymnasium (make_vec anchors and our make_vec path)")
    parser.add_argument("--no-gymnax", action="store_true", help="skip gymnax")
    parser.add_argument("--no-anchor", action="store_true", help="skip every anchor (ours only)")
    output.add_output_arguments(parser, "steps")
    parser.add_argument("--json", action="store_true", help="print the result JSON to stdout")
    return parser


def kind_of(env: str) -> str:
    return "locomotion" if env in anchors.LOCOMOTION else "classic"


def steps_per_call(env: str, num_envs: int, override: int) -> int:
    """Override if > 0; else ~2M env steps per call for classic envs (64-2000), ~128k for locomotion (8-200)."""
    if override > 0:
        return override
    if kind_of(env) == "locomotion":
        return int(np.clip(2 ** 17 // num_envs, 8, 200))
    return int(np.clip(2 ** 21 // num_envs, 64, 2000))


def measure_ours(env_name: str, sizes: list[int], args, progress, env_kwargs: dict | None = None) -> list[dict]:
    from simlab import engine, envs

    rows = []
    label = "".join(f" {k}={v}" for k, v in (env_kwargs or {}).items())
    for n in sizes:
        progress.set_description(f"simlab envs.make n={n}{label}")
        env = envs.make(env_name, num_envs=n, auto_reset=args.auto_reset, **(env_kwargs or {}))
        rows.append(harness.time_fused(env, engine.uniform_policy(env.action_spec), n,
                                       steps_per_call(env_name, n, args.steps_per_call), args.repeats))
        progress.update()
    return rows


def _skipped(args, name: str) -> dict | None:
    """`{"skipped": "--no-<name> given"}` if that anchor (or every anchor) is switched off, else None."""
    if args.no_anchor:
        return {"skipped": "--no-anchor given"}
    return {"skipped": f"--no-{name} given"} if getattr(args, f"no_{name}") else None


def measure_anchors(args, sizes: list[int], progress) -> dict:
    """`{key: {"name", "rows"} | {"skipped"|"error": reason}}` for the anchors of this env's kind."""
    env, budget = args.env, args.anchor_budget
    calls = lambda n: steps_per_call(env, n, args.steps_per_call)  # noqa: E731
    out = {}
    if kind_of(env) == "locomotion":
        for backend in ("spring", "mjx"):
            out[f"brax_{backend}"] = (_skipped(args, "brax") or
                                      anchors.brax_env(env, backend, sizes, calls, args.repeats, progress))
        for threads, key in ((1, "envpool_1thread"), (2, "envpool_2threads")):
            out[key] = _skipped(args, "envpool") or anchors.envpool_env(env, threads, sizes, budget, progress)
        out["gym_make_vec"] = (_skipped(args, "gym") or
                               anchors.gym_async(env, sizes, args.gym_max_envs, budget, progress))
    else:
        out["gymnax"] = _skipped(args, "gymnax") or anchors.gymnax_env(env, sizes, calls, args.repeats, progress)
        if _skipped(args, "gym"):
            out["gym_make_vec"] = _skipped(args, "gym")
        elif env in anchors.GYM_FUNCTIONAL:
            out["gym_make_vec"] = anchors.gym_functional(env, sizes, budget, progress)
        else:
            out["gym_make_vec"] = {"skipped": f"no gymnasium phys2d counterpart of {env!r}"}
    return out


def _value(detail: dict, n: int) -> float | None:
    for row in detail.get("rows", ()):
        if row.get("num_envs") == n and "steps_per_s" in row and np.isfinite(row["steps_per_s"]):
            return float(row["steps_per_s"])
    return None


def setup_info(args, sizes: list[int], details: dict, solvers: list[str]) -> dict:
    import jax

    from simlab import envs

    probe = envs.make(args.env)
    setup = {
        "ours": f"envs.make({args.env!r}, num_envs=n): the default path (auto_reset={args.auto_reset!r}, episode "
                "statistics, "
                "default episode length, every local device after engine.use_all_cpu_cores()), stepped by "
                "harness.time_fused: jit(lax.scan(env.step)) with uniform random actions drawn in the scan; best of "
                "repeats, state carried between calls"
                + (f"; solver={solvers[0]!r} is the headline, by_solver has {solvers}" if solvers else ""),
        "ours_devices": [str(d) for d in jax.devices()],
        "dt": float(probe.dt) if hasattr(probe, "dt") else None,
        "episode_length": getattr(probe, "default_episode_length", None),
        "steps_per_call": {str(n): steps_per_call(args.env, n, args.steps_per_call) for n in sizes},
        "repeats": args.repeats,
        "anchor_budget_s": args.anchor_budget,
        "anchors": {k: {key: v for key, v in d.items() if key != "rows"} for k, d in details.items()},
        "brax": "brax.envs.get_environment(name, backend=...) with its default dt, brax.envs.training.wrap(env, "
                "episode_length=1000) = AutoResetWrapper(EpisodeWrapper(VmapWrapper(env))): jax.vmap(env.step), "
                "auto-reset to the cached first state of the episode; jit(lax.scan) of uniform actions in [-1, 1], "
                "one device, same steps per call as ours",
        "envpool": "envpool.make_gymnasium(<v5 id>, num_envs=n, batch_size=n, num_threads=min(t, n)), default "
                   "frame_skip, internal auto-reset; synchronous step of uniform random actions from Python, "
                   "anchor_budget_s per size",
        "gym_make_vec": ("gymnasium.make_vec(<v5 id>, num_envs=n, vectorization_mode='async'): MuJoCo C, one worker "
                         f"process per env, sizes <= {args.gym_max_envs} only; anchor_budget_s per size"
                         if kind_of(args.env) == "locomotion" else
                         "gymnasium's phys2d JAX env through FunctionalJaxVectorEnv, driven from Python"),
        "gymnax": "bench.gymnax_anchor.measure_gymnax(env_id, sizes, steps_per_call, repeats): jit(lax.scan) of "
                  "vmap(env.step) with gymnax's own auto-reset and random actions, same steps per call as ours",
    }
    for key in ("gymnax",) if kind_of(args.env) == "locomotion" else ("brax", "envpool"):
        del setup[key]
    return setup


def run(args) -> dict:
    from simlab import envs

    envs.entry(args.env)  # unknown names fail here, before any work
    sizes = harness.parse_int_list(args.num_envs or (LOCOMOTION_SIZES if kind_of(args.env) == "locomotion"
                                                     else CLASSIC_SIZES))
    keys = ANCHOR_KEYS[kind_of(args.env)]
    ours_gym = not (args.no_anchor or args.no_gym) and kind_of(args.env) == "classic"
    total = len(sizes) * (1 + (0 if args.no_anchor else len(keys)) + ours_gym)
    solvers = harness.parse_name_list(args.solvers) if kind_of(args.env) == "locomotion" else []
    for solver in solvers:
        if solver not in ("penalty", "mujoco"):
            raise ValueError(f"--solvers: {solver!r} is not a solver; choose from penalty, mujoco")
    total += len(sizes) * max(0, len(solvers) - 1)
    with tqdm(total=total, file=sys.stderr, leave=False) as progress:
        by_solver = {solver: measure_ours(args.env, sizes, args, progress, {"solver": solver}) for solver in solvers}
        ours = by_solver[solvers[0]] if solvers else measure_ours(args.env, sizes, args, progress)
        details = measure_anchors(args, sizes, progress)
        if ours_gym:
            details["ours_gym_make_vec"] = anchors.ours_gym_make_vec(envs.entry(args.env).gym_id, sizes,
                                                                     args.anchor_budget, progress)
        progress.update(total - progress.n)  # anchors skipped by a flag
    results, ratios = [], {}
    for r in ours:
        n = r["num_envs"]
        row_anchors = {k: _value(details[k], n) for k in keys}
        results.append({"num_envs": n, "steps_per_s": r["steps_per_s"], "compile_s": r["compile_s"],
                        "steps_per_call": r["steps_per_call"], "anchors": row_anchors})
        if "ours_gym_make_vec" in details:
            results[-1]["ours_gym_make_vec"] = _value(details["ours_gym_make_vec"], n)
        if by_solver:
            results[-1]["solver"] = solvers[0]
            results[-1]["by_solver"] = {k: rows[len(results) - 1]["steps_per_s"] for k, rows in by_solver.items()}
        ratio = {}
        for name, over in RATIOS.items():
            values = [row_anchors[k] for k in over if k in row_anchors]
            if values:
                best = max((v for v in values if v), default=None)
                ratio[name] = r["steps_per_s"] / best if best else None
        if "mujoco" in by_solver and row_anchors.get("brax_mjx"):
            ratio["ours_mujoco_over_brax_mjx"] = results[-1]["by_solver"]["mujoco"] / row_anchors["brax_mjx"]
        ratios[str(n)] = ratio
    return {"env": args.env, "results": results, "ratios": ratios, "anchor_details": details,
            "machine": harness.machine_info(), "setup": setup_info(args, sizes, details, solvers)}


LABELS = {"brax_spring": "Brax env, spring", "brax_mjx": "Brax env, mjx", "envpool_1thread": "EnvPool, 1 thread",
          "envpool_2threads": "EnvPool, 2 threads", "gymnax": "gymnax"}
GYM_LABELS = {"locomotion": "gymnasium make_vec async (MuJoCo C)", "classic": "gymnasium FunctionalJaxVectorEnv"}


def report(result: dict, out: Path) -> tuple[Path, Path]:
    name = f"steps_{result['env']}"
    json_path = harness.write_json(out / f"{name}.json", result)
    ours = f"simlab {result['env']} (envs.make, fused)"
    labels = {**LABELS, "gym_make_vec": GYM_LABELS[kind_of(result["env"])]}
    if "solver" in result["results"][0]:
        ours = f"simlab {result['env']} (envs.make, solver={result['results'][0]['solver']})"
    series = {ours: [(r["num_envs"], r["steps_per_s"]) for r in result["results"]]}
    for solver in result["results"][0].get("by_solver", {}):
        if solver != result["results"][0]["solver"]:
            series[f"simlab {result['env']} (envs.make, solver={solver})"] = [
                (r["num_envs"], r["by_solver"][solver]) for r in result["results"]]
    if any(r.get("ours_gym_make_vec") for r in result["results"]):
        series[f"simlab {result['env']} (gymnasium make_vec)"] = [
            (r["num_envs"], r["ours_gym_make_vec"]) for r in result["results"] if r.get("ours_gym_make_vec")]
    for key in result["results"][0]["anchors"]:
        points = [(r["num_envs"], r["anchors"][key]) for r in result["results"] if r["anchors"][key]]
        if points:
            series[labels[key]] = points
    headline = next((labels[k] for k in ("brax_spring", "gymnax", "envpool_2threads", "gym_make_vec")
                     if labels[k] in series), None)
    png_path = harness.plot_lines(
        out / f"{name}.png", series, title=f"{result['env']}: env-steps/s vs batch size "
        f"({result['machine']['backend']}, {result['machine']['cpu_count']} cores)", xlabel="parallel environments",
        ylabel="env-steps / s", annotate_ratio=(ours, headline) if headline else None)
    return json_path, png_path


def print_table(result: dict, file=sys.stdout) -> None:
    keys = list(result["results"][0]["anchors"])
    first = result["ratios"][str(result["results"][0]["num_envs"])]
    ratio_keys = [k for k in [*RATIOS, "ours_mujoco_over_brax_mjx"] if k in first]
    extra = [k for k in result["results"][0].get("by_solver", {}) if k != result["results"][0].get("solver")]
    fmt = lambda v, w: f"{v:>{w},.0f}" if v else f"{'-':>{w}}"  # noqa: E731
    ours = f"ours ({result['results'][0]['solver']})" if "solver" in result["results"][0] else "ours"
    print(f"{'num_envs':>9} {'steps':>5} {ours:>16} {'compile s':>9} "
          + " ".join(f"{'ours (' + k + ')':>16}" for k in extra)
          + " " + " ".join(f"{k:>16}" for k in keys) + " "
          + " ".join(f"{k.replace('_over_', '/').replace('ours_', 'ours ') :>22}" for k in ratio_keys), file=file)
    for r in result["results"]:
        ratio = result["ratios"][str(r["num_envs"])]
        print(f"{r['num_envs']:>9} {r['steps_per_call']:>5} {r['steps_per_s']:>16,.0f} {r['compile_s']:>9.2f} "
              + " ".join(fmt(r["by_solver"][k], 16) for k in extra) + " "
              + " ".join(fmt(r["anchors"][k], 16) for k in keys) + " "
              + " ".join(f"{ratio.get(k):>21.2f}x" if ratio.get(k) else f"{'-':>22}" for k in ratio_keys), file=file)
    for key, detail in result["anchor_details"].items():
        reason = detail.get("error") or detail.get("skipped")
        errors = [f"n={row['num_envs']}: {row['error']}" for row in detail.get("rows", ()) if "error" in row]
        if reason or errors:
            print(f"  {key}: {reason or '; '.join(errors)}", file=file)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # The README's first example: one CPU device per core before JAX starts (a no-op once it has).
    use_all_cpu_cores(quiet=True)
    args.out = output.prepare_or_report(args, "steps", [f"steps_{args.env}.json", f"steps_{args.env}.png"],
                                        "simlab bench steps")
    if args.out is None:
        return 2
    try:
        result = run(args)
    except (ValueError, KeyError) as err:
        print(f"simlab bench steps: error: {err.args[0] if isinstance(err, KeyError) else err}", file=sys.stderr)
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
