"""MuJoCo's constraint rows, fixed-size and masked, for `solver="mujoco"`.

Rows come in MuJoCo's order: equality constraints (`equality.py`), dof friction loss, tendon friction loss, joint limits, tendon limits
(`tendon.rows`), contacts. Each row i has
a Jacobian `J_i` `[nv]`, a position `pos_i` and margin, and from `solref`/`solimp`:

  imp_i  = impedance(|pos_i − margin_i| / width)         (the solimp curve, in [d0, dmax])
  R_i    = max(1e-15, (1 − imp_i)/imp_i · diagApprox_i)  (diagApprox from the inverse weights at qpos0)
  aref_i = −B_i (J_i·qd) − K_i imp_i (pos_i − margin_i)  (K, B from solref and dmax)

A pyramidal contact with condim c has 2(c−1) rows `J_n ± μ_k J_k`, all with
`R = 2 μ² R_first / impratio` (μ = the sliding friction over √impratio), as MuJoCo
sets them. An elliptic contact with condim c > 1 has c rows: the normal `J_n` (its own
`R_0` from the translational diagApprox) and one row per friction direction `J_k` (sliding
along the two tangents, spin about the normal, rolling about the tangents) with
`R_k = R_0 · μ²/μ_k²`, `μ = μ_1/√impratio`, and no position term in `aref`. The solver
treats those rows as one cone (`solver.py`). Rows that MuJoCo would not create this step
(a limit or contact not within its margin) keep their place with `active = 0`: their
cost, force and Hessian vanish. Which rows exist is static (model structure); which are
active is data.
"""
from __future__ import annotations

import functools

import jax.numpy as jnp
import numpy as np

from simlab.engine.physics import (contacts as soft_contacts, equality as equalities, math as pm, mj_collision,
                                   model as M, tendon as tendons)
from simlab.engine.physics.kinematics import frame_jacobian
from simlab.engine.struct import pytree_dataclass, static_field

MINVAL = 1e-15
MINIMP, MAXIMP = 0.0001, 0.9999
MINMU = 1e-5  # smallest friction coefficient of an elliptic cone's direction (keeps R_k finite)


@pytree_dataclass
class Rows:
    """The constraint problem of one state (`nr` rows, unbatched).

    Attributes:
      jac: `[nr, nv]`; aref: `[nr]` reference acceleration; R: `[nr]` regularizer;
      active: `[nr]` 1.0 for rows MuJoCo would instantiate; floss: `[nr]` friction loss
      (0 outside friction rows).
      cone_mu: per elliptic group, `[n, dim]`: column 0 is the cone's `μ = μ_1/√impratio`,
        column k the friction coefficient `μ_k` of row k; `()` with pyramidal cones.
      n_equality (static): the first rows are equality constraints (two-sided, always quadratic).
      n_friction (static): the next rows are friction loss (dofs, then tendons).
      cones (static): `((n, dim), ...)` the elliptic groups, which are the last rows, point-major
        (`n` contacts of `dim` rows each); every other row is one-sided.
    """

    jac: jnp.ndarray
    aref: jnp.ndarray
    R: jnp.ndarray
    active: jnp.ndarray
    floss: jnp.ndarray
    cone_mu: tuple = ()
    n_friction: int = static_field(default=0)
    n_equality: int = static_field(default=0)
    cones: tuple = static_field(default=())


@functools.lru_cache(maxsize=64)
def layout(sys_tree: M.Tree, pairs: tuple, friction_dofs: tuple, cone: int):
    """Static row layout.

    Returns a dict: `n_friction`, `limits` (joint ids with limits, hinge/slide),
    `condim` per candidate point, `contact_rows` (rows per candidate point), `is_friction`
    `[nr]` bool, `nr`, and `cones` (`Rows.cones`: the elliptic groups, `()` when pyramidal).
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
    cones = () if cone == M.PYRAMIDAL else tuple(
        (int(np.sum(condim == c)), int(c)) for c in np.unique(condim) if c > 1)
    return dict(n_friction=nf, limits=limits, condim=condim, contact_rows=per_point, is_friction=is_friction,
                nr=nr, cones=cones)


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


def _row_gains(sys: M.System, pos, margin, solref, solimp, diag):
    """Per-row `(imp, R, k·imp·(pos − margin), B)` `[n]` of a block of rows (module docstring)."""
    imp = impedance(solimp, pos, margin)
    R = jnp.maximum(MINVAL, (1 - imp) / imp * diag)
    k, b = _gains(solref, solimp, sys.timestep)
    return imp, R, k * imp * (pos - margin), b


def _tendon_rows(sys: M.System, ten_kin, q, qd):
    """Tendon friction-loss and limit rows for `solver="mujoco"`: `(friction, limits)`, each None or a dict
    of `jac [n, nv]`, `aref`, `R`, `active`, `floss` `[n]` (module docstring for the row formulas)."""
    ten = sys.tendon
    length, jac = ten_kin
    dtype = q.dtype
    friction = limits = None
    if ten.friction:
        idx = np.asarray(ten.friction, np.int32)
        zero = jnp.zeros(len(idx), dtype)
        _, r, _, b = _row_gains(sys, zero, zero, ten.solref_fri[idx], ten.solimp_fri[idx],
                                           ten.invweight0[idx])
        rows_j = jac[idx]
        friction = dict(jac=rows_j, aref=-b * pm.dot(rows_j, qd), R=r, active=jnp.ones(len(idx), dtype),
                        floss=ten.frictionloss[idx])
    if ten.limited:
        idx = np.asarray(ten.limited, np.int32)
        lt = length[idx]
        dist = jnp.concatenate([lt - ten.range[idx, 0], ten.range[idx, 1] - lt])
        margin = jnp.concatenate([ten.margin[idx]] * 2)
        two = lambda x: jnp.concatenate([x, x])
        _, r, kterm, b = _row_gains(sys, dist, margin, two(ten.solref_lim[idx]), two(ten.solimp_lim[idx]),
                                               two(ten.invweight0[idx]))
        rows_j = jnp.concatenate([jac[idx], -jac[idx]])
        limits = dict(jac=rows_j, aref=-b * pm.dot(rows_j, qd) - kterm, R=r, active=(dist < margin).astype(dtype),
                      floss=jnp.zeros(2 * len(idx), dtype))
    return friction, limits


def make_rows(sys: M.System, kin, q, qd, contact: mj_collision.MjContact) -> Rows:
    """All constraint rows of `sys` at `(q, qd)` with contacts `contact` (see module docstring).

    Impedance, `R`, `K` and `B` are computed once per contact point and shared by the
    point's pyramid rows (they are equal by construction), not once per row.
    """
    mj = sys.mj
    tree = sys.tree
    lay = layout(tree, sys.contact_pairs, mj.friction_dofs, mj.cone)
    nv, dtype = sys.nv, q.dtype
    jac, aref, R, active, floss = [], [], [], [], []
    cone_mu = ()
    ten_kin = tendons.kinematics(sys, kin, q) if sys.tendon is not None else None

    # Equality constraints (equality.py): pos = residual, margin 0, no friction loss, always active.
    if mj.eq is not None:
        pos, j = equalities.residuals(sys, kin, q, ten_kin)
        imp = impedance(mj.eq.solimp, equalities.impedance_distance(mj.eq, pos), jnp.zeros_like(pos))
        r = jnp.maximum(MINVAL, (1 - imp) / imp * mj.eq.diag)
        k, b = _gains(mj.eq.solref, mj.eq.solimp, sys.timestep)
        bias = equalities.pair_bias(sys, q, qd) if (mj.eq.connect or mj.eq.weld) else 0.0
        jac.append(j)
        aref.append(-b * pm.dot(j, qd) - k * imp * pos - bias)
        R.append(r)
        active.append(jnp.ones_like(pos))
        floss.append(jnp.zeros_like(pos))

    # Dof friction loss: J = e_dof, K = 0 (pos = margin = 0).
    fd = np.asarray(mj.friction_dofs, np.int32)
    if len(fd):
        zero = jnp.zeros(len(fd), dtype)
        _, r, _, b = _row_gains(sys, zero, zero, mj.dof_solref[fd], mj.dof_solimp[fd], mj.dof_invweight0[fd])
        jac.append(jnp.asarray(np.eye(nv, dtype=np.float64)[fd], dtype))
        aref.append(-b * qd[fd])
        R.append(r)
        active.append(jnp.ones(len(fd), dtype))
        floss.append(mj.dof_frictionloss[fd])

    # Tendons (tendon.py): friction loss after the dof friction loss, limits after the joint limits.
    ten_friction, ten_limits = _tendon_rows(sys, ten_kin, q, qd) if sys.tendon is not None else (None, None)
    if ten_friction is not None:
        for part, key in ((jac, "jac"), (aref, "aref"), (R, "R"), (active, "active"), (floss, "floss")):
            part.append(ten_friction[key])

    # Joint limits: lower row (dist = q − lo, J = +e), upper row (dist = hi − q, J = −e).
    lim = np.asarray(lay["limits"], np.int32)
    if len(lim):
        qadr = np.asarray(tree.jnt_qadr)[lim]
        dofadr = np.asarray(tree.jnt_dofadr)[lim]
        qj = q[qadr]
        dist = jnp.concatenate([qj - sys.jnt_range[lim, 0], sys.jnt_range[lim, 1] - qj])
        jm = jnp.concatenate([mj.jnt_margin[lim]] * 2)
        _, r, kterm, b = _row_gains(sys, dist, jm, jnp.concatenate([sys.jnt_solref[lim]] * 2),
                                    jnp.concatenate([mj.jnt_solimp[lim]] * 2),
                                    jnp.concatenate([mj.dof_invweight0[dofadr]] * 2))
        eye = np.eye(nv, dtype=np.float64)[dofadr]
        jac.append(jnp.asarray(np.concatenate([eye, -eye]), dtype))
        vel = qd[dofadr]
        aref.append(-b * jnp.concatenate([vel, -vel]) - kterm)
        R.append(r)
        active.append((dist < jm).astype(dtype))
        floss.append(jnp.zeros(2 * len(lim), dtype))
    if ten_limits is not None:
        for part, key in ((jac, "jac"), (aref, "aref"), (R, "R"), (active, "active"), (floss, "floss")):
            part.append(ten_limits[key])

    if contact.dist.shape[0]:
        rows = _contact_rows(sys, kin, contact, qd, lay)
        for part, x in zip((jac, aref, R, active), (rows["jac"], rows["aref"], rows["R"], rows["active"])):
            part.append(x)
        floss.append(jnp.zeros_like(rows["aref"]))
        cone_mu = rows["cone_mu"]

    if not jac:
        z = jnp.zeros((0,), dtype)
        return Rows(jac=jnp.zeros((0, nv), dtype), aref=z, R=z, active=z, floss=z)
    jac, aref, R, active, floss = (jnp.concatenate(x) for x in (jac, aref, R, active, floss))
    return Rows(jac=jac, aref=aref, R=R, active=active, floss=floss, cone_mu=cone_mu,
                n_friction=lay["n_friction"] + tendons.row_counts(sys)[0], cones=lay["cones"],
                n_equality=equalities.row_count(sys))


def _take(x, idx: np.ndarray):
    """`x[idx]` for a static index array; no gather when `idx` is all of `x` in order."""
    if len(idx) == x.shape[0] and np.array_equal(idx, np.arange(len(idx))):
        return x
    return x[idx]


def _edge_directions(frame, friction, condim: int):
    """Linear and angular directions `[n, rows, 3]` of the pyramid edges of `condim`-contacts.

    Edge pair k (k = 1..condim−1) is `n ± μ_k t_k` (sliding, k ≤ 2) or `n` with `± μ_k a_k` as
    angular part (spin about the normal for k = 3, rolling about the tangents for k = 4, 5).
    """
    if condim == 1:
        return frame[:, :1], None
    lin, rot = [], []
    for k in range(1, condim):
        mu = friction[:, k - 1, None]
        for sign in (1.0, -1.0):
            if k < 3:
                lin.append(frame[:, 0] + sign * mu * frame[:, k])
                rot.append(jnp.zeros_like(frame[:, 0]))
            else:
                lin.append(frame[:, 0])
                rot.append(sign * mu * frame[:, k - 3])
    lin, rot = jnp.stack(lin, axis=1), jnp.stack(rot, axis=1)
    return lin, (rot if condim > 3 else None)


def _cone_directions(frame, condim: int):
    """Linear and angular directions `[n, condim, 3]` of an elliptic contact's rows.

    Row 0 is the normal, rows 1-2 slide along the tangents, row 3 spins about the normal,
    rows 4-5 roll about the tangents (MuJoCo's order).
    """
    zero = jnp.zeros_like(frame[:, 0])
    lin = [frame[:, 0], frame[:, 1], frame[:, 2], zero, zero, zero][:condim]
    rot = [zero, zero, zero, frame[:, 0], frame[:, 1], frame[:, 2]][:condim]
    return jnp.stack(lin, axis=1), (jnp.stack(rot, axis=1) if condim > 3 else None)


def _contact_rows(sys: M.System, kin, contact, qd, lay) -> dict:
    """`jac`, `aref`, `R`, `active`, `cone_mu` of the contact rows, point-major per condim group."""
    _, geom1, geom2 = soft_contacts.collision.contact_layout(sys.tree, sys.contact_pairs)
    body = np.asarray(sys.tree.geom_body)
    b1, b2 = body[geom1], body[geom2]
    moves = M.tree_arrays(sys.tree)["body_dof"].any(axis=1)
    condim = lay["condim"]
    elliptic = sys.mj.cone == M.ELLIPTIC
    iw = sys.mj.body_invweight0
    tran = iw[b1, 0] + iw[b2, 0]
    # One impedance, R, K and B per point, shared by its rows.
    mu = contact.friction[:, 0]
    pyramid = jnp.asarray(condim > 1) & (not elliptic)
    diag = jnp.where(pyramid, tran + mu * mu * tran, tran)
    _, r, kterm, b = _row_gains(sys, contact.dist, contact.includemargin, contact.solref, contact.solimp, diag)
    r = jnp.where(pyramid, 2.0 * mu * mu * r / jnp.maximum(MINVAL, sys.mj.impratio), r)
    jac, R, K, point, cone_mu = [], [], [], [], []
    # Rows are built per condim group so that shapes stay static; within a group point-major
    # (MuJoCo's order: the rows of one contact together).
    for c in np.unique(condim):
        idx = np.nonzero(condim == c)[0]
        pos = _take(contact.pos, idx)
        friction = _take(contact.friction, idx)
        if elliptic and c > 1:
            lin, rot = _cone_directions(_take(contact.frame, idx), int(c))
            cone = jnp.maximum(friction[:, :c - 1], MINMU)
            mu_cone = friction[:, :1] / jnp.sqrt(jnp.maximum(MINVAL, sys.mj.impratio))
            scale = jnp.concatenate([jnp.ones_like(mu_cone), (mu_cone / cone) ** 2], axis=1)  # R_k / R_0
            R.append((_take(r, idx)[:, None] * scale).reshape(-1))
            K.append(jnp.concatenate([_take(kterm, idx)[:, None], jnp.zeros_like(cone)], axis=1).reshape(-1))
            cone_mu.append(jnp.concatenate([mu_cone, cone], axis=1))
        else:
            lin, rot = _edge_directions(_take(contact.frame, idx), friction, int(c))
            R.append(jnp.repeat(_take(r, idx), lin.shape[1]))
            K.append(jnp.repeat(_take(kterm, idx), lin.shape[1]))
        rows = frame_jacobian(sys, kin, b2[idx], pos, lin, rot)
        if moves[b1[idx]].any():  # geom1 on a moving body (static bodies have zero Jacobians)
            rows = rows - frame_jacobian(sys, kin, b1[idx], pos, lin, rot)
        jac.append(rows.reshape(-1, sys.nv))
        point.append(np.repeat(idx, rows.shape[1]))
    point = np.concatenate(point)
    jac = jnp.concatenate(jac)
    aref = -_take(b, point) * pm.dot(jac, qd) - jnp.concatenate(K)
    return dict(jac=jac, aref=aref, R=jnp.concatenate(R), active=_take(contact.valid, point), cone_mu=tuple(cone_mu))


def contact_forces(sys: M.System, contact: mj_collision.MjContact, force: jnp.ndarray) -> jnp.ndarray:
    """World force on geom2's body `[nc, 3]` of every contact point from the row forces `[nr]`."""
    lay = layout(sys.tree, sys.contact_pairs, sys.mj.friction_dofs, sys.mj.cone)
    start = lay["n_friction"] + 2 * len(lay["limits"]) + sum(tendons.row_counts(sys)) + equalities.row_count(sys)
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
        if sys.mj.cone == M.ELLIPTIC:  # the rows are the normal and tangential components themselves
            f = fc[offset:offset + c * len(idx)].reshape(len(idx), c)
            offset += c * len(idx)
            local = local.at[idx].set(f[:, :3])
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
