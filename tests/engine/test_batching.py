"""`engine.batching.chunked_vmap`: same results as `vmap` for uneven batches, differentiable."""
from __future__ import annotations

import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from simlab.engine import physics
from simlab.engine.batching import chunked_vmap

sys.path.insert(0, str(Path(__file__).parent / "physics"))
from physics_models import free_body  # noqa: E402

SPHERE = free_body('<geom type="sphere" size="0.1"/>', z=0.105, plane=True, timestep=0.005)


@pytest.fixture(scope="module")
def sphere():
    return physics.load_mjcf(SPHERE, substeps=2)


def _states(sys, n):
    qd = jnp.zeros((n, sys.nv)).at[:, 0].set(jnp.linspace(0.0, 2.0, n))  # different sliding speeds
    return jax.vmap(lambda v: physics.init(sys, sys.qpos0, v))(qd)


def test_chunked_vmap_equals_vmap_for_uneven_batches(sphere):
    n, chunk = 37, 16  # three chunks, the last one padded
    states = _states(sphere, n)
    ctrl = jnp.zeros(0)
    chunked = jax.jit(chunked_vmap(lambda s: physics.step(sphere, s, ctrl), chunk))(states)
    plain = jax.jit(jax.vmap(lambda s: physics.step(sphere, s, ctrl)))(states)
    for a, b in zip(jax.tree.leaves(chunked), jax.tree.leaves(plain)):
        assert a.shape == b.shape
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-5)


def test_chunked_vmap_shares_unbatched_arguments_and_checks_sizes():
    add = chunked_vmap(lambda x, y: x + y, 4, in_axes=(0, None))
    np.testing.assert_array_equal(np.asarray(add(jnp.arange(10.0), 1.0)), np.arange(10.0) + 1.0)
    with pytest.raises(ValueError, match="leading size"):
        chunked_vmap(lambda x, y: x + y, 4)(jnp.zeros(5), jnp.zeros(6))
    with pytest.raises(ValueError, match="chunk"):
        chunked_vmap(lambda x: x, 0)


def test_gradient_through_chunked_vmap_matches_per_system_gradient():
    """Reverse mode through the padded, reshaped chunks equals each system's own gradient.

    The per-system function has what a physics step has and a plain product lacks: a batched
    Cholesky solve (LAPACK on CPU) and a nonlinearity (physics itself would only add compile time).
    """
    n, dim = 5, 4
    keys = jax.random.split(jax.random.key(0), n)
    params = jax.vmap(lambda k: jax.random.normal(k, (dim, dim)))(keys)

    def per_system(a):
        spd = a @ a.T + dim * jnp.eye(dim)
        x = jax.scipy.linalg.cho_solve(jax.scipy.linalg.cho_factor(spd), jnp.sin(a[:, 0]))
        return jnp.sum(jnp.tanh(x) * a[0])

    grads = jax.jit(jax.grad(lambda p: jnp.sum(chunked_vmap(per_system, 2)(p))))(params)  # 3 chunks, 1 padded
    single = jax.jit(jax.grad(per_system))
    for i in range(n):
        np.testing.assert_allclose(np.asarray(grads[i]), np.asarray(single(params[i])), rtol=1e-5, atol=1e-6)
    assert float(jnp.abs(grads).min()) > 0.0


def test_lapack_serial_batch_follows_jaxlib_threshold():
    from simlab.engine.batching import lapack_serial_batch

    # jaxlib splits a batched n x n Cholesky once batch * (n**3 // 3) >= 200000 FLOP.
    assert lapack_serial_batch(14) == 218  # Ant: 14 dofs, 914 FLOP per matrix
    assert lapack_serial_batch(1) == 199_999
    with pytest.raises(ValueError, match="positive integer"):
        lapack_serial_batch(0)


def test_batch_chunk_per_backend_and_device_count(sphere):
    assert physics.batch_chunk(sphere, 1, backend="cpu") == physics.BATCH_CHUNK
    assert physics.batch_chunk(sphere, 2, backend="cpu") == physics.MULTI_DEVICE_CHUNK
    assert physics.batch_chunk(sphere, 2, backend="gpu") is None  # accelerators: plain vmap
    big = physics.load_mjcf(free_body('<geom type="sphere" size="0.1"/>', z=0.105, plane=True, timestep=0.005))
    assert physics.batch_chunk(big, 4, backend="cpu") <= physics.MULTI_DEVICE_CHUNK


def test_sharded_vmap_on_one_device_equals_chunked_vmap(sphere):
    from simlab.engine.batching import sharded_vmap
    from simlab.engine.sharding import make_mesh

    states = _states(sphere, 6)
    ctrl = jnp.zeros(sphere.nu)
    step = lambda s: physics.step(sphere, s, ctrl)
    a = jax.jit(sharded_vmap(step, 4, make_mesh(jax.devices()[:1])))(states)
    b = jax.jit(chunked_vmap(step, 4))(states)
    np.testing.assert_array_equal(np.asarray(a.q), np.asarray(b.q))
    with pytest.raises(ValueError, match="0 or None"):
        sharded_vmap(step, 4, None, in_axes=1)(states)
