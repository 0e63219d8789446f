"""One process of a 2-process localhost JAX job (CPU, gloo) that keeps running cross-process collectives.

Usage: multihost_fault_worker.py PORT PROCESS_ID HEARTBEAT_TIMEOUT_S. Joins the job with `engine.sharding.initialize_multihost`,
then runs a sharded cart-pole rollout and a global reduction over both processes' devices in a loop,
printing `ready` after the first completed collective and one line per iteration (flushed), so that a test
can kill one process mid-job and watch what the survivor does. Exits 0 after 10,000 iterations.
"""
import sys
import time

port, process_id, heartbeat_timeout_s = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])

from simlab import engine  # noqa: E402  (initialize before any computation)

engine.sharding.initialize_multihost(f"127.0.0.1:{port}", num_processes=2, process_id=process_id,
                                     heartbeat_timeout_s=heartbeat_timeout_s)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from simlab import envs  # noqa: E402

NUM_ENVS, NUM_STEPS = 8, 10
env = envs.make("cartpole_swingup", num_envs=NUM_ENVS, episode_length=12)
mesh = engine.sharding.make_mesh()
reset, rollout = engine.sharding.make_sharded_rollout(env, engine.uniform_policy(env.action_spec), NUM_STEPS, mesh)
total = jax.jit(lambda r: jnp.sum(r.astype(jnp.float32)), out_shardings=engine.sharding.replicated(mesh))
state = reset(jax.random.key(3))
for i in range(10_000):
    state, transitions = rollout(state, jax.random.fold_in(jax.random.key(4), i))
    value = float(total(transitions.reward))  # blocks on the cross-process reduction
    if i == 0:
        print("ready", flush=True)
    print(f"iteration {i} {value:.3f} {time.time():.2f}", flush=True)
