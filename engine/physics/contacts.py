"""Soft contacts: implicit-integration terms folded into the kinematic tree.

Each contact point acts along `J = J₂(p) − J₁(p)` (`[3, nv]`, the relative
velocity of the two geoms' bodies at the point) with the normal force
`K·pen − B·v_n` and regularized Coulomb friction `−μ f_n v_t / sqrt(|v_t|² + ε²)`
(see `docs/physics.md`). Their stiffness and damping enter the system matrix so
they are integrated implicitly.
"""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from simlab.engine.physics import collision, math as pm, model as M
from simlab.engine.physics.dynamics import soft_gains
from simlab.engine.struct import pytree_dataclass

FRICTION_VELOCITY_EPS = 1e-3  # m/s: below this the friction cone behaves like a stiff viscous stick.


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
            lin, ang = pm.static_matmuls(smask, sq_lin, sq_ang)
            total = total + lin + pm.cross(ang, r)
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
    summed = pm.static_matmuls(to_tree, *[jnp.concatenate([part[i] for part in inertias]) for i in range(3)],
                               *[jnp.concatenate([part[i] for part in wrenches]) for i in range(2)])
    inertia, wrench = tuple(summed[:3]), tuple(summed[3:])

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
