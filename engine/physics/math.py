"""Quaternion and 3-vector helpers, written component-wise.

Quaternions are `[w, x, y, z]` (MuJoCo's order), unit length, and rotate body
coordinates into world coordinates. Everything is unbatched; callers `vmap`.
Operations are spelled out with component arithmetic rather than small matrix
products so that XLA fuses them into a handful of elementwise loops on CPU.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def cross(a, b):
    """Cross product of `[..., 3]` vectors."""
    ax, ay, az = a[..., 0], a[..., 1], a[..., 2]
    bx, by, bz = b[..., 0], b[..., 1], b[..., 2]
    return jnp.stack([ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx], axis=-1)


def sum_axis(x, axis):
    """Sum over a short `axis` as unrolled adds.

    XLA on CPU runs reductions over tiny axes an order of magnitude slower than
    the equivalent fused chain of elementwise adds, so we spell them out.
    """
    axis = axis % x.ndim
    total = None
    for i in range(x.shape[axis]):
        part = jax.lax.index_in_dim(x, i, axis, keepdims=False)
        total = part if total is None else total + part
    if total is None:
        return jnp.zeros(x.shape[:axis] + x.shape[axis + 1:], x.dtype)
    return total


def dot(a, b):
    """Dot product over the last axis (shapes broadcast).

    Spelled as a sum of per-component products, so that a broadcast product
    (`[n, 1, 3] · [1, m, 3]`) is never materialized before the sum.
    """
    n = a.shape[-1]
    if b.shape[-1] != n:
        raise ValueError(f"dot: last axes differ ({a.shape} and {b.shape})")
    total = None
    for i in range(n):
        part = a[..., i] * b[..., i]
        total = part if total is None else total + part
    if total is None:
        return jnp.zeros(jnp.broadcast_shapes(a.shape, b.shape)[:-1], jnp.result_type(a, b))
    return total


def quat_mul(p, q):
    """Hamilton product `p * q` of `[..., 4]` quaternions (apply q, then p)."""
    pw, px, py, pz = p[..., 0], p[..., 1], p[..., 2], p[..., 3]
    qw, qx, qy, qz = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    return jnp.stack(
        [
            pw * qw - px * qx - py * qy - pz * qz,
            pw * qx + px * qw + py * qz - pz * qy,
            pw * qy - px * qz + py * qw + pz * qx,
            pw * qz + px * qy - py * qx + pz * qw,
        ],
        axis=-1,
    )


def quat_rotate(q, v):
    """Rotate `[..., 3]` vectors `v` by unit quaternions `q`: `q v q*`."""
    w = q[..., :1]
    u = q[..., 1:]
    t = 2.0 * cross(u, v)
    return v + w * t + cross(u, t)


def quat_rotate_inv(q, v):
    """Rotate `v` by the inverse (conjugate) of unit quaternion `q`."""
    return quat_rotate(quat_conj(q), v)


def quat_conj(q):
    """Conjugate `[w, -x, -y, -z]`."""
    return q * jnp.array([1.0, -1.0, -1.0, -1.0], dtype=q.dtype)


def quat_normalize(q):
    """Unit quaternion in the direction of `q`."""
    return q / jnp.sqrt(dot(q, q))[..., None]


def quat_from_axis_angle(axis, angle):
    """Quaternion for a rotation of `angle` [rad] about unit `axis` `[..., 3]`."""
    half = 0.5 * angle
    return jnp.concatenate([jnp.cos(half)[..., None], jnp.sin(half)[..., None] * axis], axis=-1)


def quat_from_rotvec(rotvec):
    """Quaternion `exp(rotvec / 2)` for a rotation vector [rad]; smooth at zero.

    Uses a guarded norm so that the gradient at `rotvec == 0` is finite.
    """
    angle_sq = dot(rotvec, rotvec)
    safe = angle_sq > 1e-12
    angle = jnp.sqrt(jnp.where(safe, angle_sq, 1.0))
    half = 0.5 * angle
    # sin(a/2)/a -> 1/2 - a^2/48 near zero.
    scale = jnp.where(safe, jnp.sin(half) / angle, 0.5 - angle_sq / 48.0)
    w = jnp.where(safe, jnp.cos(half), 1.0 - angle_sq / 8.0)
    return jnp.concatenate([w[..., None], scale[..., None] * rotvec], axis=-1)


def quat_to_mat(q):
    """Rotation matrix `[..., 3, 3]` of unit quaternion `q` (columns = body axes)."""
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    return jnp.stack(
        [
            jnp.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], axis=-1),
            jnp.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], axis=-1),
            jnp.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], axis=-1),
        ],
        axis=-2,
    )


def safe_norm(v, eps=1e-12):
    """Euclidean norm over the last axis with a finite gradient at zero."""
    return jnp.sqrt(jnp.maximum(dot(v, v), eps))


def mat_vec(mat, vec):
    """`[..., m, n] @ [..., n] -> [..., m]` as multiply-and-sum (fuses on CPU, unlike tiny batched dots)."""
    return sum_axis(mat * vec[..., None, :], -1)


def static_matmul(mat, x):
    """`mat @ x` for a static numpy matrix `[m, n]` and `x` of shape `[n, ...]`."""
    return jnp.tensordot(jnp.asarray(mat, dtype=x.dtype), x, axes=1)


def static_matmuls(mat, *xs):
    """`[mat @ x for x in xs]` for a static numpy matrix `[m, n]` and arrays `x` `[n, ...]`.

    Unbatched and in vmapped batches below `MATERIALIZE_MIN_BATCH`, the operands are flattened and
    concatenated along their trailing axes into one product: XLA then runs one matrix-product kernel
    instead of one per operand, and that kernel's fixed cost dominates at these sizes (brax's ant, one
    environment, `bench/physics.py --num-envs 1`: 9.0-9.3k -> 11.1-12.4k env-steps/s; 7 instead of 18
    products per substep). Larger batches keep one product per operand (merging them measured 15 %
    slower at 4,096 environments). Tangents take the separate products.
    """
    mat = np.asarray(mat)
    if len(xs) == 1:
        return [static_matmul(mat, xs[0])]

    @jax.custom_batching.custom_vmap
    def products(xs):
        return _merged_matmuls(mat, xs)

    @products.def_vmap
    def _products_batched(axis_size, in_batched, xs):
        (flags,) = in_batched
        if not any(flags):
            return products(xs), tuple(False for _ in xs)
        apply = _separate_matmuls if axis_size >= MATERIALIZE_MIN_BATCH else _merged_matmuls
        axes = tuple(0 if b else None for b in flags)
        out = jax.vmap(lambda *ys: apply(mat, ys), in_axes=axes)(*xs)
        return out, tuple(True for _ in xs)

    @jax.custom_jvp
    def product(xs):
        return products(xs)

    @product.defjvp
    def _product_jvp(primals, tangents):
        return product(primals[0]), _separate_matmuls(mat, tangents[0])

    return list(product(tuple(xs)))


def _separate_matmuls(mat, xs):
    return tuple(jnp.tensordot(jnp.asarray(mat, dtype=x.dtype), x, axes=1) for x in xs)


def _merged_matmuls(mat, xs):
    n = xs[0].shape[0]
    flat = [x.reshape(n, -1) for x in xs]
    out = jnp.tensordot(jnp.asarray(mat, dtype=flat[0].dtype), jnp.concatenate(flat, axis=1), axes=1)
    splits = np.cumsum([f.shape[1] for f in flat])[:-1]
    return tuple(part.reshape((out.shape[0],) + x.shape[1:]) for part, x in zip(jnp.split(out, splits, axis=1), xs))


# Batches smaller than this skip `materialize` (its product costs more than it saves) and merge the products of
# `static_matmuls`.
MATERIALIZE_MIN_BATCH = 16


@jax.custom_batching.custom_vmap
def _pinned(x):
    return x


@_pinned.def_vmap
def _pinned_batched(axis_size, in_batched, x):
    (batched,) = in_batched
    if batched and axis_size >= MATERIALIZE_MIN_BATCH:
        eye = np.eye(x.shape[1], dtype=np.float32)
        x = jax.vmap(lambda y: static_matmul(eye, y))(x)
    return x, batched


@jax.custom_jvp
def materialize(x):
    """`x` unchanged, computed once when batched: an identity product over the leading axis.

    XLA on CPU fuses cheap elementwise producers into each of their consumers and
    re-evaluates them per consumer element; a product with a static matrix is a
    fusion boundary, so values used by many consumers are worth passing through it.
    Unbatched calls and vmapped batches below `MATERIALIZE_MIN_BATCH` return `x`
    as is (there the extra kernel costs more than the re-evaluation it saves).
    Tangents pass through unchanged, so forward and reverse mode both work.
    """
    return _pinned(x)


@materialize.defjvp
def _materialize_jvp(primals, tangents):
    return materialize(primals[0]), tangents[0]


quat_to_mat_array = quat_to_mat  # `[..., 4]` -> `[..., 3, 3]` (array form)


def soft_gains(effective_mass, solref, dmax, timestep):
    """Spring stiffness K and damping B of a soft constraint, MuJoCo-equivalent.

    MuJoCo's soft constraint with impedance d, time constant tc and damping
    ratio z settles like a spring of stiffness `m·d/(1-d)/(d·tc·z)²` and damper
    `m·d/(1-d)·2/(d·tc)` acting on effective mass m; tc is at least 2 timesteps.
    """
    timeconst = jnp.maximum(solref[..., 0], 2.0 * timestep)
    dampratio = solref[..., 1]
    gain = effective_mass * dmax / (1.0 - dmax)
    stiffness = gain / (dmax * timeconst * dampratio) ** 2
    damping = gain * 2.0 / (dmax * timeconst)
    return stiffness, damping
