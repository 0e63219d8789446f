"""Benchmarks: one script per performance claim, each run against its anchor in the same process.

They live in the source checkout, not in the installed package: `simlab bench NAME ...` (from the
checkout's root) or `python -m bench.NAME ...` runs one. `BENCHMARKS` is their table; `main` is what
`simlab bench` forwards to.
"""
from __future__ import annotations

import argparse
import importlib

BENCHMARKS = {
    "steps": ("bench.steps", "env-steps/s of envs.make's default path vs batch size, against Brax's envs, EnvPool, "
              "gymnasium and gymnax"),
    "physics": ("bench.physics", "Ant/Humanoid physics throughput against Brax and MuJoCo"),
    "recsim": ("bench.recsim", "recommender-ecosystem user-steps/s"),
    "apg_vs_ppo": ("bench.apg_vs_ppo", "sample efficiency of analytic policy gradients vs PPO"),
    "sensory": ("bench.sensory", "sensory-neuron vs MLP agents on shuffled and noisy observations"),
    "sensory_ant": ("bench.sensory_ant", "Ant with shuffled observations: sensory-neuron agent vs its PPO teacher and an MLP"),
    "sensory_pong": ("bench.sensory_pong", "puzzle Pong: the pixel sensory agent vs fraction of patches shown"),
    "manipulation": ("bench.manipulation", "PPO success on grasp, fetch and ur5e against a random policy"),
    "locomotion": ("bench.locomotion", "PPO on ant, halfcheetah and reacher against a random policy"),
    "train": ("bench.train", "time to return 2000 on Ant: our PPO against Brax's PPO (jax-0.9.2 virtualenv)"),
    "sac_halfcheetah": ("bench.sac_halfcheetah", "SAC on HalfCheetah: return after a wall-clock budget (30 min)"),
    "soak": ("bench.soak", "every single-agent env under random actions (non-finite counts) and RSS during PPO"),
    "solver_floor": ("bench.solver_floor", "Ant-v5 in the mujoco mode with 0/1/6 Newton iterations against EnvPool (issue 17's floor)"),
    "transfer": ("bench.transfer", "PPO trained on our ant/halfcheetah/hopper/walker2d, evaluated on gymnasium's MuJoCo v5 envs"),
    "ibc": ("bench.ibc", "implicit BC on the N-D particle: success against N for EBM (Langevin, DFO), MSE and MDN"),
}


def build_parser() -> argparse.ArgumentParser:
    """`simlab bench BENCHMARK ...`: the benchmark is chosen here; its own parser reads the rest."""
    parser = argparse.ArgumentParser(
        prog="simlab bench", description="Benchmarks (writes OUT/<name>.json and .png; default OUT: "
        "./simlab_results/<benchmark>; --publish: bench/results). " + "; ".join(
            f"{k}: {v[1]}" for k, v in BENCHMARKS.items()))
    parser.add_argument("benchmark", choices=sorted(BENCHMARKS), help="which benchmark")
    parser.add_argument("rest", nargs=argparse.REMAINDER, help="arguments for the benchmark (see "
                                                               "`simlab bench NAME --help`)")
    return parser


def main(argv: list[str]) -> int:
    """Runs `simlab bench ARGV...` and returns the exit status."""
    argv = list(argv)
    if argv and argv[0] in BENCHMARKS:  # forwarded untouched, so `simlab bench steps --help` reaches bench.steps
        return int(importlib.import_module(BENCHMARKS[argv[0]][0]).main(argv[1:]) or 0)
    args = build_parser().parse_args(argv)
    return int(importlib.import_module(BENCHMARKS[args.benchmark][0]).main(args.rest) or 0)
