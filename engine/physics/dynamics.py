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
  * Soft constraints (contacts, joint limits) act along a Jacobian row `J`
    with force `K·pen − B·J qd` (normal) and regularized Coulomb friction
    `−μ f_n v_t / sqrt(|v_t|² + ε²)`; their stiffness/damping go into the
    linear system so they are integrated implicitly (see `pipeline`).
"""
from __future__ import annotations

import functools

import jax.numpy as jnp
import numpy as np

from engine.physics import collision, kinematics
from engine.physics import math as pm
from engine.physics import model as M
from engine.struct import pytree_dataclass

FRICTION_VELOCITY_EPS = 1e-3  # m/s: below this the friction cone behaves like a stiff viscous stick.


def _inertia_apply(mass, h, inertia, ang, lin):
    return pm.mat_vec(inertia, ang) + pm.cross(h, lin), mass[:, None] * lin - pm.cross(h, ang)


def composite_inertia(sys: M.System, kin):
    """Subtree sums of the body inertias about the tree reference point: `(mass [nb], h [nb, 3], I [nb, 3, 3])`."""
    subtree = M.tree_arrays(sys.tree)["subtree"]
    return (pm.static_matmul(subtree, sys.body_mass), pm.static_matmul(subtree, sys.body_mass[:, None] * kin.com),
            pm.static_matmul(subtree, kin.inertia_ref))


def _per_dof_forces(sys: M.System, kin, composite):
    """`Ic_{body(k)} S_k` for every dof k: `(ang [nv, 3], lin [nv, 3])`."""
    dof_body = np.asarray(sys.tree.dof_body)
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
    dof_body = np.asarray(sys.tree.dof_body)
    body_dof, subtree = arr["body_dof"], arr["subtree"]
    sq_ang, sq_lin = kin.dof_ang * qd[:, None], kin.dof_lin * qd[:, None]
    rate = arr["dof_rate"].T
    w, v = pm.static_matmul(rate, sq_ang), pm.static_matmul(rate, sq_lin)
    sdot_ang = pm.cross(w, kin.dof_ang)
    sdot_lin = pm.cross(w, kin.dof_lin) + pm.cross(v, kin.dof_ang)
    acc_ang = pm.static_matmul(body_dof, sdot_ang * qd[:, None])
    acc_lin = pm.static_matmul(body_dof, sdot_lin * qd[:, None]) - sys.gravity
    vel_ang, vel_lin = pm.static_matmul(body_dof, sq_ang), pm.static_matmul(body_dof, sq_lin)
    h = sys.body_mass[:, None] * kin.com
    fa_ang, fa_lin = _inertia_apply(sys.body_mass, h, kin.inertia_ref, acc_ang, acc_lin)
    p_ang, p_lin = _inertia_apply(sys.body_mass, h, kin.inertia_ref, vel_ang, vel_lin)
    f_ang = fa_ang + pm.cross(vel_ang, p_ang) + pm.cross(vel_lin, p_lin)
    f_lin = fa_lin + pm.cross(vel_ang, p_lin)
    if wrench is not None:  # external wrenches (already summed over subtrees) enter with a minus sign
        fs_ang = pm.static_matmul(subtree, f_ang) - wrench[0]
        fs_lin = pm.static_matmul(subtree, f_lin) - wrench[1]
    else:
        fs_ang, fs_lin = pm.static_matmul(subtree, f_ang), pm.static_matmul(subtree, f_lin)
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
    dofs = np.asarray(sys.act_dof)
    qadr = np.array([sys.tree.jnt_qadr[_dof_joint(sys.tree)[d]] for d in dofs])
    ctrl = jnp.clip(ctrl, sys.act_ctrlrange[:, 0], sys.act_ctrlrange[:, 1])
    length = sys.act_gear * q[qadr]
    velocity = sys.act_gear * qd[dofs]
    force = sys.act_gain * ctrl + sys.act_bias[:, 0] + sys.act_bias[:, 1] * length + sys.act_bias[:, 2] * velocity
    force = jnp.clip(force, sys.act_forcerange[:, 0], sys.act_forcerange[:, 1])
    return pm.static_matmul(_actuator_map(sys.nv, sys.act_dof).T, sys.act_gear * force)


@functools.lru_cache(maxsize=64)
def _dof_joint(tree: M.Tree) -> tuple:
    out = []
    for j, t in enumerate(tree.jnt_type):
        out += [j] * M.JOINT_NV[t]
    return tuple(out)


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


def contact_jacobian(sys: M.System, kin, bodies: np.ndarray, points: jnp.ndarray) -> jnp.ndarray:
    """Linear-velocity Jacobians `[n, nv, 3]` of world points fixed to `bodies`."""
    body_dof = jnp.asarray(M.tree_arrays(sys.tree)["body_dof"])[bodies]
    offset = points - kin.ref[bodies]
    jac = kin.dof_lin[None, :, :] + pm.cross(kin.dof_ang[None, :, :], offset[:, None, :])
    return jac * body_dof[:, :, None]


def _point_inertia(weight, r):
    """Spatial inertia `(m [n], h [n, 3], I [n, 3, 3])` of isotropic point masses `weight` at offsets `r` `[n, 3]`."""
    outer = r[:, :, None] * r[:, None, :]
    inertia = weight[:, None, None] * (pm.dot(r, r)[:, None, None] * np.eye(3, dtype=np.float32) - outer)
    return weight, weight[:, None] * r, inertia


@pytree_dataclass
class ContactTerms:
    """Implicit-integration terms of the contact points (see `contact_terms`).

    Attributes:
      inertia: `(m [nb], h [nb, 3], I [nb, 3, 3])` isotropic point inertias (the
        tangential weight `w_t` at every contact), summed over subtrees; added to
        the composite inertias they give `Σ w_t·J₁ᵀJ₁ + w_t·J₂ᵀJ₂`.
      normal_rows: `[nc, nv]` `g = Jᵀ n`, the joint-space normal direction per contact.
      normal_weight: `[nc]` `w_n − w_t`: the matrix gains `Σ (w_n − w_t) g gᵀ`.
      wrench: `(torque [nb, 3], force [nb, 3])` explicit contact wrenches about the
        tree reference point, summed over subtrees.
      cross: `[nv, nv]` `−w_t (J₁ᵀJ₂ + J₂ᵀJ₁)` for contacts between two moving bodies, or None.
    """

    inertia: tuple
    normal_rows: jnp.ndarray
    normal_weight: jnp.ndarray
    wrench: tuple
    cross: jnp.ndarray | None = None


def contact_terms(sys: M.System, kin, contact: collision.Contact, qd: jnp.ndarray):
    """Implicit-integration terms of all contact points, folded into the tree.

    The implicit term of a contact is `Jᵀ W J` with `J = J₂(p) − J₁(p)` `[3, nv]`
    and the weight `W = w_t·1 + (w_n − w_t)·n nᵀ`. The isotropic part `w_t JᵀJ`
    of each moving side is the joint-space inertia of a point mass `w_t` at the
    contact, so it joins the composite-inertia pass as a body inertia; the
    normal part is rank one per contact, `(w_n − w_t) g gᵀ` with `g = Jᵀ n`
    `[nv]`. Contacts between two moving bodies add `−w_t (J₁ᵀJ₂ + J₂ᵀJ₁)`.

    Returns `(terms, output)`: a `ContactTerms` and `output(qd_new)`, which gives
    the `[nc, 3]` contact forces at the new velocity and the `[nc]` active mask.
    """
    tree, dt = sys.tree, sys.timestep
    _, geom1, geom2 = collision.contact_layout(tree, sys.contact_pairs)
    geom_body = np.asarray(tree.geom_body)
    arr = M.tree_arrays(tree)
    movable = arr["body_dof"].sum(axis=1) > 0
    bodies = (geom_body[geom1], geom_body[geom2])
    tree_mass = pm.static_matmul(arr["subtree"], sys.body_mass)[arr["body_root"]]
    inv_mass = jnp.where(movable, 1.0 / jnp.where(movable, tree_mass, 1.0), 0.0)
    effective_mass = 1.0 / (inv_mass[bodies[0]] + inv_mass[bodies[1]])
    solref = 0.5 * (sys.geom_solref[geom1] + sys.geom_solref[geom2])
    dmax = 0.5 * (sys.geom_dmax[geom1] + sys.geom_dmax[geom2])
    stiffness, damping = soft_gains(effective_mass, solref, dmax, dt)
    condim = np.maximum(np.asarray(tree.geom_condim)[geom1], np.asarray(tree.geom_condim)[geom2])
    friction = jnp.maximum(sys.geom_friction[geom1], sys.geom_friction[geom2]) * (condim > 1)
    margin = jnp.maximum(sys.geom_margin[geom1], sys.geom_margin[geom2])

    # Moving sides: (sign per point [nc] (0 where that side is static), bodies, offsets from ref,
    # static [nc, nv] mask of the dofs that move the point).
    sides = []
    for sign, body in ((-1.0, bodies[0]), (1.0, bodies[1])):
        if movable[body].any():
            mask = arr["body_dof"][body] * movable[body][:, None]
            sides.append((sign * movable[body].astype(np.float32), body, contact.pos - kin.ref[body], mask))

    def point_velocity(qd_):
        """`[nc, 3]` relative velocity of side 2 with respect to side 1 at each contact point."""
        total = 0.0
        sq_ang, sq_lin = kin.dof_ang * qd_[:, None], kin.dof_lin * qd_[:, None]
        for sign, _, r, mask in sides:
            smask = sign[:, None] * mask
            total = total + pm.static_matmul(smask, sq_lin) + pm.cross(pm.static_matmul(smask, sq_ang), r)
        return total

    n = contact.normal
    v_rel = pm.materialize(point_velocity(qd))
    v_n = pm.dot(v_rel, n)
    v_t = v_rel - v_n[:, None] * n
    # Predictive activation (as for joint limits): engage when the surfaces would
    # meet within this substep, so fast impacts stop at the surface.
    active = (contact.dist + dt * jnp.minimum(v_n, 0.0) < margin).astype(qd.dtype)
    penetration = (margin - contact.dist) * active
    # Friction scales with the spring part of the normal force: the damping part
    # oscillates with contact chatter and, clipped at zero, would bias it upwards.
    normal_force = stiffness * jnp.maximum(penetration, 0.0)
    slip = jnp.sqrt(pm.dot(v_t, v_t) + FRICTION_VELOCITY_EPS ** 2)
    viscous = friction * normal_force / slip
    implicit_damping = damping + dt * stiffness
    w_t = dt * viscous
    w_n = dt * implicit_damping * active
    f_n0 = (stiffness * penetration - implicit_damping * v_n) * active
    # Computed once: XLA would otherwise re-evaluate these per element of every consumer.
    w_t, w_n, f_n0, viscous, penetration, active, implicit_damping = pm.materialize(
        jnp.stack([w_t, w_n, f_n0, viscous, penetration, active, jnp.broadcast_to(implicit_damping, w_t.shape)]))
    force0 = f_n0[:, None] * n - viscous[:, None] * v_t

    nb = tree.num_bodies
    inertias, wrenches, columns = [], [], []
    normal_rows = 0.0
    for sign, body, r, mask in sides:
        inertias.append(_point_inertia(w_t * np.abs(sign), r))
        f = sign[:, None] * force0
        wrenches.append((pm.cross(r, f), f))
        onehot = np.zeros((nb, len(body)), np.float32)
        onehot[body, np.arange(len(body))] = np.abs(sign)
        columns.append(arr["subtree"] @ onehot)
        # g = J_sideᵀ n: dof_lin·n + dof_ang·(r × n) on the dofs that move the point.
        rn = pm.cross(r, n)
        g = pm.dot(n[:, None, :], kin.dof_lin[None]) + pm.dot(rn[:, None, :], kin.dof_ang[None])
        normal_rows = normal_rows + (sign[:, None] * mask) * g
    normal_rows = pm.materialize(normal_rows)
    to_tree = np.concatenate(columns, axis=1)
    inertia = tuple(pm.static_matmul(to_tree, jnp.concatenate([part[i] for part in inertias])) for i in range(3))
    wrench = tuple(pm.static_matmul(to_tree, jnp.concatenate([part[i] for part in wrenches])) for i in range(2))

    cross = None
    both = np.nonzero(movable[bodies[0]] & movable[bodies[1]])[0]
    if len(both):
        pos = contact.pos[both]
        j1 = contact_jacobian(sys, kin, bodies[0][both], pos)  # [m, nv, 3]
        j2 = contact_jacobian(sys, kin, bodies[1][both], pos)
        term = pm.sum_axis(pm.sum_axis(w_t[both][:, None, None, None] * j1[:, :, None, :] * j2[:, None, :, :], -1), 0)
        cross = -(term + term.T)
    terms = ContactTerms(inertia=inertia, normal_rows=normal_rows, normal_weight=w_n - w_t, wrench=wrench, cross=cross)

    def output(qd_new):
        v1 = point_velocity(qd_new)
        v1_n = pm.dot(v1, n)
        f_n = (stiffness * penetration - implicit_damping * v1_n) * active
        return f_n[:, None] * n - viscous[:, None] * (v1 - v1_n[:, None] * n), active

    return terms, output


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

