"""`solver="mujoco"`: MuJoCo's forward dynamics and integrators, branch-free.

forward(q, qd, ctrl):
  1. kinematics, `M(q)` + armature, bias `C(q, qd)`;
  2. `qfrc_smooth = actuator + spring − damping·qd − C`, `a₀ = M⁻¹ qfrc_smooth`;
  3. contacts (`mj_collision`) and rows (`constraint`), Newton solve (`solver`) → `qacc`.

Integrators, as the model's `<option integrator>` declares:
  * Euler: `qd' = qd + h (M + h·diag(damping))⁻¹ (qfrc_smooth + qfrc_constraint)` (implicit
    dof damping), `q' = q ⊕ h qd'`;
  * implicitfast: the same with the actuators' velocity gains added to the damping;
  * RK4: the classic 4-stage tableau, each stage a full forward (with contacts), one `lax.scan`;
    positions integrate the stage velocities on the manifold (quaternions).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from simlab.engine.physics import (collision, constraint, dynamics, fluid, integrator, kinematics, mj_collision,
                                   model as M, solver, tendon)
from simlab.engine.struct import pytree_dataclass


@pytree_dataclass
class Forward:
    """Result of one forward pass (unbatched).

    Attributes:
      qacc: `[nv]` constrained acceleration; qfrc_smooth, qfrc_constraint: `[nv]`;
      mass: `[nv, nv]` with armature; contact: `mj_collision.MjContact`;
      contact_force: `[nc, 3]` world force on geom2's body of each candidate point.
    """

    qacc: jnp.ndarray
    qfrc_smooth: jnp.ndarray
    qfrc_constraint: jnp.ndarray
    mass: jnp.ndarray
    contact: mj_collision.MjContact
    contact_force: jnp.ndarray


def factor_solve(sys: M.System):
    """`(H [nv, nv], b [nv]) -> H⁻¹ b` for the SPD matrices of `sys`'s forward pass.

    `M`, `M + h·diag(damping)` and the Newton Hessian `M + Jᵀ D J` keep the tree sparsity of
    `M` unless a contact joins two moving bodies (`collision.couples_branches`): then the
    dense Cholesky, else the cheaper tree-sparse elimination (`integrator.solve_tree`).
    """
    if (collision.couples_branches(sys.tree, sys.contact_pairs) or (sys.tendon is not None and sys.tendon.couples)
            or (sys.mj is not None and sys.mj.eq is not None)):  # equality constraints may close loops
        return integrator.solve_spd
    return lambda matrix, rhs: integrator.solve_tree(matrix, rhs, sys.tree)


def forward(sys: M.System, q, qd, ctrl, qacc_warmstart) -> Forward:
    """Constrained forward dynamics at `(q [nq], qd [nv])` under `ctrl [nu]`."""
    solve = factor_solve(sys)
    kin = kinematics.forward_kinematics(sys, q)
    mass = dynamics.mass_matrix(sys, kin) + jnp.diag(sys.dof_armature)
    qfrc_smooth = (dynamics.actuator_force(sys, q, qd, ctrl) + dynamics.spring_force(sys, q)
                   - sys.dof_damping * qd - dynamics.bias_force(sys, kin, qd))
    if sys.fluid is not None:  # MuJoCo's inertia-box fluid forces, a passive force (fluid.py)
        qfrc_smooth = qfrc_smooth + fluid.fluid_force(sys, kin, qd)
    if sys.tendon is not None:  # tendon springs and dampers, a passive force (tendon.py)
        qfrc_smooth = qfrc_smooth + tendon.passive_force(sys, *tendon.kinematics(sys, kin, q), qd)
    qacc_smooth = solve(mass, qfrc_smooth)
    contact = mj_collision.collide(sys, kin)
    rows = constraint.make_rows(sys, kin, q, qd, contact)
    qacc, force = solver.solve(mass, qfrc_smooth, qacc_smooth, rows, qacc_warmstart, sys.mj.iterations, solve)
    qfrc_constraint = solver.rmatvec(rows.jac, force) if force.shape[0] else jnp.zeros_like(qacc)
    if contact.dist.shape[0]:
        contact_force = constraint.contact_forces(sys, contact, force)
    else:
        contact_force = jnp.zeros((0, 3), q.dtype)
    return Forward(qacc=qacc, qfrc_smooth=qfrc_smooth, qfrc_constraint=qfrc_constraint, mass=mass,
                   contact=contact, contact_force=contact_force)


def implicit_damping(sys: M.System) -> jnp.ndarray:
    """Per-dof damping `[nv]` that the Euler / implicitfast step integrates implicitly."""
    damping = sys.dof_damping
    if sys.mj.integrator == M.IMPLICITFAST and sys.nu:
        dofs = np.asarray(sys.act_dof)
        gain = sys.act_gear ** 2 * sys.mj.act_damping
        if sys.tendon is not None:  # tendon transmissions: `tendon.implicit_matrix`
            gain = gain * jnp.asarray(tendon.joint_actuator_mask(sys), damping.dtype)
        damping = damping.at[dofs].add(gain)
    return damping


def step_once(sys: M.System, q, qd, ctrl, qacc_warmstart):
    """One `timestep` with the model's integrator. Returns `(q', qd', qacc, Forward at the start)`."""
    h = sys.timestep
    if sys.mj.integrator == M.RK4:
        # Stage i evaluates at X0 + h·A[i]·F[i-1] (A is diagonal: 0, 1/2, 1/2, 1). All four stages
        # are one `lax.scan`, so the forward pass is traced and compiled once; stage 0's offset is
        # zero, which leaves (q, qd) as they are.
        def stage(carry, coef_weight):
            v_prev, a_prev, warm, dq, dv = carry
            coef, weight = coef_weight[0], coef_weight[1]
            v_stage = qd + coef * h * a_prev
            q_stage = integrator.integrate_positions(sys, q, coef * v_prev, h)
            fwd = forward(sys, q_stage, v_stage, ctrl, warm)
            return (v_stage, fwd.qacc, fwd.qacc, dq + weight * v_stage, dv + weight * fwd.qacc), fwd

        tableau = jnp.asarray([[0.0, 1.0 / 6.0], [0.5, 1.0 / 3.0], [0.5, 1.0 / 3.0], [1.0, 1.0 / 6.0]], q.dtype)
        zero = jnp.zeros_like(qd)
        (_, _, warm, dq, dv), fwds = jax.lax.scan(stage, (qd, zero, qacc_warmstart, zero, zero), tableau)
        fwd = jax.tree.map(lambda x: x[0], fwds)
        return integrator.integrate_positions(sys, q, dq, h), qd + h * dv, warm, fwd
    fwd = forward(sys, q, qd, ctrl, qacc_warmstart)
    damping = implicit_damping(sys)
    matrix = fwd.mass + h * jnp.diag(damping)
    if sys.tendon is not None and sys.mj.integrator == M.IMPLICITFAST:  # tendon dampers, tendon actuators' kv
        _, jac = tendon.kinematics(sys, kinematics.forward_kinematics(sys, q), q)
        matrix = matrix + h * tendon.implicit_matrix(sys, jac)
    qacc = factor_solve(sys)(matrix, fwd.qfrc_smooth + fwd.qfrc_constraint)
    qd_new = qd + h * qacc
    return integrator.integrate_positions(sys, q, qd_new, h), qd_new, fwd.qacc, fwd


def substeps(sys: M.System, q, qd, ctrl, qacc_warmstart):
    """`sys.substeps` integrator steps with `lax.scan`. Returns `(q, qd, qacc_warmstart, last Forward)`."""

    def body(carry, _):
        q, qd, warm = carry
        q, qd, warm, fwd = step_once(sys, q, qd, ctrl, warm)
        return (q, qd, warm), fwd

    (q, qd, warm), fwds = jax.lax.scan(body, (q, qd, qacc_warmstart), None, length=sys.substeps)
    last = jax.tree.map(lambda x: x[-1], fwds)
    return q, qd, warm, last
