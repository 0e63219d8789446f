"""MuJoCo's constraint rows, fixed-size and masked, for `solver="mujoco"`.

Rows come in MuJoCo's order: dof friction loss, joint limits, contacts. Each row i has
a Jacobian `J_i` `[nv]`, a position `pos_i` and margin, and from `solref`/`solimp`:

  imp_i  = impedance(|pos_i − margin_i| / width)         (the solimp curve, in [d0, dmax])
  R_i    = max(1e-15, (1 − imp_i)/imp_i · diagApprox_i)  (diagApprox from the inverse weights at qpos0)
  aref_i = −B_i (J_i·qd) − K_i imp_i (pos_i − margin_i)  (K, B from solref and dmax)

A pyramidal contact with condim c has 2(c−1) rows `J_n ± μ_k J_k`, all with
`R = 2 μ² R_first / impratio` (μ = the sliding friction over √impratio), as MuJoCo
sets them. Rows that MuJoCo would not create this step (a limit or contact not
within its margin) keep their place with `active = 0`: their cost, force and
Hessian vanish. Which rows exist is static (model structure); which are active is data.
"""
from __future__ import annotations

import functools

import jax.numpy as jnp
import numpy as np

from engine.physics import contacts as soft_contacts
from engine.physics import math as pm
from engine.physics import mj_collision
from engine.physics import model as M
from engine.struct import pytree_dataclass

MINVAL = 1e-15
MINIMP, MAXIMP = 0.0001, 0.9999


@pytree_dataclass
class Rows:
    """The constraint problem of one state (`nr` rows, unbatched).

    Attributes:
      jac: `[nr, nv]`; aref: `[nr]` reference acceleration; R: `[nr]` regularizer;
      active: `[nr]` 1.0 for rows MuJoCo would instantiate; floss: `[nr]` friction loss
      (0 outside friction rows).
    """

    jac: jnp.ndarray
    aref: jnp.ndarray
    R: jnp.ndarray
    active: jnp.ndarray
    floss: jnp.ndarray


@functools.lru_cache(maxsize=64)
def layout(sys_tree: M.Tree, pairs: tuple, friction_dofs: tuple, cone: int):
    """Static row layout.

    Returns a dict: `n_friction`, `limits` (joint ids with limits, hinge/slide),
    `contact_rows` (rows per candidate point), `is_friction` `[nr]` bool, `nr`.
    """
    limits = tuple(j for j, t in enumerate(sys_tree.jnt_type)
                   if sys_tree.jnt_limited[j] and t in (M.HINGE, M.SLIDE))
    condim = mj_collision.contact_condim(sys_tree, pairs)
    if cone == M.PYRAMIDAL:
        per_point = np.where(condim == 1, 1, 2 * (condim - 1))
    else:
        per_point = condim
    nf = len(friction_dofs)
    nr = nf + 2 * len(limits) + int(per_point.sum())
    is_friction = np.zeros(nr, bool)
    is_friction[:nf] = True
    return dict(n_friction=nf, limits=limits, condim=condim, contact_rows=per_point, is_friction=is_friction, nr=nr)


def impedance(solimp, pos, margin):
    """MuJoCo's impedance curve `imp` `[n]` for solimp `[n, 5]`, positions and margins `[n]`."""
    d0 = jnp.clip(solimp[:, 0], MINIMP, MAXIMP)
    dmax = jnp.clip(solimp[:, 1], MINIMP, MAXIMP)
    width = jnp.maximum(solimp[:, 2], 0.0)
    mid = jnp.clip(solimp[:, 3], MINIMP, MAXIMP)
    power = jnp.maximum(solimp[:, 4], 1.0)
    x = jnp.abs(pos - margin) / jnp.where(width > MINVAL, width, 1.0)
    xc = jnp.clip(x, 0.0, 1.0)
    lower = xc ** power / mid ** (power - 1)
    upper = 1 - (1 - xc) ** power / (1 - mid) ** (power - 1)
    y = jnp.where(power == 1, xc, jnp.where(xc <= mid, lower, upper))
    imp = d0 + y * (dmax - d0)
    flat = (solimp[:, 0] == solimp[:, 1]) | (width <= MINVAL)
    return jnp.where(flat, 0.5 * (d0 + dmax), imp)


def _gains(solref, solimp, timestep):
    """Stiffness K and damping B `[n]` of the reference acceleration (MuJoCo's KBIP[0:2])."""
    dmax = jnp.clip(solimp[:, 1], MINIMP, MAXIMP)
    standard = solref[:, 0] > 0
    timeconst = jnp.where(standard, jnp.maximum(solref[:, 0], 2.0 * timestep), solref[:, 0])
    k = jnp.where(standard, 1.0 / jnp.maximum(MINVAL, dmax ** 2 * timeconst ** 2 * solref[:, 1] ** 2),
                  -timeconst / jnp.maximum(MINVAL, dmax ** 2))
    b = jnp.where(solref[:, 1] > 0, 2.0 / jnp.maximum(MINVAL, dmax * timeconst), -solref[:, 1] / jnp.maximum(MINVAL, dmax))
    return k, b


def make_rows(sys: M.System, kin, q, qd, contact: mj_collision.MjContact) -> Rows:
    """All constraint rows of `sys` at `(q, qd)` with contacts `contact` (see module docstring)."""
    mj = sys.mj
    tree = sys.tree
    lay = layout(tree, sys.contact_pairs, mj.friction_dofs, mj.cone)
    nv, dtype = sys.nv, q.dtype
    jac, pos, margin, solref, solimp, diag, active, floss, kind = [], [], [], [], [], [], [], [], []

    # Dof friction loss: J = e_dof, K = 0 (pos = margin = 0).
    fd = np.asarray(mj.friction_dofs, np.int32)
    if len(fd):
        jac.append(jnp.asarray(np.eye(nv, dtype=np.float64)[fd], dtype))
        zero = jnp.zeros(len(fd), dtype)
        pos.append(zero)
        margin.append(zero)
        solref.append(mj.dof_solref[fd])
        solimp.append(mj.dof_solimp[fd])
        diag.append(mj.dof_invweight0[fd])
        active.append(jnp.ones(len(fd), dtype))
        floss.append(mj.dof_frictionloss[fd])

    # Joint limits: lower row (dist = q − lo, J = +e), upper row (dist = hi − q, J = −e).
    lim = np.asarray(lay["limits"], np.int32)
    if len(lim):
        qadr = np.asarray(tree.jnt_qadr)[lim]
        dofadr = np.asarray(tree.jnt_dofadr)[lim]
        qj = q[qadr]
        dist = jnp.concatenate([qj - sys.jnt_range[lim, 0], sys.jnt_range[lim, 1] - qj])
        eye = np.eye(nv, dtype=np.float64)[dofadr]
        jac.append(jnp.asarray(np.concatenate([eye, -eye]), dtype))
        jm = jnp.concatenate([mj.jnt_margin[lim]] * 2)
        pos.append(dist)
        margin.append(jm)
        solref.append(jnp.concatenate([sys.jnt_solref[lim]] * 2))
        solimp.append(jnp.concatenate([mj.jnt_solimp[lim]] * 2))
        diag.append(jnp.concatenate([mj.dof_invweight0[dofadr]] * 2))
        active.append((dist < jm).astype(dtype))
        floss.append(jnp.zeros(2 * len(lim), dtype))

    rpy = None
    if contact.dist.shape[0]:
        rows = _contact_rows(sys, kin, contact, lay)
        jac.append(rows["jac"])
        pos.append(rows["pos"])
        margin.append(rows["margin"])
        solref.append(rows["solref"])
        solimp.append(rows["solimp"])
        diag.append(rows["diag"])
        active.append(rows["active"])
        floss.append(jnp.zeros_like(rows["pos"]))
        rpy = rows

    if not jac:
        z = jnp.zeros((0,), dtype)
        return Rows(jac=jnp.zeros((0, nv), dtype), aref=z, R=z, active=z, floss=z)
    jac, pos, margin, solref, solimp, diag, active, floss = (
        jnp.concatenate(x) for x in (jac, pos, margin, solref, solimp, diag, active, floss))
    imp = impedance(solimp, pos, margin)
    R = jnp.maximum(MINVAL, (1 - imp) / imp * diag)
    k, b = _gains(solref, solimp, sys.timestep)
    k = jnp.where(jnp.asarray(lay["is_friction"]), 0.0, k)
    aref = -b * (jac @ qd) - k * imp * (pos - margin)
    if rpy is not None:
        R = _pyramid_regularizer(R, rpy, lay, sys.mj.impratio)
    return Rows(jac=jac, aref=aref, R=R, active=active, floss=floss)


def _contact_rows(sys: M.System, kin, contact, lay) -> dict:
    """Per-row arrays of the contact part (pyramidal or frictionless rows)."""
    _, geom1, geom2 = soft_contacts.collision.contact_layout(sys.tree, sys.contact_pairs)
    body = np.asarray(sys.tree.geom_body)
    b1, b2 = body[geom1], body[geom2]
    condim = lay["condim"]
    jp = soft_contacts.contact_jacobian(sys, kin, b2, contact.pos) - soft_contacts.contact_jacobian(
        sys, kin, b1, contact.pos)  # [nc, nv, 3]
    frame_jac = jnp.einsum("cij,cvj->civ", contact.frame, jp)  # [nc, 3, nv]: normal, t1, t2
    if condim.max(initial=1) > 3:
        body_dof = jnp.asarray(M.tree_arrays(sys.tree)["body_dof"])
        jr = (body_dof[b2][:, :, None] - body_dof[b1][:, :, None]) * kin.dof_ang[None]
        frame_jac = jnp.concatenate([frame_jac, jnp.einsum("cij,cvj->civ", contact.frame, jr)], axis=1)
    iw = sys.mj.body_invweight0
    tran = iw[b1, 0] + iw[b2, 0]
    rot = iw[b1, 1] + iw[b2, 1]
    jac, point = [], []
    diag = []
    # Rows are built per condim group so that shapes stay static.
    order = []
    for c in np.unique(condim):
        idx = np.nonzero(condim == c)[0]
        if c == 1:
            jac.append(frame_jac[idx, 0])
            diag.append(tran[idx])
            point.append(idx)
            order.append(idx[:, None])
            continue
        edges, dg, pt = [], [], []
        for k in range(1, c):
            mu = contact.friction[idx, k - 1]
            for sign in (1.0, -1.0):
                edges.append(frame_jac[idx, 0] + sign * mu[:, None] * frame_jac[idx, k])
                dg.append(tran[idx] + mu * mu * (tran[idx] if k < 3 else rot[idx]))
                pt.append(idx)
        # [len(idx), rows] -> flatten point-major (MuJoCo's order: edges of one contact together)
        jac.append(jnp.stack(edges, axis=1).reshape(-1, sys.nv))
        diag.append(jnp.stack(dg, axis=1).reshape(-1))
        point.append(np.stack(pt, axis=1).reshape(-1))
    point = np.concatenate(point)
    return dict(jac=jnp.concatenate(jac), diag=jnp.concatenate(diag), point=point,
                pos=contact.dist[point], margin=contact.includemargin[point], solref=contact.solref[point],
                solimp=contact.solimp[point], active=contact.valid[point], friction=contact.friction[point],
                condim=condim[point])


def _pyramid_regularizer(R, rows, lay, impratio):
    """Replace the R of every pyramidal row by MuJoCo's common `2 μ² R_first / impratio`."""
    start = lay["n_friction"] + 2 * len(lay["limits"])
    point, condim = rows["point"], rows["condim"]
    rc = R[start:]
    # First row of each point's block: its index in the contact part.
    first = np.zeros(len(point), np.int64)
    seen = {}
    for i, p in enumerate(point):
        seen.setdefault(int(p), i)
        first[i] = seen[int(p)]
    mu = rows["friction"][:, 0]
    r_first = rc[first]
    rpy = 2.0 * mu * mu * r_first / jnp.maximum(MINVAL, impratio)
    rc = jnp.where(jnp.asarray(condim > 1), rpy, rc)
    return jnp.concatenate([R[:start], rc])


def contact_forces(sys: M.System, contact: mj_collision.MjContact, force: jnp.ndarray) -> jnp.ndarray:
    """World force on geom2's body `[nc, 3]` of every contact point from the row forces `[nr]`."""
    lay = layout(sys.tree, sys.contact_pairs, sys.mj.friction_dofs, sys.mj.cone)
    start = lay["n_friction"] + 2 * len(lay["limits"])
    condim = lay["condim"]
    nc = len(condim)
    local = jnp.zeros((nc, 3), force.dtype)
    fc = force[start:]
    offset = 0
    for c in np.unique(condim):
        idx = np.nonzero(condim == c)[0]
        if c == 1:
            local = local.at[idx, 0].set(fc[offset:offset + len(idx)])
            offset += len(idx)
            continue
        n_rows = 2 * (c - 1)
        f = fc[offset:offset + n_rows * len(idx)].reshape(len(idx), n_rows)
        offset += n_rows * len(idx)
        normal = f.sum(axis=1)
        local = local.at[idx, 0].set(normal)
        for k in (1, 2):
            mu = contact.friction[idx, k - 1]
            local = local.at[idx, k].set(mu * (f[:, 2 * (k - 1)] - f[:, 2 * (k - 1) + 1]))
    return jnp.einsum("cij,ci->cj", contact.frame, local)
