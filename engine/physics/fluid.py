"""Fluid forces: MuJoCo's inertia-box model (`<option density viscosity wind>`).

MuJoCo's "Computation" chapter, section "Fluid forces", inertia model. Each body b with mass
`m ≥ 1e-15` (bodies without mass are masked statically) is, for the fluid, the box of its
equivalent inertia: with principal moments `(I_x, I_y, I_z)` its full side lengths are

    s_i = sqrt(6 · max(1e-15, I_j + I_k − I_i) / m)        (half-sizes r_i = s_i / 2)

In the body's inertial (principal) frame, with the angular velocity `ω` and the linear velocity
`v` of the centre of mass relative to the wind (`v = Rᵀ(v_com − wind)`), the fluid exerts

    f_i = −6πβ r_eq v_i − 2ρ r_j r_k |v_i| v_i,
    g_i = −8πβ r_eq³ ω_i − ½ρ r_i (r_j⁴ + r_k⁴) |ω_i| ω_i,        r_eq = (r_x + r_y + r_z)/3,

(ρ = density, β = viscosity), rotated back to world axes and applied at the centre of mass, i.e.
the generalized force `Σ_b J_com,bᵀ f_b + J_ang,bᵀ g_b`. It is a passive force, explicit in the
step (as MuJoCo's `qfrc_passive` is for the Euler and RK4 integrators).

Geoms with `fluidshape="ellipsoid"` select MuJoCo's ellipsoid model for their body; that model is
not implemented and `mjcf` refuses it. Branch-free: the set of bodies is static, every body of it
is computed every step.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import mujoco
import numpy as np

from simlab.engine.physics import kinematics, math as pm, model as M
from simlab.engine.struct import pytree_dataclass, static_field

MINVAL = 1e-15  # MuJoCo's mjMINVAL


@pytree_dataclass
class FluidParams:
    """The medium of `<option>` and the bodies it acts on.

    Leaves: density (ρ, kg/m³), viscosity (β, Pa·s): scalars; wind: `[3]` world velocity of the medium.
    Static: bodies: indices of the bodies with fluid forces (mass ≥ 1e-15, not the world).
    """

    density: jax.Array
    viscosity: jax.Array
    wind: jax.Array
    bodies: tuple = static_field(default=())


def box_sizes(mass, inertia):
    """Full side lengths `[n, 3]` of the equivalent inertia boxes of bodies with `mass [n]`, `inertia [n, 3]`."""
    ix, iy, iz = inertia[:, 0], inertia[:, 1], inertia[:, 2]
    moments = jnp.stack([iy + iz - ix, ix + iz - iy, ix + iy - iz], axis=1)
    return jnp.sqrt(jnp.maximum(MINVAL, moments) / mass[:, None] * 6.0)


def local_wrench(box, ang, lin, density, viscosity):
    """Fluid torque and force `[n, 3]` each, in the inertial frames, from local velocities `[n, 3]`."""
    diam = (box[:, 0] + box[:, 1] + box[:, 2]) / 3.0          # 2 r_eq
    torque = -jnp.pi * diam[:, None] ** 3 * viscosity * ang    # −8πβ r_eq³ ω
    force = -3.0 * jnp.pi * diam[:, None] * viscosity * lin    # −6πβ r_eq v
    b4 = box ** 4
    area = jnp.stack([box[:, 1] * box[:, 2], box[:, 0] * box[:, 2], box[:, 0] * box[:, 1]], axis=1)
    force = force - 0.5 * density * area * jnp.abs(lin) * lin  # −2ρ r_j r_k |v_i| v_i
    arm = jnp.stack([b4[:, 1] + b4[:, 2], b4[:, 0] + b4[:, 2], b4[:, 0] + b4[:, 1]], axis=1)
    torque = torque - density * box * arm * jnp.abs(ang) * ang / 64.0  # −½ρ r_i (r_j⁴ + r_k⁴) |ω_i| ω_i
    return torque, force


def fluid_force(sys, kin: kinematics.Kinematics, qd) -> jax.Array:
    """Generalized fluid force `[nv]` of `sys` at configuration `kin` and velocity `qd` (zeros without fluid)."""
    params = getattr(sys, "fluid", None)
    if params is None or not params.bodies or sys.nv == 0:
        return jnp.zeros_like(qd)
    bodies = np.asarray(params.bodies, np.int32)
    ang_all, lin_ref = kinematics.body_velocities(sys, kin, qd)
    com = kin.com[bodies]                                   # centre of mass relative to the tree reference
    ang = ang_all[bodies]
    lin = lin_ref[bodies] + pm.cross(ang, com)              # world velocity of the centre of mass
    rot = pm.quat_to_mat(pm.quat_mul(kin.x_quat[bodies], sys.body_iquat[bodies]))  # inertial frame -> world
    rot_t = jnp.swapaxes(rot, -1, -2)
    local_ang = pm.mat_vec(rot_t, ang)
    local_lin = pm.mat_vec(rot_t, lin - params.wind)
    box = box_sizes(sys.body_mass[bodies], sys.body_inertia[bodies])
    torque, force = local_wrench(box, local_ang, local_lin, params.density, params.viscosity)
    torque, force = pm.mat_vec(rot, torque), pm.mat_vec(rot, force)
    # Power of the wrench on dof k: f·(v_k + ω_k × r) + g·ω_k = v_k·f + ω_k·(g + r × f).
    moment = torque + pm.cross(com, force)
    moves = M.tree_arrays(sys.tree)["body_dof"][bodies].T    # static [nv, n]: 1 where dof k moves body b
    per_dof_force, per_dof_moment = pm.static_matmuls(moves, force, moment)   # [nv, 3] each
    return pm.dot(kin.dof_lin, per_dof_force) + pm.dot(kin.dof_ang, per_dof_moment)


def check_model(m, solver: str) -> None:
    """Refuses fluid settings this module does not simulate (a `ValueError` naming element and attribute)."""
    if m.opt.density < 0 or m.opt.viscosity < 0:
        raise ValueError(f"invalid MJCF value: <option> density/viscosity: must be >= 0, got "
                         f"{float(m.opt.density)}, {float(m.opt.viscosity)}")
    if not active(m):
        return
    for g in range(m.ngeom):
        if m.geom_fluid[g, 0] > 0 and m.body_mass[m.geom_bodyid[g]] >= MINVAL:
            gname = mujoco.mj_id2name(m, int(mujoco.mjtObj.mjOBJ_GEOM), g) or f"#{g}"
            raise ValueError(
                f"unsupported MJCF feature: <geom name='{gname}'> fluidshape='ellipsoid': MuJoCo's ellipsoid fluid "
                "model is not implemented (only the inertia-box model); remove fluidshape to use the inertia box")
    if solver == "mujoco" and m.opt.integrator == int(mujoco.mjtIntegrator.mjINT_IMPLICITFAST):
        raise ValueError(
            "unsupported MJCF feature: <option> integrator='implicitfast' with density/viscosity: MuJoCo integrates "
            "the fluid forces' velocity derivatives implicitly there, which is not implemented; use Euler or RK4")


def active(m) -> bool:
    """Whether MuJoCo applies fluid forces to model `m` (density or viscosity > 0; wind alone does nothing)."""
    return bool(m.opt.density > 0 or m.opt.viscosity > 0)


def params(m, dtype) -> FluidParams | None:
    """`FluidParams` of the compiled model `m`, or None when it has no fluid forces or nothing they can move."""
    if not active(m):
        return None
    moving = np.zeros(m.nbody, bool)
    for k in range(m.nv):  # a body moves if a dof acts on it or on an ancestor
        moving[int(m.dof_bodyid[k])] = True
    for b in range(1, m.nbody):
        moving[b] |= moving[int(m.body_parentid[b])]
    bodies = tuple(b for b in range(1, m.nbody) if moving[b] and m.body_mass[b] >= MINVAL)
    if not bodies:
        return None
    f = lambda x: jnp.asarray(np.asarray(x, dtype=np.float64).copy(), dtype=dtype)
    return FluidParams(density=f(m.opt.density), viscosity=f(m.opt.viscosity), wind=f(m.opt.wind), bodies=bodies)
