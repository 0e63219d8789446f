"""Rigid-body throughput: our engine against every Brax pipeline and MuJoCo C, in one run.

    python -m bench.physics --env ant --num-envs 1,64,1024,4096,8192
    simlab bench physics --env ant --num-envs 4096 --json

Measured per batch size, all at a 0.05 s control period on the same MJCF model
(brax's `envs/assets/<env>.xml`):
  * ours: `jit(lax.scan(sharded_vmap(engine.physics.step, batch_chunk(sys), mesh)))` with uniform
    random controls, the batch split over one CPU device per core (`--devices`, default: all
    cores; set before JAX starts), as `simlab` runs batches on a CPU host;
  * ours on one device (`ours-1dev`, `chunked_vmap(step, BATCH_CHUNK)`), for reference;
  * Brax 0.14 environments for each pipeline (spring, positional, generalized, mjx),
    `n_frames` set so that `env.dt == 0.05`, stepped as shipped: `jit(lax.scan(vmap(env.step)))`
    on one device (XLA's intra-op threads may use the other cores);
  * Brax pipelines given our batching (`--brax-batched`, default spring, positional, generalized):
    `vmap(env.step)` replaced by the same `sharded_vmap` with a chunk of 128 — how much of
    our lead is batching rather than the engine (mjx deadlocks on several CPU
    devices, see engine/batching.py);
  * MuJoCo C through gymnasium `Ant-v5`/`Humanoid-v5` (frame_skip giving 0.05 s), single
    process and `make_vec(..., vectorization_mode="async")` with 2 workers (batch-size independent);
  * our `solver="mujoco"` mode (MuJoCo's constraint dynamics, `--solvers`): `ours-mujoco` on the same
    brax model with the Newton iteration count the model declares (4; Brax's mjx pipeline overrides it
    with 1 iteration and a 4-step line search, see `_load_ours`), and
    `ours-mujoco-v5` on gymnasium's `ant.xml` (RK4, `envs.locomotion.base.MUJOCO_ITERATIONS`), the
    model EnvPool's `Ant-v5` steps;
  * EnvPool `Ant-v5` (MuJoCo C in C++ threads, one per core, `envpool.make_gymnasium`, batch = all
    envs; when `envpool` is installed);
  * with `--mjx`, MJX itself (`mujoco.mjx.step`, `n_frames` per control step, `jit(lax.scan(vmap))`)
    on the same brax model: the anchor of the mujoco mode on a machine where Brax's training
    dependencies are not installed (e.g. a GPU host).
The anchors live in bench/physics_anchors.py. Compile time of each fused rollout is recorded. Writes `<out>/physics_<env>.json` and `.png`;
`--json` prints the JSON. Timings on a shared machine are noisy: compare within one run.

OUT is `--out DIR` (default ./simlab_results/physics); `--publish` writes the tracked bench/results/
instead. Existing files are not replaced without `--overwrite` (bench/output.py).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
from tqdm import tqdm

from bench import harness, output
from bench.physics_anchors import (BRAX_PIPELINES, CONTROL_DT, DEFAULT_SIZES, GYM_IDS, brax_asset, brax_sizes,
                                   envpool_sizes, gym_asset, mesh_for, mjx_sizes, mujoco_gymnasium, steps_for)
from simlab.engine.batching import sharded_vmap


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="simlab bench physics", description=__doc__.split("\n")[0])
    parser.add_argument("--env", choices=sorted(GYM_IDS), default="ant")
    parser.add_argument("--num-envs", default=DEFAULT_SIZES, help=f"comma-separated batch sizes (default {DEFAULT_SIZES})")
    parser.add_argument("--steps", type=int, default=0, help="control steps per timed call (default: by batch size)")
    parser.add_argument("--repeats", type=int, default=2, help="timed repeats; the best is reported")
    parser.add_argument("--pipelines", default=",".join(BRAX_PIPELINES), help="Brax pipelines to run (comma list)")
    parser.add_argument("--brax-batched", default="spring,positional,generalized",
                        help="Brax pipelines also run through our chunked, sharded batching (comma list; '' for none)")
    parser.add_argument("--devices", type=int, default=0,
                        help="CPU devices to shard ours over (default 0: one per core; 1: no sharding)")
    parser.add_argument("--mujoco-budget", type=float, default=5.0, help="seconds per MuJoCo C measurement")
    parser.add_argument("--solvers", default="penalty,mujoco",
                        help="our contact models to run (comma list of penalty, mujoco; default both)")
    parser.add_argument("--no-envpool", action="store_true", help="skip EnvPool even if installed")
    parser.add_argument("--mjx", action="store_true",
                        help="also run mujoco.mjx.step directly on the brax model (anchor without Brax installed)")
    parser.add_argument("--quick", action="store_true", help="sizes 1,64,1024, short calls, one repeat")
    output.add_output_arguments(parser, "physics")
    parser.add_argument("--json", action="store_true", help="print the result JSON to stdout")
    return parser


def _load_ours(env: str, solver: str, model: str):
    """Our System for `env` with `solver`; `model` "brax" (brax's asset) or "v5" (gymnasium's)."""
    from simlab.engine import physics

    if solver == "penalty":
        return physics.load_mjcf(brax_asset(env))
    import mujoco

    from simlab.envs.locomotion.base import MUJOCO_ITERATIONS

    path = brax_asset(env) if model == "brax" else gym_asset(env)
    # On brax's model: the iteration count the model declares (4 for ant). Brax's mjx pipeline overrides it with
    # 1 iteration and a 4-step line search; one Newton iteration with an exact line search (ours, or MuJoCo C with
    # ls_iterations=50) goes unstable on random-control ants within 2 s, so ours is not run that way.
    iterations = int(mujoco.MjModel.from_xml_path(path).opt.iterations) if model == "brax" else MUJOCO_ITERATIONS
    return physics.load_mjcf(path, solver="mujoco", iterations=iterations)


def ours_sizes(env: str, sizes, args, progress, mesh=None, label: str = "ours", solver: str = "penalty",
               model: str = "brax") -> list[dict] | dict:
    from simlab.engine import physics

    try:
        base = _load_ours(env, solver, model)
    except Exception as err:  # e.g. gymnasium's humanoid (tendons): reported, not fatal
        progress.update(len(sizes))
        return {"error": f"{type(err).__name__}: {err}"}
    substeps = max(1, int(round(CONTROL_DT / float(base.timestep))))
    sys_ = base.replace(timestep=jnp.float32(CONTROL_DT / substeps), substeps=substeps)
    q0 = sys_.qpos0
    if env == "ant":
        q0 = q0.at[7:].set(jnp.array([0.0, 1.0, 0.0, -1.0, 0.0, -1.0, 0.0, 1.0]))
    rows = []
    for n in sizes:
        progress.set_description(f"{label} n={n}")
        steps = steps_for(n, args.steps)
        state = jax.vmap(lambda k: physics.init(sys_, q0, 0.1 * jax.random.normal(k, (sys_.nv,))))(
            jax.random.split(jax.random.PRNGKey(0), n))
        use = mesh_for(n, mesh)
        devices = 1 if use is None else use.devices.size
        chunk = physics.batch_chunk(sys_, devices)
        batched_step = sharded_vmap(lambda s, u: physics.step(sys_, s, u), chunk, use)

        def rollout(state, key, n=n, steps=steps, batched_step=batched_step):
            def body(state, k):
                ctrl = jax.random.uniform(k, (n, sys_.nu), minval=-1.0, maxval=1.0)
                return batched_step(state, ctrl), None
            state, _ = jax.lax.scan(body, state, jax.random.split(key, steps))
            return state, jnp.sum(state.x_pos[:, 1])

        rows.append(harness.time_compiled(rollout, state, jax.random.PRNGKey(1), n, steps, args.repeats))
        rows[-1].update(substeps=substeps, devices=devices, chunk=chunk, solver=solver, model=model)
        if solver == "mujoco":
            rows[-1]["iterations"] = int(sys_.mj.iterations)
        progress.update(1)
    return rows


def _cell(c: dict) -> str:
    if "steps_per_s" not in c:
        return f"{'error':>16}"
    if "compile_s" not in c:  # EnvPool: nothing to compile
        return f"{c['steps_per_s']:>10,.0f}      "
    return f"{c['steps_per_s']:>10,.0f} ({c['compile_s']:>3.0f}s)"


def _rows(rows, n: int) -> list[dict]:
    """A column's rows, or `n` error cells for a column that failed as a whole."""
    return rows if isinstance(rows, list) else [{"error": rows.get("error")}] * n


def _columns(result: dict) -> dict[str, list[dict]]:
    n = len(result["sizes"])
    cols = {}
    for key, name in (("ours", "ours"), ("ours_1dev", "ours-1dev"), ("ours_mujoco", "ours-mujoco"),
                      ("ours_mujoco_v5", "ours-mujoco-v5")):
        if result.get(key) is not None:
            cols[name] = _rows(result[key], n)
    for group, suffix in (("brax", ""), ("brax_batched", "+our-batching")):
        for p, rows in result[group].items():
            cols[f"brax-{p}{suffix}"] = _rows(rows, n)
    if result.get("envpool") is not None:
        cols["envpool"] = _rows(result["envpool"], n)
    if result.get("mjx") is not None:
        cols["mjx"] = _rows(result["mjx"], n)
    return cols


def _table(result: dict) -> str:
    cols = _columns(result)
    names = list(cols)
    ratio_names = ["ours/best-brax", "ours/best-brax+ob", "ours/mujoco2", "mujoco/brax-mjx", "mujoco/brax-spring",
                   "mujoco-v5/envpool"] + (["mujoco/mjx", "ours/mjx"] if result.get("mjx") is not None else [])
    ratio_keys = ["ours_over_best_brax", "ours_over_best_brax_with_our_batching", "ours_over_mujoco_async2",
                  "ours_mujoco_over_brax_mjx", "ours_mujoco_over_brax_spring", "ours_mujoco_v5_over_envpool"] + (
                     ["ours_mujoco_over_mjx", "ours_over_mjx"] if result.get("mjx") is not None else [])
    lines = ["  ".join([f"{'num_envs':>8}"] + [f"{n:>18}" for n in names]
                       + [f"{'mujoco-1':>10}", f"{'mujoco-async2':>14}"] + [f"{n:>18}" for n in ratio_names])]
    mj = result["mujoco"]
    for i, ratio in enumerate(result["ratios"]):
        cells = [f"{_cell(cols[n][i]):>18}" for n in names]
        lines.append("  ".join([f"{ratio['num_envs']:>8}"] + cells
                               + [f"{mj['single']['steps_per_s']:>10,.0f}", f"{mj['async2']['steps_per_s']:>14,.0f}"]
                               + [f"{ratio[k]:>18.2f}" for k in ratio_keys]))
    lines.append("cells: env-steps/s (jit compile time); control dt 0.05 s everywhere. best-brax: Brax pipelines as "
                 "shipped; best-brax+ob: also Brax given our chunked, sharded batching. ours: penalty contacts; "
                 "ours-mujoco: solver='mujoco' on the same brax model (vs brax-mjx); ours-mujoco-v5: solver='mujoco' "
                 "on gymnasium's model (vs envpool Ant-v5)")
    return "\n".join(lines)


def configure_devices(requested: int) -> int:
    """Declares `requested` CPU devices (0: one per core) before JAX starts; returns the count in effect."""
    from simlab.engine.devices import use_all_cpu_cores

    if requested < 0:
        raise ValueError(f"--devices must be >= 0, got {requested}")
    want = use_all_cpu_cores(requested or None, quiet=True)
    if jax.default_backend() != "cpu":
        return 1
    if want != (requested or want):
        print(f"bench physics: could not declare {requested} CPU devices (JAX had started); using {want}",
              file=sys.stderr)
    return min(requested or want, jax.local_device_count())


def _best(rows_by_name: dict, i: int) -> float:
    rates = [rows[i]["steps_per_s"] for rows in rows_by_name.values()
             if isinstance(rows, list) and "steps_per_s" in rows[i]]
    return max(rates) if rates else float("nan")


def _rate(rows, i: int) -> float:
    """steps/s of row `i` of a column, NaN where it failed or did not run."""
    if isinstance(rows, list) and "steps_per_s" in rows[i]:
        return rows[i]["steps_per_s"]
    return float("nan")


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    solvers = [x for x in args.solvers.split(",") if x]
    if not solvers or set(solvers) - {"penalty", "mujoco"}:
        parser.error(f"--solvers takes a comma list of penalty, mujoco; got {args.solvers!r}")
    args.out = output.prepare_or_report(args, "physics", [f"physics_{args.env}.json", f"physics_{args.env}.png"],
                                        "simlab bench physics")
    if args.out is None:
        return 2
    sizes = harness.parse_int_list("1,64,1024" if args.quick and args.num_envs == DEFAULT_SIZES else args.num_envs)
    if args.quick:
        args.repeats, args.mujoco_budget = 1, min(args.mujoco_budget, 2.0)
        args.steps = args.steps or 8
    pipelines = [p for p in args.pipelines.split(",") if p]
    batched = [p for p in args.brax_batched.split(",") if p]
    unknown = sorted(set(pipelines + batched) - set(BRAX_PIPELINES))
    if unknown:
        raise ValueError(f"unknown Brax pipeline(s) {unknown}; choose from {list(BRAX_PIPELINES)}")
    load_before = list(os.getloadavg())
    num_devices = configure_devices(args.devices)
    from simlab.engine.sharding import make_mesh

    mesh = make_mesh(jax.local_devices()[:num_devices]) if num_devices > 1 else None
    ours_columns = 2 * ("penalty" in solvers) + (1 + (args.env == "ant")) * ("mujoco" in solvers)
    total = len(sizes) * (ours_columns + len(pipelines) + len(batched) + (not args.no_envpool) + args.mjx) + 2
    skipped = {"error": "not run (--solvers)"}
    with tqdm(total=total, file=sys.stderr, disable=None) as progress:
        ours, ours_1dev, ours_mujoco, ours_mujoco_v5 = skipped, skipped, skipped, None
        if "penalty" in solvers:
            ours = ours_sizes(args.env, sizes, args, progress, mesh=mesh)
            ours_1dev = ours_sizes(args.env, sizes, args, progress, mesh=None, label="ours-1dev")
        if "mujoco" in solvers:
            ours_mujoco = ours_sizes(args.env, sizes, args, progress, mesh=mesh, label="ours-mujoco", solver="mujoco")
            if args.env == "ant":  # gymnasium's humanoid uses tendons, which the mujoco mode does not load yet
                ours_mujoco_v5 = ours_sizes(args.env, sizes, args, progress, mesh=mesh, label="ours-mujoco-v5",
                                            solver="mujoco", model="v5")
        brax = {p: brax_sizes(args.env, p, sizes, args, progress) for p in pipelines}
        brax_batched = {p: brax_sizes(args.env, p, sizes, args, progress, mesh=mesh, batched=True) for p in batched}
        mjx_rows = mjx_sizes(args.env, sizes, args, progress) if args.mjx else None
        try:
            mujoco = mujoco_gymnasium(args.env, args, progress)
        except Exception as err:  # e.g. gymnasium[mujoco] extras missing: reported, not fatal
            nan = {"steps_per_s": float("nan"), "error": f"{type(err).__name__}: {err}"}
            mujoco = {"single": nan, "async2": dict(nan)}
        # after MuJoCo through gymnasium: EnvPool's thousands of MjData stay mapped until the process ends
        envpool_rows = None if args.no_envpool else envpool_sizes(args.env, sizes, args, progress)
    ratios = []
    for i, n in enumerate(sizes):
        best = _best(brax, i)
        best_batched = max(best, _best(brax_batched, i)) if brax_batched else best
        rate, mj_rate = _rate(ours, i), _rate(ours_mujoco, i)
        ratios.append({"num_envs": n, "best_brax_steps_per_s": best,
                       "ours_over_best_brax": rate / best,
                       "best_brax_with_our_batching_steps_per_s": best_batched,
                       "ours_over_best_brax_with_our_batching": rate / best_batched,
                       "ours_1dev_over_best_brax": _rate(ours_1dev, i) / best,
                       "ours_over_mujoco_single": rate / mujoco["single"]["steps_per_s"],
                       "ours_over_mujoco_async2": rate / mujoco["async2"]["steps_per_s"],
                       "ours_mujoco_over_brax_mjx": mj_rate / _rate(brax.get("mjx"), i),
                       "ours_mujoco_over_brax_spring": mj_rate / _rate(brax.get("spring"), i),
                       "ours_mujoco_v5_over_envpool": _rate(ours_mujoco_v5, i) / _rate(envpool_rows, i),
                       "ours_mujoco_over_mjx": mj_rate / _rate(mjx_rows, i),
                       "ours_over_mjx": rate / _rate(mjx_rows, i)})
    result = {"env": args.env, "control_dt": CONTROL_DT, "machine": harness.machine_info(),
              "note": "all columns measured in this one run; compare within it",
              "cpu_devices": num_devices, "load_average_before": load_before, "sizes": sizes,
              "ours": ours, "ours_1dev": ours_1dev, "ours_mujoco": ours_mujoco, "ours_mujoco_v5": ours_mujoco_v5,
              "brax": brax, "brax_batched": brax_batched, "envpool": envpool_rows, "mjx": mjx_rows,
              "mujoco": mujoco, "ratios": ratios}
    out = Path(args.out)
    harness.write_json(out / f"physics_{args.env}.json", result)
    series = {name: [(r["num_envs"], r["steps_per_s"]) for r in rows if "steps_per_s" in r]
              for name, rows in _columns(result).items()}
    series["mujoco async x2"] = [(n, mujoco["async2"]["steps_per_s"]) for n in sizes]
    series["mujoco 1 proc"] = [(n, mujoco["single"]["steps_per_s"]) for n in sizes]
    harness.plot_lines(out / f"physics_{args.env}.png", series, title=f"{args.env}: env-steps/s (control dt 0.05 s)",
                       xlabel="parallel environments", ylabel="env-steps/s")
    print(json.dumps(result, indent=2) if args.json else _table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
