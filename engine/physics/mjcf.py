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

import jax.numpy as jnp
import mujoco
import numpy as np

from engine.physics import model as M

SUPPORTED_GEOMS = (M.PLANE, M.SPHERE, M.CAPSULE, M.CYLINDER, M.BOX)
# Geometry pairs with a contact function (types sorted ascending).
SUPPORTED_PAIRS = {
    (M.PLANE, M.SPHERE), (M.PLANE, M.CAPSULE), (M.PLANE, M.BOX), (M.PLANE, M.CYLINDER),
    (M.SPHERE, M.SPHERE), (M.SPHERE, M.CAPSULE), (M.CAPSULE, M.CAPSULE), (M.SPHERE, M.BOX),
}

IGNORED_FEATURES = (
    "<option integrator>: always semi-implicit Euler with implicit damping, contacts and limits",
    "<option iterations/solver/tolerance/cone/impratio>: no iterative constraint solver",
    "<custom><numeric>: brax-specific tuning fields are not read",
    "<sensor>, <camera>, <light>, <site>, <asset> textures/materials: no effect on dynamics",
    "geoms that can never collide (contype/conaffinity/filters) of any type: visual only, "
    "their mass is already compiled into body inertia",
    "<joint margin>, <geom solimp> except dmax = solimp[1], condim 1 vs 3 distinction of torsion",
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
        return mujoco.MjModel.from_xml_string(text)
    if not os.path.exists(text):
        raise FileNotFoundError(f"MJCF file not found: {text!r} (pass a path or an XML string starting with '<')")
    return mujoco.MjModel.from_xml_path(text)


def _candidate_pairs(m) -> list[tuple[int, int]]:
    """Geom pairs MuJoCo's broadphase filters would allow (static, no distance culling)."""
    if m.opt.disableflags & int(mujoco.mjtDisableBit.mjDSBL_CONTACT):
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


def _validate(m) -> None:
    def fail(element, attribute, why):
        raise ValueError(f"unsupported MJCF feature: {element} {attribute}: {why}")

    if m.ntendon:
        fail(f"<tendon> '{_name(m, int(mujoco.mjtObj.mjOBJ_TENDON), 0)}'", "(any)", "tendons are not supported; remove them")
    if m.neq:
        fail(f"<equality> '{_name(m, int(mujoco.mjtObj.mjOBJ_EQUALITY), 0)}'", "(any)", "equality constraints are not supported")
    if m.npair:
        fail("<contact><pair>", "geom1/geom2", "explicit contact pairs are not supported; use contype/conaffinity")
    if m.nflex:
        fail("<flex>/<flexcomp>", "(any)", "deformables are not supported")
    if m.nmocap:
        fail("<body mocap>", "mocap", "mocap bodies are not supported")
    if m.opt.density or m.opt.viscosity or np.any(m.opt.wind):
        fail("<option>", "density/viscosity/wind", "fluid forces are not supported; set them to 0")
    for j in range(m.njnt):
        jname = _name(m, int(mujoco.mjtObj.mjOBJ_JOINT), j)
        if m.jnt_type[j] == M.BALL and m.jnt_limited[j]:
            fail(f"<joint name='{jname}' type='ball'>", "range/limited", "ball-joint limits are not supported")
    for j in range(m.njnt):
        if m.jnt_solref[j, 0] <= 0 or m.jnt_solref[j, 1] <= 0:
            fail(f"<joint name='{_name(m, int(mujoco.mjtObj.mjOBJ_JOINT), j)}'>", "solreflimit",
                 "only positive (timeconst, dampratio) is supported")
        if m.jnt_type[j] in (M.FREE, M.BALL) and m.jnt_stiffness[j] > 0:
            fail(f"<joint name='{_name(m, int(mujoco.mjtObj.mjOBJ_JOINT), j)}'>", "stiffness",
                 "springs on ball/free joints are not supported")
    for g in range(m.ngeom):
        if m.geom_solref[g, 0] <= 0 or m.geom_solref[g, 1] <= 0:
            fail(f"<geom name='{_name(m, int(mujoco.mjtObj.mjOBJ_GEOM), g)}'>", "solref",
                 "only positive (timeconst, dampratio) is supported")
    for k in range(m.nv):
        if m.dof_frictionloss[k] > 0:
            jname = _name(m, int(mujoco.mjtObj.mjOBJ_JOINT), int(m.dof_jntid[k]))
            fail(f"<joint name='{jname}'>", "frictionloss", "dry joint friction is not supported; set it to 0")
    for a in range(m.nu):
        aname = _name(m, int(mujoco.mjtObj.mjOBJ_ACTUATOR), a)
        if m.actuator_trntype[a] != int(mujoco.mjtTrn.mjTRN_JOINT):
            fail(f"<actuator '{aname}'>", "tendon/site/body", "only joint transmissions are supported")
        jtype = m.jnt_type[m.actuator_trnid[a, 0]]
        if jtype not in (M.HINGE, M.SLIDE):
            fail(f"<actuator '{aname}'>", "joint", "only hinge and slide joints can be actuated")
        if m.actuator_dyntype[a] != int(mujoco.mjtDyn.mjDYN_NONE):
            fail(f"<actuator '{aname}'>", "dyntype", "actuator activation dynamics are not supported")
        if m.actuator_gaintype[a] != int(mujoco.mjtGain.mjGAIN_FIXED):
            fail(f"<actuator '{aname}'>", "gaintype", "only fixed gains (motor/position/velocity) are supported")
        if m.actuator_biastype[a] not in (int(mujoco.mjtBias.mjBIAS_NONE), int(mujoco.mjtBias.mjBIAS_AFFINE)):
            fail(f"<actuator '{aname}'>", "biastype", "only none/affine biases are supported")


def _check_geoms(m, pairs) -> None:
    colliding = sorted({g for pair in pairs for g in pair})
    for g in colliding:
        gname = _name(m, int(mujoco.mjtObj.mjOBJ_GEOM), g)
        if m.geom_type[g] not in SUPPORTED_GEOMS:
            raise ValueError(
                f"unsupported MJCF feature: <geom name='{gname}'> type: type {int(m.geom_type[g])} can collide "
                "but only plane/sphere/capsule/cylinder/box are supported; set contype=conaffinity=0 to make it visual")
        if m.geom_condim[g] not in (1, 3):
            raise ValueError(f"unsupported MJCF feature: <geom name='{gname}'> condim: only 1 and 3 are supported")
        if m.geom_priority[g] != 0:
            raise ValueError(f"unsupported MJCF feature: <geom name='{gname}'> priority: must be 0")
        if m.geom_gap[g] != 0:
            raise ValueError(f"unsupported MJCF feature: <geom name='{gname}'> gap: must be 0")
    for a, b in pairs:
        key = (int(m.geom_type[a]), int(m.geom_type[b]))
        if key not in SUPPORTED_PAIRS:
            raise ValueError(
                "unsupported MJCF feature: <geom> pair "
                f"'{_name(m, int(mujoco.mjtObj.mjOBJ_GEOM), a)}' ({M.GEOM_NAMES[key[0]]}) / "
                f"'{_name(m, int(mujoco.mjtObj.mjOBJ_GEOM), b)}' ({M.GEOM_NAMES[key[1]]}): no contact function for this "
                "pair; exclude it with <contact><exclude> or contype/conaffinity")


def load_mjcf(source, *, substeps: int = 1) -> M.System:
    """Compile an MJCF model with MuJoCo and convert it to a `System`.

    Args:
      source: path to an `.xml` file, an XML string (starting with `<`), or a
        compiled `mujoco.MjModel`.
      substeps: number of `timestep`-long substeps one `step` performs
        (e.g. 5 for Ant's 0.01 s timestep at a 0.05 s control period).

    Raises:
      ValueError: the model uses a feature we do not simulate (the message names
        the element and attribute).
    """
    if int(substeps) < 1:
        raise ValueError(f"substeps must be >= 1, got {substeps}")
    m = _compile(source)
    _validate(m)
    pairs = _candidate_pairs(m)
    _check_geoms(m, pairs)

    body_joints = tuple(
        tuple(range(m.body_jntadr[b], m.body_jntadr[b] + m.body_jntnum[b])) for b in range(m.nbody))
    tree = M.Tree(
        body_parent=tuple([-1] + [int(p) for p in m.body_parentid[1:]]),
        body_joints=body_joints,
        jnt_type=tuple(int(t) for t in m.jnt_type),
        jnt_qadr=tuple(int(a) for a in m.jnt_qposadr),
        jnt_dofadr=tuple(int(a) for a in m.jnt_dofadr),
        jnt_limited=tuple(int(x) for x in m.jnt_limited),
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
    f32 = lambda x: jnp.asarray(np.asarray(x, dtype=np.float64).copy(), dtype=jnp.float32)
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
        act_dof=tuple(int(m.jnt_dofadr[m.actuator_trnid[a, 0]]) for a in range(m.nu)),
        substeps=int(substeps),
        body_names=names(int(mujoco.mjtObj.mjOBJ_BODY), m.nbody),
        joint_names=names(int(mujoco.mjtObj.mjOBJ_JOINT), m.njnt),
        geom_names=names(int(mujoco.mjtObj.mjOBJ_GEOM), m.ngeom),
        actuator_names=names(int(mujoco.mjtObj.mjOBJ_ACTUATOR), m.nu),
    )
