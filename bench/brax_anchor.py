"""Brax's PPO as the anchor of `bench/train.py`: its own virtualenv and a time-boxed worker subprocess.

Brax 0.14.2's trainers crash on simlab's JAX (0.10: `jax.device_put_replicated` is gone), so the
anchor runs `bench/brax_ppo_worker.py` under a separate Python with `jax==0.9.2`, `jaxlib==0.9.2`
and `brax==0.14.2` from the package registry. `ensure_brax_python` creates that virtualenv once
(default `~/.cache/simlab/brax-jax092`) and reuses it; `run_worker` runs the worker for a
wall-clock budget and reads back the curve it wrote as it went.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench.curves import parse_jsonl_curve

DEFAULT_VENV = Path.home() / ".cache" / "simlab" / "brax-jax092"
REQUIREMENTS = ("jax==0.9.2", "jaxlib==0.9.2", "brax==0.14.2")
WORKER = Path(__file__).resolve().parent / "brax_ppo_worker.py"
_PROBE = ("import json, jax, brax; from brax.training.agents.ppo import train; "
          "print(json.dumps({'jax': jax.__version__, 'brax': getattr(brax, '__version__', '?')}))")


class BraxEnvironmentError(RuntimeError):
    """The Python that should run Brax's trainer is missing, broken or has the wrong versions."""


def _manual_fix(venv: Path) -> str:
    return (f"create it by hand: `{sys.executable} -m venv {venv} && {venv}/bin/pip install "
            f"{' '.join(REQUIREMENTS)}`, or pass --brax-python PATH to a Python that has them "
            "(or --skip-brax / --brax-json FILE to reuse an earlier Brax curve)")


def probe(python: Path) -> dict:
    """The jax and brax versions `python` imports; BraxEnvironmentError naming the problem otherwise."""
    if not Path(python).exists():
        raise BraxEnvironmentError(f"{python} does not exist")
    try:
        done = subprocess.run([str(python), "-c", _PROBE], capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise BraxEnvironmentError(f"{python} could not run ({err})") from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise BraxEnvironmentError(f"{python} cannot import Brax's PPO trainer: {' | '.join(tail)}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def ensure_brax_python(venv: Path = DEFAULT_VENV, python: Path | None = None, log=print) -> tuple[Path, dict]:
    """`(python, versions)` of a Python that runs Brax's trainer: `python` if given, else `venv`'s (created if needed)."""
    if python is not None:
        return Path(python), probe(Path(python))
    venv = Path(venv)
    candidate = venv / "bin" / "python"
    if candidate.exists():
        try:
            versions = probe(candidate)
            if versions["jax"] == REQUIREMENTS[0].split("==")[1]:
                return candidate, versions
            log(f"{venv} has jax {versions['jax']}; reinstalling {' '.join(REQUIREMENTS)}")
        except BraxEnvironmentError as err:
            log(f"{venv} is not usable ({err}); (re)installing {' '.join(REQUIREMENTS)}")
    log(f"creating the Brax virtualenv {venv} ({' '.join(REQUIREMENTS)}); this happens once")
    steps = ([sys.executable, "-m", "venv", str(venv)],
             [str(candidate), "-m", "pip", "install", "--quiet", *REQUIREMENTS])
    for command in steps:
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-4:])
            raise BraxEnvironmentError(f"`{' '.join(command)}` failed ({tail}); {_manual_fix(venv)}")
    return candidate, probe(candidate)


def run_worker(python: Path, curve_path: Path, minutes: float, worker_args: tuple[str, ...] = ()) -> dict:
    """Runs Brax's PPO worker for at most `minutes` of wall-clock; returns its header, curve and how it ended.

    The worker's output streams to our stderr. At the budget its process group is terminated;
    the curve file was written incrementally, so everything it evaluated until then is kept.
    """
    if minutes <= 0:
        raise ValueError(f"Brax minutes must be positive, got {minutes}")
    curve_path = Path(curve_path)
    curve_path.parent.mkdir(parents=True, exist_ok=True)
    command = [str(python), str(WORKER), "--curve", str(curve_path), "--minutes", str(minutes), *worker_args]
    started = time.perf_counter()
    # Our JAX settings (e.g. several CPU devices) must not leak into Brax's process: it runs as shipped.
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "JAX_NUM_CPU_DEVICES")}
    process = subprocess.Popen(command, stdout=sys.stderr, stderr=sys.stderr, start_new_session=True, env=env)
    ended = "finished"
    try:
        process.wait(timeout=60.0 * minutes + 5.0)
    except subprocess.TimeoutExpired:
        ended = "time budget (terminated)"
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    if ended == "finished" and process.returncode != 0:
        raise BraxEnvironmentError(f"Brax's PPO worker exited with status {process.returncode} "
                                   f"(command: {' '.join(command)}; its output is above)")
    if not curve_path.exists():
        raise BraxEnvironmentError(f"Brax's PPO worker wrote no curve at {curve_path}")
    header, points = parse_jsonl_curve(curve_path.read_text(), str(curve_path))
    if ended == "finished" and points and points[-1].wall_s >= 60.0 * minutes:
        ended = "time budget (stopped itself at an evaluation)"
    return {"header": header, "curve": [list(p) for p in points], "ended": ended,
            "seconds": time.perf_counter() - started, "command": command}
