"""The `System` pytree: static kinematic-tree structure plus physical parameters.

Structure (`Tree`, body/joint/geom types, collision pairs, substeps) lives in
static fields: it is hashable, part of the treedef and resolved at trace time.
Everything numeric (masses, inertias, offsets, sizes, friction, gains, damping,
timestep, gravity) is a JAX leaf, so a batch of systems can be built with
`jax.vmap` for domain randomization and differentiated with `jax.grad`.
"""
from __future__ import annotations

import dataclasses
import functools

import jax
import numpy as np

from simlab.engine.struct import pytree_dataclass, static_field

# Joint types, numbered as in MuJoCo (mjtJoint).
FREE, BALL, SLIDE, HINGE = 0, 1, 2, 3
JOINT_NQ = {FREE: 7, BALL: 4, SLIDE: 1, HINGE: 1}
JOINT_NV = {FREE: 6, BALL: 3, SLIDE: 1, HINGE: 1}

# Geometry types, numbered as in MuJoCo (mjtGeom).
PLANE, SPHERE, CAPSULE, ELLIPSOID, CYLINDER, BOX = 0, 2, 3, 4, 5, 6
GEOM_NAMES = {PLANE: "plane", SPHERE: "sphere", CAPSULE: "capsule", ELLIPSOID: "ellipsoid", CYLINDER: "cylinder",
              BOX: "box"}


@dataclasses.dataclass(frozen=True)
class Tree:
    """Hashable description of the kinematic tree (all tuples of ints).

    Attributes:
      body_parent: `[num_bodies]` parent body index; body 0 is the world (-1).
      body_joints: per body, the joint indices attached to it, in order.
      jnt_type: `[num_joints]` FREE/BALL/SLIDE/HINGE.
      jnt_qadr: `[num_joints]` first index of the joint in `q`.
      jnt_dofadr: `[num_joints]` first index of the joint in `qd`.
      jnt_limited: `[num_joints]` 1 if the joint range is enforced.
      dof_body: `[nv]` body each degree of freedom moves.
      geom_type, geom_body, geom_condim: `[num_geoms]` geometry type, owning body,
        contact dimensionality (1 frictionless, 3 with tangential friction).
    """

    body_parent: tuple
    body_joints: tuple
    jnt_type: tuple
    jnt_qadr: tuple
    jnt_dofadr: tuple
    jnt_limited: tuple
    dof_body: tuple
    geom_type: tuple
    geom_body: tuple
    geom_condim: tuple

    @property
    def num_bodies(self) -> int:
        return len(self.body_parent)

    @property
    def nv(self) -> int:
        return len(self.dof_body)

    @property
    def nq(self) -> int:
        return sum(JOINT_NQ[t] for t in self.jnt_type)


@functools.lru_cache(maxsize=64)
def tree_arrays(tree: Tree) -> dict:
    """Static index and mask arrays derived from `tree` (numpy, trace-time only).

    Returns a dict with:
      body_root: `[nb]` the child-of-world ancestor of each body (0 for the world).
      subtree: `[nb, nb]` float, `subtree[i, j] = 1` if body j is i or below i.
      body_dof: `[nb, nv]` float, 1 if dof k moves body b (k acts on b or an ancestor).
      dof_anc: `[nv, nv]` bool, `dof_anc[i, j]` if dof i is j or an ancestor of j
        (dofs of one body count in order, the earlier one is the ancestor).
      dof_dof: `[nv, nv]` float, `dof_anc` as 0/1.
    """
    nb, nv = tree.num_bodies, tree.nv
    body_root = np.zeros(nb, dtype=np.int32)
    ancestors = [set() for _ in range(nb)]
    for b in range(1, nb):
        p = tree.body_parent[b]
        body_root[b] = b if p == 0 else body_root[p]
        ancestors[b] = ancestors[p] | {b} if p > 0 else {b}
    subtree = np.zeros((nb, nb), np.float32)
    for j in range(1, nb):
        for i in ancestors[j]:
            subtree[i, j] = 1.0
    body_dof = np.zeros((nb, nv), np.float32)
    dof_anc = np.zeros((nv, nv), bool)
    for j in range(nv):
        bj = tree.dof_body[j]
        for i in range(nv):
            bi = tree.dof_body[i]
            if bi == bj:
                dof_anc[i, j] = i <= j
            else:
                dof_anc[i, j] = bi in ancestors[bj]
    for b in range(nb):
        for k in range(nv):
            body_dof[b, k] = float(tree.dof_body[k] in ancestors[b])
    # Velocity whose cross product gives each dof axis' rate of change: the dofs
    # up to it, plus (for ball and free rotations, whose axes turn with the
    # whole joint) the other rotational dofs of the same joint.
    dof_rate = dof_anc.copy()
    for j, jtype in enumerate(tree.jnt_type):
        if jtype in (FREE, BALL):
            first = tree.jnt_dofadr[j] + (3 if jtype == FREE else 0)
            dof_rate[first:first + 3, first:first + 3] = True
    return dict(body_root=body_root, subtree=subtree, body_dof=body_dof, 
                dof_anc=dof_anc, dof_dof=dof_anc.astype(np.float32),
                dof_rate=dof_rate.astype(np.float32))


@pytree_dataclass
class System:
    """A rigid-body model: static structure plus differentiable parameters.

    Shapes: nb bodies (body 0 = world), nj joints, nq/nv position/velocity
    sizes, ng geoms, nu actuators. Units are SI (m, kg, s, rad, N, N·m).

    Parameters (leaves):
      timestep: scalar, seconds per substep.
      gravity: `[3]` m/s².
      body_pos, body_quat: `[nb, 3]`, `[nb, 4]` body frame in its parent frame.
      body_ipos, body_iquat: `[nb, 3]`, `[nb, 4]` inertial (principal) frame in the body frame.
      body_mass: `[nb]` kg; body_inertia: `[nb, 3]` principal moments, kg·m².
      jnt_pos, jnt_axis: `[nj, 3]` anchor and axis in the body frame.
      jnt_range: `[nj, 2]`; jnt_stiffness: `[nj]`; jnt_solref: `[nj, 2]`; jnt_dmax: `[nj]`.
      qpos0: `[nq]` reference configuration (hinge/slide zero); qpos_spring: `[nq]`.
      dof_damping, dof_armature: `[nv]`.
      geom_pos, geom_quat: `[ng, 3]`, `[ng, 4]` in the body frame; geom_size: `[ng, 3]`.
      geom_friction, geom_margin, geom_dmax: `[ng]`; geom_solref: `[ng, 2]`.
      act_gear, act_gain: `[nu]`; act_bias: `[nu, 3]` (constant, ·length, ·velocity);
      act_ctrlrange, act_forcerange: `[nu, 2]` (±inf where not limited).

    Static fields:
      tree: `Tree`; contact_pairs: tuple of `(g1, g2)` geom pairs (type g1 <= type g2);
      act_dof: `[nu]` dof driven by each actuator; substeps: substeps per `step`;
      body_names, joint_names, geom_names, actuator_names: tuples of str.

    Optional sub-pytrees: mj (`MjParams`, solver="mujoco"); fluid (`fluid.FluidParams`, None without
    `<option density/viscosity>`); tendon (`tendon.Tendons`, None without `<tendon>`; for an actuator with a
    tendon transmission `act_dof` holds the first dof of the tendon's first joint, a valid index whose
    contribution `tendon.actuator_force` masks out: such actuators act through the tendon Jacobian).
    """

    timestep: jax.Array
    gravity: jax.Array
    body_pos: jax.Array
    body_quat: jax.Array
    body_ipos: jax.Array
    body_iquat: jax.Array
    body_mass: jax.Array
    body_inertia: jax.Array
    jnt_pos: jax.Array
    jnt_axis: jax.Array
    jnt_range: jax.Array
    jnt_stiffness: jax.Array
    jnt_solref: jax.Array
    jnt_dmax: jax.Array
    qpos0: jax.Array
    qpos_spring: jax.Array
    dof_damping: jax.Array
    dof_armature: jax.Array
    geom_pos: jax.Array
    geom_quat: jax.Array
    geom_size: jax.Array
    geom_friction: jax.Array
    geom_margin: jax.Array
    geom_solref: jax.Array
    geom_dmax: jax.Array
    act_gear: jax.Array
    act_gain: jax.Array
    act_bias: jax.Array
    act_ctrlrange: jax.Array
    act_forcerange: jax.Array
    tree: Tree = static_field()
    contact_pairs: tuple = static_field()
    act_dof: tuple = static_field()
    substeps: int = static_field(default=1)
    body_names: tuple = static_field(default=())
    joint_names: tuple = static_field(default=())
    geom_names: tuple = static_field(default=())
    actuator_names: tuple = static_field(default=())
    solver: str = static_field(default="penalty")
    mj: "MjParams | None" = None
    fluid: "fluid.FluidParams | None" = None  # `<option density/viscosity/wind>` (engine/physics/fluid.py)
    tendon: "tendon.Tendons | None" = None  # `<tendon>` (engine/physics/tendon.py)

    @property
    def dt(self) -> jax.Array:
        """Seconds advanced by one `step`: `timestep * substeps`."""
        return self.timestep * self.substeps

    @property
    def num_bodies(self) -> int:
        return self.tree.num_bodies

    @property
    def nq(self) -> int:
        return self.tree.nq

    @property
    def nv(self) -> int:
        return self.tree.nv

    @property
    def nu(self) -> int:
        return len(self.act_dof)


# Integrators and friction cones, numbered as in MuJoCo (mjtIntegrator, mjtCone).
EULER, RK4, IMPLICIT, IMPLICITFAST = 0, 1, 2, 3
INTEGRATOR_NAMES = {EULER: "Euler", RK4: "RK4", IMPLICIT: "implicit", IMPLICITFAST: "implicitfast"}
PYRAMIDAL, ELLIPTIC = 0, 1


@pytree_dataclass
class MjParams:
    """Parameters of MuJoCo's constraint model used by `solver="mujoco"` (leaves + static options).

    Leaves (numbers as MuJoCo compiles them; see its "Computation" chapter):
      impratio: scalar, ratio of frictional to normal impedance.
      jnt_solimp: `[nj, 5]` (d0, dmax, width, midpoint, power) of joint limits; jnt_margin: `[nj]`.
      dof_frictionloss: `[nv]` dry friction [N or N·m]; dof_solref `[nv, 2]`, dof_solimp `[nv, 5]`.
      dof_invweight0: `[nv]`, body_invweight0: `[nb, 2]` inverse inertias at `qpos0`, which scale
        each row's regularizer `R = (1 − imp)/imp · diagApprox`.
      geom_friction: `[ng, 3]` sliding, torsional, rolling; geom_solimp: `[ng, 5]`; geom_solmix: `[ng]`;
      geom_gap: `[ng]`.
      act_damping: `[nu]` velocity gain of each actuator's bias (−biasprm[2]), integrated implicitly
        by `implicitfast`.

    Static:
      integrator: EULER / RK4 / IMPLICITFAST; cone: PYRAMIDAL / ELLIPTIC;
      iterations: Newton iterations per solve (a fixed count, no early exit);
      friction_dofs: dofs with a friction-loss row (frictionloss > 0 when loaded).

    eq: `equality.Equality` (the equality constraints' rows, first in MuJoCo's order) or None.
    """

    impratio: jax.Array
    jnt_solimp: jax.Array
    jnt_margin: jax.Array
    dof_frictionloss: jax.Array
    dof_solref: jax.Array
    dof_solimp: jax.Array
    dof_invweight0: jax.Array
    body_invweight0: jax.Array
    geom_friction: jax.Array
    geom_solimp: jax.Array
    geom_solmix: jax.Array
    geom_gap: jax.Array
    act_damping: jax.Array
    eq: object = None  # equality.Equality of the active equality constraints, or None
    integrator: int = static_field(default=EULER)
    cone: int = static_field(default=PYRAMIDAL)
    iterations: int = static_field(default=4)
    friction_dofs: tuple = static_field(default=())


def dof_joint(tree: Tree) -> tuple:
    """The joint of each dof (static, `[nv]`)."""
    out = []
    for j, t in enumerate(tree.jnt_type):
        out += [j] * JOINT_NV[t]
    return tuple(out)
