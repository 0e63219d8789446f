"""The training driver: a thin loop around any agent's jitted `iteration`.

    agent = agents.registry.make_agent("ppo", "cartpole_swingup")
    result = agents.train.train(agent, TrainOptions(total_steps=1_000_000, out_dir="runs/cp"))

An agent provides `init(key)`, `iteration(state) -> (state, metrics)`,
`policy(state, deterministic)`, `steps_per_iteration`, `eval_env`, `config`,
`name`, `env_name`, `env_kwargs`. The driver adds evaluation, logging, progress,
checkpoints and resume, and optional data-parallel sharding over a device mesh.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np
from tqdm import tqdm

from agents import checkpoint
from agents.evaluation import make_evaluator, summarize
from agents.run_log import RunLog
from engine import sharding
from engine.wrappers import set_batch_mesh


@dataclasses.dataclass(frozen=True)
class TrainOptions:
    """How long and how observably to train.

    Attributes:
      total_steps: environment steps to train for (rounded up to whole iterations).
      seed: PRNG seed of the whole run.
      out_dir: run directory (metrics.csv, tensorboard/, checkpoints/, config.json, learning_curve.png);
        None keeps nothing on disk.
      eval_every: iterations between evaluations (and log rows); the last iteration is always evaluated.
      checkpoint_every: iterations between checkpoints (0: only at the end); needs out_dir.
      resume: a run directory to continue from (its config must match).
      progress: show a tqdm progress bar on stderr.
      mesh: a device mesh to shard the environment batch over (None: default device).
      time_limit_s: stop (after evaluating) at the first iteration that ends this many wall-clock seconds
        after `clock_start`; None trains for `total_steps` whatever the time.
      clock_start: the `time.perf_counter()` reading that `wall_time_s` counts from (e.g. taken before the
        agent was built, so benches include its construction); None: just before the first iteration,
        after `agent.init`.
    """

    total_steps: int
    seed: int = 0
    out_dir: str | None = None
    eval_every: int = 10
    checkpoint_every: int = 0
    resume: str | None = None
    progress: bool = True
    mesh: Any = None
    time_limit_s: float | None = None
    clock_start: float | None = None


@dataclasses.dataclass
class TrainResult:
    state: Any
    history: list[dict[str, float]]
    out_dir: Path | None


def run_config(agent, options: TrainOptions) -> dict[str, Any]:
    """The JSON-able description of a run, written to config.json and checked on resume."""
    return {"agent": agent.name, "env": agent.env_name, "env_kwargs": agent.env_kwargs,
            "config": dataclasses.asdict(agent.config), "seed": options.seed, "total_steps": options.total_steps}


def _write_json_atomic(path: Path, payload: dict) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(payload, f, indent=2)
    os.replace(tmp, path)


def _check_resume_config(resume_dir: Path, expected: dict[str, Any]) -> None:
    path = resume_dir / "config.json"
    if not path.exists():
        raise checkpoint.CheckpointError(f"{resume_dir} has no config.json; is it a simlab run directory?")
    try:
        saved = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise checkpoint.CheckpointError(f"{path} is corrupt ({err})") from None
    for key in ("agent", "env", "env_kwargs", "config", "seed"):
        if json.loads(json.dumps(saved.get(key))) != json.loads(json.dumps(expected[key])):
            raise checkpoint.CheckpointError(
                f"cannot resume {resume_dir}: its {key} is {saved.get(key)!r} but this run has {expected[key]!r}; "
                "resume with the same agent, environment, seed and config")


def _shardings(state, mesh):
    replicated = sharding.replicated(mesh)
    tree = jax.tree_util.tree_map(lambda _: replicated, state)
    batch = sharding.batch_sharding(mesh, 0)
    return tree.replace(env_state=jax.tree_util.tree_map(lambda _: batch, state.env_state))


def train(agent, options: TrainOptions) -> TrainResult:
    """Trains `agent` for `options.total_steps`; returns the final state and the logged rows."""
    if options.total_steps < 1:
        raise ValueError(f"total_steps must be positive, got {options.total_steps}")
    if options.checkpoint_every and not options.out_dir:
        raise ValueError("checkpoint_every needs out_dir")
    if options.time_limit_s is not None and not options.time_limit_s > 0:
        raise ValueError(f"time_limit_s must be positive (or None for no limit), got {options.time_limit_s}")
    config = run_config(agent, options)
    out_dir = Path(options.out_dir) if options.out_dir else None
    num_iterations = math.ceil(options.total_steps / agent.steps_per_iteration)

    state = agent.init(jax.random.key(options.seed))
    wall_offset = 0.0
    if options.resume:
        resume_dir = Path(options.resume)
        _check_resume_config(resume_dir, config)
        state, meta = checkpoint.restore(resume_dir, state)
        wall_offset = float(meta.get("wall_time_s", 0.0))
    iteration_fn = agent.iteration
    if options.mesh is not None:
        sharding.check_divisible(agent.config.num_envs, options.mesh)
        set_batch_mesh(agent.env, options.mesh)  # each device steps its own share of the batch
        shard = _shardings(state, options.mesh)
        state = jax.device_put(state, shard)
        iteration = jax.jit(iteration_fn, in_shardings=(shard,), out_shardings=(shard, sharding.replicated(options.mesh)))
    else:
        iteration = jax.jit(iteration_fn)
    evaluator = jax.jit(lambda s, k: make_evaluator(agent.eval_env, agent.policy(s, True), agent.config.eval_episodes)(k))

    log = None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        _write_json_atomic(out_dir / "config.json", config)
        log = RunLog(out_dir)
    history: list[dict[str, float]] = []
    start_iteration = int(state.iteration)
    start_time = time.perf_counter() if options.clock_start is None else options.clock_start
    # Under a time limit the budget is wall-clock, so the bar counts steps without a (meaningless) total.
    bar_total = None if options.time_limit_s is not None else num_iterations * agent.steps_per_iteration
    bar = tqdm(total=bar_total, initial=start_iteration * agent.steps_per_iteration,
               unit="step", unit_scale=True, file=sys.stderr, disable=not options.progress,
               desc=f"{agent.name} {agent.env_name}")
    last_return = float("nan")
    for it in range(start_iteration, num_iterations):
        state, metrics = iteration(state)
        bar.update(agent.steps_per_iteration)
        out_of_time = False
        if options.time_limit_s is not None:
            jax.block_until_ready(state.iteration)  # the clock must see finished work, not dispatched work
            out_of_time = time.perf_counter() - start_time >= options.time_limit_s
        last_iter = it + 1 == num_iterations or out_of_time
        if (it + 1) % options.eval_every == 0 or last_iter:
            returns = summarize(evaluator(state, jax.random.fold_in(jax.random.key(options.seed + 1), it)))
            metrics = jax.device_get(metrics)
            last_return = returns["mean_return"]
            row = {"iteration": it + 1, "env_steps": int(state.env_steps),
                   "wall_time_s": wall_offset + time.perf_counter() - start_time,
                   "eval_return": returns["mean_return"], "eval_return_std": returns["std_return"],
                   **{k: float(v) for k, v in metrics.items()}}
            history.append(row)
            if log is not None:
                log.log(row)
            bar.set_postfix(eval_return=f"{last_return:.1f}", train_return=f"{float(metrics['train_return']):.1f}")
        should_save = out_dir is not None and (last_iter or (options.checkpoint_every and (it + 1) % options.checkpoint_every == 0))
        if should_save:
            checkpoint.save(out_dir, it + 1, state,
                            {"wall_time_s": wall_offset + time.perf_counter() - start_time, "env_steps": int(state.env_steps)})
        if out_of_time:
            break
    bar.close()
    if log is not None:
        log.plot(f"{agent.name.upper()} on {agent.env_name}")
        log.close()
    return TrainResult(state, history, out_dir)
