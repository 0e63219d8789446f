"""One process of a 2-process localhost JAX job (CPU, gloo collectives).

Usage: multihost_worker.py PORT PROCESS_ID. Each process feeds its local half of
the environment keys; a sharded rollout over the global batch runs across both
processes and a jitted reduction sums the rewards globally. Prints JSON.
"""
import json
import sys

port, process_id = int(sys.argv[1]), int(sys.argv[2])

from simlab import engine  # noqa: E402  (initialize before any computation)

engine.sharding.initialize_multihost(f"127.0.0.1:{port}", num_processes=2, process_id=process_id)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from simlab import envs  # noqa: E402

NUM_ENVS, NUM_STEPS = 16, 30
env = envs.make("cartpole_swingup", num_envs=NUM_ENVS, episode_length=12)
policy = engine.uniform_policy(env.action_spec)
mesh = engine.sharding.make_mesh()
reset, rollout = engine.sharding.make_sharded_rollout(env, policy, NUM_STEPS, mesh)
state = reset(jax.random.key(21))
state, transitions = rollout(state, jax.random.key(22))
total = jax.jit(lambda r: jnp.sum(r.astype(jnp.float32)), out_shardings=engine.sharding.replicated(mesh))(
    transitions.reward)

# Process-local data assembled into a global array, then reduced across processes.
local_ids = np.arange(NUM_ENVS // 2, dtype=np.float32) + process_id * (NUM_ENVS // 2)
global_ids = engine.sharding.global_batch(local_ids, mesh)
id_sum = jax.jit(jnp.sum, out_shardings=engine.sharding.replicated(mesh))(global_ids)
print(json.dumps({"process": process_id, "devices": jax.device_count(),
                  "reward_sum": float(total), "id_sum": float(id_sum)}))
