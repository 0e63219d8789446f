"""Runs the same rollouts on one device and split over all devices; prints a JSON verdict.

Launched by tests/engine/test_sharding.py with
XLA_FLAGS=--xla_force_host_platform_device_count=4. Checks:
  * `make_sharded_rollout` on a one-device env against a 4-device mesh (the explicit sharding API);
  * the default path: `envs.make(name, num_envs=n)` splits over all 4 devices by itself, for a batch
    that divides the device count and for one that does not (padded), against `devices=1`; a small
    batch of a cheap env stays on one device;
  * fresh auto-reset under the batched refresh: the initial states of every episode are the same on
    1 and 4 devices, and no episode restarted from a used initial state.
"""
import json
import sys

import jax
import numpy as np

from simlab import engine, envs

NUM_STEPS = 40
key_reset, key_roll = jax.random.key(11), jax.random.key(12)


def _numbers(x):
    return jax.random.key_data(x) if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key) else x


def max_diff(a, b):
    return max(float(np.max(np.abs(np.asarray(_numbers(x), np.float64) - np.asarray(_numbers(y), np.float64))))
               for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)))


def plain_rollout(env):
    """The default path as a user runs it: one jit of reset and of the scanned rollout."""
    policy = engine.uniform_policy(env.action_spec)
    rollout = jax.jit(engine.make_rollout(env, policy, NUM_STEPS))
    final, tr = rollout(jax.jit(env.reset)(key_reset), key_roll)
    return final, tr


# 1. The explicit sharding API on a one-device env.
env1 = envs.make("cartpole_swingup", num_envs=64, episode_length=15, devices=1)
policy = engine.uniform_policy(env1.action_spec)
reset1, roll1 = engine.sharding.make_sharded_rollout(env1, policy, NUM_STEPS, engine.sharding.make_mesh(jax.devices()[:1]))
_, tr1 = roll1(reset1(key_reset), key_roll)
reset4, roll4 = engine.sharding.make_sharded_rollout(env1, policy, NUM_STEPS, engine.sharding.make_mesh())
_, tr4 = roll4(reset4(key_reset), key_roll)
_, tr0 = plain_rollout(env1)

# 2. The default path, divisible (2048 on 4) and padded (2047 on 3 devices) batches (a cheap env is split once each device gets 512);
#    short episodes so that many restart.
default = {}
for n in (2048, 2047):
    one_final, one = plain_rollout(envs.make("pendulum", num_envs=n, episode_length=7, devices=1))
    env_all = envs.make("pendulum", num_envs=n, episode_length=7)
    all_final, every = plain_rollout(env_all)
    default[str(n)] = {
        "devices": env_all.num_devices,
        "devices_holding_obs": len(every.obs.sharding.device_set),
        "max_abs_diff": max_diff(one, every),
        "final_state_diff": max_diff((one_final.obs, one_final.sim), (all_final.obs, all_final.sim)),
        "episodes_finished": int(np.asarray(every.terminated | every.truncated).sum()),
        "stale_resets": int(np.asarray(all_final.info["stale_resets"]).sum()),
    }

small = envs.make("pendulum", num_envs=64)

json.dump({
    "small_batch_devices": small.num_devices,
    "devices": jax.device_count(),
    "devices_holding_transitions": len({d.id for d in tr4.obs.sharding.device_set}),
    "max_abs_diff": max_diff(tr1, tr4),
    "max_abs_diff_vs_plain_jit": max_diff(tr0, tr4),
    "episodes_finished": int(np.asarray(tr4.terminated | tr4.truncated).sum()),
    "reward_sum": float(np.asarray(tr4.reward, np.float64).sum()),
    "default_path": default,
}, sys.stdout)
