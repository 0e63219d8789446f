"""MuJoCo's centre-of-mass-based body quantities, computed from an `engine.physics.State`.

gymnasium's Ant and Humanoid observe `cinert`, `cvel`, `qfrc_actuator` and `cfrc_ext` of
`mujoco.MjData`. These are spatial quantities with world orientation about the centre of
mass of each body's kinematic tree (`subtree_com[root]`). `BodyFrames` precomputes the static
index arrays once per `System`; every function is unbatched and branch-free.

Layouts (per body, body 0 = world is included and always zero where MuJoCo's is):
  cinert `[nb, 10]`: (Ixx, Iyy, Izz, Ixy, Ixz, Iyz, m·dx, m·dy, m·dz, m), inertia about the
    tree's COM, d = body COM − tree COM.
  cvel `[nb, 6]`: (angular; linear velocity of the point at the tree COM moving with the body).
  cfrc_ext `[nb, 6]`: (torque about the tree COM; force) of the contact forces on the body.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from simlab.engine import physics


def _quat_mul(a: jax.Array, b: jax.Array) -> jax.Array:
    """Hamilton product of `[..., 4]` (w, x, y, z) quaternions."""
    aw, ax, ay, az = (a[..., i] for i in range(4))
    bw, bx, by, bz = (b[..., i] for i in range(4))
    return jnp.stack([aw * bw - ax * bx - ay * by - az * bz,
                      aw * bx + ax * bw + ay * bz - az * by,
                      aw * by - ax * bz + ay * bw + az * bx,
                      aw * bz + ax * by - ay * bx + az * bw], axis=-1)


def _quat_to_matrix(q: jax.Array) -> jax.Array:
    """`[..., 4]` unit quaternions -> `[..., 3, 3]` rotation matrices."""
    w, x, y, z = (q[..., i] for i in range(4))
    rows = [[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]]
    return jnp.stack([jnp.stack(r, axis=-1) for r in rows], axis=-2)


class BodyFrames:
    """Static structure of one `System` for the COM-based quantities.

    Methods take the `System` (whose numeric leaves may be randomized) and a physics state.

    Attributes:
      body_root: `[nb]` the child-of-world ancestor of each body (0 for the world).
      tree_of: `[nb, nb]` 0/1, `tree_of[r, b] = 1` if body b belongs to the tree rooted at r.
      contact_on_body1, contact_on_body2: `[nb, nc]` 0/1 maps of contact rows to the
        (welded, non-world) bodies of geom1 and geom2.
    """

    def __init__(self, sys: physics.System):
        tree = sys.tree
        nb = tree.num_bodies
        self.body_root = np.zeros(nb, np.int32)
        weld = np.arange(nb)
        for b in range(1, nb):
            parent = tree.body_parent[b]
            self.body_root[b] = b if parent == 0 else self.body_root[parent]
            if not tree.body_joints[b]:  # a body without joints moves with its parent
                weld[b] = weld[parent]
        self.tree_of = np.zeros((nb, nb), np.float32)
        for b in range(1, nb):
            self.tree_of[self.body_root[b], b] = 1.0
        geom1, geom2 = physics.contact_geoms(sys)
        geom_body = np.asarray(tree.geom_body)
        self.contact_on_body1 = self._scatter(weld[geom_body[geom1]], nb)
        self.contact_on_body2 = self._scatter(weld[geom_body[geom2]], nb)
        self.num_bodies = nb
        self.dof_qadr = np.zeros(sys.nv, np.int32)  # qpos index of each dof (hinge/slide: its joint's)
        for j, jtype in enumerate(tree.jnt_type):
            for k in range({0: 6, 1: 3, 2: 1, 3: 1}[jtype]):
                self.dof_qadr[tree.jnt_dofadr[j] + k] = tree.jnt_qadr[j] + k

    @staticmethod
    def _scatter(bodies: np.ndarray, nb: int) -> np.ndarray:
        matrix = np.zeros((nb, len(bodies)), np.float32)
        for row, body in enumerate(bodies):
            if body != 0:  # forces on the world are not reported (as MuJoCo)
                matrix[body, row] = 1.0
        return matrix

    def tree_com(self, sys: physics.System, sim: physics.State) -> jax.Array:
        """`[nb, 3]` the COM of each body's kinematic tree (MuJoCo's `subtree_com[body_rootid]`)."""
        weighted = self.tree_of @ (sys.body_mass[:, None] * sim.x_com)
        total = self.tree_of @ sys.body_mass
        root_com = weighted / jnp.maximum(total, 1e-12)[:, None]
        return root_com[self.body_root]

    def mass_center(self, sys: physics.System, sim: physics.State) -> jax.Array:
        """`[3]` mass-weighted mean of the body COMs (gymnasium Humanoid's `mass_center`, all 3 axes)."""
        return (sys.body_mass @ sim.x_com) / jnp.sum(sys.body_mass)

    def cinert(self, sys: physics.System, sim: physics.State) -> jax.Array:
        """`[nb, 10]` body inertia about the tree COM in world axes (MuJoCo `cinert`)."""
        rotation = _quat_to_matrix(_quat_mul(sim.x_quat, sys.body_iquat))
        inertia = jnp.einsum("bij,bj,bkj->bik", rotation, sys.body_inertia, rotation)
        mass = sys.body_mass
        d = sim.x_com - self.tree_com(sys, sim)
        shift = mass[:, None, None] * (jnp.sum(d * d, -1)[:, None, None] * jnp.eye(3) - d[:, :, None] * d[:, None, :])
        inertia = inertia + shift
        return jnp.concatenate([
            jnp.stack([inertia[:, 0, 0], inertia[:, 1, 1], inertia[:, 2, 2],
                       inertia[:, 0, 1], inertia[:, 0, 2], inertia[:, 1, 2]], -1),
            mass[:, None] * d, mass[:, None]], -1)

    def cvel(self, sys: physics.System, sim: physics.State) -> jax.Array:
        """`[nb, 6]` (angular, linear) body velocity at the tree COM, world axes (MuJoCo `cvel`)."""
        linear = sim.x_vel + jnp.cross(sim.x_ang, self.tree_com(sys, sim) - sim.x_pos)
        return jnp.concatenate([sim.x_ang, linear], -1)

    def cfrc_ext(self, sys: physics.System, sim: physics.State) -> jax.Array:
        """`[nb, 6]` (torque about the tree COM, force) of all contact forces on each body.

        Uses `sim.contact.force` (force on geom2's body, world frame, last substep) and
        `sim.contact.pos`; geom1's body receives the opposite force.
        """
        return self.contact_wrench(sys, sim, sim.contact.pos, sim.contact.force)

    def contact_wrench(self, sys: physics.System, sim: physics.State, contact_pos: jax.Array, contact_force: jax.Array) -> jax.Array:
        """`cfrc_ext` for explicit contact points `[nc, 3]` and forces on geom2 `[nc, 3]`."""
        if contact_pos.shape[0] == 0:
            return jnp.zeros((self.num_bodies, 6), jnp.float32)
        com = self.tree_com(sys, sim)
        # torque about body b's tree COM: Σ_rows s·(p − c_b) × f = c_b × (−Σ s f) + Σ s (p × f)
        moment = jnp.cross(contact_pos, contact_force)
        signed = self.contact_on_body2 - self.contact_on_body1
        force = signed @ contact_force
        torque = signed @ moment - jnp.cross(com, force)
        return jnp.concatenate([torque, force], -1)

    def actuator_qfrc(self, sys: physics.System, sim: physics.State, action: jax.Array) -> jax.Array:
        """`[nv]` generalized actuator force for `action` `[nu]` (MuJoCo `qfrc_actuator`).

        force = clip(gain·clip(ctrl) + b0 + b1·gear·q + b2·gear·qd, forcerange), mapped by gear
        onto each actuator's joint dof (joint transmissions, as the loader supports).
        """
        dof = np.asarray(sys.act_dof, np.int32)
        ctrl = jnp.clip(action, sys.act_ctrlrange[:, 0], sys.act_ctrlrange[:, 1])
        length = sys.act_gear * sim.q[self.dof_qadr[dof]]
        velocity = sys.act_gear * sim.qd[dof]
        force = sys.act_gain * ctrl + sys.act_bias[:, 0] + sys.act_bias[:, 1] * length + sys.act_bias[:, 2] * velocity
        force = jnp.clip(force, sys.act_forcerange[:, 0], sys.act_forcerange[:, 1])
        return jnp.zeros(sys.nv, jnp.float32).at[dof].add(sys.act_gear * force)
