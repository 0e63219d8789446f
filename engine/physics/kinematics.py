"""Forward kinematics: body poses, dof motion axes and world inertias.

The tree is walked depth level by depth level (static structure, resolved at
trace time). Spatial quantities are 6-vectors `[angular, linear]` in a frame
with world orientation whose origin is the *reference point* of the body's
kinematic tree (the position of the tree's child-of-world body). Keeping the
origin near the bodies keeps float32 accurate far from the world origin.
"""
from __future__ import annotations

import functools

import jax.numpy as jnp
import numpy as np

from simlab.engine.physics import math as pm, model as M
from simlab.engine.struct import pytree_dataclass

_EYE3 = np.eye(3, dtype=np.float32)


@pytree_dataclass
class Kinematics:
    """Configuration-dependent quantities (unbatched).

    Attributes:
      x_pos: `[nb, 3]` body frame origins, world; x_quat: `[nb, 4]` body orientations.
      ref: `[nb, 3]` reference point of each body's tree (world).
      dof_ang, dof_lin: `[nv, 3]` motion axis of each dof at its tree's reference point.
      com: `[nb, 3]` centers of mass relative to `ref`.
      inertia_ref: `[nb, 3, 3]` rotational inertia about `ref`, world axes.
    """

    x_pos: jnp.ndarray
    x_quat: jnp.ndarray
    ref: jnp.ndarray
    dof_ang: jnp.ndarray
    dof_lin: jnp.ndarray
    com: jnp.ndarray
    inertia_ref: jnp.ndarray


@functools.lru_cache(maxsize=64)
def _levels(tree: M.Tree):
    """Bodies grouped by depth, with parent positions inside the previous level.

    Returns a tuple of `(bodies, parent_local, slots)` per level, where `slots`
    lists, per joint slot (a body's 1st, 2nd, ... joint), the joint index of
    every body in the level or -1 when the body has fewer joints.
    """
    depth = [0] * tree.num_bodies
    for b in range(1, tree.num_bodies):
        depth[b] = depth[tree.body_parent[b]] + 1
    levels, previous = [], [0]
    for d in range(1, max(depth, default=0) + 1):
        bodies = [b for b in range(tree.num_bodies) if depth[b] == d]
        parent_local = [previous.index(tree.body_parent[b]) for b in bodies]
        width = max(len(tree.body_joints[b]) for b in bodies)
        slots = tuple(
            np.array([tree.body_joints[b][s] if s < len(tree.body_joints[b]) else -1 for b in bodies], np.int32)
            for s in range(width))
        levels.append((np.array(bodies, np.int32), np.array(parent_local, np.int32), slots))
        previous = bodies
    order = np.argsort(np.concatenate([[0]] + [lv[0] for lv in levels])).astype(np.int32)
    return tuple(levels), order


def forward_kinematics(sys: M.System, q: jnp.ndarray) -> Kinematics:
    """Poses, dof axes and inertias for configuration `q` (`[nq]`).

    Bodies of equal depth are processed together (one vectorized update per
    depth level and joint slot), so the traced graph grows with tree depth,
    not with the number of bodies.
    """
    tree = sys.tree
    arrays = M.tree_arrays(tree)
    dtype = q.dtype
    levels, order = _levels(tree)
    jnt_type = np.asarray(tree.jnt_type + (-1,))  # index -1 -> "no joint"
    jnt_qadr = np.asarray(tree.jnt_qadr + (0,))
    jnt_dofadr = np.asarray(tree.jnt_dofadr + (0,))
    q_ext = jnp.concatenate([q, jnp.zeros(7, dtype)])
    qpos0_ext = jnp.concatenate([sys.qpos0, jnp.zeros(7, dtype)])
    # Dof axes are gathered from "pieces": (ang, lin0, anchor) rows with a static dof -> row map.
    pieces, dof_row, n_rows = [], np.zeros(tree.nv, np.int64), 0
    level_pos = [jnp.zeros((1, 3), dtype)]
    level_quat = [jnp.array([[1.0, 0.0, 0.0, 0.0]], dtype)]
    for bodies, parent_local, slots in levels:
        ppos, pquat = level_pos[-1][parent_local], level_quat[-1][parent_local]
        pos = ppos + pm.quat_rotate(pquat, sys.body_pos[bodies])
        quat = pm.quat_mul(pquat, sys.body_quat[bodies])
        for jid in slots:
            types, qadr, dofadr = jnt_type[jid], jnt_qadr[jid], jnt_dofadr[jid]
            valid = (types >= 0)[:, None]
            jpos = jnp.where(valid, sys.jnt_pos[jid], 0.0)
            jaxis = jnp.where(valid, sys.jnt_axis[jid], jnp.array([0.0, 0.0, 1.0], dtype))
            is_hinge, is_slide = types == M.HINGE, types == M.SLIDE
            is_ball, is_free = types == M.BALL, types == M.FREE
            anchor = pos + pm.quat_rotate(quat, jpos)
            world_axis = pm.quat_rotate(quat, jaxis)
            disp = q_ext[qadr] - qpos0_ext[qadr]
            local = pm.quat_from_axis_angle(jaxis, jnp.where(is_hinge, disp, 0.0))
            if is_ball.any():
                ball = pm.quat_normalize(q_ext[qadr[:, None] + np.arange(4)])
                local = jnp.where(is_ball[:, None], ball, local)
            new_quat = pm.quat_mul(quat, local)
            new_pos = anchor - pm.quat_rotate(new_quat, jpos)
            if is_slide.any():
                new_pos = new_pos + jnp.where(is_slide[:, None], world_axis * disp[:, None], 0.0)
            if is_free.any():
                free_pos = q_ext[qadr[:, None] + np.arange(3)]
                free_quat = pm.quat_normalize(q_ext[qadr[:, None] + np.arange(3, 7)])
                new_pos = jnp.where(is_free[:, None], free_pos, new_pos)
                new_quat = jnp.where(is_free[:, None], free_quat, new_quat)
            # Hinge / slide: one row per body.
            pieces.append((jnp.where(is_hinge[:, None], world_axis, 0.0),
                           jnp.where(is_slide[:, None], world_axis, 0.0), anchor))
            for i in np.nonzero(is_hinge | is_slide)[0]:
                dof_row[dofadr[i]] = n_rows + i
            n_rows += len(bodies)
            if (is_ball | is_free).any():
                # Rotations: axes are the body axes after the joint, about the anchor (ball) or origin (free).
                columns = jnp.swapaxes(pm.quat_to_mat(new_quat), -1, -2).reshape(-1, 3)
                centers = jnp.repeat(jnp.where(is_free[:, None], new_pos, anchor), 3, axis=0)
                pieces.append((columns, jnp.zeros_like(columns), centers))
                for i in np.nonzero(is_ball | is_free)[0]:
                    first = dofadr[i] + (3 if is_free[i] else 0)
                    dof_row[first:first + 3] = n_rows + 3 * i + np.arange(3)
                n_rows += 3 * len(bodies)
            if is_free.any():
                eye = jnp.tile(jnp.asarray(_EYE3), (len(bodies), 1))
                pieces.append((jnp.zeros_like(eye), eye, jnp.zeros_like(eye)))
                for i in np.nonzero(is_free)[0]:
                    dof_row[dofadr[i]:dofadr[i] + 3] = n_rows + 3 * i + np.arange(3)
                n_rows += 3 * len(bodies)
            pos, quat = new_pos, new_quat
        pose = pm.materialize(jnp.concatenate([pos, quat], axis=-1))
        pos, quat = pose[:, :3], pose[:, 3:]
        level_pos.append(pos)
        level_quat.append(quat)
    x_pos = jnp.concatenate(level_pos)[order]
    x_quat = jnp.concatenate(level_quat)[order]
    ref = x_pos[arrays["body_root"]]
    if tree.nv:
        ang = jnp.concatenate([p[0] for p in pieces])[dof_row]
        lin0 = jnp.concatenate([p[1] for p in pieces])[dof_row]
        anchor = jnp.concatenate([p[2] for p in pieces])[dof_row]
        dof_ref = ref[np.asarray(tree.dof_body)]
        lin = lin0 + pm.cross(ang, dof_ref - anchor)
        ang, lin = pm.materialize(ang), pm.materialize(lin)
    else:
        ang = lin = jnp.zeros((0, 3), dtype)
    # Inertia about the tree reference point, world axes (parallel-axis theorem).
    com_world = x_pos + pm.quat_rotate(x_quat, sys.body_ipos)
    com = pm.materialize(com_world - ref)
    rot_i = pm.materialize(pm.quat_to_mat(pm.quat_mul(x_quat, sys.body_iquat)))
    inertia_com = pm.sum_axis(rot_i[:, :, None, :] * sys.body_inertia[:, None, None, :] * rot_i[:, None, :, :], -1)
    mass = sys.body_mass[:, None, None]
    inertia_ref = inertia_com + mass * (pm.dot(com, com)[:, None, None] * _EYE3 - com[:, :, None] * com[:, None, :])
    inertia_ref = pm.materialize(inertia_ref)
    return Kinematics(x_pos=x_pos, x_quat=x_quat, ref=ref, dof_ang=ang, dof_lin=lin, com=com,
                      inertia_ref=inertia_ref)


def geom_poses(sys: M.System, kin: Kinematics, geoms: np.ndarray):
    """World position `[n, 3]` and rotation matrix `[n, 3, 3]` of the given geoms."""
    body = np.asarray(sys.tree.geom_body, np.int32)[geoms]
    quat = pm.quat_mul(kin.x_quat[body], sys.geom_quat[geoms])
    pos = kin.x_pos[body] + pm.quat_rotate(kin.x_quat[body], sys.geom_pos[geoms])
    return pos, pm.quat_to_mat(quat)


def body_velocities(sys: M.System, kin: Kinematics, qd: jnp.ndarray):
    """Spatial velocity of every body at its tree reference point.

    Returns `(ang [nb, 3], lin_ref [nb, 3])`; the world linear velocity of a
    point `p` on body b is `lin_ref[b] + ang[b] x (p - ref[b])`.
    """
    if sys.nv == 0:  # nothing moves
        return jnp.zeros_like(kin.x_pos), jnp.zeros_like(kin.x_pos)
    body_dof = M.tree_arrays(sys.tree)["body_dof"]
    ang, lin = pm.static_matmuls(body_dof, kin.dof_ang * qd[:, None], kin.dof_lin * qd[:, None])
    return ang, lin


def frame_jacobian(sys: M.System, kin, bodies: np.ndarray, points, lin_dirs, rot_dirs=None):
    """Row Jacobians `[n, k, nv]` of directions at world points `[n, 3]` fixed to `bodies`.

    Row `(c, r)` maps `qd` to `lin_dirs[c, r]·v(point c) + rot_dirs[c, r]·ω(body c)` (directions
    `[n, k, 3]`). Spelled with `f·(ω × r) = ω·(r × f)` and the dof axes stored component-major,
    so each row is six contiguous multiply-adds per dof and no `[n, nv, 3]` Jacobian is formed.
    """
    body_dof = jnp.asarray(M.tree_arrays(sys.tree)["body_dof"])[bodies]  # [n, nv]
    ang_dirs = pm.cross((points - kin.ref[bodies])[:, None, :], lin_dirs)  # [n, k, 3]
    if rot_dirs is not None:
        ang_dirs = ang_dirs + rot_dirs
    lin, ang = kin.dof_lin.T, kin.dof_ang.T  # [3, nv]
    jac = None
    for i in range(3):
        part = lin_dirs[:, :, i, None] * lin[i] + ang_dirs[:, :, i, None] * ang[i]
        jac = part if jac is None else jac + part
    return jac * body_dof[:, None, :]
