"""Sim-to-sim transfer: PPO policies trained on our locomotion tasks, evaluated on gymnasium's MuJoCo v5 envs.

    python -m bench.transfer                          (also: simlab bench transfer)
    python -m bench.transfer --tasks halfcheetah --solvers penalty --steps 20000 --episodes 2
    python -m bench.transfer --runs simlab_results/transfer/runs --overwrite   (evaluate earlier runs again)

What is measured. For each task in `--tasks` (ant, halfcheetah, hopper, walker2d) and each contact
model in `--solvers` (`mujoco`: MuJoCo's constraint model and integrator in our engine; `penalty`: our
soft contacts), PPO is trained on our task with the `agents/registry.py` defaults for it (`--steps`
overrides the step budget; the default is the registry's). The trained policy is then run
deterministically (the Gaussian's mean action, through the run's observation normaliser) for
`--episodes` episodes of at most 1000 steps, with reset seeds 0, 1, ..., on

* our env (`envs.make(task, solver=...)`, each episode reset as `gymnasium.make("simlab/<Task>-v0")
  .reset(seed=s)` resets it), and
* gymnasium's own `<Task>-v5` (MuJoCo C, float64), made with the options that give the same
  observation as ours (the env options of the run, which carry gymnasium's names).

Both draw their reset noise from their own generators, so seed s is not the same start state on the
two sides; the distributions are the same. Reported per (task, solver): the mean and std of the
return on each side, the forward distance (x displacement of the root / torso over the episode, up
to termination), the episode length, and `ratio = mujoco_return / simlab_return` (the policy keeps
that fraction of its return on MuJoCo; `transfers` is true when it is at least 0.9 and the simlab
return is positive, and 0.9 x the simlab return is marked in the plot).

Ant observes 27 numbers (`qpos[2:]`, `qvel`; `include_cfrc_ext_in_observation=False`, as Brax's Ant and
`bench/train.py`), because its contact wrenches come from a different contact model under `penalty`
and would be policy inputs that do not carry over; hopper, halfcheetah and walker2d observe v5's defaults.

Outputs: OUT/transfer.json (per-episode numbers too) and OUT/transfer.png (grouped bars of the two
returns per task and solver, ratio annotated). OUT is `--out DIR` (default ./simlab_results/transfer);
`--publish` writes the tracked bench/results/ instead. Training run directories go to
OUT/runs/<task>_<solver>/ (with `--publish`: ./simlab_results/transfer/runs/); `--runs DIR` reuses the
runs in DIR/<task>_<solver>/ instead of training (pairs missing there are trained). Existing files and
runs are not replaced without `--overwrite`, and a refusal comes before any work (bench/output.py).

How long it takes on a 2-core CPU: the eight trainings dominate. Measured (2026-12-04, nothing else running):
the default run took 35 min with the two halfcheetah runs reused through `--runs`, and those two took 6 min
on their own, so about 41 min in all. Training took ant 7.4 / 1.3 min (mujoco / penalty), hopper 8.8 / 1.6,
walker2d 12.0 / 1.6; the rest (compiling and 160 evaluation episodes) about 3 min.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from bench import harness, output

NAME = "transfer"
FILES = ["transfer.json", "transfer.png"]
# our task -> gymnasium id
GYM_IDS = {"ant": "Ant-v5", "halfcheetah": "HalfCheetah-v5", "hopper": "Hopper-v5", "walker2d": "Walker2d-v5"}
SOLVERS = ("mujoco", "penalty")
# Env options we train with (gymnasium's names; passed to both sides). See the module docstring.
TASK_ENV_KWARGS: dict[str, dict[str, Any]] = {"ant": {"include_cfrc_ext_in_observation": False}}
EPISODE_LENGTH = 1000  # our default time limit and gymnasium's max_episode_steps for these v5 tasks
THRESHOLD = 0.9  # ratio marked in the plot


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="simlab bench transfer", description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="Run time with the defaults: about 1.5 hours on a 2-core CPU (see the module "
                                       "docstring of bench/transfer.py).")
    p.add_argument("--tasks", default=",".join(GYM_IDS),
                   help=f"comma-separated tasks (default {','.join(GYM_IDS)})")
    p.add_argument("--solvers", default=",".join(SOLVERS),
                   help=f"comma-separated contact models of our engine to train on (default {','.join(SOLVERS)})")
    p.add_argument("--steps", type=int, default=None,
                   help="training env steps per (task, solver) (default: agents/registry.py's budget per task)")
    p.add_argument("--episodes", type=int, default=10, help="evaluation episodes per side, seeds 0..N-1 (default 10)")
    p.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    p.add_argument("--runs", type=Path, default=None,
                   help="directory with earlier runs DIR/<task>_<solver>/ (e.g. OUT/runs of a previous call) to "
                        "evaluate instead of training; pairs missing there are trained")
    output.add_output_arguments(p, NAME, what="JSON, PNG and training runs")
    p.add_argument("--json", action="store_true", help='print {"results": [...]} as JSON')
    return p


# ---------------------------------------------------------------------------------------------- planning
def parse_choices(text: str, valid, what: str, flag: str) -> list[str]:
    """Comma-separated names, each in `valid`; raises ValueError saying what to pass instead."""
    names = harness.parse_name_list(text)
    if not names:
        raise ValueError(f"{flag} is empty; pass a comma-separated list from {', '.join(valid)}")
    unknown = [n for n in names if n not in valid]
    if unknown:
        raise ValueError(f"unknown {what} {', '.join(repr(u) for u in unknown)} in {flag}; choose from "
                         f"{', '.join(valid)} (comma-separated, e.g. {flag} {','.join(list(valid)[:2])})")
    return list(dict.fromkeys(names))


def pair_name(task: str, solver: str) -> str:
    return f"{task}_{solver}"


def runs_out_dir(args: argparse.Namespace) -> Path:
    """Where this call writes training runs: OUT/runs, or the default OUT's runs/ with --publish."""
    base = output.default_out_dir(NAME) if getattr(args, "publish", False) else args.out
    return Path(base) / "runs"


def plan(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The (task, solver) jobs: each reuses `--runs DIR/<task>_<solver>` or trains into OUT/runs/<task>_<solver>.

    Raises ValueError (before anything is written or trained) for bad arguments and for a training
    directory that already holds a run without `--overwrite`. `args.out` must be resolved already.
    """
    from simlab.agents import run_log

    tasks = parse_choices(args.tasks, GYM_IDS, "task", "--tasks")
    solvers = parse_choices(args.solvers, SOLVERS, "solver", "--solvers")
    if args.episodes < 1:
        raise ValueError(f"--episodes must be >= 1, got {args.episodes}")
    if args.steps is not None and args.steps < 1:
        raise ValueError(f"--steps must be >= 1, got {args.steps}")
    if args.runs is not None and not Path(args.runs).is_dir():
        raise ValueError(f"--runs {args.runs} is not a directory; pass the runs/ folder of an earlier "
                         f"`simlab bench transfer` (e.g. {default_runs_hint()}) or leave it out to train")
    jobs, held = [], []
    for task in tasks:
        for solver in solvers:
            name = pair_name(task, solver)
            reuse = Path(args.runs) / name if args.runs is not None else None
            if reuse is not None and (reuse / "config.json").is_file():
                jobs.append({"task": task, "solver": solver, "run_dir": reuse, "train": False})
                continue
            target = runs_out_dir(args) / name
            if target.exists() and not target.is_dir():
                raise ValueError(f"{target} is a file; cannot write a training run there")
            if target.is_dir() and run_log.run_contents(target) and not args.overwrite:
                held.append(target)
            jobs.append({"task": task, "solver": solver, "run_dir": target, "train": True})
    if held:
        names = ", ".join(str(h) for h in held)
        raise output.OutputExistsError(
            f"{names} already hold{'s' if len(held) == 1 else ''} a training run; not replacing it. Pass --runs "
            f"{held[0].parent} to evaluate those runs instead, --overwrite to train again, or --out DIR")
    return jobs


def default_runs_hint() -> str:
    return str(output.default_out_dir(NAME) / "runs")


def gym_kwargs(env_kwargs: dict[str, Any]) -> dict[str, Any]:
    """gymnasium v5 options for our env options: the same names, minus our engine's `solver`."""
    return {k: v for k, v in (env_kwargs or {}).items() if k != "solver"}


def check_observation_match(task: str, env_kwargs: dict[str, Any], observation_size: int) -> None:
    """Raises ValueError unless gymnasium's v5 env with `gym_kwargs(env_kwargs)` observes `observation_size` numbers."""
    gym = make_gym_env(task, gym_kwargs(env_kwargs))
    try:
        shape = gym.observation_space.shape
    finally:
        gym.close()
    if shape != (observation_size,):
        raise ValueError(f"{GYM_IDS[task]} with {gym_kwargs(env_kwargs)} observes {shape}, but the policy reads "
                         f"{observation_size} numbers; the run's env options do not map onto gymnasium's")


# -------------------------------------------------------------------------------------------- evaluation
def simlab_reset_keys(seeds):
    """The reset key of each seed, as `SimlabGymEnv.reset(seed=s)` draws it (so episodes can be replayed there)."""
    import jax

    return jax.numpy.stack([jax.random.split(jax.random.key(int(s)))[1] for s in seeds])


def evaluate_simlab(env, act: Callable, seeds, episode_length: int = EPISODE_LENGTH) -> dict[str, np.ndarray]:
    """Runs `act(obs [N, O], key) -> action [N, A]` on our unbatched env `env` from the resets of `seeds`.

    Each episode ends at termination or after `episode_length` steps; returns per episode `returns`,
    `distances` (x displacement of `sim.q[0]`, the root's x, up to the end) and `lengths`, as NumPy arrays.
    One jitted program (reset, then a scan over `episode_length` steps with finished episodes masked).
    """
    import jax
    import jax.numpy as jnp

    keys = simlab_reset_keys(seeds)
    n = len(seeds)

    def run(keys):
        state = jax.vmap(env.reset)(keys)
        x0 = state.sim.q[:, 0]

        def body(carry, step_key):
            state, alive, total, x_end, length = carry
            nxt = jax.vmap(env.step)(state, act(state.obs, step_key))
            total = total + jnp.where(alive, nxt.reward, 0.0)
            x_end = jnp.where(alive, nxt.sim.q[:, 0], x_end)
            length = length + alive.astype(jnp.int32)
            alive = alive & ~nxt.done
            return (nxt, alive, total, x_end, length), None

        init = (state, jnp.ones(n, bool), jnp.zeros(n, jnp.float32), x0, jnp.zeros(n, jnp.int32))
        (_, _, total, x_end, length), _ = jax.lax.scan(body, init, jax.random.split(jax.random.key(0), episode_length))
        return total, x_end - x0, length

    returns, distances, lengths = jax.device_get(jax.jit(run)(keys))
    return {"returns": np.asarray(returns, np.float64), "distances": np.asarray(distances, np.float64),
            "lengths": np.asarray(lengths, np.int64)}


def make_gym_env(task: str, kwargs: dict[str, Any], episode_length: int = EPISODE_LENGTH):
    """gymnasium's `<Task>-v5` with `kwargs` and the time limit (MuJoCo's model warnings kept off the terminal)."""
    import warnings

    import gymnasium

    from simlab.engine import mujoco_log

    with warnings.catch_warnings(), mujoco_log.quiet_mujoco():
        warnings.simplefilter("ignore", DeprecationWarning)  # the installed models' deprecated attributes
        return gymnasium.make(GYM_IDS[task], max_episode_steps=episode_length, **kwargs)


def evaluate_gymnasium(task: str, kwargs: dict[str, Any], act: Callable[[np.ndarray], np.ndarray], seeds,
                       episode_length: int = EPISODE_LENGTH, initial_states=None,
                       progress: bool = False) -> dict[str, np.ndarray]:
    """Runs `act(obs [N, O] float32) -> action [N, A]` on gymnasium's v5 env, one env per seed, in lockstep.

    `initial_states`: optional `(qpos [N, nq], qvel [N, nv])` set right after `reset(seed=s)` (to start
    from the same states as another simulator). Returns per episode `returns`, `distances` (x displacement
    of `qpos[0]`, the root's x, up to the end) and `lengths`.
    """
    from tqdm import tqdm

    envs_ = [make_gym_env(task, kwargs, episode_length) for _ in seeds]
    try:
        obs = []
        for i, (env, seed) in enumerate(zip(envs_, seeds)):
            o, _ = env.reset(seed=int(seed))
            if initial_states is not None:
                env.unwrapped.set_state(np.asarray(initial_states[0][i], np.float64),
                                        np.asarray(initial_states[1][i], np.float64))
                o = env.unwrapped._get_obs()
            obs.append(o)
        obs = np.stack(obs).astype(np.float32)
        n = len(envs_)
        x0 = np.array([env.unwrapped.data.qpos[0] for env in envs_], np.float64)
        x_end, returns = x0.copy(), np.zeros(n)
        lengths, alive = np.zeros(n, np.int64), np.ones(n, bool)
        with tqdm(total=episode_length, desc=f"{GYM_IDS[task]} episodes", unit="step", file=sys.stderr,
                  leave=False, disable=not progress) as bar:
            for _ in range(episode_length):
                if not alive.any():
                    break
                actions = np.asarray(act(obs), np.float64)
                for i in np.flatnonzero(alive):
                    o, reward, terminated, truncated, _ = envs_[i].step(actions[i])
                    obs[i] = o
                    returns[i] += reward
                    lengths[i] += 1
                    x_end[i] = envs_[i].unwrapped.data.qpos[0]
                    alive[i] = not (terminated or truncated)
                bar.update(1)
    finally:
        for env in envs_:
            env.close()
    return {"returns": returns, "distances": x_end - x0, "lengths": lengths}


def host_policy(act: Callable) -> Callable[[np.ndarray], np.ndarray]:
    """`obs [N, O] -> action [N, A]` (NumPy) from a jittable `act(obs, key)` of a deterministic policy."""
    import jax

    jitted = jax.jit(act)
    key = jax.random.key(0)  # unused by a deterministic policy
    return lambda obs: np.asarray(jitted(np.asarray(obs, np.float32), key))


def summary(side: dict[str, np.ndarray], prefix: str) -> dict[str, float]:
    out = {}
    for field, label in (("returns", "return"), ("distances", "distance"), ("lengths", "length")):
        values = np.asarray(side[field], np.float64)
        out[f"{prefix}_{label}"] = float(values.mean())
        out[f"{prefix}_{label}_std"] = float(values.std())
    return out


def transfer_ratio(mujoco_return: float, simlab_return: float) -> float | None:
    """`mujoco_return / simlab_return` (None when the simlab return is 0)."""
    return None if simlab_return == 0 else float(mujoco_return / simlab_return)


# ------------------------------------------------------------------------------------------------- jobs
def train_run(job: dict[str, Any], args: argparse.Namespace):
    """Trains PPO with the registry defaults for the job's task on its solver; returns `(agent, state, info)`."""
    from simlab.agents.registry import default_steps, make_agent
    from simlab.agents.train import TrainOptions, train

    task, solver = job["task"], job["solver"]
    steps = args.steps or default_steps("ppo", task)
    env_kwargs = {**TASK_ENV_KWARGS.get(task, {}), "solver": solver}
    agent = make_agent("ppo", task, {"eval_episodes": args.episodes}, total_steps=steps, env_kwargs=env_kwargs)
    check_observation_match(task, env_kwargs, agent.eval_env.observation_size)  # before training, not after
    iterations = -(-steps // agent.steps_per_iteration)
    started = time.perf_counter()
    result = train(agent, TrainOptions(total_steps=steps, seed=args.seed, out_dir=str(job["run_dir"]),
                                       eval_every=iterations, progress=True, overwrite=args.overwrite))
    final = result.history[-1]
    return agent, result.state, {"train_seconds": time.perf_counter() - started,
                                 "train_eval_return": final["eval_return"]}


def load_job_run(job: dict[str, Any]):
    """Loads a reused run and checks that it belongs to the job's task and solver."""
    from simlab.agents.loading import load_run

    agent, state, config = load_run(job["run_dir"])
    solver = (config.get("env_kwargs") or {}).get("solver", "penalty")
    if config["env"] != job["task"] or solver != job["solver"]:
        raise ValueError(f"{job['run_dir']} is a run on {config['env']!r} with solver {solver!r}, not "
                         f"{job['task']!r} with {job['solver']!r}; --runs DIR must hold DIR/<task>_<solver>/ "
                         "as written by this bench")
    return agent, state, {"train_seconds": None, "train_eval_return": None}


def run_job(job: dict[str, Any], args: argparse.Namespace, bar) -> dict[str, Any]:
    task, solver = job["task"], job["solver"]
    label = f"{task}/{solver}"
    if job["train"]:
        bar.set_description(f"{label}: training")
        agent, state, info = train_run(job, args)
    else:
        bar.set_description(f"{label}: loading {job['run_dir']}")
        agent, state, info = load_job_run(job)
    kwargs = gym_kwargs(agent.env_kwargs)
    check_observation_match(task, agent.env_kwargs, agent.eval_env.observation_size)
    act = agent.policy(state, True)
    seeds = list(range(args.episodes))
    bar.set_description(f"{label}: evaluating on simlab")
    ours = evaluate_simlab(agent.eval_env, act, seeds)
    bar.set_description(f"{label}: evaluating on {GYM_IDS[task]}")
    theirs = evaluate_gymnasium(task, kwargs, host_policy(act), seeds, progress=True)
    row = {"env": task, "solver": solver, "gym_id": GYM_IDS[task], "gym_kwargs": kwargs,
           "env_kwargs": dict(agent.env_kwargs), "run_dir": str(job["run_dir"]), "trained": job["train"],
           "train_env_steps": int(state.env_steps), **info, **summary(ours, "simlab"), **summary(theirs, "mujoco")}
    row["ratio"] = transfer_ratio(row["mujoco_return"], row["simlab_return"])
    row["transfers"] = bool(row["simlab_return"] > 0 and row["ratio"] is not None and row["ratio"] >= THRESHOLD)
    row["per_episode"] = {"seeds": seeds, **{f"simlab_{k}": v.tolist() for k, v in ours.items()},
                          **{f"mujoco_{k}": v.tolist() for k, v in theirs.items()}}
    return row


# ------------------------------------------------------------------------------------------------ output
def plot(result: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["results"]
    x = np.arange(len(rows))
    width = 0.38
    fig, ax = plt.subplots(figsize=(max(5.0, 1.3 * len(rows)) + 2.6, 4.6), dpi=120)
    ours = [r["simlab_return"] for r in rows]
    theirs = [r["mujoco_return"] for r in rows]
    ax.bar(x - width / 2, ours, width, yerr=[r["simlab_return_std"] for r in rows], capsize=3,
           color="tab:blue", label="simlab (our env)")
    ax.bar(x + width / 2, theirs, width, yerr=[r["mujoco_return_std"] for r in rows], capsize=3,
           color="tab:orange", label="MuJoCo (gymnasium v5)")
    for i, r in enumerate(rows):
        mark = THRESHOLD * r["simlab_return"]
        ax.hlines(mark, x[i] + 0.02, x[i] + width - 0.02, colors="black", linestyles="--", linewidth=1.2,
                  label=f"{THRESHOLD:g} x simlab return" if i == 0 else None)
        top = max(ours[i] + r["simlab_return_std"], theirs[i] + r["mujoco_return_std"], 0.0)
        text = "ratio n/a" if r["ratio"] is None else f"ratio {r['ratio']:.2f}"
        ax.annotate(text, (x[i], top), textcoords="offset points", xytext=(0, 4), ha="center", fontsize=8,
                    color="tab:green" if r["transfers"] else "tab:red")
    ax.axhline(0, color="gray", linewidth=0.8)
    ax.set_xticks(x, [f"{r['env']}\n{r['solver']}" for r in rows])
    ax.set_ylabel(f"return, mean ± std of {result['episodes']} episodes")
    ax.set_title("simlab-trained PPO on our env and on MuJoCo (gymnasium v5)", fontsize=10)
    ax.set_xlim(-0.8, len(rows) - 0.2)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.margins(y=0.12)
    return harness.save_figure(fig, path)


def print_table(rows: list[dict[str, Any]]) -> None:
    print(f"{'task':<12} {'solver':<8} {'simlab return':>16} {'MuJoCo return':>16} {'ratio':>6} "
          f"{'simlab dist':>12} {'MuJoCo dist':>12}")
    for r in rows:
        ratio = "n/a" if r["ratio"] is None else f"{r['ratio']:.2f}"
        print(f"{r['env']:<12} {r['solver']:<8} {r['simlab_return']:>9.1f} ±{r['simlab_return_std']:>5.0f} "
              f"{r['mujoco_return']:>9.1f} ±{r['mujoco_return_std']:>5.0f} {ratio:>6} "
              f"{r['simlab_distance']:>12.2f} {r['mujoco_distance']:>12.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    prog = parser.prog
    args.out = output.prepare_or_report(args, NAME, FILES, prog)
    if args.out is None:
        return 2
    try:
        jobs = plan(args)
    except ValueError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    from tqdm import tqdm

    started = time.perf_counter()
    rows = []
    with tqdm(total=len(jobs), desc=NAME, unit="pair", file=sys.stderr, position=0) as bar:
        for job in jobs:
            try:
                rows.append(run_job(job, args, bar))
            except ValueError as err:  # a reused run of another task/solver, or options gymnasium cannot mirror
                bar.close()
                print(f"{prog}: error: {err}", file=sys.stderr)
                return 2
            bar.update(1)
    result = {"episodes": args.episodes, "episode_length": EPISODE_LENGTH, "seeds": list(range(args.episodes)),
              "train_seed": args.seed, "steps": args.steps, "threshold": THRESHOLD,
              "seconds": time.perf_counter() - started, "command": "simlab bench transfer " + " ".join(sys.argv[1:] if argv is None else argv),
              "results": rows, "machine": harness.machine_info()}
    json_path = harness.write_json(args.out / "transfer.json", result)
    png_path = plot(result, args.out / "transfer.png")
    if args.json:
        print(json.dumps({"results": [{k: v for k, v in r.items() if k != "per_episode"} for r in rows]}, indent=1))
        return 0
    print_table(rows)
    print(f"wrote {json_path} and {png_path} ({result['seconds'] / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
