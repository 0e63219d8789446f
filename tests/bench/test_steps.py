"""bench/steps.py produces the documented JSON and a plot (structure only: no timings asserted)."""
import json
import sys
import types

from bench import harness
from bench import steps
from simlab import cli

PNG = b"\x89PNG\r\n\x1a\n"


def _run(capsys, argv):
    code = cli.main(["bench", "steps", *argv, "--json"])
    assert code == 0
    return json.loads(capsys.readouterr().out)


def test_bench_steps_json_and_files(tmp_path, capsys):
    argv = ["--env", "pendulum", "--num-envs", "2,4", "--steps-per-call", "8", "--repeats", "1", "--no-anchor",
            "--out", str(tmp_path)]
    result = _run(capsys, argv)
    assert result["env"] == "pendulum"
    assert [r["num_envs"] for r in result["results"]] == [2, 4]
    for r in result["results"]:
        assert r["steps_per_s"] > 0 and r["compile_s"] > 0
        assert r["anchors"] == {"gymnax": None, "gym_make_vec": None}
    assert set(result["ratios"]) == {"2", "4"}
    assert result["ratios"]["2"] == {"ours_over_gymnax": None, "ours_over_gym_make_vec": None}
    assert result["anchor_details"]["gymnax"] == {"skipped": "--no-anchor given"}
    assert {"machine", "setup"} <= set(result)
    assert result["setup"]["steps_per_call"] == {"2": 8, "4": 8} and "envs.make" in result["setup"]["ours"]
    written = (tmp_path / "steps_pendulum.json").read_bytes()
    assert json.loads(written)["env"] == "pendulum"
    assert (tmp_path / "steps_pendulum.png").read_bytes()[:8] == PNG
    # An existing output is never replaced without --overwrite.
    assert cli.main(["bench", "steps", *argv]) == 2
    assert "already exist" in capsys.readouterr().err
    assert (tmp_path / "steps_pendulum.json").read_bytes() == written


def test_bench_steps_locomotion_structure(tmp_path, capsys, monkeypatch):
    # The env is built through envs.make (the default path); the fused rollout's compile (tens of seconds for a
    # locomotion env on a busy 2-core CPU) is stubbed so the structure is checked fast.
    seen = []

    def fake_time_fused(env, policy, num_envs, num_steps, repeats=3):
        seen.append((num_envs, num_steps, repeats))
        return {"num_envs": num_envs, "steps_per_s": 1000.0, "compile_s": 1.0, "steps_per_call": num_steps}

    monkeypatch.setattr(harness, "time_fused", fake_time_fused)
    result = _run(capsys, ["--env", "ant", "--num-envs", "2", "--steps-per-call", "3", "--repeats", "1",
                           "--no-anchor", "--out", str(tmp_path)])
    assert seen == [(2, 3, 1), (2, 3, 1)]  # solver="penalty" (the headline), then solver="mujoco"
    row = result["results"][0]
    assert row["solver"] == "penalty" and set(row["by_solver"]) == {"penalty", "mujoco"}
    assert result["results"][0]["anchors"] == dict.fromkeys(
        ["brax_spring", "brax_mjx", "envpool_1thread", "envpool_2threads", "gym_make_vec"])
    assert set(result["ratios"]["2"]) == {"ours_over_best_brax", "ours_over_envpool_2threads",
                                          "ours_over_gym_make_vec"}
    assert result["setup"]["dt"] > 0
    assert (tmp_path / "steps_ant.png").read_bytes()[:8] == PNG


def test_gymnax_anchor_rows_ratios_and_missing_module(tmp_path, capsys, monkeypatch):
    fake = types.ModuleType("bench.gymnax_anchor")
    fake.GYMNAX_ANCHORS = {"pendulum": "Pendulum-v1"}
    calls = []

    def measure_gymnax(env_id, sizes, steps_per_call, repeats=3):
        calls.append((env_id, sizes, [steps_per_call(n) for n in sizes], repeats))
        return [{"num_envs": n, "steps_per_s": 100.0, "compile_s": 0.1} for n in sizes]

    fake.measure_gymnax = measure_gymnax
    monkeypatch.setitem(sys.modules, "bench.gymnax_anchor", fake)
    argv = ["--env", "pendulum", "--num-envs", "4", "--steps-per-call", "8", "--repeats", "1", "--no-gym"]
    result = _run(capsys, [*argv, "--out", str(tmp_path / "a")])
    assert calls == [("Pendulum-v1", [4], [8], 1)]
    row = result["results"][0]
    assert row["anchors"]["gymnax"] == 100.0 and row["anchors"]["gym_make_vec"] is None
    assert result["ratios"]["4"]["ours_over_gymnax"] == row["steps_per_s"] / 100.0
    assert "--no-gym" in result["anchor_details"]["gym_make_vec"]["skipped"]

    monkeypatch.setitem(sys.modules, "bench.gymnax_anchor", None)  # the module missing: recorded, not fatal
    result = _run(capsys, [*argv, "--out", str(tmp_path / "b")])
    assert result["results"][0]["anchors"]["gymnax"] is None
    assert "unavailable" in result["anchor_details"]["gymnax"]["skipped"]


def test_steps_per_call_defaults():
    assert steps.steps_per_call("ant", 4096, 0) == 32 and steps.steps_per_call("ant", 1, 0) == 200
    assert steps.steps_per_call("pendulum", 4096, 0) == 512 and steps.steps_per_call("ant", 4096, 7) == 7


def test_bench_steps_rejects_bad_input(tmp_path, capsys):
    assert cli.main(["bench", "steps", "--env", "pendullum", "--out", str(tmp_path)]) == 2
    assert "Did you mean 'pendulum'" in capsys.readouterr().err
    assert cli.main(["bench", "steps", "--num-envs", "4,x", "--out", str(tmp_path)]) == 2
    assert "positive integers" in capsys.readouterr().err
