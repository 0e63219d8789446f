"""How fast the mujoco mode can get on gymnasium's Ant-v5 without its constraint solve, against EnvPool, in one run.

    python -m bench.solver_floor --num-envs 1024        (also `simlab bench solver_floor`)

Steps our `solver="mujoco"` model of gymnasium's `ant.xml` (RK4, 5 substeps per 0.05 s control step, random
controls, one CPU device per core, 20-step scans, best of `--repeats`) with the Newton solver's fixed iteration
count set to each of `--iterations` (default 0, 1 and the shipped 6; 0 keeps kinematics, smooth dynamics,
collision, the constraint rows and the four RK4 stages, and skips the solve), and EnvPool's `Ant-v5` (MuJoCo C,
one thread per core) at the same batch size. The 0-iteration row is a floor on the cost of our step: issue 17's
"3x EnvPool" bar needs the whole step to run 3x faster than EnvPool, which this shows the step without any solve
does not reach. Writes OUT/solver_floor.json and .png (default ./simlab_results/solver_floor).
"""
from __future__ import annotations

import argparse
import sys

import jax
import jax.numpy as jnp
from tqdm import tqdm

from bench import harness, output
from bench.physics import configure_devices
from bench.physics_anchors import CONTROL_DT, envpool_sizes, gym_asset
from simlab.engine import physics
from simlab.engine.batching import sharded_vmap
from simlab.engine.sharding import make_mesh

NAME = "solver_floor"
STEPS = 20


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="simlab bench solver_floor", description=__doc__.split("\n")[0])
    parser.add_argument("--num-envs", type=harness.positive_int, default=1024)
    parser.add_argument("--iterations", type=lambda text: harness.parse_int_list(text, minimum=0), default=[0, 1, 6],
                        help="Newton iterations to measure (comma list, 0 allowed; default 0,1,6)")
    parser.add_argument("--repeats", type=harness.positive_int, default=3)
    parser.add_argument("--mujoco-budget", type=float, default=10.0, help="seconds of EnvPool stepping")
    output.add_output_arguments(parser, NAME)
    return parser


def ours(num_envs: int, iterations: int, repeats: int) -> dict:
    """env-steps/s of the v5 ant in the mujoco mode with `iterations` Newton iterations, on every core."""
    base = physics.load_mjcf(gym_asset("ant"), solver="mujoco", iterations=max(iterations, 1))
    substeps = int(round(CONTROL_DT / float(base.timestep)))
    sys_ = base.replace(substeps=substeps, mj=base.mj.replace(iterations=iterations))
    q0 = sys_.qpos0.at[7:].set(jnp.array([0.0, 1.0, 0.0, -1.0, 0.0, -1.0, 0.0, 1.0]))
    state = jax.vmap(lambda k: physics.init(sys_, q0, 0.1 * jax.random.normal(k, (sys_.nv,))))(
        jax.random.split(jax.random.key(0), num_envs))
    mesh = make_mesh()
    step = sharded_vmap(lambda s, u: physics.step(sys_, s, u), physics.batch_chunk(sys_, mesh.devices.size), mesh)

    def rollout(state, key):
        def body(state, k):
            return step(state, jax.random.uniform(k, (num_envs, sys_.nu), minval=-1.0, maxval=1.0)), None
        state, _ = jax.lax.scan(body, state, jax.random.split(key, STEPS))
        return state, jnp.sum(state.x_pos[:, 1])

    # Without any Newton iteration no constraint force acts: the ants fall through the floor and their state may
    # overflow. The arithmetic (NaN or not) costs the same, so that row is timed without the finiteness check.
    row = harness.time_compiled(rollout, state, jax.random.key(1), num_envs, STEPS, repeats,
                                check_finite=iterations > 0)
    row.update(iterations=iterations, substeps=substeps, devices=int(mesh.devices.size))
    return row


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = output.prepare_or_report(args, NAME, [f"{NAME}.json", f"{NAME}.png"], f"simlab bench {NAME}")
    if out is None:
        return 2
    configure_devices(0)  # one CPU device per core, before JAX starts
    progress = tqdm(total=len(args.iterations) + 1, file=sys.stderr)
    rows = []
    for iterations in args.iterations:
        progress.set_description(f"ours iterations={iterations}")
        rows.append(ours(args.num_envs, iterations, args.repeats))
        progress.update(1)
    envpool = envpool_sizes("ant", [args.num_envs], args, progress)
    progress.close()
    anchor = envpool[0]["steps_per_s"] if isinstance(envpool, list) else None
    for row in rows:
        row["over_envpool"] = row["steps_per_s"] / anchor if anchor else None
    result = {"num_envs": args.num_envs, "ours_mujoco_v5": rows, "envpool": envpool, "machine": harness.machine_info()}
    print(f"{'Newton iterations':>18} {'ours env-steps/s':>17} {'/ EnvPool':>10}")
    for row in rows:
        ratio = f"{row['over_envpool']:.2f}" if row["over_envpool"] else "n/a"
        print(f"{row['iterations']:>18} {row['steps_per_s']:>17,.0f} {ratio:>10}")
    print(f"{'EnvPool Ant-v5':>18} {anchor or float('nan'):>17,.0f}")
    series = {"ours (mujoco mode, v5 ant)": [(max(r["iterations"], 0.5), r["steps_per_s"]) for r in rows]}
    if anchor:
        series["EnvPool Ant-v5"] = [(max(r["iterations"], 0.5), anchor) for r in rows]
        series["3x EnvPool (issue 17's bar)"] = [(max(r["iterations"], 0.5), 3 * anchor) for r in rows]
    harness.write_json(out / f"{NAME}.json", result)
    harness.plot_lines(out / f"{NAME}.png", series, title=f"Ant-v5 at {args.num_envs} envs: the step without its solve",
                       xlabel="Newton iterations (0 plotted at 0.5)", ylabel="env-steps/s", logx=True, logy=True)
    print(f"wrote {out / (NAME + '.json')} and {out / (NAME + '.png')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
