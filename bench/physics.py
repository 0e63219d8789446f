"""Rigid-body throughput: our engine against every Brax pipeline and MuJoCo C, in one run.

    python -m bench.physics --env ant --num-envs 1,64,1024,4096,8192
    simlab bench physics --env ant --num-envs 4096 --json

Measured per batch size, all at a 0.05 s control period on the same MJCF model
(brax's `envs/assets/<env>.xml`):
  * ours: `jit(lax.scan(chunked_vmap(engine.physics.step, BATCH_CHUNK)))` with uniform random controls;
  * Brax 0.14 environments for each pipeline (spring, positional, generalized, mjx),
    `n_frames` set so that `env.dt == 0.05`, stepped the same way;
  * MuJoCo C through gymnasium `Ant-v5`/`Humanoid-v5` (frame_skip giving 0.05 s), single
    process and `make_vec(..., vectorization_mode="async")` with 2 workers (batch-size independent).
Compile time of each fused rollout is recorded. Writes `<out>/physics_<env>.json` and `.png`;
`--json` prints the JSON. Timings on a shared machine are noisy: compare within one run.
"""
from __future__ import annotations

import argparse
import importlib.resources
import json
import os
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from tqdm import tqdm

from bench import harness
from engine.batching import chunked_vmap

CONTROL_DT = 0.05
BRAX_PIPELINES = ("spring", "positional", "generalized", "mjx")
GYM_IDS = {"ant": "Ant-v5", "humanoid": "Humanoid-v5"}
DEFAULT_SIZES = "1,64,1024,4096,8192"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="simlab bench physics", description=__doc__.split("\n")[0])
    parser.add_argument("--env", choices=sorted(GYM_IDS), default="ant")
    parser.add_argument("--num-envs", default=DEFAULT_SIZES, help=f"comma-separated batch sizes (default {DEFAULT_SIZES})")
    parser.add_argument("--steps", type=int, default=0, help="control steps per timed call (default: by batch size)")
    parser.add_argument("--repeats", type=int, default=2, help="timed repeats; the best is reported")
    parser.add_argument("--pipelines", default=",".join(BRAX_PIPELINES), help="Brax pipelines to run (comma list)")
    parser.add_argument("--mujoco-budget", type=float, default=5.0, help="seconds per MuJoCo C measurement")
    parser.add_argument("--quick", action="store_true", help="sizes 1,64,1024, short calls, one repeat")
    parser.add_argument("--out", type=Path, default=harness.RESULTS_DIR, help="directory for JSON and PNG")
    parser.add_argument("--json", action="store_true", help="print the result JSON to stdout")
    return parser


def _asset(env: str) -> str:
    return os.fspath(importlib.resources.files("brax") / "envs" / "assets" / f"{env}.xml")


def _steps_for(num_envs: int, override: int) -> int:
    return override if override > 0 else int(np.clip(2 ** 15 // num_envs, 4, 200))


def ours_sizes(env: str, sizes, args, progress) -> list[dict]:
    from engine import physics

    base = physics.load_mjcf(_asset(env))
    substeps = max(1, int(round(CONTROL_DT / float(base.timestep))))
    sys_ = base.replace(timestep=jnp.float32(CONTROL_DT / substeps), substeps=substeps)
    q0 = sys_.qpos0
    if env == "ant":
        q0 = q0.at[7:].set(jnp.array([0.0, 1.0, 0.0, -1.0, 0.0, -1.0, 0.0, 1.0]))
    rows = []
    for n in sizes:
        progress.set_description(f"ours n={n}")
        steps = _steps_for(n, args.steps)
        state = jax.vmap(lambda k: physics.init(sys_, q0, 0.1 * jax.random.normal(k, (sys_.nv,))))(
            jax.random.split(jax.random.PRNGKey(0), n))

        def rollout(state, key, n=n, steps=steps):
            def body(state, k):
                ctrl = jax.random.uniform(k, (n, sys_.nu), minval=-1.0, maxval=1.0)
                return chunked_vmap(lambda s, u: physics.step(sys_, s, u), physics.BATCH_CHUNK)(state, ctrl), None
            state, _ = jax.lax.scan(body, state, jax.random.split(key, steps))
            return state, jnp.sum(state.x_pos[:, 1])

        rows.append(harness.time_compiled(rollout, state, jax.random.PRNGKey(1), n, steps, args.repeats))
        rows[-1]["substeps"] = substeps
        progress.update(1)
    return rows


def brax_sizes(env: str, pipeline: str, sizes, args, progress) -> list[dict] | dict:
    try:
        from brax import envs as brax_envs

        probe = brax_envs.get_environment(env, backend=pipeline)
        n_frames = max(1, int(round(CONTROL_DT / float(probe.sys.opt.timestep))))
        benv = brax_envs.get_environment(env, backend=pipeline, n_frames=n_frames)
    except Exception as err:  # a pipeline that cannot even build is reported, not fatal
        progress.update(len(sizes))
        return {"error": f"{type(err).__name__}: {err}"}
    rows = []
    for n in sizes:
        progress.set_description(f"brax-{pipeline} n={n}")
        steps = _steps_for(n, args.steps)
        try:
            state = jax.jit(jax.vmap(benv.reset))(jax.random.split(jax.random.PRNGKey(0), n))

            def rollout(state, key, n=n, steps=steps):
                def body(state, k):
                    action = jax.random.uniform(k, (n, benv.action_size), minval=-1.0, maxval=1.0)
                    return jax.vmap(benv.step)(state, action), None
                state, _ = jax.lax.scan(body, state, jax.random.split(key, steps))
                return state, jnp.sum(state.obs)

            row = harness.time_compiled(rollout, state, jax.random.PRNGKey(1), n, steps, args.repeats)
            row["dt"] = float(benv.dt)
            rows.append(row)
        except Exception as err:
            rows.append({"num_envs": n, "error": f"{type(err).__name__}: {err}"})
        progress.update(1)
    return rows


def mujoco_gymnasium(env: str, args, progress) -> dict:
    import gymnasium

    gym_id = GYM_IDS[env]
    timestep = 0.01 if env == "ant" else 0.003
    kwargs = {"frame_skip": int(round(CONTROL_DT / timestep))}
    out = {}
    progress.set_description(f"mujoco {gym_id} 1 process")
    single = gymnasium.make(gym_id, **kwargs)
    single.reset(seed=0)
    space = single.action_space
    space.seed(0)

    def step_single():
        *_, terminated, truncated, _ = single.step(space.sample())
        if terminated or truncated:
            single.reset()

    out["single"] = harness.time_python_loop(step_single, 1, 10 ** 7, args.mujoco_budget)
    single.close()
    progress.update(1)
    progress.set_description(f"mujoco {gym_id} async x2")
    vec = gymnasium.make_vec(gym_id, num_envs=2, vectorization_mode="async", **kwargs)
    vec.reset(seed=0)
    vspace = vec.action_space
    vspace.seed(0)
    out["async2"] = harness.time_python_loop(lambda: vec.step(vspace.sample()), 2, 10 ** 7, args.mujoco_budget)
    vec.close()
    progress.update(1)
    out["dt"] = kwargs["frame_skip"] * timestep
    return out


def _table(result: dict) -> str:
    sizes = [r["num_envs"] for r in result["ours"]]
    names = ["ours"] + [f"brax-{p}" for p in result["brax"]]
    lines = [f"{'num_envs':>8} " + " ".join(f"{n:>16}" for n in names) + f" {'mujoco-1':>10} {'mujoco-async2':>14}"
             + f" {'ours/best-brax':>15} {'ours/mujoco2':>13}"]
    mj = result["mujoco"]
    for i, n in enumerate(sizes):
        cells = [result["ours"][i]]
        for p in result["brax"]:
            rows = result["brax"][p]
            cells.append(rows[i] if isinstance(rows, list) else {"error": rows.get("error")})
        text = []
        for c in cells:
            text.append(f"{c['steps_per_s']:>10,.0f} ({c['compile_s']:>3.0f}s)" if "steps_per_s" in c else f"{'error':>16}")
        ratio = result["ratios"][i]
        lines.append(f"{n:>8} " + " ".join(f"{t:>16}" for t in text)
                     + f" {mj['single']['steps_per_s']:>10,.0f} {mj['async2']['steps_per_s']:>14,.0f}"
                     + f" {ratio['ours_over_best_brax']:>15.2f} {ratio['ours_over_mujoco_async2']:>13.2f}")
    lines.append("cells: env-steps/s (jit compile time); control dt 0.05 s everywhere")
    return "\n".join(lines)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    sizes = harness.parse_int_list("1,64,1024" if args.quick and args.num_envs == DEFAULT_SIZES else args.num_envs)
    if args.quick:
        args.repeats, args.mujoco_budget = 1, min(args.mujoco_budget, 2.0)
        args.steps = args.steps or 8
    pipelines = [p for p in args.pipelines.split(",") if p]
    unknown = sorted(set(pipelines) - set(BRAX_PIPELINES))
    if unknown:
        raise ValueError(f"unknown Brax pipeline(s) {unknown}; choose from {list(BRAX_PIPELINES)}")
    total = len(sizes) * (1 + len(pipelines)) + 2
    with tqdm(total=total, file=sys.stderr, disable=None) as progress:
        ours = ours_sizes(args.env, sizes, args, progress)
        brax = {p: brax_sizes(args.env, p, sizes, args, progress) for p in pipelines}
        try:
            mujoco = mujoco_gymnasium(args.env, args, progress)
        except Exception as err:  # e.g. gymnasium[mujoco] extras missing: reported, not fatal
            nan = {"steps_per_s": float("nan"), "error": f"{type(err).__name__}: {err}"}
            mujoco = {"single": nan, "async2": dict(nan)}
    ratios = []
    for i, row in enumerate(ours):
        brax_rates = [rows[i]["steps_per_s"] for rows in brax.values()
                      if isinstance(rows, list) and "steps_per_s" in rows[i]]
        best = max(brax_rates) if brax_rates else float("nan")
        ratios.append({"num_envs": row["num_envs"], "best_brax_steps_per_s": best,
                       "ours_over_best_brax": row["steps_per_s"] / best,
                       "ours_over_mujoco_single": row["steps_per_s"] / mujoco["single"]["steps_per_s"],
                       "ours_over_mujoco_async2": row["steps_per_s"] / mujoco["async2"]["steps_per_s"]})
    result = {"env": args.env, "control_dt": CONTROL_DT, "machine": harness.machine_info(),
              "note": "all columns measured in this one run; compare within it",
              "load_average_before": list(os.getloadavg()),
              "ours": ours, "brax": brax, "mujoco": mujoco, "ratios": ratios}
    out = Path(args.out)
    harness.write_json(out / f"physics_{args.env}.json", result)
    series = {"ours": [(r["num_envs"], r["steps_per_s"]) for r in ours]}
    for p, rows in brax.items():
        if isinstance(rows, list):
            series[f"brax-{p}"] = [(r["num_envs"], r["steps_per_s"]) for r in rows if "steps_per_s" in r]
    series["mujoco async x2"] = [(n, mujoco["async2"]["steps_per_s"]) for n in sizes]
    series["mujoco 1 proc"] = [(n, mujoco["single"]["steps_per_s"]) for n in sizes]
    harness.plot_lines(out / f"physics_{args.env}.png", series, title=f"{args.env}: env-steps/s (control dt 0.05 s)",
                       xlabel="parallel environments", ylabel="env-steps/s")
    print(json.dumps(result, indent=2) if args.json else _table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
