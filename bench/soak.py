"""Soak test: every single-agent environment under random actions, and the memory of a long PPO run.

    python -m bench.soak                                   (also: simlab bench soak)
    simlab bench soak --steps 100000 --ppo-minutes 2 --rss-interval 10 --warmup-minutes 0.5

Two parts, in one process:

1. For every registered single-agent environment (`envs.names()` with a gymnasium id; `--envs` to
   choose), `--steps` env steps (default 10M) of uniform-random actions within the action bounds,
   batched (`envs.make(name, num_envs=--num-envs)`, with auto-reset and the default time limit) and
   fused into one jitted `lax.scan` per chunk. Each step counts the environments whose observation,
   reward or simulator state (every floating-point leaf of `state.sim`) is not finite, so a count is
   in env-steps. Every random draw comes from an explicit key derived from `--seed`.
2. PPO (`agents.registry` defaults of `--ppo-env`) trained for `--ppo-minutes` of wall-clock time
   (default 30), nothing written to disk, while a thread samples the process's resident set size
   (VmRSS from /proc/self/status, psutil elsewhere) every `--rss-interval` seconds (default 60). The
   RSS growth after warm-up is `(last - first sample at or after --warmup-minutes) / that sample`.

Writes OUT/soak.json (per-env counts, steps/s and the RSS series) and OUT/soak.png (RSS over time,
non-finite counts per env). OUT is `--out DIR` (default ./simlab_results/soak); `--publish` writes
the tracked bench/results/ instead; existing files are not replaced without `--overwrite`
(bench/output.py). Exits with status 1 when any non-finite value was seen.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench import harness, output

FILES = ["soak.json", "soak.png"]
DEFAULT_STEPS = 10_000_000
DEFAULT_NUM_ENVS = 1024


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="simlab bench soak", description=__doc__.split("\n")[0])
    p.add_argument("--envs", default="all",
                   help="comma-separated environment names, or 'all' (every single-agent environment)")
    p.add_argument("--steps", type=_positive_int, default=DEFAULT_STEPS,
                   help=f"env steps per environment, rounded up to whole chunks (default {DEFAULT_STEPS:,})")
    p.add_argument("--num-envs", type=_positive_int, default=DEFAULT_NUM_ENVS,
                   help=f"environments stepped in parallel (default {DEFAULT_NUM_ENVS})")
    p.add_argument("--steps-per-call", type=_positive_int, default=None,
                   help="batched steps fused into one jitted call (default: about 2**18 env steps per call)")
    p.add_argument("--ppo-env", default="cartpole_swingup", help="environment of the PPO memory run")
    p.add_argument("--ppo-minutes", type=_non_negative_float, default=30.0,
                   help="wall-clock minutes of PPO training while RSS is sampled (0 skips the PPO part)")
    p.add_argument("--rss-interval", type=_positive_float, default=60.0, help="seconds between RSS samples")
    p.add_argument("--warmup-minutes", type=_non_negative_float, default=5.0,
                   help="RSS growth is measured from the first sample at or after this time into the PPO run")
    p.add_argument("--seed", type=int, default=0, help="seed of every random draw")
    output.add_output_arguments(p, "soak")
    p.add_argument("--json", action="store_true", help="print the result JSON to stdout")
    return p


def _positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (accepts 1e6-style notation when it is a whole number)."""
    try:
        value = float(text) if any(c in text for c in ".eE") else int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value != int(value) or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return int(value)


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    value = _float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def _non_negative_float(text: str) -> float:
    """argparse type: a finite number >= 0."""
    value = _float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def single_agent_envs() -> list[str]:
    """Registered environments with a gymnasium id (multi-agent ones such as `rendezvous` have none)."""
    from simlab import envs

    return [n for n in envs.names() if envs.entry(n).gym]


def rss_bytes() -> int:
    """The current resident set size of this process, in bytes."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import psutil

    return int(psutil.Process(os.getpid()).memory_info().rss)


class RssSampler:
    """Samples `rss_bytes()` at start, every `interval_s` seconds, and at `stop()`, in a daemon thread.

    `samples` is a list of `(seconds since start, bytes)`; `on_sample(seconds, bytes)` (optional) is called
    for each, e.g. to update a progress bar.
    """

    def __init__(self, interval_s: float, on_sample=None):
        self.interval_s = interval_s
        self.samples: list[tuple[float, int]] = []
        self._on_sample = on_sample
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._start = 0.0

    def _take(self) -> None:
        t, rss = time.perf_counter() - self._start, rss_bytes()
        self.samples.append((t, rss))
        if self._on_sample is not None:
            self._on_sample(t, rss)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._take()

    def __enter__(self) -> "RssSampler":
        self._start = time.perf_counter()
        self._take()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._take()


def rss_growth(samples: list[tuple[float, int]], warmup_s: float) -> dict[str, Any]:
    """RSS growth after warm-up: from the first sample at or after `warmup_s` to the last sample, and to the
    largest sample after it, in percent of the warm-up sample. None when no sample follows warm-up."""
    after = [(t, r) for t, r in samples if t >= warmup_s]
    if len(after) < 2:
        return {"warmup_sample_s": None, "growth_percent": None, "peak_growth_percent": None}
    base_t, base = after[0]
    return {"warmup_sample_s": base_t, "warmup_rss_mib": base / 2**20,
            "final_rss_mib": after[-1][1] / 2**20,
            "growth_percent": 100.0 * (after[-1][1] - base) / base,
            "peak_growth_percent": 100.0 * (max(r for _, r in after) - base) / base}


def make_soak_chunk(env, num_steps: int):
    """`chunk(state, key) -> (state, counts)`: `num_steps` batched steps of uniform-random actions in one
    `lax.scan`; `counts` holds int32 totals of env-steps with a non-finite `obs`, `reward`, `sim` state,
    and any of them (`any`). Not jitted (the caller jits once)."""
    import jax
    import jax.numpy as jnp

    from simlab import engine

    policy = engine.uniform_policy(env.action_spec)

    def bad_rows(x) -> jax.Array:
        """Per environment: does this batched array hold a non-finite value? (integer leaves never do)"""
        x = jnp.asarray(x)
        if not jnp.issubdtype(x.dtype, jnp.inexact):
            return jnp.zeros(x.shape[:1], jnp.bool_)
        return jnp.any(~jnp.isfinite(x.reshape(x.shape[0], -1)), axis=1)

    def body(carry, key):
        state, counts = carry
        state = env.step(state, policy(state.obs, key))
        obs, reward = bad_rows(state.obs), bad_rows(state.reward.reshape(state.reward.shape[0], -1))
        sim_leaves = [bad_rows(leaf) for leaf in jax.tree_util.tree_leaves(state.sim)]
        sim = jnp.any(jnp.stack(sim_leaves), axis=0) if sim_leaves else jnp.zeros_like(obs)
        step_counts = {"obs": obs, "reward": reward, "sim": sim, "any": obs | reward | sim}
        counts = {k: counts[k] + jnp.sum(v, dtype=jnp.int32) for k, v in step_counts.items()}
        return (state, counts), None

    def chunk(state, key):
        zero = {k: jnp.zeros((), jnp.int32) for k in ("obs", "reward", "sim", "any")}
        (state, counts), _ = jax.lax.scan(body, (state, zero), jax.random.split(key, num_steps))
        return state, counts

    return chunk


def soak_env(name: str, total_steps: int, num_envs: int, steps_per_call: int | None, seed: int, progress) -> dict:
    """Runs `make_soak_chunk` on `envs.make(name, num_envs=num_envs)` until `total_steps` env steps (rounded
    up to whole calls); returns the non-finite counts, the steps run, compile time and steps/s."""
    import jax

    from simlab import envs

    env = envs.make(name, num_envs=num_envs)
    per_call = steps_per_call or max(1, min(1000, 2**18 // num_envs))
    per_call = max(1, min(per_call, -(-total_steps // num_envs)))
    calls = -(-total_steps // (num_envs * per_call))
    key = jax.random.fold_in(jax.random.key(seed), sum(map(ord, name)))
    reset_key, run_key = jax.random.split(key)
    start = time.perf_counter()
    state = jax.jit(env.reset)(reset_key)
    chunk = jax.jit(make_soak_chunk(env, per_call)).lower(state, run_key).compile()
    compile_s = time.perf_counter() - start
    totals = {"obs": 0, "reward": 0, "sim": 0, "any": 0}
    first_bad_call = None
    start = time.perf_counter()
    for i in range(calls):
        state, counts = chunk(state, jax.random.fold_in(run_key, i))
        counts = {k: int(v) for k, v in jax.device_get(counts).items()}
        for k, v in counts.items():
            totals[k] += v
        if counts["any"] and first_bad_call is None:
            first_bad_call = i
        progress.update(num_envs * per_call)
        progress.set_postfix(env=name, nonfinite=totals["any"])
    seconds = time.perf_counter() - start
    steps = calls * per_call * num_envs
    return {"env": name, "steps": steps, "num_envs": num_envs, "steps_per_call": per_call, "calls": calls,
            "nonfinite": totals,
            "first_nonfinite_env_step": None if first_bad_call is None else first_bad_call * per_call * num_envs,
            "compile_s": compile_s, "seconds": seconds, "steps_per_s": steps / seconds if seconds > 0 else None}


def ppo_rss(env_name: str, minutes: float, interval_s: float, warmup_s: float, seed: int) -> dict:
    """Trains PPO on `env_name` for `minutes` of wall-clock time (no files written) while sampling RSS."""
    from tqdm import tqdm

    from simlab.agents.registry import make_agent
    from simlab.agents.train import MAX_STEPS, TrainOptions, train

    agent = make_agent("ppo", env_name)
    bar = tqdm(total=None, desc="RSS samples", unit="sample", file=sys.stderr, leave=False, position=1)

    def show(t: float, rss: int) -> None:
        bar.update(1)
        bar.set_postfix(t_min=f"{t / 60:.1f}", rss_mib=f"{rss / 2**20:.0f}")

    start = time.perf_counter()
    with RssSampler(interval_s, show) as sampler:
        result = train(agent, TrainOptions(total_steps=MAX_STEPS, seed=seed, time_limit_s=minutes * 60,
                                           clock_start=start, progress=True))
    bar.close()
    last = result.history[-1] if result.history else {}
    samples = [{"t_s": t, "rss_mib": r / 2**20} for t, r in sampler.samples]
    return {"env": env_name, "minutes": minutes, "interval_s": interval_s, "warmup_s": warmup_s,
            "env_steps": int(last.get("env_steps", 0)), "iterations": int(last.get("iteration", 0)),
            "final_eval_return": last.get("eval_return"), "samples": samples,
            **rss_growth(sampler.samples, warmup_s)}


def plot(result: dict, path: Path) -> Path:
    """Two panels: RSS over the PPO run, and non-finite env-steps per environment."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_rss, ax_nf) = plt.subplots(1, 2, figsize=(12, 4.5), dpi=120)
    ppo = result.get("ppo")
    if ppo and ppo["samples"]:
        ax_rss.plot([s["t_s"] / 60 for s in ppo["samples"]], [s["rss_mib"] for s in ppo["samples"]], marker="o")
        if ppo.get("warmup_sample_s") is not None:
            ax_rss.axvline(ppo["warmup_sample_s"] / 60, color="gray", ls="--", label="end of warm-up")
            ax_rss.legend(title=f"growth after warm-up {ppo['growth_percent']:+.2f}%")
        ax_rss.set_title(f"RSS during PPO on {ppo['env']} ({ppo['minutes']:g} min)")
    else:
        ax_rss.set_title("RSS (PPO part skipped)")
    ax_rss.set_xlabel("minutes")
    ax_rss.set_ylabel("resident set size (MiB)")
    ax_rss.grid(True, alpha=0.3)
    rows = result["envs"]
    names = [r["env"] for r in rows]
    counts = [r["nonfinite"]["any"] for r in rows]
    bars = ax_nf.bar(range(len(rows)), counts, color=["tab:red" if c else "tab:green" for c in counts])
    for bar, r in zip(bars, rows):
        ax_nf.annotate(f"{r['nonfinite']['any']:,} / {r['steps']:.2g}", (bar.get_x() + bar.get_width() / 2,
                       bar.get_height()), textcoords="offset points", xytext=(0, 3), ha="center", fontsize=6,
                       rotation=90)
    ax_nf.set_xticks(range(len(rows)), names, rotation=60, ha="right", fontsize=8)
    ax_nf.set_ylim(0, max([1, *counts]) * 1.6)
    ax_nf.set_ylabel("env-steps with a non-finite obs, reward or state")
    ax_nf.set_title("Non-finite env-steps under uniform-random actions")
    return harness.save_figure(fig, path)


def run(args: argparse.Namespace) -> dict:
    """Both parts of the soak (see the module docstring); returns the result dict."""
    from tqdm import tqdm

    from simlab import envs

    names = single_agent_envs() if args.envs == "all" else harness.parse_name_list(args.envs)
    for name in names:
        if not envs.entry(name).gym:
            raise ValueError(f"{name} is a multi-agent environment; the soak steps single-agent environments")
    rows = []
    # The bar's total is the requested steps; chunk rounding may add a few.
    with tqdm(total=args.steps * len(names), unit="step", unit_scale=True, file=sys.stderr, desc="soak") as bar:
        for name in names:
            rows.append(soak_env(name, args.steps, args.num_envs, args.steps_per_call, args.seed, bar))
    ppo = (ppo_rss(args.ppo_env, args.ppo_minutes, args.rss_interval, args.warmup_minutes * 60, args.seed)
           if args.ppo_minutes > 0 else None)
    return {"steps_per_env": args.steps, "num_envs": args.num_envs, "seed": args.seed, "envs": rows,
            "total_nonfinite": sum(r["nonfinite"]["any"] for r in rows), "ppo": ppo,
            "machine": harness.machine_info()}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.ppo_minutes > 0 and args.warmup_minutes >= args.ppo_minutes:
        parser.error(f"--warmup-minutes {args.warmup_minutes:g} must be shorter than --ppo-minutes "
                     f"{args.ppo_minutes:g}, or no RSS sample follows the warm-up")
    from simlab import envs

    if args.envs != "all":
        for name in harness.parse_name_list(args.envs) or [""]:
            try:
                entry = envs.entry(name)
            except (KeyError, TypeError) as err:
                parser.error(str(err))
            if not entry.gym:
                parser.error(f"{name} is a multi-agent environment; the soak steps single-agent environments "
                             f"({', '.join(single_agent_envs())})")
    try:
        envs.entry(args.ppo_env)
    except KeyError as err:
        parser.error(f"--ppo-env: {err}")
    args.out = output.prepare_or_report(args, "soak", FILES, "simlab bench soak")
    if args.out is None:
        return 2
    result = run(args)
    json_path = harness.write_json(args.out / "soak.json", result)
    png_path = plot(result, args.out / "soak.png")
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{'env':<22} {'steps':>12} {'steps/s':>10} {'non-finite (obs/reward/sim/any)':>32}")
        for r in result["envs"]:
            nf = r["nonfinite"]
            print(f"{r['env']:<22} {r['steps']:>12,} {r['steps_per_s']:>10,.0f} "
                  f"{nf['obs']:>8,}/{nf['reward']:,}/{nf['sim']:,}/{nf['any']:,}")
        ppo = result["ppo"]
        if ppo:
            growth = ppo["growth_percent"]
            print(f"PPO {ppo['env']} {ppo['minutes']:g} min ({ppo['env_steps']:,} env steps): RSS "
                  f"{ppo['samples'][0]['rss_mib']:.0f} -> {ppo['samples'][-1]['rss_mib']:.0f} MiB; after warm-up "
                  f"({ppo['warmup_s'] / 60:g} min) "
                  + (f"{growth:+.2f}% (peak {ppo['peak_growth_percent']:+.2f}%)" if growth is not None else "n/a"))
        print(f"wrote {json_path} and {png_path}")
    return 1 if result["total_nonfinite"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
