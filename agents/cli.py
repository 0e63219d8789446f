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
    simlab --help                             (every subcommand and benchmark answers --help too)

Benchmarks and applications write to `--out DIR` (default ./simlab_results/<name>), refuse to replace
existing files without `--overwrite`, and change the tracked bench/results/ only with `--publish`
(bench/output.py).

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
    "sensory_ant": ("bench.sensory_ant", "Ant with shuffled observations: sensory-neuron agent vs its PPO teacher and an MLP"),
    "sensory_pong": ("bench.sensory_pong", "puzzle Pong: the pixel sensory agent vs fraction of patches shown"),
    "manipulation": ("bench.manipulation", "PPO success on grasp, fetch and ur5e against a random policy"),
    "locomotion": ("bench.locomotion", "PPO on ant, halfcheetah and reacher against a random policy"),
    "train": ("bench.train", "time to return 2000 on Ant: our PPO against Brax's PPO (jax-0.9.2 virtualenv)"),
    "sac_halfcheetah": ("bench.sac_halfcheetah", "SAC on HalfCheetah: return after a wall-clock budget (30 min)"),
    "soak": ("bench.soak", "every single-agent env under random actions (non-finite counts) and RSS during PPO"),
    "transfer": ("bench.transfer", "PPO trained on our ant/halfcheetah/hopper/walker2d, evaluated on gymnasium's MuJoCo v5 envs"),
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


# Subcommands with their own argparse parser: `simlab NAME ARGS...` calls `module.main(ARGS)` with every
# argument after NAME untouched (including `--help`), so each answers its own `--help`.
APPLICATIONS = {
    "recsim": ("recsim.cli", "recommender-ecosystem simulations"),
    "rendezvous": ("agents.hpp.cli", "multi-agent rendezvous with HPP"),
    "sensory": ("agents.sensory.cli", "permutation-invariant sensory-neuron agents"),
}


def _run_module(module_name: str, argv: list[str], label: str) -> int:
    """Imports `module_name` and returns `module.main(argv)` as an exit status."""
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        print(f"simlab {label}: not available in this installation ({err})", file=sys.stderr)
        return 2
    return int(module.main(list(argv)) or 0)


def _cmd_bench(args) -> int:
    module_name, _ = BENCHMARKS[args.benchmark]
    return _run_module(module_name, args.rest, f"bench {args.benchmark}")


def _cmd_forward(module_name: str, label: str):
    def run(args) -> int:
        return _run_module(module_name, args.rest, label)

    return run


def _forwarded(argv: list[str]) -> tuple[str, list[str], str] | None:
    """`(module, remaining argv, label)` when `argv` names an application or a benchmark, else None.

    argparse cannot hand an argument list that starts with an option (`simlab recsim --help`,
    `simlab bench steps --help`) to a sub-parser unparsed, so these are routed before parsing.
    """
    if argv and argv[0] in APPLICATIONS:
        return APPLICATIONS[argv[0]][0], argv[1:], argv[0]
    if len(argv) >= 2 and argv[0] == "bench" and argv[1] in BENCHMARKS:
        return BENCHMARKS[argv[1]][0], argv[2:], f"bench {argv[1]}"
    return None


def build_parser() -> argparse.ArgumentParser:
    """The top-level `simlab` parser (applications and benchmarks are listed; their own parsers answer)."""
    parser = argparse.ArgumentParser(
        prog="simlab",
        description="simlab: branch-free JAX simulation (physics and recommender ecosystems) with in-process RL.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p_envs = sub.add_parser("envs", help="list registered environments with observation/action sizes")
    p_envs.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    p_envs.set_defaults(func=_cmd_envs)

    p_bench = sub.add_parser("bench", help="run a benchmark (writes OUT/<name>.json and .png; default "
                                                  "OUT: ./simlab_results/<benchmark>; --publish: bench/results)",
                             description="Benchmarks: " + "; ".join(f"{k}: {v[1]}" for k, v in BENCHMARKS.items()))
    p_bench.add_argument("benchmark", choices=sorted(BENCHMARKS), help="which benchmark")
    p_bench.add_argument("rest", nargs=argparse.REMAINDER, help="arguments for the benchmark (see `simlab bench NAME --help`)")
    p_bench.set_defaults(func=_cmd_bench)

    from agents.cli_train import add_eval_parser, add_train_parser

    add_train_parser(sub)
    add_eval_parser(sub)

    from agents.cli_render import add_render_parser

    add_render_parser(sub)

    for name, (module_name, text) in APPLICATIONS.items():
        p_app = sub.add_parser(name, help=f"{text} (see `simlab {name} --help`)", add_help=False)
        p_app.add_argument("rest", nargs=argparse.REMAINDER)
        p_app.set_defaults(func=_cmd_forward(module_name, name))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs `simlab ARGV...` and returns the exit status (argparse exits with 0 on `--help`, 2 on bad usage)."""
    from engine.cache import enable_compilation_cache

    argv = list(sys.argv[1:] if argv is None else argv)
    forwarded = _forwarded(argv)
    if forwarded is not None:
        module_name, rest, label = forwarded
        enable_compilation_cache()
        return _run_module(module_name, rest, label)
    args = build_parser().parse_args(argv)
    enable_compilation_cache()
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
