"""The `simlab` command-line tool.

    simlab envs [--json]                      list environments with their sizes
    simlab train ENV --agent ppo ...          train in-process; metrics.csv, checkpoints, plot
    simlab eval ENV --checkpoint DIR          evaluate a trained run
    simlab render ENV --out FILE.gif          render a rollout (random, or --checkpoint DIR) to png/gif/mp4
    simlab bench steps --env NAME ...         env-steps/s vs batch size (bench/steps.py)
    simlab bench physics --env ant ...        physics throughput vs Brax/MuJoCo (bench/physics.py)
    simlab bench train                        time to return on Ant vs Brax's PPO (bench/train.py)
    simlab bench sac_halfcheetah              SAC on HalfCheetah, return after 30 min
    simlab recsim | rendezvous | sensory ...  applications (each has its own --help)
    simlab --help

Subcommands that belong to other layers are looked up lazily, so `simlab envs`
does not import (or compile) anything it does not need.
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys

BENCHMARKS = {
    "steps": ("bench.steps", "env-steps/s vs number of environments, against gymnasium's JAX vector env"),
    "physics": ("bench.physics", "Ant/Humanoid physics throughput against Brax and MuJoCo"),
    "recsim": ("bench.recsim", "recommender-ecosystem user-steps/s"),
    "apg_vs_ppo": ("bench.apg_vs_ppo", "sample efficiency of analytic policy gradients vs PPO"),
    "sensory": ("bench.sensory", "sensory-neuron vs MLP agents on shuffled and noisy observations"),
    "sensory_pong": ("bench.sensory_pong", "puzzle Pong: the pixel sensory agent vs fraction of patches shown"),
    "manipulation": ("bench.manipulation", "PPO success on grasp, fetch and ur5e against a random policy"),
    "locomotion": ("bench.locomotion", "PPO on ant, halfcheetah and reacher against a random policy"),
    "train": ("bench.train", "time to return 2000 on Ant: our PPO against Brax's PPO (jax-0.9.2 virtualenv)"),
    "sac_halfcheetah": ("bench.sac_halfcheetah", "SAC on HalfCheetah: return after a wall-clock budget (30 min)"),
}


def _cmd_envs(args) -> int:
    import envs

    rows = []
    for name in envs.names():
        entry = envs.entry(name)
        env = envs.make(name)
        rows.append({"name": name, "gym_id": entry.gym_id if entry.gym else None,
                     "observation_shape": list(env.observation_spec.shape), "observation_size": env.observation_size,
                     "action_size": env.action_size, "action": type(env.action_spec).__name__.replace("Spec", ""),
                     "episode_length": env.default_episode_length, "dt": env.dt, "description": entry.description})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    header = f"{'name':<22} {'gymnasium id':<32} {'obs':>6} {'act':>5} {'kind':<9} {'steps':>6}  description"
    print(header)
    print("-" * len(header))
    for r in rows:
        obs = "x".join(str(d) for d in r["observation_shape"])
        print(f"{r['name']:<22} {r['gym_id'] or '- (multi-agent)':<32} {obs:>6} {r['action_size']:>5} "
              f"{r['action']:<9} {r['episode_length'] or '-':>6}  {r['description']}")
    return 0


def _cmd_bench(args) -> int:
    module_name, _ = BENCHMARKS[args.benchmark]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        print(f"simlab bench {args.benchmark}: not available in this installation ({err})", file=sys.stderr)
        return 2
    return int(module.main(args.rest) or 0)


def _cmd_forward(module_name: str):
    def run(args) -> int:
        module = importlib.import_module(module_name)
        return int(module.main(args.rest) or 0)

    return run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="simlab",
        description="simlab: branch-free JAX simulation (physics and recommender ecosystems) with in-process RL.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p_envs = sub.add_parser("envs", help="list registered environments with observation/action sizes")
    p_envs.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    p_envs.set_defaults(func=_cmd_envs)

    p_bench = sub.add_parser("bench", help="run a benchmark (writes bench/results/<name>.json and .png)",
                             description="Benchmarks: " + "; ".join(f"{k}: {v[1]}" for k, v in BENCHMARKS.items()))
    p_bench.add_argument("benchmark", choices=sorted(BENCHMARKS), help="which benchmark")
    p_bench.add_argument("rest", nargs=argparse.REMAINDER, help="arguments for the benchmark (see `simlab bench NAME --help`)")
    p_bench.set_defaults(func=_cmd_bench)

    from agents.cli_train import add_eval_parser, add_train_parser

    add_train_parser(sub)
    add_eval_parser(sub)

    from agents.cli_render import add_render_parser

    add_render_parser(sub)

    p_recsim = sub.add_parser("recsim", help="recommender-ecosystem simulations (see `simlab recsim --help`)",
                              add_help=False)
    p_recsim.add_argument("rest", nargs=argparse.REMAINDER)
    p_recsim.set_defaults(func=_cmd_forward("recsim.cli"))

    p_rdv = sub.add_parser("rendezvous", help="multi-agent rendezvous with HPP (see `simlab rendezvous --help`)",
                           add_help=False)
    p_rdv.add_argument("rest", nargs=argparse.REMAINDER)
    p_rdv.set_defaults(func=_cmd_forward("agents.hpp.cli"))

    p_sensory = sub.add_parser("sensory", help="permutation-invariant sensory-neuron agents (see `simlab sensory --help`)",
                               add_help=False)
    p_sensory.add_argument("rest", nargs=argparse.REMAINDER)
    p_sensory.set_defaults(func=_cmd_forward("agents.sensory.cli"))
    return parser


def main(argv: list[str] | None = None) -> int:
    from engine.cache import enable_compilation_cache

    args = build_parser().parse_args(argv)
    enable_compilation_cache()
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
