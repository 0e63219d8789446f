"""Reproducible training of HPP's shipped parameters (`simlab rendezvous train`)."""
from __future__ import annotations

import dataclasses
import sys

import jax

from simlab.agents.hpp import assets, prediction
from simlab.agents.hpp.controller import export_controller, load_controller
from simlab.agents.registry import make_agent
from simlab.agents.train import TrainOptions, train
from simlab.envs.navigation.goal_navigation import GoalNavigation

PREDICTION = prediction.PredictionConfig(horizon=20, stride=5, hidden=(128, 128), epochs=30, batch_size=256,
                                         any_goal_fraction=0.5)
CONTROLLER_STEPS = 3_000_000
DATASET_SIZE = 65536


def train_controller(out_dir: str = "runs/hpp_controller", seed: int = 0, steps: int = CONTROLLER_STEPS,
                     path=assets.CONTROLLER) -> dict:
    """Trains the goal-reaching PPO controller (run directory `out_dir`) and exports it to `path` (default:
    the shipped asset)."""
    agent = make_agent("ppo", "goal_navigation", total_steps=steps)
    train(agent, TrainOptions(total_steps=steps, seed=seed, out_dir=out_dir, eval_every=20, checkpoint_every=100))
    command = f"simlab train goal_navigation --agent ppo --steps {steps} --seed {seed} --out {out_dir}"
    export_controller(out_dir, path=path, meta={"command": command})
    return {"controller_run": str(out_dir), "controller": str(path)}


def train_predictor(seed: int = 0, size: int = DATASET_SIZE, config: prediction.PredictionConfig = PREDICTION,
                    controller_path=assets.CONTROLLER, path=assets.PREDICTOR) -> dict:
    """Fits the trajectory predictor on rollouts of the controller in `controller_path` (default: the shipped
    one); saves it to `path` (default: the shipped asset); returns held-out errors."""
    controller = load_controller(controller_path)
    env = GoalNavigation(family="train")
    key = jax.random.key(seed)
    x, y = prediction.make_dataset(env, controller, config, jax.random.fold_in(key, 0), size)
    net = prediction.make_network(config)
    params, losses = prediction.train_predictor(net, config, x, y, jax.random.fold_in(key, 1))
    report = {"final_train_loss": float(losses[-1])}
    for family in ("train", "heldout"):
        test_env = GoalNavigation(family=family)
        xt, yt = prediction.make_dataset(test_env, controller, config, jax.random.fold_in(key, 2), 2048)
        report[family] = {
            "learned_error_m": float(prediction.mean_error(net.apply(params, xt), yt)),
            "straight_line_error_m": float(prediction.mean_error(prediction.straight_line(xt, config, test_env), yt)),
        }
    assets.save_tree(path, params, {"command": f"simlab rendezvous train --seed {seed}",
                                                "config": dataclasses.asdict(config), "report": report})
    return report


def load_predictor(config: prediction.PredictionConfig = PREDICTION):
    """`(net, params)` of the shipped predictor."""
    net = prediction.make_network(config)
    template = net.init(jax.random.key(0), jax.numpy.zeros((1, prediction.FEATURE_SIZE)))
    params, _ = assets.load_tree(assets.PREDICTOR, template)
    return net, params


if __name__ == "__main__":
    print(train_predictor(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
