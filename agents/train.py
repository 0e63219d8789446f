"""The training driver: a thin loop around any agent's jitted `iteration`.

    agent = agents.registry.make_agent("ppo", "cartpole_swingup")
    result = agents.train.train(agent, TrainOptions(total_steps=1_000_000, out_dir="runs/cp"))

An agent is a `simlab.agents.learner.Learner`: `init(key)`, `iteration(state) -> (state, metrics)`,
`policy(state, deterministic)`, `steps_per_iteration`, `env`, `eval_env`, `config`, `name`, `env_name`,
`env_kwargs` (checked first, `check_learner`). The driver adds evaluation, logging, progress,
checkpoints and resume, and optional data-parallel sharding over a device mesh.

Run safety (issue 26): a run directory that already holds a run is never reused
silently (`RunExistsError`; `overwrite=True` replaces it), one process at a time
trains into it (`RunLock`), resume cuts the history back to the restored step and
falls back past damaged checkpoints, Ctrl-C stops at the next iteration boundary
with a checkpoint (`TrainingInterrupted`), and a non-finite loss or parameter
stops training naming the iteration (`NonFiniteTrainingError`).
"""
from __future__ import annotations

import dataclasses
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np
from tqdm import tqdm

from simlab.agents import checkpoint, run_guard, run_log
from simlab.agents.evaluation import make_evaluator, summarize
from simlab.agents.learner import check_learner
from simlab.agents.run_log import RunLog
from simlab.engine import io, sharding
from simlab.engine.wrappers import set_batch_mesh

MAX_STEPS = 2**31 - 1  # the agents' iteration and env-step counters are int32


def check_count(name: str, value: Any, minimum: int, maximum: int | None = None, meaning: str = "") -> int:
    """`value` as an int when it is an integer in `[minimum, maximum]` (None: no upper bound).

    Raises TypeError for a non-integer (1.5, "10", True) and ValueError for one out of range, naming
    the field, the value and the valid range, e.g.
    `--eval-every = 0 is out of range: must be >= 1 (valid range [1, inf)); iterations between evaluations`.
    """
    suffix = f"; {meaning}" if meaning else ""
    high = "inf)" if maximum is None else f"{maximum}]"
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} = {value!r} must be an integer (valid range [{minimum}, {high}){suffix}")
    value = int(value)
    if value < minimum or (maximum is not None and value > maximum):
        bound = f">= {minimum}" if maximum is None else f"between {minimum} and {maximum:,}"
        raise ValueError(f"{name} = {value} is out of range: must be {bound} (valid range [{minimum}, {high}){suffix}")
    return value


@dataclasses.dataclass(frozen=True)
class TrainOptions:
    """How long and how observably to train.

    Attributes:
      total_steps: environment steps to train for (rounded up to whole iterations); 1 to 2**31 - 1 (the
        step counter is int32) unless `time_limit_s` bounds the run.
      seed: PRNG seed of the whole run.
      out_dir: run directory (metrics.csv, tensorboard/, checkpoints/, config.json, learning_curve.png);
        None keeps nothing on disk. A directory that already holds a run is refused (`RunExistsError`)
        unless `resume` points at it or `overwrite` is set.
      eval_every: iterations between evaluations (and log rows), >= 1; the last iteration is always evaluated.
      checkpoint_every: iterations between checkpoints, >= 0 (0: only at the end); needs out_dir.
      resume: a run directory to continue from (its config must match); its history is cut back to the
        restored step, and damaged newer steps are skipped (and reported).
      overwrite: delete the run already in `out_dir` (its files only) before starting a new one.
      progress: show a tqdm progress bar on stderr.
      mesh: a device mesh to shard the environment batch over (None: default device).
      time_limit_s: stop (after evaluating) at the first iteration that ends this many wall-clock seconds
        after `clock_start`; None trains for `total_steps` whatever the time.
      clock_start: the `time.perf_counter()` reading that `wall_time_s` counts from (e.g. taken before the
        agent was built, so benches include its construction); None: just before the first iteration,
        after `agent.init`.

    Invalid values raise ValueError/TypeError at construction, naming the field, the value and the range.
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
    overwrite: bool = False

    def __post_init__(self):
        if self.time_limit_s is not None and not (isinstance(self.time_limit_s, (int, float)) and self.time_limit_s > 0):
            raise ValueError(f"time_limit_s must be positive (or None for no limit), got {self.time_limit_s}")
        check_count("total_steps", self.total_steps, 1, None if self.time_limit_s is not None else MAX_STEPS,
                    "environment steps (the step counter is int32)")
        check_count("eval_every", self.eval_every, 1, None, "iterations between evaluations")
        check_count("checkpoint_every", self.checkpoint_every, 0, None,
                    "iterations between checkpoints, 0 for only at the end")
        if self.overwrite and self.resume:
            raise ValueError("overwrite=True and resume contradict each other: resume continues the run in "
                             "the directory, overwrite deletes it")


@dataclasses.dataclass
class TrainResult:
    """What `train` returns: the final state, the rows logged in this call, the run directory, and the
    checkpoint step a resumed run started from (None for a fresh run)."""

    state: Any
    history: list[dict[str, float]]
    out_dir: Path | None
    resumed_from: int | None = None


class RunComplete(Exception):
    """`train(resume=...)` found the run already trained for `total_steps`: there is nothing to do.

    Attributes: `out_dir`, `iteration` and `env_steps` (where the run stands) and `num_iterations`.
    """

    def __init__(self, message: str, out_dir: Path, iteration: int, env_steps: int, num_iterations: int):
        super().__init__(message)
        self.out_dir, self.iteration, self.env_steps, self.num_iterations = out_dir, iteration, env_steps, num_iterations


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) stopped training at an iteration boundary, after saving a checkpoint.

    Attributes: `iteration` and `env_steps` reached, `checkpoint_step` (None without out_dir),
    `out_dir`, `state` and `history` (the rows logged in this call). A subclass of
    KeyboardInterrupt, so code that does not catch it stops as on any Ctrl-C.
    """

    def __init__(self, iteration: int, env_steps: int, checkpoint_step: int | None, out_dir: Path | None,
                 state: Any, history: list[dict[str, float]]):
        where = f"; saved checkpoint step {checkpoint_step} in {out_dir}" if checkpoint_step is not None else ""
        super().__init__(f"training interrupted at iteration {iteration} ({env_steps:,} env steps){where}")
        self.iteration, self.env_steps, self.checkpoint_step = iteration, env_steps, checkpoint_step
        self.out_dir, self.state, self.history = out_dir, state, history


class NonFiniteTrainingError(FloatingPointError):
    """A loss or parameter became NaN or infinite; training stopped without saving that state.

    Attributes: `iteration` (where it was found), `names` (the non-finite losses or parameters) and
    `last_checkpoint` (the newest good checkpoint step, or None).
    """

    def __init__(self, message: str, iteration: int, names: list[str], last_checkpoint: int | None):
        super().__init__(message)
        self.iteration, self.names, self.last_checkpoint = iteration, names, last_checkpoint


class RunWriteError(OSError):
    """Writing the run directory failed mid-run (e.g. no space left on device); earlier checkpoints are intact."""


def run_config(agent, options: TrainOptions) -> dict[str, Any]:
    """The JSON-able description of a run, written to config.json and checked on resume."""
    return {"agent": agent.name, "env": agent.env_name, "env_kwargs": agent.env_kwargs,
            "config": dataclasses.asdict(agent.config), "seed": options.seed, "total_steps": options.total_steps}


def _check_resume_config(resume_dir: Path, expected: dict[str, Any]) -> None:
    path = resume_dir / "config.json"
    if not path.exists():
        raise checkpoint.CheckpointError(f"{resume_dir} has no config.json; is it a simlab run directory?")
    try:
        saved = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise checkpoint.CheckpointError(f"{path} is corrupt ({err})") from None
    if not isinstance(saved, dict):
        raise checkpoint.CheckpointError(f"{path} is corrupt (not a JSON object)")
    for key in ("agent", "env", "env_kwargs", "config", "seed"):
        if json.loads(json.dumps(saved.get(key))) != json.loads(json.dumps(expected[key])):
            raise checkpoint.CheckpointMismatchError(
                f"cannot resume {resume_dir}: its {key} is {saved.get(key)!r} but this run has {expected[key]!r}; "
                "resume with the same agent, environment, seed and config")


def _shardings(state, mesh):
    replicated = sharding.replicated(mesh)
    tree = jax.tree_util.tree_map(lambda _: replicated, state)
    batch = sharding.batch_sharding(mesh, 0)
    return tree.replace(env_state=jax.tree_util.tree_map(lambda _: batch, state.env_state))


def _num_iterations(options: TrainOptions, steps_per_iteration: int) -> int:
    n = math.ceil(options.total_steps / steps_per_iteration)
    if n * steps_per_iteration > MAX_STEPS:
        if options.time_limit_s is None:
            raise ValueError(
                f"total_steps = {options.total_steps} rounds up to {n * steps_per_iteration:,} steps ({n:,} iterations "
                f"of {steps_per_iteration:,}), beyond the int32 step counter's {MAX_STEPS:,} (valid range "
                f"[1, {MAX_STEPS // steps_per_iteration * steps_per_iteration}] for this agent)")
        n = MAX_STEPS // steps_per_iteration  # a time-limited run stops before the counter overflows
    return n


def _restore_for_resume(resume_dir: Path, state, in_place: bool, num_iterations: int):
    """Restores the newest intact step (reporting skipped damaged ones); returns `(state, meta, step)`."""
    if not checkpoint.steps(resume_dir) and in_place:
        run_log.warn(f"{resume_dir} has no checkpoint yet (the run stopped before its first one); "
                     "starting it again from iteration 0")
        return state, {}, 0
    restored = checkpoint.restore_checkpoint(resume_dir, state, fallback=True)
    for err in restored.skipped:
        where = ""
        if in_place:
            try:
                where = f"; moved it to {checkpoint.quarantine(resume_dir, err.step)}"
            except OSError as move_err:
                raise checkpoint.CheckpointError(f"{err}; could not move it aside ({move_err}): delete that step "
                                                 "directory and resume again") from None
        run_log.warn(f"skipped damaged checkpoint step {err.step}: {err}{where}")
    if restored.skipped:
        run_log.warn(f"restored step {restored.step}, the newest intact checkpoint, instead of damaged step(s) "
                     f"{', '.join(str(e.step) for e in restored.skipped)}")
    return restored.state, restored.meta, restored.step


def train(agent, options: TrainOptions) -> TrainResult:
    """Trains `agent` for `options.total_steps`; returns the final state and the logged rows.

    Raises (besides ValueError/TypeError for bad options):
      run_log.RunExistsError / RunLockedError / RunDirectoryError: out_dir holds a run (and neither
        resume nor overwrite was given), another process trains into it, or it is not writable.
      checkpoint.CheckpointError (and subclasses): the resumed run has no usable checkpoint or
        belongs to another config.
      RunComplete: the resumed run already trained `total_steps`.
      TrainingInterrupted: Ctrl-C; a checkpoint of the iteration reached was saved first.
      NonFiniteTrainingError: a loss or parameter became NaN/inf; the last good checkpoint is kept.
      RunWriteError: a write failed mid-run (e.g. a full disk); earlier checkpoints are intact.
    """
    check_learner(agent)
    if options.mesh is not None and not getattr(agent, "supports_mesh", True):
        raise ValueError(f"the {agent.name} learner runs on one device; drop --devices / TrainOptions.mesh")
    if options.checkpoint_every and not options.out_dir:
        raise ValueError("checkpoint_every needs out_dir")
    config = run_config(agent, options)
    out_dir = Path(options.out_dir) if options.out_dir else None
    num_iterations = _num_iterations(options, agent.steps_per_iteration)
    resume_dir = Path(options.resume) if options.resume else None
    in_place = resume_dir is not None and out_dir is not None and run_guard.same_dir(resume_dir, out_dir)
    lock = run_guard.prepare_out_dir(out_dir, in_place, options.overwrite) if out_dir is not None else None
    try:
        return _train(agent, options, config, out_dir, resume_dir, in_place, num_iterations)
    finally:
        if lock is not None:
            lock.release()


def _train(agent, options: TrainOptions, config: dict, out_dir: Path | None, resume_dir: Path | None,
           in_place: bool, num_iterations: int) -> TrainResult:
    state = agent.init(jax.random.key(options.seed))
    wall_offset = 0.0
    resumed_from = None
    if resume_dir is not None:
        _check_resume_config(resume_dir, config)
        state, meta, resumed_from = _restore_for_resume(resume_dir, state, in_place, num_iterations)
        wall_offset = float(meta.get("wall_time_s", 0.0))
        done, env_steps = int(state.iteration), int(state.env_steps)
        if done >= num_iterations:
            raise RunComplete(
                f"{resume_dir} is already complete: it has trained {done:,} iterations ({env_steps:,} env steps) and "
                f"this run asks for {num_iterations:,} ({options.total_steps:,} steps). To train it further, resume "
                f"with a larger --steps, e.g. --steps {2 * max(env_steps, options.total_steps)}",
                resume_dir, done, env_steps, num_iterations)
        print(f"simlab: resuming {resume_dir} from checkpoint step {resumed_from} ({env_steps:,} env steps)",
              file=sys.stderr, flush=True)
    iteration_fn = agent.iteration
    if options.mesh is not None:
        sharding.check_divisible(agent.config.num_envs, options.mesh)
        set_batch_mesh(agent.env, options.mesh)  # each device steps its own share of the batch
        shard = _shardings(state, options.mesh)
        state = jax.device_put(state, shard)
        iteration = jax.jit(iteration_fn, in_shardings=(shard,), out_shardings=(shard, sharding.replicated(options.mesh)))
    else:
        iteration = jax.jit(iteration_fn)
    if hasattr(agent, "evaluate"):  # learners whose policy carries a state evaluate themselves (e.g. ES)
        evaluator = jax.jit(agent.evaluate)
    else:
        evaluator = jax.jit(lambda s, k: make_evaluator(agent.eval_env, agent.policy(s, True),
                                                        agent.config.eval_episodes)(k))
    # Learners that validate and keep their best parameters do so at every evaluation point (agents.learner).
    select = jax.jit(agent.select) if hasattr(agent, "select") else None

    log = None
    if out_dir is not None:
        try:
            io.write_json(out_dir / "config.json", config)
            purge = int(state.env_steps) + 1 if resume_dir is not None else None
            log = RunLog(out_dir, purge_step=purge)
            if resume_dir is not None:
                log.truncate(int(state.iteration))
        except OSError as err:
            if log is not None:
                log.close()
            raise RunWriteError(f"could not write the run directory {out_dir}: {err}") from None
    history: list[dict[str, float]] = []
    start_iteration = int(state.iteration)
    last_checkpoint = resumed_from if resumed_from else None
    start_time = time.perf_counter() if options.clock_start is None else options.clock_start
    # Under a time limit the budget is wall-clock, so the bar counts steps without a (meaningless) total.
    bar_total = None if options.time_limit_s is not None else num_iterations * agent.steps_per_iteration
    bar = tqdm(total=bar_total, initial=start_iteration * agent.steps_per_iteration,
               unit="step", unit_scale=True, file=sys.stderr, disable=not options.progress,
               desc=f"{agent.name} {agent.env_name}")
    last_return = float("nan")
    interrupted_at = None

    def write_failed(what: str, err: BaseException) -> RunWriteError:
        kept = (f"the last checkpoint, step {last_checkpoint}, is intact; free some space and continue with "
                f"--resume {out_dir}" if last_checkpoint else "no checkpoint was saved yet")
        return RunWriteError(f"could not write {what}: {err}; {kept}")

    def diverged(it: int, bad: list[str]) -> NonFiniteTrainingError:
        kept = (f"the last good checkpoint, step {last_checkpoint}, is kept in {out_dir / 'checkpoints'}"
                if last_checkpoint else "no checkpoint was saved before it")
        return NonFiniteTrainingError(
            f"training diverged at iteration {it} ({int(state.env_steps):,} env steps): {', '.join(bad[:3])}"
            f"{' and more' if len(bad) > 3 else ''} not finite. Stopped without saving this state; {kept}. "
            "Try a smaller learning_rate (or max_grad_norm) in a new run", it, bad, last_checkpoint)

    try:
        with run_guard.SigintToFlag() as interrupt:
            for it in range(start_iteration, num_iterations):
                state, metrics = iteration(state)
                bar.update(agent.steps_per_iteration)
                out_of_time = False
                if options.time_limit_s is not None:
                    jax.block_until_ready(state.iteration)  # the clock must see finished work, not dispatched work
                    out_of_time = time.perf_counter() - start_time >= options.time_limit_s
                last_iter = it + 1 == num_iterations or out_of_time
                checked = False
                if (it + 1) % options.eval_every == 0 or last_iter:
                    metrics = jax.device_get(metrics)
                    bad = run_guard.nonfinite_names(state, metrics)  # on the host, at log points: no branch inside jit
                    if bad:
                        raise diverged(it + 1, bad)
                    checked = True
                    if select is not None:
                        state, selected = select(state)
                        metrics = {**metrics, **jax.device_get(selected)}
                    returns = summarize(evaluator(state, jax.random.fold_in(jax.random.key(options.seed + 1), it)))
                    last_return = returns["mean_return"]
                    row = {"iteration": it + 1, "env_steps": int(state.env_steps),
                           "wall_time_s": wall_offset + time.perf_counter() - start_time,
                           "eval_return": returns["mean_return"], "eval_return_std": returns["std_return"],
                           **{k: float(v) for k, v in metrics.items()}}
                    history.append(row)
                    if log is not None:
                        try:
                            log.log(row)
                        except OSError as err:
                            raise write_failed(f"{log.csv_path}", err) from None
                    bar.set_postfix(eval_return=f"{last_return:.1f}", train_return=f"{float(metrics['train_return']):.1f}")
                stop = interrupt.requested and not last_iter  # Ctrl-C during this iteration: save it and stop
                should_save = out_dir is not None and (
                    last_iter or stop or (options.checkpoint_every and (it + 1) % options.checkpoint_every == 0))
                if should_save:
                    if not checked:
                        bad = run_guard.nonfinite_names(state, None)
                        if bad:
                            raise diverged(it + 1, bad)
                    try:
                        checkpoint.save(out_dir, it + 1, state, {"wall_time_s": wall_offset + time.perf_counter() - start_time,
                                                                 "env_steps": int(state.env_steps)})
                    except checkpoint.CheckpointWriteError as err:
                        raise write_failed(f"checkpoint step {it + 1}", err.__cause__ or err) from None
                    last_checkpoint = it + 1
                if stop:
                    interrupted_at = it + 1
                    break
                if out_of_time:
                    break
    except BaseException:
        bar.close()
        _finish(log, agent, quiet=True)
        raise
    bar.close()
    _finish(log, agent, quiet=False)
    if interrupted_at is not None:
        raise TrainingInterrupted(interrupted_at, int(state.env_steps), last_checkpoint if out_dir else None,
                                  out_dir, state, history)
    return TrainResult(state, history, out_dir, resumed_from)


def _finish(log: RunLog | None, agent, quiet: bool) -> None:
    """Writes the learning-curve plot and closes the log; `quiet` drops errors (training already failed)."""
    if log is None:
        return
    try:
        try:
            log.plot(f"{agent.name.upper()} on {agent.env_name}")
        finally:
            log.close()
    except Exception as err:
        if quiet:
            return
        if isinstance(err, OSError):
            raise RunWriteError(f"could not write {log.out_dir / 'learning_curve.png'}: {err}") from None
        raise
