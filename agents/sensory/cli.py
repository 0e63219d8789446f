"""`simlab sensory`: train and evaluate permutation-invariant sensory-neuron agents.

    simlab sensory train cartpole_swingup --teacher runs/ppo_cartpole --bc-iterations 300 --es-generations 0
    simlab sensory eval cartpole_swingup --episodes 1000 --json

`train` fits the sensory agent and the same-budget MLP baseline (behaviour cloning
from a teacher run of `simlab train`, then optionally evolution strategies) and
writes `OUT/<name>_{sensory,mlp}/` (name: `--name`, default the task) with the
command that produced them. Each phase is a learner of the one training driver
(`agents.sensory.learners`: "sensory_bc", "sensory_es", "pixel_bc"), whose run
directory (`--runs`, default OUT/runs/<name>_<agent>_{bc,es}) holds metrics.csv,
TensorBoard logs and checkpoints. OUT is `--out DIR`, default ./simlab_results/sensory;
`--publish` writes the shipped `agents/sensory/params/` instead. Existing files are
not replaced without `--overwrite`. `--init-from STEM` continues from `STEM_<agent>/`
in OUT, else in the shipped parameters. `eval` loads the shipped files (or those in
`--params DIR`) and prints mean and sd of the return for unshuffled, shuffled,
reshuffle_25 and noise observations.

The pixel task `pong` ("puzzle Pong", `agents/sensory/pong_cli.py`) has one agent,
cloned from a scripted teacher (`--teacher` defaults to it), and its own conditions:
unshuffled, shuffled and shown_10/30/50/70 (`--fractions` picks others):
    simlab sensory train pong --bc-iterations 1500 --bc-episodes 64 --bc-updates 16 --time-budget 1500
    simlab sensory eval pong --episodes 100 --json
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import pathlib
import sys
import time

import jax

from simlab.agents.evaluation import episode_length_of
from simlab.agents.sensory import pong_cli
from simlab.agents.sensory.evaluate import evaluate_conditions
from simlab.agents.sensory.learners import run_phase
from simlab.agents.sensory.pong_cli import PIXEL_TASKS
from simlab.agents.sensory.tasks import (AGENT_NAMES, CONDITIONS, PARAMS_DIR, TASKS, init_file, load_params,
                                         params_file, save_params, task_of)
from simlab.engine import io as output


def _train_agents(args) -> list[str]:
    return ["sensory"] if args.task in PIXEL_TASKS else list(args.agents)


def _bc_adam_steps(args) -> int:
    """Adam steps of the whole behaviour-cloning run (the length of the --bc-lr-end cosine decay)."""

    windows = 1
    if args.bc_window > 0:
        windows = -(-episode_length_of(task_of(args.task).base_env()) // args.bc_window)
    return max(1, args.bc_iterations * args.bc_updates * windows)


def _train(args) -> int:
    if args.task in PIXEL_TASKS:
        return pong_cli.train(args)

    task = task_of(args.task)
    command = "simlab sensory " + " ".join(args.argv)
    if args.bc_iterations > 0 and args.teacher is None:
        raise SystemExit("--bc-iterations needs --teacher RUN_DIR (a `simlab train` run of the same task)")
    if args.bc_iterations <= 0 and args.es_generations <= 0:
        raise SystemExit("nothing to train: give --bc-iterations and/or --es-generations")
    if args.bc_select_every < 0 or args.bc_select_episodes < 1:
        raise SystemExit("--bc-select-every must be >= 0 and --bc-select-episodes >= 1")
    stem, env_kwargs = args.name or args.task, dict(task.env_kwargs)
    for agent in args.agents:
        out = params_file(args.out_dir, stem, agent)
        start = time.perf_counter()
        params, meta = None, {"command": command, "task": args.task, "agent": agent}
        init_from = ""
        if args.init_from is not None:
            # Continue from earlier parameters; keep their history so the full recipe stays on record.
            init_from = str(init_file(args, agent))
            _, meta["init_from"] = load_params(init_from)
        if args.bc_iterations > 0:
            if args.bc_feed_executed and agent != "sensory":
                print(f"{agent}: --bc-feed-executed does not apply (it does not read a_{{t-1}})", flush=True)
            bc = dict(network=agent, teacher=args.teacher, num_episodes=args.bc_episodes, learning_rate=args.bc_lr,
                      beta_init=args.bc_beta_init, beta_decay=args.bc_beta_decay,
                      updates_per_iteration=args.bc_updates, bptt_window=args.bc_window, lr_end=args.bc_lr_end,
                      lr_decay_steps=_bc_adam_steps(args),
                      feed_executed_action=args.bc_feed_executed and agent == "sensory",
                      beta_min=args.bc_beta_min, teacher_noise=args.bc_teacher_noise, aggregate=args.bc_aggregate,
                      ema=args.bc_ema, keep_best=args.bc_select_every > 0, eval_episodes=args.bc_select_episodes,
                      init_from=init_from)
            learner, result = run_phase("sensory_bc", args.task, bc, env_kwargs, args.bc_iterations, args,
                                        f"{stem}_{agent}_bc", args.bc_select_every or 10,
                                        args.time_budget if agent == "sensory" else None)
            params = learner.params(result.state)
            meta["bc"] = {"config": dataclasses.asdict(learner.config), "run": str(result.out_dir),
                          "iterations_run": int(result.state.iteration), "final_loss": result.history[-1]["bc_loss"]}
            if args.bc_select_every:
                meta["bc"]["selected"] = {"every": args.bc_select_every, "episodes": args.bc_select_episodes,
                                          "best_validation_return": float(result.state.inner.best_return)}
            save_params(out, params, {**meta, "train_seconds": time.perf_counter() - start})
            init_from = str(out)
        if args.es_generations > 0:
            es = dict(network=agent, strategy=args.es_strategy, population_size=args.population,
                      sigma_init=args.sigma, learning_rate=args.es_lr, num_episodes=args.es_episodes,
                      init_from=init_from)
            learner, result = run_phase("sensory_es", args.task, es, env_kwargs, args.es_generations, args,
                                        f"{stem}_{agent}_es", 25, args.time_budget)
            params = learner.params(result.state)
            meta["es"] = {"config": dataclasses.asdict(learner.config), "run": str(result.out_dir),
                          "generations_run": int(result.state.iteration),
                          "final_fitness_mean": result.history[-1]["train_return"]}
        meta["train_seconds"] = time.perf_counter() - start
        meta["devices"] = str(jax.devices())
        save_params(out, params, meta)
        print(f"{agent}: wrote {out} after {meta['train_seconds']:.0f}s", flush=True)
    return 0


def _eval(args) -> int:
    if args.task in PIXEL_TASKS:
        return pong_cli.evaluate(args)

    task = task_of(args.task)
    report = {}
    for agent in AGENT_NAMES:
        params, _ = load_params(params_file(args.params, args.name or args.task, agent))
        results = evaluate_conditions(task, agent, params, args.episodes, seed=args.seed,
                                      log=lambda line: print(f"[sensory eval] {line}", file=sys.stderr, flush=True))
        report[agent] = {c: {"mean": r["mean"], "std": r["std"]} for c, r in results.items()}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{args.task}: mean ± sd of the return over {args.episodes} episodes")
    print(f"{'agent':<9}" + "".join(f"{c:>20}" for c in CONDITIONS))
    for agent, row in report.items():
        print(f"{agent:<9}" + "".join(f"{row[c]['mean']:>11.1f} ± {row[c]['std']:<6.1f}" for c in CONDITIONS))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="simlab sensory", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    tasks = sorted(TASKS) + sorted(PIXEL_TASKS)

    p_train = sub.add_parser("train", help="train the sensory agent and the MLP baseline; write their params")
    p_train.add_argument("task", choices=tasks)
    p_train.add_argument("--agents", nargs="+", choices=AGENT_NAMES, default=list(AGENT_NAMES))
    p_train.add_argument("--teacher", help="run directory of a `simlab train` teacher for behaviour cloning")
    p_train.add_argument("--bc-iterations", type=int, default=0)
    p_train.add_argument("--bc-episodes", type=int, default=32)
    p_train.add_argument("--bc-updates", type=int, default=4)
    p_train.add_argument("--bc-lr", type=float, default=3e-3)
    p_train.add_argument("--bc-beta-init", type=float, default=1.0, help="initial teacher-execution probability")
    p_train.add_argument("--bc-beta-decay", type=float, default=0.97)
    p_train.add_argument("--bc-beta-min", type=float, default=0.0,
                         help="floor of the teacher-execution probability (default 0: pure DAgger in the end)")
    p_train.add_argument("--bc-teacher-noise", type=float, default=0.0,
                         help="sd of Gaussian noise on the teacher's executed actions (DART; targets stay clean)")
    p_train.add_argument("--bc-aggregate", type=int, default=0,
                         help="keep the last N batches per condition and refit them (DAgger aggregation; 0: off)")
    p_train.add_argument("--bc-ema", type=float, default=0.0,
                         help="deploy a moving average of the parameters with this per-iteration decay (0: off)")
    p_train.add_argument("--bc-window", type=int, default=0,
                         help="truncated BPTT: one Adam step per window of this many steps (0: whole episodes)")
    p_train.add_argument("--bc-lr-end", type=float, default=None,
                         help="cosine-decay the BC learning rate to this value over the run (default: constant)")
    p_train.add_argument("--bc-feed-executed", action="store_true",
                         help="feed the student the executed action (the teacher's on teacher steps) as a_{t-1}, "
                              "instead of its own previous output")
    p_train.add_argument("--bc-select-every", type=int, default=0,
                         help="validate every N BC iterations and keep the best parameters (0: keep the last)")
    p_train.add_argument("--bc-select-episodes", type=int, default=16, help="validation episodes per check")
    p_train.add_argument("--es-generations", type=int, default=0)
    p_train.add_argument("--es-strategy", default="cma_es")
    p_train.add_argument("--es-episodes", type=int, default=4)
    p_train.add_argument("--es-lr", type=float, default=0.02)
    p_train.add_argument("--population", type=int, default=64)
    p_train.add_argument("--sigma", type=float, default=0.1)
    p_train.add_argument("--time-budget", type=float, default=None, help="seconds per training phase")
    p_train.add_argument("--seed", type=int, default=0)
    p_train.add_argument("--runs", default=None,
                         help="where the training driver's run directories go (metrics.csv, TensorBoard, checkpoints; "
                              "one per agent and phase, resumable with `simlab train --resume`); default OUT/runs, "
                              "or ./simlab_results/sensory/runs with --publish")
    p_train.add_argument("--no-progress", action="store_true", help="no progress bar")
    p_train.add_argument("--name", default=None, help="file stem: writes OUT/<name>_<agent>/ (default <task>)")
    output.add_output_arguments(p_train, "sensory", published=PARAMS_DIR, what="trained parameters (one directory per agent)")
    p_train.add_argument("--bc-segment", type=int, default=64, help="pong: steps collected per BC iteration")
    p_train.add_argument("--shown-min", type=float, default=0.3, help="pong: least fraction of patches shown")
    p_train.add_argument("--shown-max", type=float, default=0.7, help="pong: largest fraction of patches shown")
    p_train.add_argument("--init-from", default=None,
                         help="file stem to start from: STEM_<agent> in OUT, else in the shipped parameters "
                              "(e.g. the task name)")
    p_train.set_defaults(func=_train)

    p_eval = sub.add_parser("eval", help="evaluate the shipped params under every observation condition")
    p_eval.add_argument("task", choices=tasks)
    p_eval.add_argument("--episodes", type=int, default=1000)
    p_eval.add_argument("--seed", type=int, default=0)
    p_eval.add_argument("--json", action="store_true")
    p_eval.add_argument("--params", default=PARAMS_DIR,
                        help="directory of the parameters to evaluate (default: the shipped agents/sensory/params)")
    p_eval.add_argument("--name", default=None, help="file stem: evaluates <params>/<name>_<agent> (default <task>)")
    p_eval.add_argument("--fractions", type=float, nargs="+", default=None,
                        help="pong: fractions of patches shown (default 0.1 0.3 0.5 0.7 and all)")
    p_eval.set_defaults(func=_eval)
    return parser


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    if getattr(args, "episodes", 1) < 1:
        raise SystemExit("--episodes must be >= 1")
    if args.command == "train":
        files = [params_file(".", args.name or args.task, agent).name + "/" for agent in _train_agents(args)]
        try:
            args.out_dir = output.prepare_output(args, "sensory", files, published=PARAMS_DIR)
            if args.runs is None:  # never inside the package tree
                published = pathlib.Path(args.out_dir).resolve() == PARAMS_DIR.resolve()
                args.runs = str(pathlib.Path("simlab_results", "sensory") if published else pathlib.Path(args.out_dir)) \
                    + "/runs"
        except ValueError as err:
            print(f"simlab sensory train: error: {err}", file=sys.stderr)
            return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
