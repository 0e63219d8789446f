"""`simlab sensory train|eval pong`: the pixel task ("puzzle Pong"), called from `agents.sensory.cli`.

    simlab sensory train pong --bc-iterations 1500 --bc-episodes 64 --bc-updates 16 --bc-lr 3e-3 \\
        --bc-beta-decay 0.98 --time-budget 1500
    simlab sensory eval pong --episodes 100 --json

`train` behaviour-clones the pixel sensory agent from the scripted tracking
teacher (or `--teacher RUN_DIR`, a `simlab train pong_state` run) on shuffled
patches with a random `--shown-min`..`--shown-max` fraction shown at every step,
and writes `agents/sensory/params/pong_sensory/`. `eval` scores the random
policy, the teacher and the agent unshuffled, shuffled and with 10/30/50/70% of
the patches shown (no retraining): mean ± sd of points for minus points against.
"""
from __future__ import annotations

import dataclasses
import json
import time

import jax

from simlab.agents.sensory.learners import run_phase
from simlab.agents.sensory.pong import CONDITIONS, evaluate_pong, shown_condition
from simlab.agents.sensory.tasks import init_file, load_params, params_file, save_params

PIXEL_TASKS = ("pong",)


def train(args) -> int:
    if args.bc_iterations <= 0:
        raise SystemExit("pong is trained by behaviour cloning: give --bc-iterations N (> 0)")
    if args.es_generations > 0:
        raise SystemExit("--es-generations is not supported for pong (behaviour cloning only)")
    state_only = {"--bc-window": args.bc_window != 0, "--bc-lr-end": args.bc_lr_end is not None,
                  "--bc-feed-executed": args.bc_feed_executed, "--bc-beta-min": args.bc_beta_min != 0.0,
                  "--bc-teacher-noise": args.bc_teacher_noise != 0.0, "--bc-select-every": args.bc_select_every != 0,
                  "--bc-aggregate": args.bc_aggregate != 0, "--bc-ema": args.bc_ema != 0.0}
    given = [flag for flag, used in state_only.items() if used]
    if given:
        raise SystemExit(f"{', '.join(given)}: options of the state tasks, which pong does not use; drop them")
    teacher = args.teacher or "scripted"
    meta = {"command": "simlab sensory " + " ".join(args.argv), "task": "pong", "agent": "sensory",
            "teacher": teacher}
    init_from = ""
    if args.init_from is not None:
        init_from = str(init_file(args, "sensory"))
        _, meta["init_from"] = load_params(init_from)
    start = time.perf_counter()
    config = dict(num_episodes=args.bc_episodes, segment_steps=args.bc_segment, updates_per_iteration=args.bc_updates,
                  learning_rate=args.bc_lr, beta_init=args.bc_beta_init, beta_decay=args.bc_beta_decay,
                  shown_min=args.shown_min, shown_max=args.shown_max, teacher=teacher, init_from=init_from)
    learner, result = run_phase("pixel_bc", "pong", config, {}, args.bc_iterations, args,
                                f"{args.name or 'pong'}_sensory_bc", 25, args.time_budget)
    meta["bc"] = {"config": dataclasses.asdict(learner.config), "run": str(result.out_dir),
                  "iterations_run": int(result.state.iteration), "final_loss": result.history[-1]["bc_loss"]}
    meta["train_seconds"] = time.perf_counter() - start
    meta["devices"] = str(jax.devices())

    out = params_file(args.out_dir, args.name or "pong", "sensory")
    save_params(out, learner.params(result.state), meta)
    print(f"sensory: wrote {out} after {meta['train_seconds']:.0f}s", flush=True)
    return 0


def evaluate(args) -> int:
    bad = [f for f in args.fractions or () if not 0.0 < f <= 1.0]
    if bad:
        raise SystemExit(f"--fractions must lie in (0, 1] (1 = every patch, always evaluated as 'shuffled'); got {bad}")

    params, _ = load_params(params_file(args.params, args.name or "pong", "sensory"))
    conditions = CONDITIONS if args.fractions is None else \
        ("unshuffled", "shuffled") + tuple(shown_condition(f) for f in args.fractions if f < 1.0)
    if not args.json:
        print(f"pong: mean ± sd of the score (points for - against) over {args.episodes} episodes of 1000 steps")
    report = evaluate_pong(params, args.episodes, seed=args.seed, conditions=conditions,
                           log=None if args.json else (lambda m: print(m, flush=True)))
    if args.json:
        print(json.dumps(report, indent=2))
    return 0
