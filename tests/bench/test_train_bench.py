"""bench/train.py's pure parts: curve parsing, time-to-return interpolation, the table, input errors.

No training and no timings: the benchmark itself is minutes long.
"""
import json

import pytest

from bench import brax_anchor, brax_ppo_worker, curves
from bench import train as train_bench
from bench.curves import CurvePoint


def _jsonl(*records, trailing="\n"):
    return "\n".join(json.dumps(r) for r in records) + trailing


def test_parse_jsonl_curve_reads_header_and_points():
    text = _jsonl({"header": {"jax": "0.9.2"}},
                  {"wall_s": 61.5, "env_steps": 0, "eval_return": -40.0, "eval_return_std": 3.0},
                  {"wall_s": 160.0, "env_steps": 1310720, "eval_return": 900.0})
    header, points = curves.parse_jsonl_curve(text)
    assert header == {"jax": "0.9.2"}
    assert points == [CurvePoint(61.5, 0, -40.0), CurvePoint(160.0, 1310720, 900.0)]


def test_parse_jsonl_curve_drops_a_cut_last_line_but_rejects_bad_middle_lines():
    good = _jsonl({"wall_s": 1.0, "env_steps": 10, "eval_return": 5.0})
    _, points = curves.parse_jsonl_curve(good + '{"wall_s": 2.0, "env_st')
    assert points == [CurvePoint(1.0, 10, 5.0)]
    with pytest.raises(ValueError, match=r"brax.jsonl:1 is not JSON"):
        curves.parse_jsonl_curve("garbage\n" + good, "brax.jsonl")
    with pytest.raises(ValueError, match=r"missing \['eval_return'\]"):
        curves.parse_jsonl_curve(_jsonl({"wall_s": 1.0, "env_steps": 10}))
    with pytest.raises(ValueError, match="must be numbers"):
        curves.parse_jsonl_curve(_jsonl({"wall_s": "soon", "env_steps": 10, "eval_return": 1.0}))


def test_crossing_interpolates_between_evaluations():
    curve = [CurvePoint(10.0, 0, 0.0), CurvePoint(70.0, 1000, 1500.0), CurvePoint(130.0, 2000, 2500.0)]
    # 2000 lies halfway from 1500 (70 s, 1000 steps) to 2500 (130 s, 2000 steps)
    assert curves.crossing(curve, 2000.0) == {"wall_s": 100.0, "env_steps": 1500}
    assert curves.crossing(curve, 1500.0) == {"wall_s": 70.0, "env_steps": 1000}
    assert curves.crossing(curve, -5.0) == {"wall_s": 10.0, "env_steps": 0}  # first evaluation already there
    assert curves.crossing(curve, 2600.0) is None
    # a dip after crossing does not move the first crossing
    dip = curve + [CurvePoint(190.0, 3000, 1000.0)]
    assert curves.crossing(dip, 2000.0) == {"wall_s": 100.0, "env_steps": 1500}


def test_comparison_ratio_and_table():
    ours = [CurvePoint(20.0, 0, 0.0), CurvePoint(120.0, 4_000_000, 2000.0)]
    brax = [CurvePoint(60.0, 0, 0.0), CurvePoint(660.0, 10_000_000, 2200.0)]
    rows = curves.comparison(ours, brax, [1000.0, 2000.0, 3000.0])
    assert rows[0]["ours"]["wall_s"] == pytest.approx(70.0)
    assert rows[0]["anchor"]["wall_s"] == pytest.approx(60.0 + 600.0 * 1000 / 2200)
    assert rows[1]["speedup"] == pytest.approx((60.0 + 600.0 * 2000 / 2200) / 120.0)
    assert rows[2]["speedup"] is None and rows[2]["ours"] is None
    table = curves.format_table(rows, ours, brax)
    lines = table.splitlines()
    assert len(lines) == 2 + 3
    assert "2.00 min" in lines[3] and f"{rows[1]['speedup']:.2f}x" in lines[3]
    assert "not within 2.0 min (best 2000)" in lines[4]
    no_anchor = curves.format_table(curves.comparison(ours, None, [2000.0]), ours, None)
    assert "not run" in no_anchor


def test_comparison_gives_a_lower_bound_when_the_anchor_never_gets_there():
    ours = [CurvePoint(20.0, 0, 0.0), CurvePoint(120.0, 4_000_000, 3000.0)]
    brax = [CurvePoint(60.0, 0, 0.0), CurvePoint(960.0, 10_000_000, 2200.0)]
    (row,) = curves.comparison(ours, brax, [2500.0])
    assert row["speedup"] is None and row["anchor"] is None
    assert row["speedup_at_least"] == pytest.approx(960.0 / (20.0 + 100.0 * 2500 / 3000))
    assert f"> {row['speedup_at_least']:.2f}x" in curves.format_table([row], ours, brax)
    summary = train_bench.summarize({"target": 2500.0, "ours": {"jax": "0.10.2", "curve": [list(p) for p in ours]},
                                     "brax": {"header": {}, "curve": [list(p) for p in brax]}})
    assert summary["speedup_at_target"] is None and summary["meets_target_speedup"] is True


def test_summarize_and_plot_write_the_headline(tmp_path):
    result = {"target": 2000.0, "ours": {"jax": "0.10.2", "curve": [[20.0, 0, 0.0], [120.0, 4_000_000, 2000.0]]},
              "brax": {"header": {"jax": "0.9.2"}, "curve": [[60.0, 0, 0.0], [660.0, 10_000_000, 2200.0]]}}
    result = train_bench.summarize(result)
    assert [r["threshold"] for r in result["rows"]] == [1000.0, 1500.0, 2000.0, 2500.0]
    assert result["speedup_at_target"] == pytest.approx((60.0 + 600.0 * 2000 / 2200) / 120.0)
    assert result["meets_target_speedup"] is True
    png = train_bench.plot(result, tmp_path / "train_ant.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_parse_overrides():
    assert train_bench.parse_overrides(["num_envs=2048", "hidden=[64, 64]", "activation=swish"]) == {
        "num_envs": 2048, "hidden": (64, 64), "activation": "swish"}
    with pytest.raises(ValueError, match="KEY=VALUE"):
        train_bench.parse_overrides(["num_envs"])
    with pytest.raises(ValueError, match="unknown PPOConfig field 'num_env'"):
        train_bench.parse_overrides(["num_env=4"])


def test_load_brax_curve_from_result_or_jsonl(tmp_path):
    jsonl = tmp_path / "brax.jsonl"
    jsonl.write_text(_jsonl({"header": {"jax": "0.9.2"}}, {"wall_s": 5.0, "env_steps": 0, "eval_return": 1.0}))
    assert train_bench.load_brax_curve(jsonl)["curve"] == [[5.0, 0, 1.0]]
    previous = tmp_path / "train_ant.json"
    previous.write_text(json.dumps({"brax": {"header": {}, "curve": [[5.0, 0, 1.0]]}}))
    assert train_bench.load_brax_curve(previous)["reused_from"] == str(previous)
    (tmp_path / "other.json").write_text(json.dumps({"ours": {}}))
    with pytest.raises(ValueError, match="neither a worker .jsonl curve nor a train_ant.json"):
        train_bench.load_brax_curve(tmp_path / "other.json")
    with pytest.raises(ValueError, match="does not exist"):
        train_bench.load_brax_curve(tmp_path / "missing.json")


def test_cli_reports_bad_inputs(tmp_path, capsys):
    from simlab import cli

    assert cli.main(["bench", "train", "--brax-json", str(tmp_path / "nope.json"), "--out", str(tmp_path)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert cli.main(["bench", "train", "--brax-python", str(tmp_path / "python"), "--out", str(tmp_path)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert cli.main(["bench", "train", "--minutes", "0", "--out", str(tmp_path)]) == 2
    assert "must be positive" in capsys.readouterr().err


def test_brax_python_probe_names_the_problem(tmp_path):
    with pytest.raises(brax_anchor.BraxEnvironmentError, match="does not exist"):
        brax_anchor.probe(tmp_path / "bin" / "python")
    broken = tmp_path / "python"
    broken.write_text("#!/bin/sh\necho 'ModuleNotFoundError: No module named brax' >&2\nexit 1\n")
    broken.chmod(0o755)
    with pytest.raises(brax_anchor.BraxEnvironmentError, match="cannot import Brax's PPO trainer.*brax"):
        brax_anchor.probe(broken)


def test_worker_defaults_are_the_notebook_settings():
    args = brax_ppo_worker.build_parser().parse_args(["--curve", "c.jsonl"])
    assert (args.num_envs, args.batch_size, args.num_timesteps) == (4096, 2048, 50_000_000)
    assert brax_ppo_worker.NOTEBOOK_ANT["unroll_length"] == 5
    assert brax_ppo_worker.NOTEBOOK_ANT["reward_scaling"] == 10


def test_bench_config_is_a_valid_ppo_config():
    from bench.configs import BENCH_CONFIGS
    from simlab.agents.registry import make_config

    bench = BENCH_CONFIGS[train_bench.BENCH_CONFIG]
    config = make_config(bench["algo"], bench["env"], bench["config"])
    assert config.num_envs * config.rollout_length % config.num_minibatches == 0
