"""bench/steps.py produces the documented JSON and a plot (structure only: no timings asserted)."""
import json

from simlab import cli


def test_bench_steps_json_and_files(tmp_path, capsys):
    code = cli.main(["bench", "steps", "--env", "pendulum", "--num-envs", "2,4", "--steps-per-call", "8",
                     "--repeats", "1", "--anchor-budget", "0.05", "--out", str(tmp_path), "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["env"] == "pendulum"
    assert [r["num_envs"] for r in result["results"]] == [2, 4]
    assert all(r["steps_per_s"] > 0 for r in result["results"])
    assert [r["num_envs"] for r in result["anchor"]["results"]] == [2, 4]
    assert set(result["ratio_fused_to_anchor"]) == {"2", "4"}
    assert (tmp_path / "steps_pendulum.json").exists()
    png = (tmp_path / "steps_pendulum.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_steps_rejects_bad_input(tmp_path, capsys):
    assert cli.main(["bench", "steps", "--env", "pendullum", "--out", str(tmp_path)]) == 2
    assert "Did you mean 'pendulum'" in capsys.readouterr().err
    assert cli.main(["bench", "steps", "--num-envs", "4,x", "--out", str(tmp_path)]) == 2
    assert "positive integers" in capsys.readouterr().err
