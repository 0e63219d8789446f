"""Steps batches of a two-sphere system sharded over 4 CPU devices and on one device; prints a JSON verdict.

Launched by tests/engine/test_sharding.py with
XLA_FLAGS=--xla_force_host_platform_device_count=4. Each device gets more
systems than jaxlib's serial LAPACK limit, so a per-device chunk that ignored
`batch_chunk` would deadlock (see engine/batching.py). The two free spheres can touch, which
couples their branches of the tree and puts the step on the dense (LAPACK) Cholesky solve, as
Ant's self-contacts do, at a small fraction of Ant's compile time.
"""
import json
import sys

import jax
import jax.numpy as jnp
import numpy as np

from simlab.engine import physics
from simlab.engine.batching import chunked_vmap, lapack_serial_batch, sharded_vmap
from simlab.engine.physics.pipeline import uses_dense_solve
from simlab.engine.sharding import make_mesh

TWO_SPHERES = """
<mujoco>
  <option timestep="0.005"/>
  <worldbody>
    <geom type="plane" size="10 10 0.1"/>
    <body pos="0 0 0.2"><freejoint/><geom type="sphere" size="0.1" mass="1"/></body>
    <body pos="0.15 0 0.45"><freejoint/><geom type="sphere" size="0.1" mass="1"/></body>
  </worldbody>
  <actuator/>
</mujoco>
"""
sys_ = physics.load_mjcf(TWO_SPHERES)
assert uses_dense_solve(sys_), "the test needs a system on the dense (LAPACK) solve"
devices = jax.device_count()
per_device = lapack_serial_batch(sys_.nv) + 6
n = devices * per_device
keys = jax.random.split(jax.random.PRNGKey(3), n)
state = jax.jit(jax.vmap(lambda k: physics.init(sys_, sys_.qpos0, 0.2 * jax.random.normal(k, (sys_.nv,)))))(keys)
ctrl = jax.random.uniform(jax.random.PRNGKey(4), (n, sys_.nu), minval=-1.0, maxval=1.0)
step = lambda s, u: physics.step(sys_, s, u)

mesh = make_mesh()
chunk = physics.batch_chunk(sys_, devices)
sharded = jax.jit(sharded_vmap(step, chunk, mesh))(state, ctrl)
single = jax.jit(chunked_vmap(step, physics.BATCH_CHUNK))(state, ctrl)
diff = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
           for a, b in zip(jax.tree.leaves(sharded), jax.tree.leaves(single)))
json.dump({"devices": devices, "per_device": per_device, "chunk": chunk,
           "devices_holding_q": len(sharded.q.sharding.device_set), "max_abs_diff": diff,
           "finite": bool(jnp.all(jnp.isfinite(sharded.q)))}, sys.stdout)
