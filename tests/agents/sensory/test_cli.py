"""`simlab sensory`: eval prints the documented JSON from the shipped parameters; bad input is refused."""
import json

import jax
import numpy as np
import pytest

from simlab.agents.sensory import cli
from simlab.agents.sensory.tasks import AGENT_NAMES, CONDITIONS, load_params, params_path, save_params, task_of


def test_eval_json_has_every_agent_and_condition(capsys):
    for agent in AGENT_NAMES:
        if not params_path("cartpole_swingup", agent).exists():
            pytest.fail(f"shipped parameters missing: {params_path('cartpole_swingup', agent)}")
    assert cli.main(["eval", "cartpole_swingup", "--episodes", "2", "--json"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)  # stdout is only the JSON; progress goes to stderr
    progress = [line for line in captured.err.splitlines() if line.startswith("[sensory eval]")]
    assert len(progress) == len(AGENT_NAMES) * len(CONDITIONS) and "over 2 episodes" in progress[0]
    assert set(report) == {"sensory", "mlp"}
    for agent in report.values():
        assert set(agent) == set(CONDITIONS)
        for m in agent.values():
            assert set(m) == {"mean", "std"} and np.isfinite(m["mean"]) and m["std"] >= 0.0
            assert 0.0 <= m["mean"] <= 1000.0  # rewards lie in [0, 1] over at most 1000 steps


def test_shipped_params_record_their_command():
    for agent in AGENT_NAMES:
        params, meta = load_params(params_path("cartpole_swingup", agent))
        assert meta["command"].startswith("simlab sensory train cartpole_swingup")
        assert meta["train_seconds"] > 0
    assert sum(np.size(x) for x in jax.tree_util.tree_leaves(load_params(params_path("cartpole_swingup", "sensory"))[0])) == 945


def test_params_round_trip(tmp_path):
    policy = task_of("cartpole_swingup").sensory_policy()
    params = policy.init(jax.random.key(0), 5)
    save_params(tmp_path / "p", params, {"command": "x"})
    loaded, meta = load_params(tmp_path / "p")
    assert meta == {"command": "x"}
    for a, b in zip(jax.tree_util.tree_leaves(params), jax.tree_util.tree_leaves(loaded)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_bad_input_is_refused(tmp_path):
    with pytest.raises(SystemExit):
        cli.main(["eval", "no_such_task"])
    with pytest.raises(SystemExit, match="episodes"):
        cli.main(["eval", "cartpole_swingup", "--episodes", "0"])
    with pytest.raises(SystemExit, match="teacher"):
        cli.main(["train", "cartpole_swingup", "--bc-iterations", "3"])
    with pytest.raises(FileNotFoundError, match="simlab sensory train"):
        load_params(tmp_path / "missing")
    with pytest.raises(ValueError, match="no sensory-neuron task"):
        task_of("no_such_task")


def test_teacher_check_allows_reward_shaping_only(tmp_path):
    import json

    from simlab.agents.bc.learner import check_teacher_run
    from simlab.agents.sensory.learners import _without_dynamics_options as ignore

    task = {"include_cfrc_ext_in_observation": False, "solver": "penalty"}
    base = {"include_cfrc_ext_in_observation": False}
    (tmp_path / "config.json").write_text(json.dumps({"env": "ant", "env_kwargs": {**base, "action_rate_penalty": 0.3}}))
    check_teacher_run(str(tmp_path), "ant", task, ignore)  # a smoothness-shaped teacher drives the plain task
    (tmp_path / "config.json").write_text(json.dumps({"env": "ant", "env_kwargs": {**base, "solver": "mujoco"}}))
    check_teacher_run(str(tmp_path), "ant", task, ignore)  # so does one trained under the other contact model
    (tmp_path / "config.json").write_text(json.dumps({"env": "ant", "env_kwargs": {}}))
    with pytest.raises(ValueError, match="include_cfrc_ext_in_observation"):
        check_teacher_run(str(tmp_path), "ant", task, ignore)
