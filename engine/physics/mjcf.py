"""MJCF -> `System`, through the `mujoco` package's compiler.

`mujoco.MjModel` resolves defaults, units, `fromto`, inertia-from-geometry
and frames; we convert its arrays into a `System` and reject, with a
`ValueError` naming the element and attribute, anything we would silently
simulate differently. What is deliberately ignored is listed in
`IGNORED_FEATURES` (and in docs/physics.md).
"""
from __future__ import annotations

import itertools
import os

import jax
import jax.numpy as jnp
import mujoco
import numpy as np

from simlab.engine.mujoco_log import quiet_mujoco
from simlab.engine.physics import equality, fluid, mjcf_checks, mjcf_flags, model as M, tendon as tendons

SUPPORTED_GEOMS = (M.PLANE, M.SPHERE, M.CAPSULE, M.ELLIPSOID, M.CYLINDER, M.BOX)
SOLVERS = ("mujoco", "penalty")
# Pairs with a MuJoCo-compatible contact function (solver="mujoco").
MUJOCO_PAIRS = {
    (M.PLANE, M.SPHERE), (M.PLANE, M.CAPSULE), (M.PLANE, M.BOX), (M.PLANE, M.ELLIPSOID),
    (M.SPHERE, M.SPHERE), (M.SPHERE, M.CAPSULE), (M.CAPSULE, M.CAPSULE), (M.BOX, M.BOX),
}
_GEOM_TYPE_NAMES = {int(v): k[len("mjGEOM_"):].lower() for k, v in mujoco.mjtGeom.__members__.items()}
# Geometry pairs with a contact function (types sorted ascending).
SUPPORTED_PAIRS = {
    (M.PLANE, M.SPHERE), (M.PLANE, M.CAPSULE), (M.PLANE, M.BOX), (M.PLANE, M.CYLINDER), (M.PLANE, M.ELLIPSOID),
    (M.SPHERE, M.SPHERE), (M.SPHERE, M.CAPSULE), (M.CAPSULE, M.CAPSULE), (M.SPHERE, M.BOX),
    (M.BOX, M.BOX),
}

IGNORED_FEATURES = (
    "solver='penalty' only: <option integrator> (always semi-implicit Euler with implicit damping), "
    "<option iterations/solver/tolerance/cone/impratio> (no constraint solver), <joint margin>, "
    "<geom solimp> except dmax = solimp[1], torsional friction (condim 4); solver='mujoco' reads all of these",
    "solver='mujoco' only: <option tolerance> and <option solver> (always Newton with a fixed iteration count, "
    "load_mjcf(iterations=...)), <option noslip_iterations> is refused",
    "<custom><numeric>: brax-specific tuning fields are not read",
    "<sensor>, <camera>, <light>, <site>, <asset> textures/materials: no effect on dynamics",
    "geoms that can never collide (contype/conaffinity/filters) of any type: visual only, "
    "their mass is already compiled into body inertia",
    "<option><flag> warmstart/sensor/midphase/nativeccd/island/multiccd/autoreset='disable': "
    "no effect on what we simulate (mjcf_flags)",
)


def _name(m, objtype, i: int) -> str:
    return mujoco.mj_id2name(m, objtype, i) or f"#{i}"


def _compile(source) -> mujoco.MjModel:
    if isinstance(source, mujoco.MjModel):
        return source
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"load_mjcf expects a path, an XML string or an MjModel, got {type(source).__name__}")
    text = os.fspath(source)
    if text.lstrip().startswith("<"):
        with quiet_mujoco():
            return mujoco.MjModel.from_xml_string(text)
    if not os.path.exists(text):
        raise FileNotFoundError(f"MJCF file not found: {text!r} (pass a path or an XML string starting with '<')")
    if os.path.isdir(text):
        raise IsADirectoryError(f"{text!r} is a directory; pass the path of an MJCF .xml file inside it")
    try:
        with quiet_mujoco():
            return mujoco.MjModel.from_xml_path(text)
    except ValueError as err:
        raise ValueError(f"MuJoCo could not compile {text!r}: {err}") from None


def _candidate_pairs(m) -> list[tuple[int, int]]:
    """Geom pairs MuJoCo's broadphase filters would allow (static, no distance culling)."""
    if m.opt.disableflags & int(mujoco.mjtDisableBit.mjDSBL_CONTACT) or not mjcf_flags.constraints_enabled(m):
        return []
    weld = m.body_weldid
    excluded = {(int(s >> 16), int(s & 0xFFFF)) for s in m.exclude_signature}
    filter_parent = not (m.opt.disableflags & int(mujoco.mjtDisableBit.mjDSBL_FILTERPARENT))
    pairs = []
    for a, b in itertools.combinations(range(m.ngeom), 2):
        if not ((m.geom_contype[a] & m.geom_conaffinity[b]) or (m.geom_contype[b] & m.geom_conaffinity[a])):
            continue
        wa, wb = weld[m.geom_bodyid[a]], weld[m.geom_bodyid[b]]
        if wa == wb:
            continue
        if filter_parent:
            pa, pb = weld[m.body_parentid[wa]], weld[m.body_parentid[wb]]
            if (wa == pb and wa != 0) or (wb == pa and wb != 0):
                continue
        ba, bb = int(m.geom_bodyid[a]), int(m.geom_bodyid[b])
        if (min(ba, bb), max(ba, bb)) in excluded or (min(wa, wb), max(wa, wb)) in excluded:
            continue
        if m.geom_type[a] > m.geom_type[b]:
            a, b = b, a
        pairs.append((a, b))
    return pairs


def _validate(m, solver: str = "penalty") -> None:
    def fail(element, attribute, why):
        raise ValueError(f"unsupported MJCF feature: {element} {attribute}: {why}")

    if not np.isfinite(m.opt.timestep) or m.opt.timestep <= 0:
        fail("<option>", "timestep", f"must be a finite number > 0, got {m.opt.timestep}")
    for name, values in (("qpos0", m.qpos0), ("body pos", m.body_pos), ("body quat", m.body_quat),
                         ("body mass", m.body_mass), ("body inertia", m.body_inertia), ("geom size", m.geom_size),
                         ("geom pos", m.geom_pos), ("joint range", m.jnt_range)):
        if not np.all(np.isfinite(values)):
            fail("<body>/<geom>/<joint>", name, "contains NaN or infinite values; give finite numbers")
    mjcf_checks.check_finite(m)
    mjcf_checks.check_signs(m)
    if solver == "mujoco":
        if m.opt.integrator == int(mujoco.mjtIntegrator.mjINT_IMPLICIT):
            fail("<option>", "integrator='implicit'", "use Euler, RK4 or implicitfast with solver='mujoco'")
        if m.opt.noslip_iterations:
            fail("<option>", "noslip_iterations", "the noslip post-solver is not implemented; set it to 0")
        if np.any(getattr(m, "actuator_damping", np.zeros(1))):
            fail("<actuator>", "damping", "actuator damping is not implemented; use joint damping")

    tendons.validate(m, solver)  # fixed tendons and straight spatial tendons between sites (tendon.py)
    equality.validate(m, solver, mjcf_flags.equality_enabled(m))  # equality.py (solver="mujoco" only)
    if m.npair:
        fail("<contact><pair>", "geom1/geom2", "explicit contact pairs are not supported; use contype/conaffinity")
    if m.nflex:
        fail("<flex>/<flexcomp>", "(any)", "deformables are not supported")
    if m.nmocap:
        fail("<body mocap>", "mocap", "mocap bodies are not supported")
    fluid.check_model(m, solver)
    mjcf_flags.check(m)
    for j in range(m.njnt):
        jname = _name(m, int(mujoco.mjtObj.mjOBJ_JOINT), j)
        if m.jnt_type[j] == M.BALL and m.jnt_limited[j] and mjcf_flags.limits_enabled(m):
            fail(f"<joint name='{jname}' type='ball'>", "range/limited", "ball-joint limits are not supported")
    for j in range(m.njnt if solver == "penalty" else 0):
        if m.jnt_solref[j, 0] <= 0 or m.jnt_solref[j, 1] <= 0:
            fail(f"<joint name='{_name(m, int(mujoco.mjtObj.mjOBJ_JOINT), j)}'>", "solreflimit",
                 "only positive (timeconst, dampratio) is supported")
        if m.jnt_type[j] in (M.FREE, M.BALL) and m.jnt_stiffness[j] > 0:
            fail(f"<joint name='{_name(m, int(mujoco.mjtObj.mjOBJ_JOINT), j)}'>", "stiffness",
                 "springs on ball/free joints are not supported")
    for g in range(m.ngeom if solver == "penalty" else 0):
        if m.geom_solref[g, 0] <= 0 or m.geom_solref[g, 1] <= 0:
            fail(f"<geom name='{_name(m, int(mujoco.mjtObj.mjOBJ_GEOM), g)}'>", "solref",
                 "only positive (timeconst, dampratio) is supported")
    for k in range(m.nv if solver == "penalty" and mjcf_flags.frictionloss_enabled(m) else 0):
        if m.dof_frictionloss[k] > 0:
            jname = _name(m, int(mujoco.mjtObj.mjOBJ_JOINT), int(m.dof_jntid[k]))
            fail(f"<joint name='{jname}'>", "frictionloss", "dry joint friction is not supported; set it to 0")
    for a in range(m.nu):
        aname = _name(m, int(mujoco.mjtObj.mjOBJ_ACTUATOR), a)
        if m.actuator_trntype[a] not in (int(mujoco.mjtTrn.mjTRN_JOINT), int(mujoco.mjtTrn.mjTRN_TENDON)):
            fail(f"<actuator '{aname}'>", "site/body/slidercrank", "only joint and tendon transmissions are supported")
        jtype = m.jnt_type[m.actuator_trnid[a, 0]] if m.actuator_trntype[a] == int(mujoco.mjtTrn.mjTRN_JOINT) else M.HINGE
        if jtype not in (M.HINGE, M.SLIDE):
            fail(f"<actuator '{aname}'>", "joint", "only hinge and slide joints can be actuated")
        if m.actuator_dyntype[a] != int(mujoco.mjtDyn.mjDYN_NONE):
            fail(f"<actuator '{aname}'>", "dyntype", "actuator activation dynamics are not supported")
        if m.actuator_gaintype[a] != int(mujoco.mjtGain.mjGAIN_FIXED):
            fail(f"<actuator '{aname}'>", "gaintype", "only fixed gains (motor/position/velocity) are supported")
        if m.actuator_biastype[a] not in (int(mujoco.mjtBias.mjBIAS_NONE), int(mujoco.mjtBias.mjBIAS_AFFINE)):
            fail(f"<actuator '{aname}'>", "biastype", "only none/affine biases are supported")


def _check_geoms(m, pairs, solver: str = "penalty") -> None:
    colliding = sorted({g for pair in pairs for g in pair})
    for g in colliding:
        gname = _name(m, int(mujoco.mjtObj.mjOBJ_GEOM), g)
        if m.geom_type[g] not in SUPPORTED_GEOMS:
            raise ValueError(
                f"unsupported MJCF feature: <geom name='{gname}'> type: type "
                f"'{_GEOM_TYPE_NAMES.get(int(m.geom_type[g]), int(m.geom_type[g]))}' can collide "
                "but only plane/sphere/capsule/ellipsoid/cylinder/box are supported; set contype=conaffinity=0 to "
                "make it visual")
        allowed = (1, 3) if solver == "penalty" else (1, 3, 4)
        if m.geom_condim[g] not in allowed:
            raise ValueError(f"unsupported MJCF feature: <geom name='{gname}'> condim: only "
                             f"{', '.join(map(str, allowed))} are supported with solver={solver!r}")
        if m.geom_priority[g] != 0:
            raise ValueError(f"unsupported MJCF feature: <geom name='{gname}'> priority: must be 0")
        if m.geom_gap[g] != 0:
            raise ValueError(f"unsupported MJCF feature: <geom name='{gname}'> gap: must be 0")
    for a, b in pairs:
        key = (int(m.geom_type[a]), int(m.geom_type[b]))
        if solver == "mujoco" and key in SUPPORTED_PAIRS and key not in MUJOCO_PAIRS:
            raise ValueError(
                "unsupported MJCF feature: <geom> pair "
                f"'{_name(m, int(mujoco.mjtObj.mjOBJ_GEOM), a)}' ({M.GEOM_NAMES[key[0]]}) / "
                f"'{_name(m, int(mujoco.mjtObj.mjOBJ_GEOM), b)}' ({M.GEOM_NAMES[key[1]]}): no MuJoCo-compatible "
                "contact function for this pair yet; use solver='penalty' or exclude the pair")
        if key not in SUPPORTED_PAIRS:
            raise ValueError(
                "unsupported MJCF feature: <geom> pair "
                f"'{_name(m, int(mujoco.mjtObj.mjOBJ_GEOM), a)}' ({M.GEOM_NAMES[key[0]]}) / "
                f"'{_name(m, int(mujoco.mjtObj.mjOBJ_GEOM), b)}' ({M.GEOM_NAMES[key[1]]}): no contact function for this "
                "pair; exclude it with <contact><exclude> or contype/conaffinity")


def _mj_params(m, solver: str, iterations, dtype) -> M.MjParams | None:
    if solver != "mujoco":
        return None
    f32 = lambda x: jnp.asarray(np.asarray(x, dtype=np.float64).copy(), dtype=dtype)
    affine = (m.actuator_biastype == int(mujoco.mjtBias.mjBIAS_AFFINE)).astype(np.float64)
    return M.MjParams(
        impratio=f32(m.opt.impratio), jnt_solimp=f32(m.jnt_solimp), jnt_margin=f32(m.jnt_margin),
        dof_frictionloss=f32(m.dof_frictionloss), dof_solref=f32(m.dof_solref), dof_solimp=f32(m.dof_solimp),
        dof_invweight0=f32(m.dof_invweight0), body_invweight0=f32(m.body_invweight0),
        geom_friction=f32(m.geom_friction), geom_solimp=f32(m.geom_solimp), geom_solmix=f32(m.geom_solmix),
        geom_gap=f32(m.geom_gap), act_damping=f32(-m.actuator_biasprm[:, 2] * affine),
        eq=equality.from_mjmodel(m, dtype, mjcf_flags.equality_enabled(m)),
        integrator=int(m.opt.integrator), cone=int(m.opt.cone), iterations=int(iterations),
        friction_dofs=tuple(int(k) for k in np.nonzero(m.dof_frictionloss > 0)[0]) if mjcf_flags.frictionloss_enabled(m)
        else ())


def load_mjcf(source, *, substeps: int = 1, solver: str = "penalty", iterations: int = 4,
              dtype=jnp.float32) -> M.System:
    """Compile an MJCF model with MuJoCo and convert it to a `System`.

    Args:
      source: path to an `.xml` file, an XML string (starting with `<`), or a
        compiled `mujoco.MjModel`.
      substeps: number of `timestep`-long substeps one `step` performs
        (e.g. 5 for Ant's 0.01 s timestep at a 0.05 s control period).
      solver: "penalty" (soft contacts and limits, semi-implicit Euler: fastest) or
        "mujoco" (MuJoCo's constraint model: solref/solimp impedance, pyramidal friction
        cones, friction loss, Newton solve, the model's `<option integrator>`), see
        docs/physics.md.
      iterations: Newton iterations per constraint solve with `solver="mujoco"` (a fixed
        count: the step has no data-dependent loop).
      dtype: float dtype of the parameters: `jnp.float32` (default), or `jnp.float64` with
        `jax_enable_x64` for step-for-step comparisons with MuJoCo.

    Raises:
      ValueError: the model uses a feature we do not simulate (the message names
        the element and attribute), holds a NaN/inf or negative value, or has finite values
        that make the step diverge (`mjcf_checks`: joint springs, penalty contact conditioning,
        actuator overflow), or an argument is out of range.
      TypeError: `substeps` or `iterations` is not an integer.
      FileNotFoundError / IsADirectoryError: `source` is not an MJCF file.
    """
    for name, value in (("substeps", substeps), ("iterations", iterations)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{name} must be an integer >= 1, got {value!r}")
        if value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    dtype = jnp.dtype(dtype)
    if dtype not in (jnp.dtype(jnp.float32), jnp.dtype(jnp.float64)):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    if dtype == jnp.float64 and not jax.config.jax_enable_x64:
        raise ValueError("dtype=float64 needs 64-bit JAX: call jax.config.update('jax_enable_x64', True) first")
    m = _compile(source)
    _validate(m, solver)
    pairs = _candidate_pairs(m)
    _check_geoms(m, pairs, solver)
    mjcf_checks.check_stability(m, pairs, solver, dtype)

    body_joints = tuple(
        tuple(range(m.body_jntadr[b], m.body_jntadr[b] + m.body_jntnum[b])) for b in range(m.nbody))
    tree = M.Tree(
        body_parent=tuple([-1] + [int(p) for p in m.body_parentid[1:]]),
        body_joints=body_joints,
        jnt_type=tuple(int(t) for t in m.jnt_type),
        jnt_qadr=tuple(int(a) for a in m.jnt_qposadr),
        jnt_dofadr=tuple(int(a) for a in m.jnt_dofadr),
        jnt_limited=tuple(int(x) * mjcf_flags.limits_enabled(m) for x in m.jnt_limited),
        dof_body=tuple(int(b) for b in m.dof_bodyid),
        geom_type=tuple(int(t) for t in m.geom_type),
        geom_body=tuple(int(b) for b in m.geom_bodyid),
        geom_condim=tuple(int(c) for c in m.geom_condim),
    )
    gravity = np.zeros(3) if m.opt.disableflags & int(mujoco.mjtDisableBit.mjDSBL_GRAVITY) else m.opt.gravity
    ctrlrange = np.where(m.actuator_ctrllimited[:, None].astype(bool), m.actuator_ctrlrange,
                         np.array([-np.inf, np.inf]))
    forcerange = np.where(m.actuator_forcelimited[:, None].astype(bool), m.actuator_forcerange,
                          np.array([-np.inf, np.inf]))
    f32 = lambda x: jnp.asarray(np.asarray(x, dtype=np.float64).copy(), dtype=dtype)
    names = lambda kind, n: tuple(_name(m, kind, i) for i in range(n))
    return M.System(
        timestep=f32(m.opt.timestep),
        gravity=f32(gravity),
        body_pos=f32(m.body_pos), body_quat=f32(m.body_quat),
        body_ipos=f32(m.body_ipos), body_iquat=f32(m.body_iquat),
        body_mass=f32(m.body_mass), body_inertia=f32(m.body_inertia),
        jnt_pos=f32(m.jnt_pos), jnt_axis=f32(m.jnt_axis), jnt_range=f32(m.jnt_range),
        jnt_stiffness=f32(m.jnt_stiffness), jnt_solref=f32(m.jnt_solref), jnt_dmax=f32(m.jnt_solimp[:, 1]),
        qpos0=f32(m.qpos0), qpos_spring=f32(m.qpos_spring),
        dof_damping=f32(m.dof_damping), dof_armature=f32(m.dof_armature),
        geom_pos=f32(m.geom_pos), geom_quat=f32(m.geom_quat), geom_size=f32(m.geom_size),
        geom_friction=f32(m.geom_friction[:, 0]), geom_margin=f32(m.geom_margin),
        geom_solref=f32(m.geom_solref), geom_dmax=f32(m.geom_solimp[:, 1]),
        act_gear=f32(m.actuator_gear[:, 0]), act_gain=f32(m.actuator_gainprm[:, 0]),
        act_bias=f32(m.actuator_biasprm[:, :3] * (m.actuator_biastype == int(mujoco.mjtBias.mjBIAS_AFFINE))[:, None]), act_ctrlrange=f32(ctrlrange), act_forcerange=f32(forcerange),
        tree=tree,
        contact_pairs=tuple((int(a), int(b)) for a, b in pairs),
        act_dof=tuple(tendons.actuator_dof(m, a) for a in range(m.nu)),
        substeps=int(substeps),
        body_names=names(int(mujoco.mjtObj.mjOBJ_BODY), m.nbody),
        joint_names=names(int(mujoco.mjtObj.mjOBJ_JOINT), m.njnt),
        geom_names=names(int(mujoco.mjtObj.mjOBJ_GEOM), m.ngeom),
        actuator_names=names(int(mujoco.mjtObj.mjOBJ_ACTUATOR), m.nu),
        solver=solver,
        mj=_mj_params(m, solver, iterations, dtype),
        fluid=fluid.params(m, dtype),
        tendon=tendons.from_mjmodel(m, tree, solver, dtype, limits=mjcf_flags.limits_enabled(m),
                                    frictionloss=mjcf_flags.frictionloss_enabled(m),
                                    equality=solver == "mujoco" and equality.tendons_used(m, mjcf_flags.equality_enabled(m))),
    )
