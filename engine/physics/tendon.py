"""Tendons (MuJoCo `<tendon>`): fixed tendons and straight spatial tendons between sites.

A tendon `t` has a length `L_t(q)` and a Jacobian `J_t = ∂L_t/∂q` `[nv]` (velocity `J_t·qd`):

  * fixed (`<fixed>`): `L = Σ_i coef_i q_{joint_i}` over hinge/slide joints, `J[dof(joint_i)] += coef_i`
    (constant);
  * spatial through sites only (`<spatial>` with `<site>` children, no wrapping geoms or pulleys):
    `L = Σ_k |p_{k+1} − p_k|`, `J = Σ_k u_kᵀ (Jp(p_{k+1}) − Jp(p_k))` with `u_k` the unit segment
    direction and `Jp` the point Jacobian of the site's body (MuJoCo's `mj_tendon`).

What acts, with MuJoCo's semantics (its "Computation" chapter and `mj_passive`, `mj_instantiateLimit`,
`mj_instantiateFriction`, `mj_transmission`):

  * passive force `Jᵀ (f_spring + f_damper)`: `f_spring = k (lo − L)` below and `k (hi − L)` above the
    spring length range `lengthspring = (lo, hi)` (zero between), `f_damper = −b J·qd`. The Euler step
    integrates only the dof damping implicitly (as MuJoCo); implicitfast also the tendons' `b JᵀJ` and
    the tendon actuators' velocity gains, restricted to the sparsity of M (MuJoCo drops the other
    entries; measured against `mj_step`);
  * limits (`limited`, `range`): constraint rows `J` with `dist = L − lo` and `−J` with `dist = hi − L`,
    active while `dist < margin`, after the joint-limit rows (`solver="mujoco"`); the penalty mode uses a
    soft one-sided spring like its joint limits (effective mass `1/tendon_invweight0`);
  * friction loss: rows `J` after the dof friction-loss rows (`solver="mujoco"` only);
  * actuators with a tendon transmission (fixed tendons): `length = gear·L`, `moment = gear·J`,
    generalized force `moment·force`.

Everything is branch-free; which tendons exist, their joints and sites are static.
"""
from __future__ import annotations

import functools

import jax.numpy as jnp
import mujoco
import numpy as np

from simlab.engine.physics import math as pm, model as M
from simlab.engine.physics.kinematics import frame_jacobian
from simlab.engine.struct import pytree_dataclass, static_field

_WRAP_JOINT = int(mujoco.mjtWrap.mjWRAP_JOINT)
_WRAP_SITE = int(mujoco.mjtWrap.mjWRAP_SITE)
_TRN_JOINT = int(mujoco.mjtTrn.mjTRN_JOINT)
_TRN_TENDON = int(mujoco.mjtTrn.mjTRN_TENDON)
_WRAP_NAMES = {int(v): k[len("mjWRAP_"):].lower() for k, v in mujoco.mjtWrap.__members__.items()}


@pytree_dataclass
class Tendons:
    """Tendon parameters of a `System` (`System.tendon`; None without tendons).

    Leaves (nt tendons, MuJoCo's compiled values):
      coef: `[nfixed]` coefficient of each fixed-tendon joint entry; site_pos: `[nsite, 3]` position of each
        used site in its body's frame.
      stiffness, damping: `[nt]`; lengthspring: `[nt, 2]` spring length range (deadband);
      range: `[nt, 2]`; margin: `[nt]`; solref_lim `[nt, 2]`, solimp_lim `[nt, 5]` of the limit rows;
      frictionloss: `[nt]`; solref_fri `[nt, 2]`, solimp_fri `[nt, 5]`;
      invweight0: `[nt]` inverse inertia along the tendon at `qpos0` (the rows' diagApprox).

    Static:
      fixed: per fixed-tendon entry `(tendon, qadr, dofadr)`; segments: per straight spatial segment
        `(tendon, site_a, site_b)` (indices into `site_pos`); site_body: `[nsite]` body of each site;
      limited: tendons with limit rows; friction: tendons with friction-loss rows;
      act_tendon: per actuator its tendon, -1 for joint transmissions; couples: the step's matrices lose
        the tree sparsity (a tendon with rows, or penalty-mode damping, spans two branches);
      names: tendon names.
    """

    coef: jnp.ndarray
    site_pos: jnp.ndarray
    stiffness: jnp.ndarray
    damping: jnp.ndarray
    lengthspring: jnp.ndarray
    range: jnp.ndarray
    margin: jnp.ndarray
    solref_lim: jnp.ndarray
    solimp_lim: jnp.ndarray
    frictionloss: jnp.ndarray
    solref_fri: jnp.ndarray
    solimp_fri: jnp.ndarray
    invweight0: jnp.ndarray
    fixed: tuple = static_field(default=())
    segments: tuple = static_field(default=())
    site_body: tuple = static_field(default=())
    limited: tuple = static_field(default=())
    friction: tuple = static_field(default=())
    act_tendon: tuple = static_field(default=())
    couples: bool = static_field(default=False)
    names: tuple = static_field(default=())

    @property
    def nt(self) -> int:
        return len(self.names)

    @property
    def actuated(self) -> bool:
        return any(t >= 0 for t in self.act_tendon)


# ---------------------------------------------------------------------------------------------- loading


def _name(m, objtype, i: int) -> str:
    return mujoco.mj_id2name(m, int(objtype), int(i)) or f"#{int(i)}"


def _tendon_element(m, t: int) -> str:
    kind = "fixed" if all(m.wrap_type[m.tendon_adr[t] + k] == _WRAP_JOINT for k in range(m.tendon_num[t])) \
        else "spatial"
    return f"<tendon><{kind} name='{_name(m, mujoco.mjtObj.mjOBJ_TENDON, t)}'>"


def validate(m, solver: str) -> None:
    """Refuses, with a `ValueError` naming the tendon and attribute, what this module does not simulate."""
    def fail(t, attribute, why):
        raise ValueError(f"unsupported MJCF feature: {_tendon_element(m, t)} {attribute}: {why}")

    for t in range(m.ntendon):
        types = [int(m.wrap_type[m.tendon_adr[t] + k]) for k in range(m.tendon_num[t])]
        if any(w not in (_WRAP_JOINT, _WRAP_SITE) for w in types) or (_WRAP_SITE in types and _WRAP_JOINT in types):
            bad = sorted({_WRAP_NAMES.get(w, str(w)) for w in types if w not in (_WRAP_JOINT, _WRAP_SITE)})
            fail(t, "(wrapping)", f"wraps around/through {', '.join(bad) or 'mixed objects'}: only fixed tendons and "
                 "spatial tendons running straight between sites are supported (no wrapping geoms or pulleys)")
        for k in range(m.tendon_num[t]):
            w = m.tendon_adr[t] + k
            if types[k] == _WRAP_JOINT and m.jnt_type[m.wrap_objid[w]] not in (M.HINGE, M.SLIDE):
                fail(t, "joint", "fixed tendons can only couple hinge and slide joints")
        for attribute, values in (("stiffness", m.tendon_stiffness), ("damping", m.tendon_damping),
                                  ("springlength", m.tendon_lengthspring), ("range", m.tendon_range),
                                  ("margin", m.tendon_margin), ("solreflimit", m.tendon_solref_lim),
                                  ("solimplimit", m.tendon_solimp_lim), ("frictionloss", m.tendon_frictionloss),
                                  ("solreffriction", m.tendon_solref_fri), ("solimpfriction", m.tendon_solimp_fri),
                                  ("coef", m.wrap_prm[m.tendon_adr[t]:m.tendon_adr[t] + m.tendon_num[t]])):
            row = np.asarray(values if attribute == "coef" else values[t], np.float64)
            if not np.all(np.isfinite(row)):
                fail(t, attribute, f"got {row.tolist()}, which is not finite; give finite numbers")
        for attribute, value in (("stiffness", m.tendon_stiffness[t]), ("damping", m.tendon_damping[t]),
                                 ("frictionloss", m.tendon_frictionloss[t])):
            if value < 0:
                fail(t, attribute, f"must be >= 0, got {float(value)}")
        optional = (("armature", "tendon_armature", "tendon armature is not supported"),
                    ("stiffnesspoly", "tendon_stiffnesspoly", "nonlinear tendon springs are not supported"),
                    ("dampingpoly", "tendon_dampingpoly", "nonlinear tendon dampers are not supported"),
                    ("springyield", "tendon_springyield", "plastic tendon springs are not supported"),
                    ("actuatorfrcrange", "tendon_actfrclimited", "tendon actuator force limits are not supported"))
        for attribute, array, why in optional:
            if hasattr(m, array) and np.any(np.asarray(getattr(m, array))[t] != 0):
                fail(t, attribute, why)
        if hasattr(m, "tendon_plasticadr") and m.tendon_plasticadr[t] >= 0:
            fail(t, "springyield", "plastic tendon springs are not supported")
        if solver == "penalty" and m.tendon_frictionloss[t] > 0:
            fail(t, "frictionloss", "tendon friction loss needs solver='mujoco'; set it to 0 or use solver='mujoco'")
        if solver == "penalty" and m.tendon_limited[t] and (m.tendon_solref_lim[t, 0] <= 0 or m.tendon_solref_lim[t, 1] <= 0):
            fail(t, "solreflimit", "only positive (timeconst, dampratio) is supported with solver='penalty'")
    for a in range(m.nu):
        if m.actuator_trntype[a] == _TRN_TENDON:
            t = int(m.actuator_trnid[a, 0])
            if any(m.wrap_type[m.tendon_adr[t] + k] != _WRAP_JOINT for k in range(m.tendon_num[t])):
                raise ValueError(
                    f"unsupported MJCF feature: <actuator name='{_name(m, mujoco.mjtObj.mjOBJ_ACTUATOR, a)}'> tendon: "
                    f"'{_name(m, mujoco.mjtObj.mjOBJ_TENDON, t)}' is a spatial tendon; only fixed tendons can be "
                    "actuated")


def _chain(tree: M.Tree, dofs) -> bool:
    """Whether the dofs lie on one root-to-leaf chain (every pair ancestor-related)."""
    anc = M.tree_arrays(tree)["dof_anc"]
    dofs = sorted(set(dofs))
    return all(anc[i, j] or anc[j, i] for i in dofs for j in dofs)


def from_mjmodel(m, tree: M.Tree, solver: str, dtype, limits: bool = True, frictionloss: bool = True,
                 equality: bool = False):
    """`Tendons` of a compiled model (None without tendons, or when no tendon exerts a force); `validate` first.

    `limits`/`frictionloss`: whether those rows act (`<option><flag>` may disable them); `equality`: a tendon
    equality constraint (equality.py) needs the tendons' lengths and Jacobians.
    """
    act_tendon = tuple(int(m.actuator_trnid[a, 0]) if m.actuator_trntype[a] == _TRN_TENDON else -1
                       for a in range(m.nu))
    inert = (not np.any(m.tendon_stiffness) and not np.any(m.tendon_damping) and max(act_tendon, default=-1) < 0
             and not (limits and np.any(m.tendon_limited)) and not (frictionloss and np.any(m.tendon_frictionloss))
             and not equality)
    if m.ntendon == 0 or inert:  # e.g. gymnasium's humanoid: tendons that exert no force cost nothing
        return None
    f = lambda x: jnp.asarray(np.asarray(x, dtype=np.float64).copy(), dtype=dtype)
    fixed, coef, segments, sites = [], [], [], []
    body_dof = M.tree_arrays(tree)["body_dof"]
    tendon_dofs = []
    for t in range(m.ntendon):
        adr, num = int(m.tendon_adr[t]), int(m.tendon_num[t])
        dofs = []
        if m.wrap_type[adr] == _WRAP_JOINT:
            for w in range(adr, adr + num):
                j = int(m.wrap_objid[w])
                fixed.append((t, int(m.jnt_qposadr[j]), int(m.jnt_dofadr[j])))
                coef.append(float(m.wrap_prm[w]))
                if m.wrap_prm[w] != 0:
                    dofs.append(int(m.jnt_dofadr[j]))
        else:
            ids = []
            for w in range(adr, adr + num):
                s = int(m.wrap_objid[w])
                if s not in sites:
                    sites.append(s)
                ids.append(sites.index(s))
                dofs += [int(k) for k in np.nonzero(body_dof[int(m.site_bodyid[s])])[0]]
            segments += [(t, a, b) for a, b in zip(ids[:-1], ids[1:])]
        tendon_dofs.append(dofs)
    limited = tuple(t for t in range(m.ntendon) if m.tendon_limited[t] and limits)
    friction = tuple(t for t in range(m.ntendon) if m.tendon_frictionloss[t] > 0 and frictionloss)
    with_rows = set(limited) | set(friction)
    if solver == "penalty":
        with_rows |= {t for t in range(m.ntendon) if m.tendon_damping[t] > 0}
    couples = any(not _chain(tree, tendon_dofs[t]) for t in with_rows)
    return Tendons(
        coef=f(np.asarray(coef, np.float64)), site_pos=f(m.site_pos[sites].reshape(-1, 3)),
        stiffness=f(m.tendon_stiffness), damping=f(m.tendon_damping), lengthspring=f(m.tendon_lengthspring),
        range=f(m.tendon_range), margin=f(m.tendon_margin), solref_lim=f(m.tendon_solref_lim),
        solimp_lim=f(m.tendon_solimp_lim), frictionloss=f(m.tendon_frictionloss), solref_fri=f(m.tendon_solref_fri),
        solimp_fri=f(m.tendon_solimp_fri), invweight0=f(m.tendon_invweight0),
        fixed=tuple(fixed), segments=tuple(segments), site_body=tuple(int(m.site_bodyid[s]) for s in sites),
        limited=limited, friction=friction, act_tendon=act_tendon, couples=bool(couples),
        names=tuple(_name(m, mujoco.mjtObj.mjOBJ_TENDON, t) for t in range(m.ntendon)))


def actuator_dof(m, a: int) -> int:
    """`System.act_dof` of actuator `a`: its joint's dof; for a tendon transmission, the first dof of the
    tendon's first joint, a valid static index that keeps `act_dof` `[nu]`; `actuator_force` multiplies its
    terms by the joint mask (`is_joint`, `_actuator_maps`), so it never contributes force."""
    if m.actuator_trntype[a] == _TRN_TENDON:
        t = int(m.actuator_trnid[a, 0])
        return int(m.jnt_dofadr[m.wrap_objid[m.tendon_adr[t]]])
    return int(m.jnt_dofadr[m.actuator_trnid[a, 0]])


# ---------------------------------------------------------------------------------------------- kinematics


@functools.lru_cache(maxsize=64)
def _fixed_maps(fixed: tuple, nt: int, nv: int):
    """Static 0/1 maps: `entry_tendon [nt, nfixed]`, `entry_dof [nfixed, nt·nv]` (entry -> Jacobian slot)."""
    entry_tendon = np.zeros((nt, len(fixed)))
    entry_dof = np.zeros((len(fixed), nt * nv))
    for i, (t, _, dof) in enumerate(fixed):
        entry_tendon[t, i] = 1.0
        entry_dof[i, t * nv + dof] = 1.0
    return entry_tendon, entry_dof


def fixed_kinematics(sys: M.System, q):
    """Length `[nt]` and Jacobian `[nt, nv]` of the fixed tendons (zero rows for spatial tendons)."""
    ten = sys.tendon
    nt, nv = ten.nt, sys.nv
    if not ten.fixed:
        return jnp.zeros(nt, q.dtype), jnp.zeros((nt, nv), q.dtype)
    entry_tendon, entry_dof = _fixed_maps(ten.fixed, nt, nv)
    qadr = np.asarray([e[1] for e in ten.fixed], np.int32)
    length = pm.static_matmul(entry_tendon, ten.coef * q[qadr])
    jac = pm.static_matmul(entry_dof.T, ten.coef).reshape(nt, nv)
    return length, jac


def kinematics(sys: M.System, kin, q):
    """Length `[nt]` and Jacobian `[nt, nv]` of every tendon at `q` (`kin`: `kinematics.forward_kinematics`)."""
    length, jac = fixed_kinematics(sys, q)
    ten = sys.tendon
    if not ten.segments:
        return length, jac

    site_body = np.asarray(ten.site_body, np.int32)
    points = kin.x_pos[site_body] + pm.quat_rotate(kin.x_quat[site_body], ten.site_pos)
    seg = np.asarray(ten.segments, np.int32)
    delta = points[seg[:, 2]] - points[seg[:, 1]]
    norm = jnp.sqrt(pm.dot(delta, delta))
    safe = norm > 1e-15  # MuJoCo's mju_normalize3 gives (1, 0, 0) for a zero-length segment
    unit = jnp.where(safe[:, None], delta / jnp.where(safe, norm, 1.0)[:, None], jnp.asarray([1.0, 0.0, 0.0], q.dtype))
    rows = (frame_jacobian(sys, kin, site_body[seg[:, 2]], points[seg[:, 2]], unit[:, None, :])
            - frame_jacobian(sys, kin, site_body[seg[:, 1]], points[seg[:, 1]], unit[:, None, :]))[:, 0]
    seg_tendon = np.zeros((ten.nt, len(seg)))
    seg_tendon[seg[:, 0], np.arange(len(seg))] = 1.0
    return length + pm.static_matmul(seg_tendon, norm), jac + pm.static_matmul(seg_tendon, rows)


# ---------------------------------------------------------------------------------------------- forces


def passive_force(sys: M.System, length, jac, qd):
    """Tendon springs (deadband `lengthspring`) and dampers as a generalized force `[nv]`."""
    ten = sys.tendon
    lo, hi = ten.lengthspring[:, 0], ten.lengthspring[:, 1]
    spring = ten.stiffness * (jnp.where(length < lo, lo - length, 0.0) + jnp.where(length > hi, hi - length, 0.0))
    force = spring - ten.damping * pm.dot(jac, qd)
    return jnp.sum(jac * force[:, None], axis=0)


def _anc_pattern(tree: M.Tree) -> np.ndarray:
    anc = M.tree_arrays(tree)["dof_anc"]
    return (anc | anc.T).astype(np.float64)


def _gram(jac, weight):
    """`Jᵀ diag(weight) J` `[nv, nv]`."""
    return jnp.sum(jac[:, :, None] * (weight[:, None] * jac)[:, None, :], axis=0)


def implicit_matrix(sys: M.System, jac) -> jnp.ndarray:
    """The tendon part of the damping that implicitfast integrates implicitly `[nv, nv]`: `Σ b JᵀJ` plus the
    tendon actuators' `gear²·kv·JᵀJ`, on the sparsity of M (as MuJoCo's implicitfast)."""
    ten = sys.tendon
    weight = ten.damping
    act = np.asarray(ten.act_tendon, np.int32)
    if (act >= 0).any():
        sel = np.zeros((ten.nt, len(act)))
        idx = np.nonzero(act >= 0)[0]
        sel[act[idx], idx] = 1.0
        weight = weight + pm.static_matmul(sel, sys.act_gear ** 2 * sys.mj.act_damping)
    return _gram(jac, weight) * jnp.asarray(_anc_pattern(sys.tree), jac.dtype)


@functools.lru_cache(maxsize=64)
def _actuator_maps(act_tendon: tuple, act_dof: tuple, nt: int, nv: int):
    joint = np.zeros((len(act_dof), nv))
    tendon = np.zeros((len(act_dof), nt))
    for a, (t, dof) in enumerate(zip(act_tendon, act_dof)):
        if t >= 0:
            tendon[a, t] = 1.0
        else:
            joint[a, dof] = 1.0
    return joint, tendon


def actuator_force(sys: M.System, q, qd, ctrl):
    """`dynamics.actuator_force` for models with tendon transmissions: per actuator a moment row
    (`e_dof` for a joint, `J_t` for a fixed tendon) times the gear; `length = gear·(q_dof or L_t)`,
    `velocity = moment·qd`, `force = clip(gain·clip(ctrl) + b₀ + b₁·length + b₂·velocity, forcerange)`."""

    length_t, jac_t = fixed_kinematics(sys, q)
    joint, tendon = _actuator_maps(sys.tendon.act_tendon, sys.act_dof, sys.tendon.nt, sys.nv)
    dof_joint = M.dof_joint(sys.tree)
    qadr = np.asarray([sys.tree.jnt_qadr[dof_joint[d]] for d in sys.act_dof], np.int32)
    is_joint = joint.any(axis=1).astype(np.float64)
    moment = jnp.asarray(joint, q.dtype) + pm.static_matmul(tendon, jac_t)  # [nu, nv], without gear
    ctrl = jnp.clip(ctrl, sys.act_ctrlrange[:, 0], sys.act_ctrlrange[:, 1])
    length = sys.act_gear * (jnp.asarray(is_joint, q.dtype) * q[qadr] + pm.static_matmul(tendon, length_t))
    velocity = sys.act_gear * pm.dot(moment, qd)
    force = sys.act_gain * ctrl + sys.act_bias[:, 0] + sys.act_bias[:, 1] * length + sys.act_bias[:, 2] * velocity
    force = jnp.clip(force, sys.act_forcerange[:, 0], sys.act_forcerange[:, 1])
    return jnp.sum(moment * (sys.act_gear * force)[:, None], axis=0)


def joint_actuator_mask(sys: M.System) -> np.ndarray:
    """`[nu]` 1.0 for joint transmissions, 0.0 for tendon transmissions (static)."""
    if sys.tendon is None:
        return np.ones(sys.nu)
    return (np.asarray(sys.tendon.act_tendon) < 0).astype(np.float64)


# ---------------------------------------------------------------------------------------------- rows


def row_counts(sys: M.System) -> tuple[int, int]:
    """`(friction rows, limit rows)` the tendons add to `constraint.make_rows` (static)."""
    if sys.tendon is None:
        return 0, 0
    return len(sys.tendon.friction), 2 * len(sys.tendon.limited)


# ---------------------------------------------------------------------------------------------- penalty mode


def penalty_terms(sys: M.System, kin, q, qd):
    """Tendon terms of the penalty substep: `(matrix [nv, nv], force [nv])` with `matrix` added to the
    implicit system (`M + h·D + ...`) and `force` to the explicit forces (both as in `dynamics.limit_terms`).

    Springs are explicit (as joint springs); damping `b JᵀJ` is implicit; limits are soft one-sided springs
    `K·pen − B·v` on the effective mass `1/invweight0` with predictive activation (`L + h·v` past the range),
    integrated implicitly (`h(B + hK) JᵀJ`).
    """
    ten = sys.tendon
    h = sys.timestep
    length, jac = kinematics(sys, kin, q)
    force = passive_force(sys, length, jac, qd)
    weight = h * ten.damping
    if ten.limited:
        idx = np.asarray(ten.limited, np.int32)
        sel = np.zeros((ten.nt, len(idx)))
        sel[idx, np.arange(len(idx))] = 1.0
        mass = 1.0 / jnp.maximum(ten.invweight0[idx], 1e-12)
        stiffness, damping = pm.soft_gains(mass, ten.solref_lim[idx], ten.solimp_lim[idx, 1], h)
        lt = length[idx]
        vt = pm.dot(jac[idx], qd)
        lower, upper = ten.range[idx, 0], ten.range[idx, 1]
        nxt = lt + h * vt
        below = (nxt < lower).astype(q.dtype)
        above = (nxt > upper).astype(q.dtype)
        implicit = damping + h * stiffness
        push = (stiffness * (lower - lt) - implicit * vt) * below - (stiffness * (lt - upper) + implicit * vt) * above
        force = force + pm.static_matmul(sel, push) @ jac
        weight = weight + pm.static_matmul(sel, h * implicit * (below + above))
    matrix = _gram(jac, weight)
    if not ten.couples:  # keep the tree sparsity the solve relies on (entries outside it are zero anyway)
        matrix = matrix * jnp.asarray(_anc_pattern(sys.tree), q.dtype)
    return matrix, force
