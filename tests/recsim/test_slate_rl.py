"""REINFORCE learns a slate policy that beats random and myopic over a long horizon."""
import jax
import numpy as np
import pytest

from recsim.apps import slate_rl


def test_myopic_is_best_for_one_step():
    # over a single step the most appealing slate maximises expected utility
    config = slate_rl.SlateConfig(horizon=1)
    key = jax.random.PRNGKey(0)
    n = config.num_candidates
    myopic = slate_rl.evaluate(config, lambda obs, k: slate_rl.myopic_scores(obs, n), key, 4000)
    rand = slate_rl.evaluate(config, lambda obs, k: jax.random.uniform(k, (n,)), key, 4000)
    assert float(myopic.mean()) > float(rand.mean()) + 0.05


def test_reinforce_beats_random_and_myopic_small():
    config = slate_rl.SlateConfig(horizon=60)
    out = slate_rl.compare_policies(config, jax.random.PRNGKey(1), num_iterations=40, num_episodes=256)
    history = np.asarray(out["training_return"])
    assert history[-5:].mean() > history[:5].mean()
    for baseline in ("random", "myopic"):
        gap = out["learned"]["mean"] - out[baseline]["mean"]
        assert gap > 3 * np.hypot(out["learned"]["stderr"], out[baseline]["stderr"])
