"""`simlab bench soak` (issue 26): non-finite counting under random actions, RSS sampling, output policy."""
from __future__ import annotations

import json
import time

import jax
import jax.numpy as jnp
import pytest

from simlab import envs
from simlab import cli
from bench import soak


def test_soak_counts_steps_and_writes_json_and_png(tmp_path, capsys):
    out = tmp_path / "o"
    code = cli.main(["bench", "soak", "--envs", "pendulum,cartpole_swingup", "--steps", "100", "--num-envs", "4",
                     "--steps-per-call", "5", "--ppo-minutes", "0", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    result = json.loads((out / "soak.json").read_text())
    assert [r["env"] for r in result["envs"]] == ["pendulum", "cartpole_swingup"]
    for row in result["envs"]:
        assert row["steps"] == 100 and row["calls"] == 5 and row["nonfinite"] == {"obs": 0, "reward": 0, "sim": 0,
                                                                                  "any": 0}
    assert result["total_nonfinite"] == 0 and result["ppo"] is None
    assert (out / "soak.png").stat().st_size > 1000
    capsys.readouterr()
    # Again: refused before any work.
    assert cli.main(["bench", "soak", "--envs", "pendulum", "--ppo-minutes", "0", "--out", str(out)]) == 2
    assert "soak.json" in capsys.readouterr().err


def test_soak_chunk_counts_non_finite_obs_reward_and_state():
    """A NaN injected into one environment's simulator state is counted, per env-step, in `sim` and `any`."""
    env = envs.make("pendulum", num_envs=3, episode_length=None)
    state = jax.jit(env.reset)(jax.random.key(0))
    sim_leaves, treedef = jax.tree_util.tree_flatten(state.sim)
    poisoned = [leaf.at[1].set(jnp.nan) if jnp.issubdtype(leaf.dtype, jnp.inexact) else leaf for leaf in sim_leaves]
    state = state.replace(sim=jax.tree_util.tree_unflatten(treedef, poisoned))
    _, counts = jax.jit(soak.make_soak_chunk(env, 4))(state, jax.random.key(1))
    counts = {k: int(v) for k, v in counts.items()}
    assert counts["sim"] == 4 and counts["any"] == 4  # env 1 at each of the 4 steps, the others finite
    assert counts["obs"] == 4 and counts["reward"] == 4  # the NaN propagates into what the learner sees


def test_rss_growth_after_warmup():
    samples = [(0.0, 100), (30.0, 150), (60.0, 200), (120.0, 210), (180.0, 204)]
    growth = soak.rss_growth(samples, warmup_s=60.0)
    assert growth["warmup_sample_s"] == 60.0
    assert growth["growth_percent"] == pytest.approx(2.0)
    assert growth["peak_growth_percent"] == pytest.approx(5.0)
    assert soak.rss_growth(samples[:3], warmup_s=60.0)["growth_percent"] is None


def test_rss_sampler_takes_samples_at_start_interval_and_stop():
    seen = []
    with soak.RssSampler(0.05, on_sample=lambda t, rss: seen.append(rss)) as sampler:
        time.sleep(0.3)
    assert len(sampler.samples) >= 3 and len(seen) == len(sampler.samples)
    assert all(rss > 10 * 2**20 for _, rss in sampler.samples)  # a Python process with JAX holds > 10 MiB
    assert [t for t, _ in sampler.samples] == sorted(t for t, _ in sampler.samples)


@pytest.mark.parametrize("argv, words", [
    (["--envs", "rendezvous"], "multi-agent"),
    (["--envs", "no_such_env"], "unknown environment"),
    (["--steps", "0"], "positive integer"),
    (["--ppo-minutes", "1", "--warmup-minutes", "2"], "must be shorter"),
    (["--rss-interval", "nan"], "finite"),
])
def test_soak_refuses_bad_options_before_work(argv, words, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        soak.main([*argv, "--out", str(tmp_path)])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert words in err and err.count("error:") == 1
    assert list(tmp_path.iterdir()) == []
