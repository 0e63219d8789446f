"""`init` and `step`: the public physics pipeline.

One substep (timestep h):
  1. forward kinematics and the contact candidates at q;
  2. M(q) (+ armature), bias C(q, qd), actuator, spring and damping forces;
  3. soft contacts and joint limits linearized into the system matrix;
  4. semi-implicit Euler: `(M + armature + h·D + h·B_c + h²·K_c) Δqd = h·f`, `q ⊕= h·qd'`.
`step` runs `sys.substeps` substeps with `lax.scan` and refreshes the
observable state (poses, velocities, contacts) at the end.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from simlab.engine.batching import lapack_serial_batch
from simlab.engine.physics import (collision, contacts, dynamics, fluid, forward as mj_forward, integrator, kinematics,
                                   math as pm, model as M, tendon)
from simlab.engine.struct import pytree_dataclass

# Batch chunk for `engine.batching.chunked_vmap` on one CPU device: Ant-sized systems stay in
# cache up to a few hundred per chunk (256-1024 measure alike, 4096 slower).
BATCH_CHUNK = 512
# Per-device chunk when several CPU devices run at once (see `batch_chunk`): 128 measured
# fastest for the Ant step (64: -4 %, 256: -7 %).
MULTI_DEVICE_CHUNK = 128


@pytree_dataclass
class State:
    """Physics state (unbatched shapes; vmap adds a leading batch axis).

    Attributes:
      q: `[nq]` generalized positions (free joints: xyz + quaternion wxyz).
      qd: `[nv]` generalized velocities (free/ball angular velocity in the body frame).
      x_pos: `[nb, 3]` body frame origins, world, MuJoCo body order (0 = world).
      x_quat: `[nb, 4]` body orientations (wxyz), world.
      x_vel: `[nb, 3]` linear velocity of each body origin, world [m/s].
      x_ang: `[nb, 3]` angular velocity of each body, world [rad/s].
      x_com: `[nb, 3]` center of mass of each body, world.
      contact: `collision.Contact` with fixed size `nc` (see `contact_geoms`);
        forces are those of the last substep.
      qacc_warmstart: `[nv]` the last constrained acceleration (`solver="mujoco"` starts its
        Newton solve from it, as MuJoCo does; zeros in the penalty mode).
    """

    q: jax.Array
    qd: jax.Array
    x_pos: jax.Array
    x_quat: jax.Array
    x_vel: jax.Array
    x_ang: jax.Array
    x_com: jax.Array
    contact: collision.Contact
    qacc_warmstart: jax.Array


def batch_chunk(sys: M.System, num_devices: int | None = None, backend: str | None = None) -> int | None:
    """Chunk size for `engine.batching.chunked_vmap` / `sharded_vmap` of `step` over a batch.

    Args:
      sys: the system (its `nv` bounds the chunk on multi-device CPU runs).
      num_devices: CPU devices that step at the same time (default: `jax.local_device_count()`).
      backend: "cpu", "gpu", ... (default: `jax.default_backend()`).

    Returns None (plain `vmap`) on accelerators. On one CPU device, `BATCH_CHUNK`.
    With several CPU devices, `MULTI_DEVICE_CHUNK`; for systems on the dense solve
    (`uses_dense_solve`) also below `engine.batching.lapack_serial_batch(sys.nv)`: a
    larger per-device Cholesky batch makes jaxlib split it over the thread pool that
    the devices' programs occupy, which deadlocks.
    """
    backend = backend or jax.default_backend()
    if backend != "cpu":
        return None
    num_devices = jax.local_device_count() if num_devices is None else int(num_devices)
    if num_devices <= 1:
        return BATCH_CHUNK
    if not uses_dense_solve(sys):
        return MULTI_DEVICE_CHUNK
    return max(1, min(MULTI_DEVICE_CHUNK, lapack_serial_batch(sys.nv)))


def uses_dense_solve(sys: M.System) -> bool:
    """Whether `step` solves with dense (LAPACK) Cholesky: contacts between two moving
    bodies couple branches of the tree (as do tendons with rows or, here, damping across branches);
    otherwise the tree-sparse `integrator.solve_tree`."""
    return (collision.couples_branches(sys.tree, sys.contact_pairs) or (sys.tendon is not None and sys.tendon.couples)
            or (sys.mj is not None and sys.mj.eq is not None))  # equality constraints may close loops


def contact_geoms(sys: M.System) -> tuple[np.ndarray, np.ndarray]:
    """Geom index pair `(geom1 [nc], geom2 [nc])` of each row of `State.contact`."""
    _, geom1, geom2 = collision.contact_layout(sys.tree, sys.contact_pairs)
    return geom1, geom2


def _observe(sys, q, qd, contact, qacc_warmstart=None) -> State:
    kin = kinematics.forward_kinematics(sys, q)
    ang, lin_ref = kinematics.body_velocities(sys, kin, qd)
    x_vel = lin_ref + pm.cross(ang, kin.x_pos - kin.ref)
    if qacc_warmstart is None:
        qacc_warmstart = jnp.zeros_like(qd)
    return State(q=q, qd=qd, x_pos=kin.x_pos, x_quat=kin.x_quat, x_vel=x_vel, x_ang=ang,
                 x_com=kin.com + kin.ref, contact=contact, qacc_warmstart=qacc_warmstart)


def _dtype(sys: M.System):
    """Float dtype of the system's parameters (float32 as loaded; float64 after `astype`)."""
    return sys.timestep.dtype


def _check(sys: M.System, name: str, x, size: int) -> jax.Array:
    x = jnp.asarray(x)
    if x.shape != (size,):
        raise ValueError(f"{name} must have shape ({size},) for this system, got {x.shape}; "
                         "physics functions are unbatched, use jax.vmap for batches")
    return x


def init(sys: M.System, q, qd) -> State:
    """State at positions `q` `[nq]` and velocities `qd` `[nv]` (no contact forces yet).

    Shapes are checked here; the computation is one jitted program (compiled once per system
    structure), so an un-jitted call costs one compilation rather than thousands of op-by-op ones.
    """
    q = _check(sys, "q", q, sys.nq).astype(_dtype(sys))
    qd = _check(sys, "qd", qd, sys.nv).astype(_dtype(sys))
    return _init(sys, q, qd)


@jax.jit
def _init(sys: M.System, q, qd) -> State:
    kin = kinematics.forward_kinematics(sys, q)
    return _observe(sys, q, qd, collision.collide(sys, kin))


def substep(sys: M.System, q, qd, ctrl):
    """One semi-implicit Euler substep. Returns `(q', qd', contact)`."""
    h = sys.timestep
    kin = kinematics.forward_kinematics(sys, q)
    composite = dynamics.composite_inertia(sys, kin)
    contact = collision.collide(sys, kin)
    terms = output = None
    if contact.dist.shape[0]:
        terms, output = contacts.contact_terms(sys, kin, contact, qd)
    if terms is None:
        matrix = dynamics.joint_matrix(sys, kin, composite)
        wrench = None
    else:
        with_points = tuple(a + b for a, b in zip(composite, terms.inertia))
        matrix = dynamics.joint_matrix(sys, kin, with_points, terms.normal_rows, terms.normal_weight)
        if terms.cross is not None:
            matrix = matrix + terms.cross
        wrench = terms.wrench
    force = (dynamics.actuator_force(sys, q, qd, ctrl) + dynamics.spring_force(sys, q)
             - sys.dof_damping * qd - dynamics.bias_force(sys, kin, qd, wrench))
    if sys.fluid is not None:  # MuJoCo's inertia-box fluid forces, explicit (fluid.py)
        force = force + fluid.fluid_force(sys, kin, qd)
    if sys.tendon is not None:  # tendon springs (explicit), dampers and soft limits (implicit), tendon.py
        tendon_matrix, tendon_force = tendon.penalty_terms(sys, kin, q, qd)
        matrix, force = matrix + tendon_matrix, force + tendon_force
    mass_diag = dynamics.joint_diagonal(sys, kin, composite) + sys.dof_armature
    limit_diag, limit_force = dynamics.limit_terms(sys, q, qd, mass_diag)
    eye = jnp.eye(sys.nv, dtype=q.dtype)
    matrix = matrix + eye * (sys.dof_armature + h * sys.dof_damping + limit_diag)
    if uses_dense_solve(sys):  # contacts between two branches fill in the tree pattern
        qd_new = qd + integrator.solve_spd(matrix, h * (force + limit_force))
    else:
        qd_new = qd + integrator.solve_tree(matrix, h * (force + limit_force), sys.tree)
    if output is not None:
        contact_force, contact_active = output(qd_new)
        contact = contact.replace(force=contact_force, active=contact_active)
    q_new = integrator.integrate_positions(sys, q, qd_new, h)
    return q_new, qd_new, contact


def step(sys: M.System, state: State, ctrl) -> State:
    """Advance `state` by `sys.dt = sys.timestep * sys.substeps` seconds under controls `ctrl` `[nu]`.

    Unbatched; batch with `jax.vmap`, or for thousands of systems on CPU with
    `engine.batching.chunked_vmap(..., batch_chunk(sys))` (cache-sized chunks) or
    `engine.batching.sharded_vmap(..., batch_chunk(sys), mesh)` (all cores, one CPU
    device per core).

    Every matrix product is traced at full float32 precision (`"highest"`): on GPUs JAX's default
    (TF32 on recent NVIDIA chips) keeps 10 mantissa bits, and the penalty mode's stiff contact solve
    went non-finite with it on an H200 within 20 control steps of a random-control ant.
    """
    with jax.default_matmul_precision("highest"):
        return _step(sys, state, ctrl)


def _step(sys: M.System, state: State, ctrl) -> State:
    ctrl = _check(sys, "ctrl", ctrl, sys.nu)
    if sys.nv == 0:  # no degrees of freedom: every body is welded to the world, nothing moves or touches
        return state
    if sys.solver == "mujoco":
        q, qd, warm, fwd = mj_forward.substeps(sys, state.q, state.qd, ctrl, state.qacc_warmstart)
        contact = collision.Contact(pos=fwd.contact.pos, normal=fwd.contact.frame[:, 0], dist=fwd.contact.dist,
                                    active=fwd.contact.valid, force=fwd.contact_force)
        return _observe(sys, q, qd, contact, warm)

    def body(carry, _):
        q, qd, _contact = carry
        q, qd, contact = substep(sys, q, qd, ctrl)
        return (q, qd, contact), None

    (q, qd, contact), _ = jax.lax.scan(body, (state.q, state.qd, state.contact), None, length=sys.substeps)
    return _observe(sys, q, qd, contact)



def dynamics_terms(sys: M.System, q, qd) -> dict:
    """Joint-space dynamics at `(q [nq], qd [nv])`, for analysis and tests.

    Returns a dict: `mass_matrix` `[nv, nv]` (no armature; equals `mujoco.mj_fullM`),
    `bias` `[nv]` (Coriolis, centrifugal and gravity; MuJoCo's `qfrc_bias`),
    `x_pos` `[nb, 3]` body origins and `com` `[nb, 3]` body centers of mass (world).
    """
    q = _check(sys, "q", q, sys.nq).astype(_dtype(sys))
    qd = _check(sys, "qd", qd, sys.nv).astype(_dtype(sys))
    kin = kinematics.forward_kinematics(sys, q)
    return {"mass_matrix": dynamics.mass_matrix(sys, kin), "bias": dynamics.bias_force(sys, kin, qd),
            "x_pos": kin.x_pos, "com": kin.com + kin.ref}
