"""Equality constraints (MuJoCo `<equality>`) as constraint rows of `solver="mujoco"`.

MuJoCo's `mj_instantiateEquality`: each active equality (`eq_active0`, static here) adds rows in equality
order, before every other row; each row has a residual `pos` (margin 0), a Jacobian, `eq_solref/eq_solimp`,
and is two-sided (always quadratic in the solver's cost):

  * `connect` (3 rows): `p1 − p2`, `p_k = xpos_k + R_k a_k` with the anchors `a1 = eq_data[0:3]` (body1's
    frame) and `a2 = eq_data[3:6]` (body2's frame); Jacobian `Jp(body1, p1) − Jp(body2, p2)`;
  * `weld` (6 rows): the same with `a1 = eq_data[3:6]` (relpose position), `a2 = eq_data[0:3]` (anchor),
    then `torquescale · vec(q2* q1 r)` (`r = eq_data[6:10]`, the relative orientation) with Jacobian
    `torquescale · ½ vec(q2* (0, ω1 − ω2) q1 r)` per dof;
  * `joint` / `tendon` (1 row): `x1 − x1₀ − c0 − Σ_{k=1..4} c_k (x2 − x2₀)^k` (`x` a joint's position or a
    tendon's length, `x₀` its value at qpos0, `c = eq_data[0:5]`), or `x1 − x1₀ − c0` without a second
    object; Jacobian `J1 − poly'(x2 − x2₀) J2`.

The regularizer's diagApprox is the translational (rotational for the weld's last 3 rows) body inverse
weights summed over both bodies, or the dof/tendon inverse weights (MuJoCo's `mj_diagApprox`).
Connect/weld between sites are refused by `validate`.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import mujoco
import numpy as np

from simlab.engine.physics import math as pm, model as M
from simlab.engine.physics.kinematics import forward_kinematics, frame_jacobian
from simlab.engine.struct import pytree_dataclass, static_field

_CONNECT = int(mujoco.mjtEq.mjEQ_CONNECT)
_WELD = int(mujoco.mjtEq.mjEQ_WELD)
_JOINT = int(mujoco.mjtEq.mjEQ_JOINT)
_TENDON = int(mujoco.mjtEq.mjEQ_TENDON)
_SIZE = {_CONNECT: 3, _WELD: 6, _JOINT: 1, _TENDON: 1}


@pytree_dataclass
class Equality:
    """Active equality constraints (`MjParams.eq`; None without any).

    Leaves: per connect `[nc, 3]` anchors `c_a1`, `c_a2`; per weld `w_a1`, `w_a2` `[nw, 3]`, `w_quat`
    `[nw, 4]`, `w_scale` `[nw]`; per joint/tendon equality `s_poly` `[ns, 5]`, `s_ref` `[ns, 2]`; per row
    (MuJoCo's order) `solref` `[nr, 2]`, `solimp` `[nr, 5]`, `diag` `[nr]`.
    Static: `connect`/`weld`: `(body1, body2)` each; `scalar`: `(kind, id1, id2)` (kind JOINT: qpos and dof
    addresses as `(qadr, dofadr)`, TENDON: tendon ids; id2 None without a second object); `order`: the row
    permutation from the per-kind blocks (connect, weld, scalar) to MuJoCo's order.
    """

    c_a1: jnp.ndarray
    c_a2: jnp.ndarray
    w_a1: jnp.ndarray
    w_a2: jnp.ndarray
    w_quat: jnp.ndarray
    w_scale: jnp.ndarray
    s_poly: jnp.ndarray
    s_ref: jnp.ndarray
    solref: jnp.ndarray
    solimp: jnp.ndarray
    diag: jnp.ndarray
    group: tuple = static_field(default=())
    connect: tuple = static_field(default=())
    weld: tuple = static_field(default=())
    scalar: tuple = static_field(default=())
    order: tuple = static_field(default=())

    @property
    def nrows(self) -> int:
        return len(self.order)


def _name(m, i: int) -> str:
    return mujoco.mj_id2name(m, int(mujoco.mjtObj.mjOBJ_EQUALITY), int(i)) or f"#{int(i)}"


def validate(m, solver: str, enabled: bool) -> None:
    """Refuses, naming the equality, what this module does not simulate."""
    kinds = {_CONNECT: "connect", _WELD: "weld", _JOINT: "joint", _TENDON: "tendon"}
    for i in range(m.neq):
        kind = kinds.get(int(m.eq_type[i]), str(int(m.eq_type[i])))
        where = f"unsupported MJCF feature: <equality><{kind} name='{_name(m, i)}'>"
        if solver != "mujoco":
            raise ValueError(f"{where}: equality constraints are not supported by the penalty solver; "
                             "use solver='mujoco'")
        if not enabled or not m.eq_active0[i]:
            continue
        if int(m.eq_type[i]) not in _SIZE:
            raise ValueError(f"{where} (any): only connect, weld, joint and tendon equality constraints are supported")
        if int(m.eq_type[i]) in (_CONNECT, _WELD) and int(m.eq_objtype[i]) != int(mujoco.mjtObj.mjOBJ_BODY):
            raise ValueError(f"{where} site1/site2: only body-based connect/weld are supported; use body1/body2")
        if not np.all(np.isfinite(m.eq_data[i])) or not np.all(np.isfinite(m.eq_solref[i])):
            raise ValueError(f"{where} data/solref: not finite")
        if int(m.eq_type[i]) == _TENDON:
            for t in (int(m.eq_obj1id[i]), int(m.eq_obj2id[i])):
                if t >= 0 and any(int(m.wrap_type[m.tendon_adr[t] + k]) != int(mujoco.mjtWrap.mjWRAP_JOINT)
                                  for k in range(m.tendon_num[t])):
                    raise ValueError(f"{where} tendon1/tendon2: only fixed tendons are supported in tendon equalities")


def tendons_used(m, enabled: bool) -> bool:
    return enabled and any(m.eq_active0[i] and int(m.eq_type[i]) == _TENDON for i in range(m.neq))


def from_mjmodel(m, dtype, enabled: bool = True):
    """`Equality` of the model's active equalities (None without any); `validate` first."""
    active = [i for i in range(m.neq) if enabled and m.eq_active0[i]]
    if not active:
        return None
    f = lambda x, *shape: jnp.asarray(np.asarray(x, np.float64).reshape(*shape), dtype)
    iw, dw = m.body_invweight0, m.dof_invweight0
    connect, weld, scalar = [], [], []
    ca1, ca2, wa1, wa2, wq, ws, poly, ref = [], [], [], [], [], [], [], []
    blocks = {_CONNECT: [], _WELD: [], "s": []}  # per kind: per equality its solref, solimp, diag rows
    eq_rows = []  # per active equality in order: (block, index in the block)
    for i in active:
        t, d = int(m.eq_type[i]), m.eq_data[i]
        id1, id2 = int(m.eq_obj1id[i]), int(m.eq_obj2id[i])
        if t in (_CONNECT, _WELD):
            b1, b2 = id1, max(id2, 0)
            tran, rot = iw[b1, 0] + iw[b2, 0], iw[b1, 1] + iw[b2, 1]
            if t == _CONNECT:
                connect.append((b1, b2)); ca1.append(d[0:3]); ca2.append(d[3:6])
                diag = [tran] * 3
            else:
                weld.append((b1, b2)); wa1.append(d[3:6]); wa2.append(d[0:3]); wq.append(d[6:10]); ws.append(d[10])
                diag = [tran] * 3 + [rot] * 3
            key = t
        else:
            if t == _JOINT:
                a1 = (int(m.jnt_qposadr[id1]), int(m.jnt_dofadr[id1]))
                a2 = (int(m.jnt_qposadr[id2]), int(m.jnt_dofadr[id2])) if id2 >= 0 else None
                r1 = m.qpos0[a1[0]]
                r2 = m.qpos0[a2[0]] if a2 else 0.0
                diag = [dw[a1[1]] + (dw[a2[1]] if a2 else 0.0)]
            else:
                a1, a2 = id1, (id2 if id2 >= 0 else None)
                r1 = m.tendon_length0[id1]
                r2 = m.tendon_length0[id2] if id2 >= 0 else 0.0
                diag = [m.tendon_invweight0[id1] + (m.tendon_invweight0[id2] if id2 >= 0 else 0.0)]
            scalar.append((t, a1, a2)); poly.append(d[0:5]); ref.append((r1, r2))
            key = "s"
        n = _SIZE[t]
        blocks[key].append((np.tile(m.eq_solref[i], (n, 1)), np.tile(m.eq_solimp[i], (n, 1)), np.asarray(diag)))
        eq_rows.append((key, len(blocks[key]) - 1, n))
    # Row permutation: blocks laid out connect | weld | scalar, rows wanted in equality order.
    start, offsets = 0, {}
    for key in (_CONNECT, _WELD, "s"):
        sizes = [len(b[2]) for b in blocks[key]]
        offsets[key] = start + np.concatenate([[0], np.cumsum(sizes)])[:-1] if sizes else []
        start += sum(sizes)
    order = tuple(int(offsets[key][k] + r) for key, k, n in eq_rows for r in range(n))
    flat = [b for key in (_CONNECT, _WELD, "s") for b in blocks[key]]
    perm = np.asarray(order)
    cat = lambda j: np.concatenate([b[j] for b in flat])[perm]
    return Equality(
        c_a1=f(ca1, -1, 3), c_a2=f(ca2, -1, 3), w_a1=f(wa1, -1, 3), w_a2=f(wa2, -1, 3), w_quat=f(wq, -1, 4),
        w_scale=f(ws, -1), s_poly=f(poly, -1, 5), s_ref=f(ref, -1, 2),
        solref=f(cat(0), -1, 2), solimp=f(cat(1), -1, 5), diag=f(cat(2), -1),
        connect=tuple(connect), weld=tuple(weld), scalar=tuple(scalar), order=order,
        group=tuple(g for g, (_, _, n) in enumerate(eq_rows) for _ in range(n)))


def _points(kin, bodies, anchors):
    return kin.x_pos[bodies] + pm.quat_rotate(kin.x_quat[bodies], anchors)


def _pair_rows(sys, kin, pairs, a1, a2, dtype):
    """Position error `[n, 3]` and its Jacobian `[n, 3, nv]` of anchor pairs."""
    b1, b2 = (np.asarray([p[k] for p in pairs], np.int32) for k in (0, 1))
    p1, p2 = _points(kin, b1, a1), _points(kin, b2, a2)
    eye = jnp.broadcast_to(jnp.eye(3, dtype=dtype), (len(pairs), 3, 3))
    jac = frame_jacobian(sys, kin, b1, p1, eye) - frame_jacobian(sys, kin, b2, p2, eye)
    return p1 - p2, jac, b1, b2, p1, p2


def _pair_block(sys, kin, dtype):
    """Connect rows then weld rows: lists of `pos`, `jac` blocks."""
    eq = sys.mj.eq
    nv = sys.nv
    pos, jac = [], []
    if eq.connect:
        err, j, *_ = _pair_rows(sys, kin, eq.connect, eq.c_a1, eq.c_a2, dtype)
        pos.append(err.reshape(-1)); jac.append(j.reshape(-1, nv))
    if eq.weld:
        err, j, b1, b2, p1, p2 = _pair_rows(sys, kin, eq.weld, eq.w_a1, eq.w_a2, dtype)
        n = len(eq.weld)
        zero = jnp.zeros((n, 3, 3), dtype)
        eye = jnp.broadcast_to(jnp.eye(3, dtype=dtype), (n, 3, 3))
        omega = frame_jacobian(sys, kin, b1, p1, zero, eye) - frame_jacobian(sys, kin, b2, p2, zero, eye)  # [n,3,nv]
        quat1 = pm.quat_mul(kin.x_quat[b1], eq.w_quat)  # q1 r
        conj2 = pm.quat_conj(kin.x_quat[b2])
        rot_err = pm.quat_mul(conj2, quat1)[:, 1:] * eq.w_scale[:, None]
        axis = jnp.concatenate([jnp.zeros((n, 1, nv), dtype), omega], axis=1).transpose(0, 2, 1)  # [n, nv, 4]
        dq = pm.quat_mul(pm.quat_mul(conj2[:, None, :], axis), quat1[:, None, :])  # [n, nv, 4]
        rot_jac = 0.5 * dq[:, :, 1:].transpose(0, 2, 1) * eq.w_scale[:, None, None]
        pos.append(jnp.concatenate([err, rot_err], axis=1).reshape(-1))
        jac.append(jnp.concatenate([j, rot_jac], axis=1).reshape(-1, nv))
    return pos, jac


def _scalar_block(sys, q, tendon_kin):
    """Joint and tendon equality rows: lists of `pos`, `jac` blocks."""
    eq = sys.mj.eq
    dtype, nv = q.dtype, sys.nv
    pos, jac = [], []
    x1, j1, x2, j2 = [], [], [], []
    for kind, a1, a2 in eq.scalar:
        if kind == _JOINT:
            get = lambda a: (q[a[0]], jnp.zeros(nv, dtype).at[a[1]].set(1.0))
        else:
            get = lambda a: (tendon_kin[0][a], tendon_kin[1][a])
        x, j = get(a1)
        x1.append(x); j1.append(j)
        if a2 is None:
            x2.append(jnp.zeros((), dtype)); j2.append(jnp.zeros(nv, dtype))
        else:
            x, j = get(a2)
            x2.append(x); j2.append(j)
    x1, j1, x2, j2 = jnp.stack(x1), jnp.stack(j1), jnp.stack(x2), jnp.stack(j2)
    c = eq.s_poly
    has2 = jnp.asarray([a2 is not None for _, _, a2 in eq.scalar])
    dif = x2 - eq.s_ref[:, 1]
    value = c[:, 1] * dif + c[:, 2] * dif ** 2 + c[:, 3] * dif ** 3 + c[:, 4] * dif ** 4
    deriv = c[:, 1] + 2 * c[:, 2] * dif + 3 * c[:, 3] * dif ** 2 + 4 * c[:, 4] * dif ** 3
    value, deriv = jnp.where(has2, value, 0.0), jnp.where(has2, deriv, 0.0)
    pos.append(x1 - eq.s_ref[:, 0] - c[:, 0] - value)
    jac.append(j1 - deriv[:, None] * j2)
    return pos, jac


def _order(eq, x):
    perm = np.asarray(eq.order)
    return x if np.array_equal(perm, np.arange(len(perm))) else x[perm]


def pair_bias(sys: M.System, q, qd):
    """`J̇·qd` `[nr]` of the connect/weld rows (0 on joint/tendon rows), in MuJoCo's order: MuJoCo 4 subtracts
    it from those rows' reference acceleration (measured against `efc_aref`)."""
    eq = sys.mj.eq
    tree = sys.tree
    qdot = jnp.zeros_like(q)
    for j, jtype in enumerate(tree.jnt_type):  # d q / dt along qd (quaternions: ½ q (0, ω))
        qa, da = tree.jnt_qadr[j], tree.jnt_dofadr[j]
        if jtype in (M.HINGE, M.SLIDE):
            qdot = qdot.at[qa].set(qd[da])
            continue
        if jtype == M.FREE:
            qdot = qdot.at[qa:qa + 3].set(qd[da:da + 3])
            qa, da = qa + 3, da + 3
        omega = jnp.concatenate([jnp.zeros(1, q.dtype), qd[da:da + 3]])
        qdot = qdot.at[qa:qa + 4].set(0.5 * pm.quat_mul(q[qa:qa + 4], omega))

    def velocity(qq):
        pos, jac = _pair_block(sys, forward_kinematics(sys, qq), q.dtype)
        return pm.dot(jnp.concatenate(jac), qd) if jac else jnp.zeros(0, q.dtype)

    _, bias = jax.jvp(velocity, (q,), (qdot,))
    n_scalar = len(eq.scalar)
    return _order(eq, jnp.concatenate([bias, jnp.zeros(n_scalar, q.dtype)]))


def residuals(sys: M.System, kin, q, tendon_kin=None):
    """`(pos [nr], jac [nr, nv])` of the equality rows in MuJoCo's order (`tendon_kin`: `tendon.kinematics`)."""
    eq = sys.mj.eq
    pos, jac = _pair_block(sys, kin, q.dtype)
    if eq.scalar:
        p, j = _scalar_block(sys, q, tendon_kin)
        pos, jac = pos + p, jac + j
    return _order(eq, jnp.concatenate(pos)), _order(eq, jnp.concatenate(jac))


def row_count(sys: M.System) -> int:
    return 0 if sys.mj is None or sys.mj.eq is None else sys.mj.eq.nrows


@functools.lru_cache(maxsize=64)
def _group_matrix(group: tuple) -> np.ndarray:
    g = np.asarray(group)
    return (g[:, None] == g[None, :]).astype(np.float64)


def impedance_distance(eq: Equality, pos):
    """Per row, the norm of its equality's residual (MuJoCo's impedance of a connect/weld uses the whole error)."""
    if all(group.count(g) == 1 for group in (eq.group,) for g in set(group)):
        return jnp.abs(pos)
    sq = pm.static_matmul(_group_matrix(eq.group), pos * pos)
    safe = sq > 0
    return jnp.where(safe, jnp.sqrt(jnp.where(safe, sq, 1.0)), 0.0)
