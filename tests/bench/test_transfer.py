"""`simlab bench transfer` (issue 17, item 2): options, refusals before any work, the observation mapping
onto gymnasium's v5 envs, the gymnasium-side evaluation, and the JSON/PNG written from its rows.

Everything here avoids compiling our physics (tens of seconds per env on a 2-core CPU); the test that
runs our env against MuJoCo from the same states is marked slow."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import bench
from simlab import cli
from bench import output, transfer

TASKS = list(transfer.GYM_IDS)


def _args(*argv):
    args = transfer.build_parser().parse_args(list(argv))
    args.out = output.resolve_out_dir(args, transfer.NAME)
    return args


def _no_work(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("work started although the command should have been refused")

    monkeypatch.setattr(transfer, "run_job", fail)


def test_registered_and_help_names_the_options(capsys):
    assert bench.BENCHMARKS["transfer"][0] == "bench.transfer"
    with pytest.raises(SystemExit) as exc:
        cli.main(["bench", "transfer", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for option in ("--tasks", "--solvers", "--steps", "--episodes", "--runs", "--out", "--overwrite", "--publish",
                   "--json"):
        assert option in out
    args = transfer.build_parser().parse_args([])
    assert transfer.parse_choices(args.tasks, transfer.GYM_IDS, "task", "--tasks") == TASKS
    assert transfer.parse_choices(args.solvers, transfer.SOLVERS, "solver", "--solvers") == ["mujoco", "penalty"]
    assert args.episodes == 10 and args.steps is None and args.runs is None


@pytest.mark.parametrize("argv, message", [
    (["--tasks", "ant,humanoid"], "unknown task 'humanoid' in --tasks; choose from ant, halfcheetah, hopper, walker2d"),
    (["--solvers", "brax"], "unknown solver 'brax' in --solvers; choose from mujoco, penalty"),
    (["--tasks", " , "], "--tasks is empty"),
    (["--episodes", "0"], "--episodes must be >= 1"),
    (["--runs", "does/not/exist"], "--runs does/not/exist is not a directory"),
])
def test_bad_arguments_are_refused_before_any_work(argv, message, tmp_path, monkeypatch, capsys):
    _no_work(monkeypatch)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["bench", "transfer", *argv, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith("simlab bench transfer: error:")
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_existing_outputs_and_runs_are_refused_before_any_work(tmp_path, monkeypatch, capsys):
    _no_work(monkeypatch)
    (tmp_path / "transfer.json").write_text("{}")
    argv = ["bench", "transfer", "--tasks", "hopper", "--solvers", "penalty", "--out", str(tmp_path)]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "transfer.json already exists" in err and "--overwrite" in err
    assert (tmp_path / "transfer.json").read_text() == "{}"
    # A training run of this pair in OUT/runs is protected too, and the way to reuse it is named.
    (tmp_path / "transfer.json").unlink()
    run = tmp_path / "runs" / "hopper_penalty"
    run.mkdir(parents=True)
    (run / "metrics.csv").write_text("iteration\n1\n")
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "already holds a training run" in err and f"--runs {run.parent}" in err
    assert (run / "metrics.csv").read_text() == "iteration\n1\n"
    # --publish writes its runs under the default OUT, never into the tracked bench/results/.
    assert transfer.runs_out_dir(_args("--publish")) == Path("simlab_results") / "transfer" / "runs"


def test_plan_reuses_runs_found_under_runs_and_trains_the_rest(tmp_path):
    earlier = tmp_path / "earlier"
    (earlier / "ant_mujoco").mkdir(parents=True)
    (earlier / "ant_mujoco" / "config.json").write_text("{}")
    args = _args("--tasks", "ant", "--runs", str(earlier), "--out", str(tmp_path / "out"))
    jobs = transfer.plan(args)
    assert [(j["task"], j["solver"], j["train"]) for j in jobs] == [("ant", "mujoco", False), ("ant", "penalty", True)]
    assert jobs[0]["run_dir"] == earlier / "ant_mujoco"
    assert jobs[1]["run_dir"] == tmp_path / "out" / "runs" / "ant_penalty"


@pytest.mark.parametrize("task", TASKS)
def test_v5_observation_matches_our_policy_input(task):
    """The policy trained by the bench reads exactly what gymnasium's v5 env (with the run's options) observes."""
    from simlab import envs
    from simlab.agents.registry import make_agent

    for solver in transfer.SOLVERS:
        env_kwargs = {**transfer.TASK_ENV_KWARGS.get(task, {}), "solver": solver}
        agent = make_agent("ppo", task, env_kwargs=env_kwargs)
        size = agent.eval_env.observation_size
        assert size == envs.make(task, **env_kwargs).observation_size
        transfer.check_observation_match(task, env_kwargs, size)  # raises on a mismatch
        gym = transfer.make_gym_env(task, transfer.gym_kwargs(env_kwargs))
        assert gym.observation_space.shape == (size,) and gym.action_space.shape == (agent.eval_env.action_size,)
        assert gym.spec.max_episode_steps == transfer.EPISODE_LENGTH == agent.eval_env.default_episode_length
        assert gym.unwrapped.dt == pytest.approx(agent.eval_env.dt)
        gym.close()
    if task == "ant":
        assert size == 27
        with pytest.raises(ValueError, match="observes \\(105,\\), but the policy reads 27"):
            transfer.check_observation_match("ant", {"solver": "penalty"}, 27)


def test_evaluate_gymnasium_matches_a_plain_loop_with_terminations():
    """Zero actions on Hopper-v5: the lockstep evaluation equals stepping each seed on its own, episodes end
    at termination (the hopper falls) and the distance is the root's x displacement."""
    seeds, length = [0, 3], 400
    zero = lambda obs: np.zeros((obs.shape[0], 3), np.float32)  # noqa: E731
    got = transfer.evaluate_gymnasium("hopper", {}, zero, seeds, episode_length=length)
    for i, seed in enumerate(seeds):
        env = transfer.make_gym_env("hopper", {}, length)
        env.reset(seed=seed)
        x0, total, steps = env.unwrapped.data.qpos[0], 0.0, 0
        done = False
        while not done:
            _, reward, terminated, truncated, _ = env.step(np.zeros(3))
            total, steps, done = total + reward, steps + 1, terminated or truncated
        assert got["returns"][i] == pytest.approx(total, rel=1e-12)
        assert got["distances"][i] == pytest.approx(env.unwrapped.data.qpos[0] - x0, rel=1e-12)
        assert got["lengths"][i] == steps
        env.close()
    assert (got["lengths"] < length).all(), "the unactuated hopper should fall (terminate) before the limit"


def test_evaluate_gymnasium_can_start_from_given_states():
    env = transfer.make_gym_env("halfcheetah", {})
    model = env.unwrapped.model
    qpos = np.tile(model.qpos0, (2, 1))
    qpos[1, 0] = 5.0  # start 5 m ahead: the distance is a displacement, not a position
    qvel = np.zeros((2, model.nv))
    seen = []

    def policy(obs):
        seen.append(obs.copy())
        return np.zeros((obs.shape[0], 6), np.float32)

    got = transfer.evaluate_gymnasium("halfcheetah", {}, policy, [0, 1], episode_length=3, initial_states=(qpos, qvel))
    np.testing.assert_allclose(seen[0][0], np.concatenate([model.qpos0[1:], np.zeros(model.nv)]), atol=1e-7)
    assert got["lengths"].tolist() == [3, 3] and seen[0].dtype == np.float32
    assert got["distances"][0] == pytest.approx(got["distances"][1], abs=1e-9)
    env.close()


def test_ratio_and_summary():
    assert transfer.transfer_ratio(900.0, 1000.0) == pytest.approx(0.9)
    assert transfer.transfer_ratio(5.0, 0.0) is None
    s = transfer.summary({"returns": np.array([1.0, 3.0]), "distances": np.array([2.0, 2.0]),
                          "lengths": np.array([10, 20])}, "mujoco")
    assert s == {"mujoco_return": 2.0, "mujoco_return_std": 1.0, "mujoco_distance": 2.0,
                 "mujoco_distance_std": 0.0, "mujoco_length": 15.0, "mujoco_length_std": 5.0}


def _fake_row(job, args, bar):
    ours, theirs = 1000.0, 850.0 if job["solver"] == "penalty" else 990.0
    row = {"env": job["task"], "solver": job["solver"], "simlab_return": ours, "simlab_return_std": 10.0,
           "mujoco_return": theirs, "mujoco_return_std": 20.0, "simlab_distance": 5.0, "simlab_distance_std": 0.1,
           "mujoco_distance": 4.0, "mujoco_distance_std": 0.2, "ratio": theirs / ours,
           "transfers": theirs / ours >= 0.9, "per_episode": {"seeds": [0]}}
    return row


def test_writes_json_and_png_and_prints_results(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(transfer, "run_job", _fake_row)
    argv = ["bench", "transfer", "--tasks", "halfcheetah,hopper", "--episodes", "1", "--out", str(tmp_path), "--json"]
    assert cli.main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    assert [(r["env"], r["solver"]) for r in printed["results"]] == [
        ("halfcheetah", "mujoco"), ("halfcheetah", "penalty"), ("hopper", "mujoco"), ("hopper", "penalty")]
    assert {"env", "solver", "simlab_return", "mujoco_return", "ratio"} <= set(printed["results"][0])
    assert "per_episode" not in printed["results"][0]
    saved = json.loads((tmp_path / "transfer.json").read_text())
    assert saved["results"][1]["ratio"] == pytest.approx(0.85) and saved["results"][1]["per_episode"] == {"seeds": [0]}
    assert (tmp_path / "transfer.png").read_bytes()[:4] == b"\x89PNG"
    assert cli.main(argv) == 2  # a second call refuses to replace them
    assert "already exist" in capsys.readouterr().err


@pytest.mark.slow
def test_zero_actions_agree_with_mujoco_from_the_same_states():
    """halfcheetah with solver="mujoco" (MuJoCo's model in our engine, float32) against HalfCheetah-v5 (float64):
    from our reset states, 30 zero-action steps give the same return and distance; our reset keys are the ones
    the gymnasium adapter draws for the same seeds."""
    import gymnasium
    import jax

    from simlab import envs

    env = envs.make("halfcheetah", solver="mujoco")
    seeds = [0, 1, 2]
    zero = lambda obs, key: jax.numpy.zeros((obs.shape[0], 6))  # noqa: E731
    ours = transfer.evaluate_simlab(env, zero, seeds, episode_length=30)
    states = jax.vmap(env.reset)(transfer.simlab_reset_keys(seeds))
    adapter = gymnasium.make("simlab/HalfCheetah-v0", solver="mujoco")
    np.testing.assert_allclose(adapter.reset(seed=1)[0], np.asarray(states.obs[1]), atol=1e-6)  # same key
    theirs = transfer.evaluate_gymnasium("halfcheetah", {}, lambda obs: np.zeros((obs.shape[0], 6)), seeds,
                                         episode_length=30, initial_states=(np.asarray(states.sim.q),
                                                                            np.asarray(states.sim.qd)))
    np.testing.assert_allclose(ours["returns"], theirs["returns"], rtol=1e-3, atol=1e-2)
    np.testing.assert_allclose(ours["distances"], theirs["distances"], atol=1e-3)
