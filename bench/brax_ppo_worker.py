"""Brax's own PPO on Brax's spring Ant, the anchor of `bench/train.py`; run it under a Brax-capable Python.

    ~/.cache/simlab/brax-jax092/bin/python bench/brax_ppo_worker.py --curve ant_brax.jsonl --minutes 17

Brax 0.14's trainers need an older JAX than simlab's (`jax.device_put_replicated` was removed in
jax 0.10), so `bench/train.py` runs this file in a separate virtualenv with jax 0.9.2 and brax 0.14.2.
It imports nothing from simlab. The hyperparameters are those of Brax's training notebook for Ant
(`brax.training.agents.ppo.train` as shipped, one JAX device: XLA's intra-op threads use the cores).

Every evaluation Brax reports appends one JSON line to `--curve` at once (flushed), so a run
stopped from outside keeps its curve:

    {"wall_s": 412.3, "env_steps": 5242880, "eval_return": 1433.2, "eval_return_std": 210.0}

`wall_s` counts from the start of this process (interpreter start-up, imports and XLA compilation
included). The first line is a header `{"header": {...versions, settings...}}`. With `--minutes`
the worker exits cleanly at the first evaluation after the budget (Brax's jitted training epochs
cannot be interrupted, so the parent also enforces the budget with a subprocess timeout).
"""
import time

WORKER_START = time.perf_counter()  # before the heavy imports: they count as part of Brax's time

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

# The Ant settings of Brax's training notebook.
NOTEBOOK_ANT = dict(num_timesteps=50_000_000, reward_scaling=10, episode_length=1000, normalize_observations=True,
                    action_repeat=1, unroll_length=5, num_minibatches=32, num_updates_per_batch=4,
                    discounting=0.97, learning_rate=3e-4, entropy_cost=1e-2, num_envs=4096, batch_size=2048,
                    seed=1)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Brax PPO on Brax's spring Ant, curve written as JSON lines")
    p.add_argument("--curve", required=True, help="JSON-lines file to append the evaluation curve to")
    p.add_argument("--minutes", type=float, default=None, help="stop at the first evaluation after this budget")
    p.add_argument("--num-evals", type=int, default=40, help="evaluations over num_timesteps (notebook: 10)")
    p.add_argument("--num-timesteps", type=int, default=NOTEBOOK_ANT["num_timesteps"])
    p.add_argument("--num-envs", type=int, default=NOTEBOOK_ANT["num_envs"], help="(smaller only for smoke tests)")
    p.add_argument("--batch-size", type=int, default=NOTEBOOK_ANT["batch_size"], help="(smaller only for smoke tests)")
    p.add_argument("--episode-length", type=int, default=NOTEBOOK_ANT["episode_length"])
    return p


def _append(path: str, record: dict) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")
        f.flush()
        os.fsync(f.fileno())


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.minutes is not None and args.minutes <= 0:
        raise SystemExit(f"--minutes must be positive, got {args.minutes}")
    if args.num_evals < 2:
        raise SystemExit(f"--num-evals must be at least 2, got {args.num_evals}")
    import jax
    import brax
    from brax import envs
    from brax.training.agents.ppo import train as ppo

    settings = dict(NOTEBOOK_ANT, num_timesteps=args.num_timesteps, num_envs=args.num_envs,
                    batch_size=args.batch_size, episode_length=args.episode_length, num_evals=args.num_evals)
    open(args.curve, "w").close()
    _append(args.curve, {"header": {
        "python": sys.version.split()[0], "jax": jax.__version__, "brax": getattr(brax, "__version__", "?"),
        "backend": jax.default_backend(), "devices": [str(d) for d in jax.devices()],
        "env": "brax ant, backend=spring", "trainer": "brax.training.agents.ppo.train", "settings": settings,
        "import_s": time.perf_counter() - WORKER_START}})
    budget_s = None if args.minutes is None else 60.0 * args.minutes

    def progress(num_steps, metrics):
        wall = time.perf_counter() - WORKER_START
        _append(args.curve, {"wall_s": wall, "env_steps": int(num_steps),
                             "eval_return": float(metrics["eval/episode_reward"]),
                             "eval_return_std": float(metrics.get("eval/episode_reward_std", float("nan")))})
        print(f"brax ppo: {int(num_steps):>10,} steps  {wall:7.1f} s  eval return "
              f"{float(metrics['eval/episode_reward']):8.1f}", flush=True)
        if budget_s is not None and wall >= budget_s:
            os._exit(0)  # the curve is on disk; nothing else to keep

    env = envs.get_environment("ant", backend="spring")
    ppo.train(environment=env, progress_fn=progress, **settings)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
