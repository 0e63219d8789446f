"""Load-time checks of a compiled `mujoco.MjModel` for `mjcf.load_mjcf` (issue 26).

Three kinds of refusal, each a `ValueError` naming the element, the attribute, the value and the fix:

  * `check_finite`: every float array of the compiled model that the engine reads must be finite;
  * `check_signs`: damping, armature, stiffness, friction loss, mass and friction must be >= 0;
  * `check_stability`: finite values that make the step diverge, from the step's own update rule:

    - joint springs (both solvers; springs are explicit there, as in MuJoCo): the 1-dof model
      `m·qdd = -k·q - c·qd(explicit) - D·qd(implicit)` with `m = 1/dof_invweight0` must have an
      amplification matrix of spectral radius <= 1 for the model's integrator (semi-implicit
      Euler: `h²·k/m < 4 + 2·h·(D - c)/m`, i.e. `omega·h < 2` undamped; RK4: `|R(h·λ)| <= 1`,
      `omega·h < 2.83` undamped). `k` adds the position actuators' `gear²·kp`, `c` the velocity
      actuators' `gear²·kv` (implicit in `implicitfast`).
    - penalty contacts (solver="penalty" only): the normal spring/damper and the regularized
      friction `μ·f_n·v_t/sqrt(|v_t|² + ε²)` are integrated implicitly, so they are stable in exact
      arithmetic, but they enter the step's linear system `A = M + h·D + Σ Jᵀ W J` with the friction
      weight `w_t = h·μ·f_n/ε`. In floating point, the Cholesky solve of `A` fails (NaN) or returns
      garbage once `cond(A)·u ≳ 1` (u = unit roundoff). We evaluate `A` at the initial pose for every
      candidate pair, with `f_n` the larger of the initial penalty force (initial penetration) and the
      resting load `m·|g|`, and refuse `cond(A)·u > 1` (no correct digit left in the solve).
    - actuator scale (both solvers): the largest generalized force `gear²·(|gain·ctrl| + |bias|)` and
      its velocity change per step must stay below `finfo(dtype).max·eps`, or the step overflows.

The `mujoco` solver's contacts are an implicit constraint solve (no friction weight in the linear
system); stepping deep penetrations, huge friction and huge timesteps stays finite there, so only the
spring criterion applies to it.
"""
from __future__ import annotations

import mujoco
import numpy as np

from simlab.engine.mujoco_log import quiet_mujoco

FRICTION_VELOCITY_EPS = 1e-3  # must equal contacts.FRICTION_VELOCITY_EPS (checked in the tests)
# Refuse cond(A)·u above this: a backward-stable solve then has no correct digit (relative error ~ cond·u).
# float32 (1/u = 1.7e7): a sphere fully inside the floor measured cond 1.5e8 at the start and NaN in the
# Cholesky factorization 11 steps later (cond 2.9e8); the shipped models reach at most 2.7e5 (humanoid).
CONTACT_COND_FRACTION = 1.0
_OBJ = mujoco.mjtObj


def _name(m, objtype, i: int) -> str:
    return mujoco.mj_id2name(m, int(objtype), int(i)) or f"#{int(i)}"


def _fail(element: str, attribute: str, why: str):
    raise ValueError(f"invalid MJCF value: {element} {attribute}: {why}")


def _element(m, kind: str, i: int) -> str:
    """`<tag name='...'>` of row `i` of a per-`kind` array (kind: body/joint/dof/geom/actuator/qpos)."""
    if kind == "dof":
        kind, i = "joint", int(m.dof_jntid[i])
    if kind == "qpos":
        kind, i = "joint", int(np.searchsorted(m.jnt_qposadr, i, side="right") - 1)
    objtype = {"body": _OBJ.mjOBJ_BODY, "joint": _OBJ.mjOBJ_JOINT, "geom": _OBJ.mjOBJ_GEOM,
               "actuator": _OBJ.mjOBJ_ACTUATOR}[kind]
    return f"<{kind} name='{_name(m, objtype, i)}'>"


# (compiled array, kind of its rows, MJCF attribute)
_ARRAYS = (
    ("body_pos", "body", "pos"), ("body_quat", "body", "quat/euler/axisangle"), ("body_mass", "body", "mass"),
    ("body_inertia", "body", "inertia/diaginertia"), ("body_ipos", "body", "inertial pos"),
    ("body_iquat", "body", "inertial quat"),
    ("jnt_pos", "joint", "pos"), ("jnt_axis", "joint", "axis"), ("jnt_range", "joint", "range"),
    ("jnt_stiffness", "joint", "stiffness"), ("jnt_solref", "joint", "solreflimit"),
    ("jnt_solimp", "joint", "solimplimit"), ("jnt_margin", "joint", "margin"),
    ("qpos0", "qpos", "ref/qpos0"), ("qpos_spring", "qpos", "springref"),
    ("dof_damping", "dof", "damping"), ("dof_armature", "dof", "armature"),
    ("dof_frictionloss", "dof", "frictionloss"), ("dof_solref", "dof", "solreffriction"),
    ("dof_solimp", "dof", "solimpfriction"),
    ("geom_size", "geom", "size"), ("geom_pos", "geom", "pos"), ("geom_quat", "geom", "quat"),
    ("geom_friction", "geom", "friction"), ("geom_solref", "geom", "solref"), ("geom_solimp", "geom", "solimp"),
    ("geom_solmix", "geom", "solmix"), ("geom_margin", "geom", "margin"), ("geom_gap", "geom", "gap"),
    ("actuator_gear", "actuator", "gear"), ("actuator_gainprm", "actuator", "gainprm/kp/kv"),
    ("actuator_biasprm", "actuator", "biasprm/kp/kv"), ("actuator_ctrlrange", "actuator", "ctrlrange"),
    ("actuator_forcerange", "actuator", "forcerange"),
)


def check_finite(m) -> None:
    """Refuses NaN/inf in any compiled float array the engine reads, naming the element and attribute."""
    for attribute, value in (("timestep", m.opt.timestep), ("gravity", m.opt.gravity),
                             ("impratio", m.opt.impratio)):
        if not np.all(np.isfinite(value)):
            _fail("<option>", attribute, f"got {np.asarray(value).tolist()}, which is not finite; give finite numbers")
    for array, kind, attribute in _ARRAYS:
        values = np.asarray(getattr(m, array))
        if values.size == 0:
            continue
        rows = values.reshape(values.shape[0], -1)
        bad = np.nonzero(~np.all(np.isfinite(rows), axis=1))[0]
        if len(bad):
            i = int(bad[0])
            _fail(_element(m, kind, i), attribute,
                  f"got {rows[i].tolist()}, which is not finite (NaN or infinite); give finite numbers")


_NON_NEGATIVE = (("dof_damping", "dof", "damping"), ("dof_armature", "dof", "armature"),
                 ("jnt_stiffness", "joint", "stiffness"), ("dof_frictionloss", "dof", "frictionloss"),
                 ("body_mass", "body", "mass"), ("geom_friction", "geom", "friction"))


def check_signs(m) -> None:
    """Refuses negative damping, armature, stiffness, friction loss, mass and friction."""
    for array, kind, attribute in _NON_NEGATIVE:
        values = np.asarray(getattr(m, array))
        rows = values.reshape(values.shape[0], -1) if values.size else values.reshape(0, 1)
        bad = np.nonzero(np.any(rows < 0, axis=1))[0]
        if len(bad):
            i = int(bad[0])
            shown = rows[i].tolist() if rows.shape[1] > 1 else float(rows[i, 0])
            _fail(_element(m, kind, i), attribute, f"must be >= 0, got {shown}; a negative value feeds energy "
                  "into the motion instead of removing it")


def _rk4_factor(z: complex) -> float:
    return abs(1 + z + z * z / 2 + z ** 3 / 6 + z ** 4 / 24)


def _spring_radius(h, invw, k, c, damping, rk4: bool) -> float:
    """Spectral radius of one step of `qdd = invw·(-k q - (c + D) qd)`; c explicit, D implicit (Euler)."""
    if rk4:
        roots = np.roots([1.0, invw * (c + damping), invw * k])
        return max(_rk4_factor(complex(h * r)) for r in roots)
    s = 1.0 + h * invw * damping   # (m + h·D)/m
    amp = np.array([[1.0 - h * h * invw * k / s, h * (1.0 - h * invw * c) / s],
                    [-h * invw * k / s, (1.0 - h * invw * c) / s]])
    return float(np.max(np.abs(np.linalg.eigvals(amp))))


def _check_springs(m, solver: str) -> None:
    h = float(m.opt.timestep)
    rk4 = solver == "mujoco" and m.opt.integrator == int(mujoco.mjtIntegrator.mjINT_RK4)
    implicit_act = solver == "mujoco" and m.opt.integrator == int(mujoco.mjtIntegrator.mjINT_IMPLICITFAST)
    act_k, act_c = np.zeros(m.nv), np.zeros(m.nv)
    affine = int(mujoco.mjtBias.mjBIAS_AFFINE)
    for a in range(m.nu):
        if m.actuator_trntype[a] != int(mujoco.mjtTrn.mjTRN_JOINT) or m.actuator_biastype[a] != affine:
            continue
        dof = int(m.jnt_dofadr[m.actuator_trnid[a, 0]])
        gear2 = float(m.actuator_gear[a, 0]) ** 2
        act_k[dof] += max(0.0, -float(m.actuator_biasprm[a, 1])) * gear2
        act_c[dof] += max(0.0, -float(m.actuator_biasprm[a, 2])) * gear2
    for k in range(m.nv):
        j = int(m.dof_jntid[k])
        stiffness = float(m.jnt_stiffness[j]) + act_k[k]
        explicit_c = 0.0 if implicit_act else act_c[k]
        damping = float(m.dof_damping[k]) + (act_c[k] if implicit_act else 0.0)
        if stiffness <= 0 and explicit_c <= 0:
            continue
        invw = float(m.dof_invweight0[k])
        if _spring_radius(h, invw, stiffness, explicit_c, damping, rk4) <= 1.0 + 1e-9:
            continue
        omega_h = h * np.sqrt(stiffness * invw)
        bound = 2.0 * np.sqrt(2.0) if rk4 else float(np.sqrt(max(0.0, 4 + 2 * h * invw * (damping - explicit_c))))
        scheme = "RK4" if rk4 else "semi-implicit Euler"
        _fail(_element(m, "dof", k), "stiffness" if m.jnt_stiffness[j] > 0 else "actuator kp/kv",
              f"the spring (stiffness {stiffness:.4g} incl. position actuators' gear²·kp, explicit damping "
              f"{explicit_c:.4g}) on a dof of inverse inertia {invw:.4g} at timestep {h:.4g} gives "
              f"omega·h = {omega_h:.4g} (omega² = stiffness·dof_invweight0; with the damping terms the "
              f"{scheme} step is unstable), but the step is stable only for omega·h < {bound:.4g}; "
              "lower the stiffness (or kp/kv), or use a smaller timestep with more substeps")


def _soft_gains(mass, solref, dmax, h):
    """As `dynamics.soft_gains` (float64, numpy)."""
    timeconst = max(float(solref[0]), 2.0 * h)
    gain = mass * dmax / (1.0 - dmax)
    return gain / (dmax * timeconst * solref[1]) ** 2, gain * 2.0 / (dmax * timeconst)


def _check_contacts(m, pairs, dtype) -> None:
    if not pairs:
        return
    h = float(m.opt.timestep)
    d = mujoco.MjData(m)
    with quiet_mujoco():
        mujoco.mj_forward(m, d)
    mass = np.zeros((m.nv, m.nv))
    mujoco.mj_fullM(m, d, mass)
    base = mass + h * np.diag(m.dof_damping)
    gravity = 0.0 if m.opt.disableflags & int(mujoco.mjtDisableBit.mjDSBL_GRAVITY) else float(np.linalg.norm(m.opt.gravity))
    root_mass = m.body_subtreemass[m.body_rootid]
    unit = float(np.finfo(dtype).eps) / 2.0
    limit = CONTACT_COND_FRACTION / unit
    fromto = np.zeros(6)
    for a, b in pairs:
        ba, bb = int(m.geom_bodyid[a]), int(m.geom_bodyid[b])
        movable = [m.body_weldid[x] != 0 for x in (ba, bb)]
        inv_mass = sum(1.0 / root_mass[x] for x, mv in zip((ba, bb), movable) if mv and root_mass[x] > 0)
        if inv_mass == 0:
            continue
        eff_mass = 1.0 / inv_mass
        dist = mujoco.mj_geomDistance(m, d, a, b, 1e3, fromto)
        point = 0.5 * (fromto[:3] + fromto[3:])
        normal = fromto[3:] - fromto[:3]
        norm = np.linalg.norm(normal)
        normal = normal / norm * (1.0 if dist >= 0 else -1.0) if norm > 1e-12 else np.array([0.0, 0.0, 1.0])
        solref = 0.5 * (m.geom_solref[a] + m.geom_solref[b])
        dmax = 0.5 * (m.geom_solimp[a, 1] + m.geom_solimp[b, 1])
        stiffness, damping = _soft_gains(eff_mass, solref, dmax, h)
        margin = max(float(m.geom_margin[a]), float(m.geom_margin[b]))
        depth = max(0.0, margin - dist)
        normal_force = max(stiffness * depth, eff_mass * gravity)
        condim = max(int(m.geom_condim[a]), int(m.geom_condim[b]))
        mu = max(float(m.geom_friction[a, 0]), float(m.geom_friction[b, 0])) * (condim > 1)
        w_t = h * mu * normal_force / FRICTION_VELOCITY_EPS
        w_n = h * (damping + h * stiffness)
        jac = np.zeros((3, m.nv))
        for sign, body in ((-1.0, ba), (1.0, bb)):
            jp = np.zeros((3, m.nv))
            mujoco.mj_jac(m, d, jp, None, point, body)
            jac += sign * jp
        weight = w_t * (np.eye(3) - np.outer(normal, normal)) + w_n * np.outer(normal, normal)
        system = base + jac.T @ weight @ jac
        eig = np.linalg.eigvalsh(0.5 * (system + system.T))
        cond = float(eig[-1] / eig[0]) if eig[0] > 0 else np.inf
        if cond <= limit:
            continue
        ga, gb = _name(m, _OBJ.mjOBJ_GEOM, a), _name(m, _OBJ.mjOBJ_GEOM, b)
        start = (f"they start {depth:.4g} m inside each other (penalty force {stiffness * depth:.4g} N)"
                 if depth > 0 else f"resting load {eff_mass * gravity:.4g} N")
        _fail(f"<geom name='{ga}'> / <geom name='{gb}'>", "pos/size/friction and <option> timestep",
              f"{start}, friction {mu:.4g}, timestep {h:.4g}: the penalty step's linear system "
              f"(mass matrix + implicit contact terms, friction weight h·μ·f_n/{FRICTION_VELOCITY_EPS:g} = {w_t:.4g}) "
              f"has condition number {cond:.3g} at the initial pose, above the bound {limit:.3g} "
              f"(1/unit roundoff of {np.dtype(dtype).name}): the solve loses all precision "
              "and the state becomes NaN; move the geom out of the other one, lower the friction, use a "
              "smaller timestep (with more substeps), or dtype=float64")


def _check_actuator_scale(m, dtype) -> None:
    """Refuses actuators whose force cannot be carried through the step in `dtype` (overflow to inf/NaN)."""
    bound = float(np.finfo(dtype).max) * float(np.finfo(dtype).eps)
    h = float(m.opt.timestep)
    for a in range(m.nu):
        if m.actuator_trntype[a] != int(mujoco.mjtTrn.mjTRN_JOINT):
            continue
        gear, gain, bias0 = abs(float(m.actuator_gear[a, 0])), abs(float(m.actuator_gainprm[a, 0])), 0.0
        if m.actuator_biastype[a] == int(mujoco.mjtBias.mjBIAS_AFFINE):
            bias0 = abs(float(m.actuator_biasprm[a, 0]))
        ctrl = float(np.max(np.abs(m.actuator_ctrlrange[a]))) if m.actuator_ctrllimited[a] else 1.0
        force = gain * ctrl + bias0
        if m.actuator_forcelimited[a]:
            force = min(force, float(np.max(np.abs(m.actuator_forcerange[a]))))
        generalized = gear * gear * force
        dv = h * float(m.dof_invweight0[m.jnt_dofadr[m.actuator_trnid[a, 0]]]) * generalized
        if max(generalized, dv, gear) > bound:
            _fail(_element(m, "actuator", a), "gear/gainprm/ctrlrange",
                  f"gear {gear:.4g}, gain {gain:.4g} and |ctrl| <= {ctrl:.4g} give a generalized force up to "
                  f"gear²·(|gain·ctrl| + |bias|) = {generalized:.4g} and a velocity change per step "
                  f"h·dof_invweight0·force = {dv:.4g}, above {bound:.3g} (largest {np.dtype(dtype).name} "
                  "value times its epsilon, beyond which the step overflows to inf/NaN); lower the gear or the gain")


def check_stability(m, pairs, solver: str, dtype) -> None:
    """Refuses finite values that make the explicit step diverge (see the module docstring)."""
    _check_springs(m, solver)
    _check_actuator_scale(m, dtype)
    if solver == "penalty":
        _check_contacts(m, pairs, dtype)
