"""Runs the same rollout on one device and sharded over all devices; prints a JSON verdict.

Launched by tests/engine/test_sharding.py with
XLA_FLAGS=--xla_force_host_platform_device_count=4.
"""
import json
import sys

import jax
import numpy as np

from simlab import engine
from simlab import envs

NUM_ENVS, NUM_STEPS = 64, 40

env = envs.make("cartpole_swingup", num_envs=NUM_ENVS, episode_length=15)
policy = engine.uniform_policy(env.action_spec)
key_reset, key_roll = jax.random.key(11), jax.random.key(12)

single = jax.devices()[:1]
reset1, roll1 = engine.sharding.make_sharded_rollout(env, policy, NUM_STEPS, engine.sharding.make_mesh(single))
final1, tr1 = roll1(reset1(key_reset), key_roll)

mesh = engine.sharding.make_mesh()
reset4, roll4 = engine.sharding.make_sharded_rollout(env, policy, NUM_STEPS, mesh)
final4, tr4 = roll4(reset4(key_reset), key_roll)

# Also a plain jit with no sharding at all (the reference single-device program).
plain = jax.jit(engine.make_rollout(env, policy, NUM_STEPS))
_, tr0 = plain(jax.jit(env.reset)(key_reset), key_roll)

shards = {d.id for d in tr4.obs.sharding.device_set}
max_diff = max(float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))
               for a, b in zip(jax.tree_util.tree_leaves(tr1), jax.tree_util.tree_leaves(tr4)))
max_diff_plain = max(float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))
                     for a, b in zip(jax.tree_util.tree_leaves(tr0), jax.tree_util.tree_leaves(tr4)))
json.dump({
    "devices": jax.device_count(),
    "devices_holding_transitions": len(shards),
    "max_abs_diff": max_diff,
    "max_abs_diff_vs_plain_jit": max_diff_plain,
    "episodes_finished": int(np.asarray(tr4.terminated | tr4.truncated).sum()),
    "reward_sum": float(np.asarray(tr4.reward, np.float64).sum()),
}, sys.stdout)
