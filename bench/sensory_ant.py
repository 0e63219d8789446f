"""Ant with shuffled observations: the sensory-neuron agent against its PPO teacher and a same-budget MLP.

    simlab bench sensory_ant                      # from the shipped parameters (also: python -m bench.sensory_ant)
    simlab bench sensory_ant --teacher RUN_DIR    # also re-export the teacher from a `simlab train` run

The Ant observation (27 numbers: qpos[2:], qvel) is shuffled at reset and re-shuffled
after every 200 steps (`TASKS["ant"].shuffle_every`). Loads `agents/sensory/params/ant_{sensory,mlp}/`
(written by the `simlab sensory train ant ...` command recorded inside them) and the teacher's
deterministic policy `ant_teacher/` (exported from the PPO run by this script, 64x64 tanh MLP plus
its observation normaliser), runs `--episodes` 1000-step episodes per (agent, condition) and writes
OUT/sensory_ant.json and sensory_ant.png: the per-step reward (moving average) and the
cumulative return against time, with the shuffle events marked.

OUT is `--out DIR` (default ./simlab_results/sensory_ant); `--publish` writes the tracked bench/results/
instead. With `--teacher`, the exported teacher goes to OUT/ant_teacher/ and is the one evaluated;
only `--publish` replaces the shipped agents/sensory/params/ant_teacher/. Existing files are not
replaced without `--overwrite`, and a refusal comes before any work (bench/output.py).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from bench import harness, output

TASK = "ant"
TEACHER_FILE = "ant_teacher"  # a save_params directory
SMOOTH = 25  # steps of the moving average in the plot
# How the shipped teacher was trained (the PPO settings of bench.configs.BENCH_CONFIGS["train_ant"] as JSON),
# with the training reward shaped for smooth control (engine.wrappers.ActionRatePenalty, weight 1.0): a teacher
# whose actions change slowly is far easier for the small recurrent student to copy. It is evaluated, like
# every agent here, on the plain Ant reward.
TEACHER_COMMAND = ("simlab train ant --agent ppo --steps 4000000 --config ant_ppo.json "
                   "--env-set include_cfrc_ext_in_observation=false --env-set action_rate_penalty=1.0 "
                   "--devices 1 --eval-every 37 --checkpoint-every 37 --out /tmp/s7/teacher_w1.0")
# (label, agent, condition): what is evaluated; the teacher always reads the clean observation
# unless the condition is shuffled (then it reads the shuffled one, like the MLP).
RUNS = (
    ("teacher", "teacher", "unshuffled"),
    ("teacher_shuffled", "teacher", "shuffled"),
    ("sensory_unshuffled", "sensory", "unshuffled"),
    ("sensory_shuffled", "sensory", "shuffled"),
    ("sensory_reshuffle_25", "sensory", "reshuffle_25"),
    ("sensory_noise", "sensory", "noise"),
    ("mlp_unshuffled", "mlp", "unshuffled"),
    ("mlp_shuffled", "mlp", "shuffled"),
)


PLOTTED = ("teacher", "sensory_shuffled", "sensory_reshuffle_25", "mlp_shuffled")  # per-step curves kept in the JSON


def teacher_path() -> Path:
    from simlab.agents.sensory.tasks import PARAMS_DIR

    return PARAMS_DIR / TEACHER_FILE


def export_teacher(run_dir: str, path: Path | None = None) -> Path:
    """Writes the deterministic policy of a `simlab train ant` PPO run (policy net + obs normaliser) to `path`."""
    from simlab.agents.loading import load_run
    from simlab.agents.sensory.tasks import save_params

    path = path or teacher_path()
    agent, state, config = load_run(run_dir)
    if agent.name != "ppo" or config["env"] != TASK:
        raise ValueError(f"{run_dir} is a {agent.name} run on {config['env']!r}; the teacher must be PPO on {TASK!r}")
    params = {module: dict(leaves) for module, leaves in state.policy_params.items()}
    params["obs_stats"] = {"mean": state.obs_stats.mean, "m2": state.obs_stats.m2, "count": state.obs_stats.count}
    run_log = Path(run_dir) / "metrics.csv"
    meta = {"command": TEACHER_COMMAND, "run_config": config, "exported_from": str(run_dir), "env_steps": int(state.env_steps),
            "metrics_tail": run_log.read_text().splitlines()[-1] if run_log.exists() else None}
    save_params(path, params, meta)
    return path


def load_teacher(path: Path | None = None):
    """`(act(obs [B, 27]) -> action [B, 8], meta)` of the exported teacher."""
    import jax

    from simlab.agents.normalization import RunningStats
    from simlab.agents.registry import make_agent
    from simlab.agents.sensory.tasks import load_params

    params, meta = load_params(path or teacher_path())
    config = meta["run_config"]
    cfg = dict(config["config"])
    cfg["hidden"] = tuple(cfg["hidden"])
    agent = make_agent(config["agent"], config["env"], cfg, env_kwargs=config.get("env_kwargs"))
    stats = params.pop("obs_stats")
    act = agent.policy_from(params, RunningStats(stats["mean"], stats["m2"], stats["count"]), deterministic=True)
    key = jax.random.key(0)
    return (lambda obs: act(obs, key)), meta


def teacher_policy(act, obs_size: int, action_size: int):
    """The teacher as a `RecurrentPolicy` (no carry, parameters closed over) for `make_episode_returns`-style runs."""
    from simlab.agents.policy import RecurrentPolicy

    return RecurrentPolicy("teacher", action_size, obs_size, lambda key, n=obs_size: {}, lambda n: (),
                           lambda params, carry, obs: (carry, act(obs[None])[0]))


def make_traces(env, policy, num_episodes: int):
    """Jittable `traces(params, key) -> (reward [T, E], x_position [T, E], alive [T, E])` (rewards 0 after the end)."""
    import jax
    import jax.numpy as jnp

    from simlab.agents.evaluation import episode_length_of
    from simlab.engine.wrappers import VmapWrapper

    horizon = episode_length_of(env)
    batched = VmapWrapper(env, num_episodes)
    num_inputs = env.observation_size

    def traces(params, key):
        state = batched.reset(key)
        carry = jax.vmap(lambda _: policy.initial_carry(num_inputs))(jnp.arange(num_episodes))
        act = jax.vmap(policy.step, in_axes=(None, 0, 0))

        def body(loop, _):
            state, carry, alive = loop
            carry, action = act(params, carry, state.obs)
            state = batched.step(state, action)
            reward = jnp.where(alive, state.reward, 0.0)
            record = (reward, state.metrics["x_position"], alive)
            alive = jnp.logical_and(alive, jnp.logical_not(state.done))
            return (state, carry, alive), record

        _, out = jax.lax.scan(body, (state, carry, jnp.ones(num_episodes, jnp.bool_)), None, length=horizon)
        return out

    return traces


def segment_means(rewards: np.ndarray, every: int) -> list[float]:
    """Mean per-step reward (over episodes) in each block of `every` steps."""
    return [float(rewards[s:s + every].mean()) for s in range(0, rewards.shape[0], every)]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="simlab bench sensory_ant", description=__doc__.split("\n")[0])
    p.add_argument("--episodes", type=int, default=32, help="episodes per (agent, condition)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--teacher", default=None,
                   help=f"PPO run dir to (re-)export the teacher from first: writes OUT/{TEACHER_FILE} and evaluates "
                        f"it (with --publish: replaces the shipped agents/sensory/params/{TEACHER_FILE})")
    output.add_output_arguments(p, "sensory_ant")
    return p


def run(args) -> dict:
    import jax

    from simlab.agents.sensory.tasks import condition_env, load_params, params_path, task_of
    from bench.sensory import total_train_seconds, training_stages

    task = task_of(TASK)
    teacher_file = getattr(args, "teacher_file", None) or teacher_path()
    if args.teacher:
        print(f"exported the teacher to {export_teacher(args.teacher, teacher_file)}", file=sys.stderr)
    teacher_act, teacher_meta = load_teacher(teacher_file)
    obs_size = task.base_env().observation_size
    agents = {"teacher": (teacher_policy(teacher_act, obs_size, task.action_size), {})}
    training = {}
    for name in ("sensory", "mlp"):
        params, meta = load_params(params_path(TASK, name))
        policy = task.sensory_policy() if name == "sensory" else task.mlp_policy()
        agents[name] = (policy, params)
        training[name] = {"train_seconds": total_train_seconds(meta), "stages": training_stages(meta),
                          "num_params": policy.num_params(params)}
    results, curves = {}, {}
    for index, (label, agent, condition) in enumerate(RUNS):
        policy, params = agents[agent]
        start = time.perf_counter()
        traces = jax.jit(make_traces(condition_env(task, condition), policy, args.episodes))
        rewards, x_pos, alive = (np.asarray(a) for a in traces(params, jax.random.fold_in(jax.random.key(args.seed),
                                                                                           index)))
        returns = rewards.sum(axis=0)
        last = np.maximum(alive.sum(axis=0) - 1, 0)
        distance = x_pos[last, np.arange(x_pos.shape[1])]
        results[label] = {"agent": agent, "condition": condition, "mean": float(returns.mean()),
                          "std": float(returns.std()), "episodes": int(returns.size),
                          "episode_length_mean": float(alive.sum(axis=0).mean()),
                          "x_distance_mean": float(distance.mean()),
                          "segment_reward_mean": segment_means(rewards, task.shuffle_every),
                          "seconds": time.perf_counter() - start}
        if label in PLOTTED:
            curves[label] = [round(float(v), 3) for v in rewards.mean(axis=1)]
        print(f"{label:<22} {returns.mean():8.1f} ± {returns.std():6.1f}   x {distance.mean():6.1f} m  "
              f"({time.perf_counter() - start:.0f} s)", file=sys.stderr, flush=True)
    teacher = results["teacher"]["mean"]
    sens = results["sensory_shuffled"]
    ratio = sens["mean"] / teacher
    segments_ok = all(s >= 0.5 * t for s, t in zip(sens["segment_reward_mean"],
                                                   results["teacher"]["segment_reward_mean"]))
    checks = {
        "sensory_shuffled_at_least_70pct_of_teacher": ratio >= 0.7,
        "sensory_walks_forward_in_every_200_step_segment": segments_ok and sens["x_distance_mean"] > 0,
        "mlp_collapses_when_shuffled": results["mlp_shuffled"]["mean"] <= 0.5 * results["mlp_unshuffled"]["mean"],
    }
    return {"task": TASK, "episodes": args.episodes, "shuffle_every": task.shuffle_every,
            "env_kwargs": dict(task.env_kwargs), "results": results,
            "sensory_shuffled_over_teacher": ratio, "acceptance": checks,
            "paper": {"teacher_fnn": 2700.0, "sensory_shuffled": 2576.0, "sensory_reshuffle_25": 2053.0},
            "teacher": {"file": str(teacher_file.name), "exported_now": bool(args.teacher),
                        "env_steps": teacher_meta.get("env_steps"),
                        "run_config": teacher_meta.get("run_config"),
                        "metrics_tail": teacher_meta.get("metrics_tail")},
            "training": training, "curves_mean_reward_per_step": curves,
            "machine": harness.machine_info(),
            "note": "2-core CPU shared with other jobs while training; timings are noisy."}


def plot(payload: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves, results = payload["curves_mean_reward_per_step"], payload["results"]
    shown = [("teacher", "PPO teacher, clean obs", "black"),
             ("sensory_shuffled", "sensory neuron, shuffled every 200", "tab:orange"),
             ("sensory_reshuffle_25", "sensory neuron, reshuffled every 25", "tab:green"),
             ("mlp_shuffled", "MLP, shuffled every 200", "tab:blue")]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6.5), dpi=120, sharex=True)
    for label, text, color in shown:
        reward = np.asarray(curves[label])
        smooth = np.convolve(reward, np.ones(SMOOTH) / SMOOTH, mode="valid")
        steps = np.arange(reward.size) + 1
        top.plot(steps[SMOOTH - 1:], smooth, color=color, lw=1.2,
                 label=f"{text}: return {results[label]['mean']:.0f} ± {results[label]['std']:.0f}")
        bottom.plot(steps, np.cumsum(reward), color=color, lw=1.4)
    every = payload["shuffle_every"]
    for ax in (top, bottom):
        for t in range(every, len(curves["teacher"]), every):
            ax.axvline(t, color="gray", ls="--", lw=0.8)
        ax.grid(alpha=0.3)
    top.set_ylabel(f"reward per step ({SMOOTH}-step mean)")
    bottom.set_ylabel("cumulative return")
    bottom.set_xlabel("step (dashed: observation re-shuffled)")
    top.set_title(f"Ant, observations re-shuffled every {every} steps "
                  f"(mean of {payload['episodes']} episodes; sensory/teacher = "
                  f"{payload['sensory_shuffled_over_teacher']:.2f})", fontsize=9)
    top.legend(fontsize=7, loc="center right")
    fig.tight_layout()
    return harness.save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    prog = "simlab bench sensory_ant"
    args.out = output.prepare_or_report(args, "sensory_ant", ['sensory_ant.json', 'sensory_ant.png'], prog)
    if args.out is None:
        return 2
    if args.episodes < 1:
        print(f"{prog}: error: --episodes must be >= 1", file=sys.stderr)
        return 2
    args.teacher_file = None
    if args.teacher:
        # The exported teacher follows the same policy: OUT/ant_teacher/, the shipped file only with --publish.
        teacher_dir = teacher_path().parent if args.publish else args.out
        try:
            output.check_writable(teacher_dir, [TEACHER_FILE + "/"], overwrite=args.overwrite or args.publish)
        except ValueError as err:
            print(f"{prog}: error: {err}", file=sys.stderr)
            return 2
        if not Path(args.teacher).is_dir():
            print(f"{prog}: error: --teacher {args.teacher}: no such run directory", file=sys.stderr)
            return 2
        args.teacher_file = teacher_dir / TEACHER_FILE
    try:
        payload = run(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    json_path = harness.write_json(args.out / "sensory_ant.json", payload)
    png_path = plot(payload, args.out / "sensory_ant.png")
    res = payload["results"]
    print(f"teacher {res['teacher']['mean']:.0f}, sensory shuffled-every-200 {res['sensory_shuffled']['mean']:.0f} "
          f"({payload['sensory_shuffled_over_teacher']:.0%} of the teacher), MLP shuffled {res['mlp_shuffled']['mean']:.0f}")
    print(json.dumps(payload["acceptance"]))
    print(f"wrote {json_path} and {png_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
