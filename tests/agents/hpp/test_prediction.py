"""Learned predictors beat straight-line extrapolation on held-out layouts."""
import jax
import numpy as np

from agents.hpp import prediction
from envs.navigation.goal_navigation import GoalNavigation


def test_predictor_beats_straight_line_on_heldout_data():
    config = prediction.PredictionConfig(horizon=8, stride=5, hidden=(128, 128), epochs=60, batch_size=128)
    train_env = GoalNavigation(num_obstacles=6, family="train")
    controller = prediction.goal_seeking_controller(train_env)
    x, y = prediction.make_dataset(train_env, controller, config, jax.random.key(0), 2048)
    net = prediction.make_network(config)
    params, losses = prediction.train_predictor(net, config, x, y, jax.random.key(1))
    assert float(losses[-1]) < 0.5 * float(losses[0])
    # held-out: new seeds, same layout family
    xt, yt = prediction.make_dataset(train_env, controller, config, jax.random.key(2), 512)
    learned = float(prediction.mean_error(net.apply(params, xt), yt))
    baseline = float(prediction.mean_error(prediction.straight_line(xt, config, train_env), yt))
    assert learned < 0.8 * baseline, (learned, baseline)
    # the baseline is exact in free space: sanity-check it on an obstacle-free world
    free_env = GoalNavigation(num_obstacles=0)
    xf, yf = prediction.make_dataset(free_env, prediction.goal_seeking_controller(free_env), config,
                                     jax.random.key(3), 256)
    assert float(prediction.mean_error(prediction.straight_line(xf, config, free_env), yf)) < 1.0
    assert np.isfinite(learned)
