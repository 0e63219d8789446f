"""Joint-space dynamics: mass matrix, bias forces, actuators, and the soft
contact / joint-limit terms, all as dense `[nv]` / `[nv, nv]` arrays.

Spatial algebra in the tree-reference frame (see `kinematics`): motion
`[w; v]`, force `[n; f]`, body inertia `(m, h = m·c, I_ref)` with
`I·[w; v] = [I_ref w + h × v; m v - h × w]`.

  * Mass matrix (composite rigid bodies): `M[i, k] = S_i · (Ic_{body(k)} S_k)`
    for dof i an ancestor of dof k, where `Ic` sums inertias over a subtree.
    With one frame per tree the subtree sums need no transforms, so they are
    a static `[nb, nb]` 0/1 matrix product.
  * Bias forces (recursive Newton–Euler with zero joint acceleration and the
    base accelerating at `-gravity`): `C_k = S_k · Σ_subtree (I a + v ×* I v)`.
  * Soft joint limits act along their dof with force `K·pen − B·qd`; their
    stiffness/damping go into the linear system so they are integrated
    implicitly (see `pipeline`). Contacts: `contacts`.
"""
from __future__ import annotations

import functools

import jax.numpy as jnp
import numpy as np

from simlab.engine.physics import math as pm, model as M, tendon
from simlab.engine.physics.math import soft_gains  # noqa: F401  (contacts imports it from here)


def _inertia_apply(mass, h, inertia, ang, lin):
    return pm.mat_vec(inertia, ang) + pm.cross(h, lin), mass[:, None] * lin - pm.cross(h, ang)


def composite_inertia(sys: M.System, kin):
    """Subtree sums of the body inertias about the tree reference point: `(mass [nb], h [nb, 3], I [nb, 3, 3])`."""
    subtree = M.tree_arrays(sys.tree)["subtree"]
    return tuple(pm.static_matmuls(subtree, sys.body_mass, sys.body_mass[:, None] * kin.com, kin.inertia_ref))


def _per_dof_forces(sys: M.System, kin, composite):
    """`Ic_{body(k)} S_k` for every dof k: `(ang [nv, 3], lin [nv, 3])`."""
    dof_body = np.asarray(sys.tree.dof_body, np.int32)  # int even when empty (nv = 0)
    mass, h, inertia = (x[dof_body] for x in composite)
    f_ang, f_lin = _inertia_apply(mass, h, inertia, kin.dof_ang, kin.dof_lin)
    f_ang, f_lin = pm.materialize(jnp.stack([f_ang, f_lin]))
    return f_ang, f_lin


def joint_matrix(sys: M.System, kin, composite, normal_rows=None, normal_weight=None) -> jnp.ndarray:
    """`M[i, k] = S_i · (Ic_{body(k)} S_k)` on the ancestor pattern, mirrored: `[nv, nv]`.

    With `normal_rows` `[n, nv]` and `normal_weight` `[n]`, adds `Σ w g gᵀ` (contact normals).
    """
    arr = M.tree_arrays(sys.tree)
    f_ang, f_lin = _per_dof_forces(sys, kin, composite)
    sf = pm.dot(kin.dof_ang[:, None, :], f_ang[None]) + pm.dot(kin.dof_lin[:, None, :], f_lin[None])
    sf = pm.materialize(sf)
    # sf[i, k] is valid where dof i is an ancestor of (or is) dof k; mirror it.
    strict = arr["dof_anc"] & ~np.eye(sys.nv, dtype=bool)
    matrix = jnp.where(arr["dof_anc"], sf, 0.0) + jnp.where(strict.T, sf.T, 0.0)
    if normal_rows is not None:
        weighted = normal_rows * normal_weight[:, None]
        matrix = matrix + pm.sum_axis(weighted[:, :, None] * normal_rows[:, None, :], 0)
    return matrix


def joint_diagonal(sys: M.System, kin, composite) -> jnp.ndarray:
    """Diagonal of the joint-space inertia `[nv]` (without armature), without forming `M`."""
    f_ang, f_lin = _per_dof_forces(sys, kin, composite)
    return pm.dot(kin.dof_ang, f_ang) + pm.dot(kin.dof_lin, f_lin)


def mass_matrix(sys: M.System, kin) -> jnp.ndarray:
    """Joint-space inertia `[nv, nv]` (without armature)."""
    return joint_matrix(sys, kin, composite_inertia(sys, kin))


def bias_force(sys: M.System, kin, qd: jnp.ndarray, wrench=None) -> jnp.ndarray:
    """Coriolis, centrifugal and gravity forces `C(q, qd)` `[nv]`: `M qdd + C = tau`.

    With `wrench = (torque [nb, 3], force [nb, 3])`, external wrenches about the tree
    reference point summed over each body's subtree, returns `C − Σ Jᵀ wrench`.
    """
    arr = M.tree_arrays(sys.tree)
    dof_body = np.asarray(sys.tree.dof_body, np.int32)  # int even when empty (nv = 0)
    body_dof, subtree = arr["body_dof"], arr["subtree"]
    sq_ang, sq_lin = kin.dof_ang * qd[:, None], kin.dof_lin * qd[:, None]
    rate = arr["dof_rate"].T
    w, v = pm.static_matmuls(rate, sq_ang, sq_lin)
    sdot_ang = pm.cross(w, kin.dof_ang)
    sdot_lin = pm.cross(w, kin.dof_lin) + pm.cross(v, kin.dof_ang)
    acc_ang, acc_lin, vel_ang, vel_lin = pm.static_matmuls(body_dof, sdot_ang * qd[:, None], sdot_lin * qd[:, None],
                                                           sq_ang, sq_lin)
    acc_lin = acc_lin - sys.gravity
    h = sys.body_mass[:, None] * kin.com
    fa_ang, fa_lin = _inertia_apply(sys.body_mass, h, kin.inertia_ref, acc_ang, acc_lin)
    p_ang, p_lin = _inertia_apply(sys.body_mass, h, kin.inertia_ref, vel_ang, vel_lin)
    f_ang = fa_ang + pm.cross(vel_ang, p_ang) + pm.cross(vel_lin, p_lin)
    f_lin = fa_lin + pm.cross(vel_ang, p_lin)
    fs_ang, fs_lin = pm.static_matmuls(subtree, f_ang, f_lin)
    if wrench is not None:  # external wrenches (already summed over subtrees) enter with a minus sign
        fs_ang, fs_lin = fs_ang - wrench[0], fs_lin - wrench[1]
    return pm.dot(kin.dof_ang, fs_ang[dof_body]) + pm.dot(kin.dof_lin, fs_lin[dof_body])


@functools.lru_cache(maxsize=64)
def _actuator_map(nv: int, act_dof: tuple):
    onehot = np.zeros((len(act_dof), nv), np.float32)
    onehot[np.arange(len(act_dof)), list(act_dof)] = 1.0
    return onehot


def actuator_force(sys: M.System, q: jnp.ndarray, qd: jnp.ndarray, ctrl: jnp.ndarray) -> jnp.ndarray:
    """Generalized actuator force `[nv]` for controls `ctrl` `[nu]`.

    Per actuator (joint transmission, gear g): length = g·q, velocity = g·qd,
    force = clip(gain·clip(ctrl) + b0 + b1·length + b2·velocity, forcerange),
    generalized force = g·force. Covers <motor>, <position kp>, <velocity kv>.
    """
    if sys.nu == 0:
        return jnp.zeros_like(qd)
    if getattr(sys, "tendon", None) is not None and sys.tendon.actuated:  # tendon transmissions (tendon.py)
        return tendon.actuator_force(sys, q, qd, ctrl)
    dofs = np.asarray(sys.act_dof)
    qadr = np.array([sys.tree.jnt_qadr[M.dof_joint(sys.tree)[d]] for d in dofs])
    ctrl = jnp.clip(ctrl, sys.act_ctrlrange[:, 0], sys.act_ctrlrange[:, 1])
    length = sys.act_gear * q[qadr]
    velocity = sys.act_gear * qd[dofs]
    force = sys.act_gain * ctrl + sys.act_bias[:, 0] + sys.act_bias[:, 1] * length + sys.act_bias[:, 2] * velocity
    force = jnp.clip(force, sys.act_forcerange[:, 0], sys.act_forcerange[:, 1])
    return pm.static_matmul(_actuator_map(sys.nv, sys.act_dof).T, sys.act_gear * force)


@functools.lru_cache(maxsize=64)
@functools.lru_cache(maxsize=64)
def _scalar_joints(tree: M.Tree):
    """Static indices of hinge/slide joints: (joints, qadr, dofadr, limited-mask)."""
    joints = [j for j, t in enumerate(tree.jnt_type) if t in (M.HINGE, M.SLIDE)]
    return (np.array(joints, np.int32), np.array([tree.jnt_qadr[j] for j in joints], np.int32),
            np.array([tree.jnt_dofadr[j] for j in joints], np.int32),
            np.array([tree.jnt_limited[j] for j in joints], np.float32))


def spring_force(sys: M.System, q: jnp.ndarray) -> jnp.ndarray:
    """Joint stiffness `-k (q - q_spring)` on hinge/slide joints `[nv]`."""
    joints, qadr, dofadr, _ = _scalar_joints(sys.tree)
    force = jnp.zeros(sys.nv, q.dtype)
    if len(joints) == 0:
        return force
    return force.at[dofadr].add(-sys.jnt_stiffness[joints] * (q[qadr] - sys.qpos_spring[qadr]))


def limit_terms(sys: M.System, q: jnp.ndarray, qd: jnp.ndarray, mass_diag: jnp.ndarray):
    """Implicit terms of the soft one-sided joint-limit springs: `(diag [nv], force [nv])`."""
    joints, qadr, dofadr, limited = _scalar_joints(sys.tree)
    diag = jnp.zeros(sys.nv, q.dtype)
    force = jnp.zeros(sys.nv, q.dtype)
    if limited.sum() == 0:
        return diag, force
    sel = limited > 0
    joints, qadr, dofadr = joints[sel], qadr[sel], dofadr[sel]
    stiffness, damping = soft_gains(mass_diag[dofadr], sys.jnt_solref[joints], sys.jnt_dmax[joints], sys.timestep)
    lower, upper = sys.jnt_range[joints, 0], sys.jnt_range[joints, 1]
    qj, vj = q[qadr], qd[dofadr]
    # Predictive activation: engage when the next position would cross the limit,
    # so the implicit spring stops the joint at the limit instead of past it.
    q_next = qj + sys.timestep * vj
    below = (q_next < lower).astype(q.dtype)
    above = (q_next > upper).astype(q.dtype)
    implicit_damping = damping + sys.timestep * stiffness
    push = (stiffness * (lower - qj) - implicit_damping * vj) * below - (stiffness * (qj - upper) + implicit_damping * vj) * above
    diag = diag.at[dofadr].add(sys.timestep * implicit_damping * (below + above))
    return diag, force.at[dofadr].add(push)

