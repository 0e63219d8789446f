"""Trains tiny PPO for 3 iterations on 1 device and on a 4-device mesh; prints the parameter difference.

Launched by tests/agents/test_training.py with XLA_FLAGS=--xla_force_host_platform_device_count=4.
"""
import json
import sys

import jax
import numpy as np

from simlab.agents.registry import make_agent
from simlab.agents.train import TrainOptions, train
from simlab.engine import sharding

overrides = {"num_envs": 16, "rollout_length": 16, "epochs": 2, "num_minibatches": 4, "eval_episodes": 4}
results = {}
for label, devices in (("one", jax.devices()[:1]), ("four", jax.devices()[:4])):
    agent = make_agent("ppo", "pendulum", overrides)
    result = train(agent, TrainOptions(total_steps=3 * 256, seed=3, eval_every=1, progress=False,
                                       mesh=sharding.make_mesh(devices)))
    results[label] = (jax.device_get(result.state.policy_params), result.history,
                      len(result.state.env_state.obs.sharding.device_set))
diffs = [float(np.max(np.abs(a - b))) for a, b in zip(jax.tree_util.tree_leaves(results["one"][0]),
                                                      jax.tree_util.tree_leaves(results["four"][0]))]
scale = max(float(np.max(np.abs(a))) for a in jax.tree_util.tree_leaves(results["one"][0]))
json.dump({"devices": jax.device_count(), "env_state_devices": results["four"][2], "max_abs_diff": max(diffs),
           "param_scale": scale,
           "eval_one": [r["eval_return"] for r in results["one"][1]],
           "eval_four": [r["eval_return"] for r in results["four"][1]]}, sys.stdout)
