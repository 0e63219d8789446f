"""The on-device ring buffer (`agents.replay`) holding whole batches, as behaviour cloning's aggregate uses it."""
import jax
import jax.numpy as jnp
import numpy as np

from simlab.agents.replay import make_replay_buffer


def test_a_ring_of_whole_batches_from_shapes_reads_back_by_slot():
    """Items of shape `[T, n, ...]` given as `jax.ShapeDtypeStruct`s; `newest`, `valid` and `get` follow the ring."""
    example = {"obs": jax.ShapeDtypeStruct((4, 2, 3), jnp.float32), "alive": jax.ShapeDtypeStruct((4, 2), jnp.bool_)}
    buf = make_replay_buffer(3, example)
    data = buf.init()
    assert data.storage["obs"].shape == (3, 4, 2, 3) and data.storage["alive"].dtype == jnp.bool_
    assert not np.asarray(buf.valid(data)).any()
    batches = [{"obs": jnp.full((4, 2, 3), float(i)), "alive": jnp.full((4, 2), i % 2 == 0)} for i in range(5)]
    for i, batch in enumerate(batches):
        data = buf.add(data, jax.tree_util.tree_map(lambda x: x[None], batch))
        newest = buf.get(data, buf.newest(data))
        np.testing.assert_array_equal(np.asarray(newest["obs"]), np.asarray(batch["obs"]))
        np.testing.assert_array_equal(np.asarray(newest["alive"]), np.asarray(batch["alive"]))
        np.testing.assert_array_equal(np.asarray(buf.valid(data)), np.arange(3) < min(i + 1, 3))
    # after 5 adds to 3 slots: slots hold batches 3, 4, 2
    np.testing.assert_array_equal(np.asarray(buf.get(data, jnp.arange(3))["obs"][:, 0, 0, 0]), [3.0, 4.0, 2.0])
