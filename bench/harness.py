"""Shared benchmark plumbing: timing, fused step loops, JSON + PNG output.

Timings here are wall-clock on whatever machine runs the script; every claim
script measures ours and the anchor in the same run so their ratio is fair.
"""
from __future__ import annotations

import os
import platform
import time
from pathlib import Path
from typing import Any, Callable

import jax
import jax.numpy as jnp

from simlab.engine import io

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def machine_info() -> dict[str, Any]:
    """Where the numbers came from."""
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
    }


def make_fused_stepper(env, policy, num_steps: int) -> Callable:
    """`run(state, key) -> (state, reward_sum)`: `num_steps` batched steps in one `lax.scan`.

    Transitions are not stored (only a reward sum, so nothing is dead code), which
    measures the simulator rather than memory traffic.
    """

    def body(carry, key):
        state, total = carry
        state = env.step(state, policy(state.obs, key))
        return (state, total + jnp.sum(state.reward)), None

    def run(state, key):
        (state, total), _ = jax.lax.scan(body, (state, jnp.zeros((), jnp.float32)),
                                         jax.random.split(key, num_steps))
        return state, total

    return jax.jit(run)


def time_compiled(run: Callable, state, key, num_envs: int, num_steps: int, repeats: int = 3,
                  check_finite: bool = True) -> dict[str, float]:
    """Compiles `run(state, key) -> (state, scalar)`, then reports the best of `repeats` timed calls.

    Raises FloatingPointError if the scalar (e.g. a reward sum) is not finite, unless `check_finite` is False
    (a deliberately incomplete model, e.g. a step without its constraint solve; the row records `finite`).
    """
    start = time.perf_counter()
    compiled = jax.jit(run).lower(state, key).compile()
    compile_s = time.perf_counter() - start
    state, total = compiled(state, key)  # warm-up
    jax.block_until_ready(total)
    best = float("inf")
    keys = [jax.random.fold_in(key, i) for i in range(repeats)]  # derived before the clocks start
    jax.block_until_ready(keys)
    for i in range(repeats):
        start = time.perf_counter()
        state, total = compiled(state, keys[i])
        jax.block_until_ready(total)
        best = min(best, time.perf_counter() - start)
    finite = bool(jnp.isfinite(total))
    if check_finite and not finite:
        raise FloatingPointError("non-finite state after the timed rollout")
    return {"num_envs": num_envs, "steps_per_s": num_envs * num_steps / best, "compile_s": compile_s,
            "seconds_per_call": best, "steps_per_call": num_steps, "finite": finite}


def time_fused(env, policy, num_envs: int, num_steps: int, repeats: int = 3, seed: int = 0) -> dict[str, float]:
    """Compile time and best-of-`repeats` env-steps/s of a fused rollout."""
    key = jax.random.key(seed)
    state = jax.jit(env.reset)(key)
    jax.block_until_ready(state)
    return time_compiled(make_fused_stepper(env, policy, num_steps), state, key, num_envs, num_steps, repeats)


def time_python_loop(step: Callable[[], Any], num_envs: int, max_steps: int, budget_s: float) -> dict[str, float]:
    """Env-steps/s of a host-driven loop calling `step()` (one batch step per call).

    Runs one warm-up call, then until `max_steps` calls or `budget_s` seconds.
    """
    step()
    calls, start = 0, time.perf_counter()
    while calls < max_steps and (time.perf_counter() - start) < budget_s:
        step()
        calls += 1
    elapsed = time.perf_counter() - start
    return {"num_envs": num_envs, "steps_per_s": num_envs * calls / elapsed, "calls": calls}


write_json = io.write_json  # atomic (temp file + rename)


def plot_lines(path: Path, series: dict[str, list[tuple[float, float]]], *, title: str, xlabel: str,
               ylabel: str, logx: bool = True, logy: bool = True, annotate_ratio: tuple[str, str] | None = None) -> Path:
    """A PNG line plot of `{label: [(x, y), ...]}` (matplotlib Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    for label, points in series.items():
        if points:
            xs, ys = zip(*points)
            ax.plot(xs, ys, marker="o", label=label)
    if logx:
        ax.set_xscale("log", base=2)
    if logy:
        ax.set_yscale("log")
    if annotate_ratio:
        ours, anchor = (dict(series[k]) for k in annotate_ratio)
        for x in sorted(set(ours) & set(anchor)):
            ax.annotate(f"{ours[x] / anchor[x]:,.0f}x", (x, ours[x]), textcoords="offset points",
                        xytext=(0, 6), ha="center", fontsize=7)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return save_figure(fig, path)


save_figure = io.save_figure  # tight layout, atomic write, close


def parse_name_list(text: str) -> list[str]:
    """'ant, reacher' -> ['ant', 'reacher'] (empty items dropped)."""
    return [n.strip() for n in text.split(",") if n.strip()]


positive_int = io.positive_int  # argparse type: an integer >= 1 (kept here for the benches' parsers)


def parse_int_list(text: str, minimum: int = 1) -> list[int]:
    """'1,64,1024' -> [1, 64, 1024]; raises ValueError naming the bad item (each must be >= `minimum`)."""
    values = []
    for item in text.split(","):
        item = item.strip()
        if not item.isdigit() or int(item) < minimum:
            kind = "positive integers" if minimum == 1 else f"integers >= {minimum}"
            raise ValueError(f"expected a comma-separated list of {kind}, got {item!r} in {text!r}")
        values.append(int(item))
    return values
