"""Contact candidates as continuous functions of signed distance.

Which geometry pairs can touch is fixed by the model (`System.contact_pairs`),
so the contact set is a fixed-size array built at trace time: every candidate
point is computed every step and a 0/1 mask marks the active ones.
Each pair kind produces a fixed number of points:

  plane-sphere 1, plane-capsule 2 (end caps), plane-box 8 (corners),
  plane-cylinder 8 (4 rim points per cap), sphere-sphere 1, sphere-capsule 1,
  capsule-capsule 1 (closest points of the segments), sphere-box 1, plane-ellipsoid 1 (`ellipsoid`),
  box-box 8 (`box_box`: MuJoCo's face-clipping / edge-edge contacts, masked).

Normals point from the first geom of the pair (lower type) to the second.
"""
from __future__ import annotations

import functools

import jax.numpy as jnp
import numpy as np

from simlab.engine.physics import box_box, ellipsoid, kinematics, math as pm, model as M
from simlab.engine.struct import pytree_dataclass

POINTS_PER_PAIR = {
    (M.PLANE, M.SPHERE): 1, (M.PLANE, M.CAPSULE): 2, (M.PLANE, M.BOX): 8, (M.PLANE, M.CYLINDER): 8,
    (M.SPHERE, M.SPHERE): 1, (M.SPHERE, M.CAPSULE): 1, (M.CAPSULE, M.CAPSULE): 1, (M.SPHERE, M.BOX): 1,
    (M.BOX, M.BOX): box_box.POINTS, (M.PLANE, M.ELLIPSOID): 1,
}
_BOX_CORNERS = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], np.float32)
_RIM = np.array([[1, 0], [0, 1], [-1, 0], [0, -1]], np.float32)


@pytree_dataclass
class Contact:
    """Fixed-size contact set (unbatched; `nc` = total candidate points).

    Attributes:
      pos: `[nc, 3]` contact point (midway between the surfaces), world.
      normal: `[nc, 3]` unit normal from geom1 to geom2.
      dist: `[nc]` signed distance, negative when penetrating [m].
      active: `[nc]` float 1/0 mask: `dist < margin` from `collide`; after a step, the
        dynamics' predictive mask (`dist + h·min(v_n, 0) < margin`) of the last substep.
      force: `[nc, 3]` force on geom2's body (geom1's body gets the opposite) [N];
        zeros until the dynamics fills it in.
    """

    pos: jnp.ndarray
    normal: jnp.ndarray
    dist: jnp.ndarray
    active: jnp.ndarray
    force: jnp.ndarray


@functools.lru_cache(maxsize=64)
def contact_layout(tree: M.Tree, pairs: tuple):
    """Static contact layout: pair kinds in order and per-point geom indices.

    Returns `(groups, geom1, geom2)`: `groups` is a tuple of
    `(kind, g1 array, g2 array)`; `geom1/geom2` are `[nc]` int arrays.
    """
    groups, geom1, geom2 = [], [], []
    for kind in POINTS_PER_PAIR:
        sel = [(a, b) for a, b in pairs if (tree.geom_type[a], tree.geom_type[b]) == kind]
        if not sel:
            continue
        g1 = np.array([a for a, _ in sel], np.int32)
        g2 = np.array([b for _, b in sel], np.int32)
        groups.append((kind, g1, g2))
        n = POINTS_PER_PAIR[kind]
        geom1.append(np.repeat(g1, n))
        geom2.append(np.repeat(g2, n))
    if not groups:
        return (), np.zeros(0, np.int32), np.zeros(0, np.int32)
    return tuple(groups), np.concatenate(geom1), np.concatenate(geom2)


def _plane_points(plane_pos, plane_rot, points, radius=None):
    """Spheres (centers `[n, k, 3]`, radii `[n]` or none) against planes `[n, ...]`.

    Returns (pos, normal, dist), each flattened to `[n*k, ...]`.
    """
    normal = plane_rot[:, :, 2]
    radius = jnp.zeros(points.shape[:1], points.dtype) if radius is None else radius
    dist = pm.dot(points - plane_pos[:, None, :], normal[:, None, :]) - radius[:, None]
    pos = points - (radius[:, None] + 0.5 * dist)[..., None] * normal[:, None, :]
    n, k = dist.shape
    normal = jnp.broadcast_to(normal[:, None, :], (n, k, 3))
    return pos.reshape(n * k, 3), normal.reshape(n * k, 3), dist.reshape(n * k)


def _sphere_sphere(c1, r1, c2, r2):
    delta = c2 - c1
    length = pm.safe_norm(delta)
    normal = delta / length[:, None]
    dist = length - r1 - r2
    pos = c1 + normal * (r1 + 0.5 * dist)[:, None]
    return pos, normal, dist


def _closest_on_segment(a, b, p):
    ab = b - a
    t = jnp.clip(pm.dot(p - a, ab) / jnp.maximum(pm.dot(ab, ab), 1e-12), 0.0, 1.0)
    return a + t[:, None] * ab


def _segment_segment(p1, q1, p2, q2):
    """Closest points between segments p1q1 and p2q2 (branch-free clamping)."""
    d1, d2, r = q1 - p1, q2 - p2, p1 - p2
    a, e, f = pm.dot(d1, d1), pm.dot(d2, d2), pm.dot(d2, r)
    c, b = pm.dot(d1, r), pm.dot(d1, d2)
    denom = a * e - b * b
    s = jnp.where(denom > 1e-9 * a * e + 1e-12, jnp.clip((b * f - c * e) / jnp.maximum(denom, 1e-12), 0.0, 1.0), 0.0)
    t = (b * s + f) / jnp.maximum(e, 1e-12)
    t_clamped = jnp.clip(t, 0.0, 1.0)
    s = jnp.where(t == t_clamped, s, jnp.clip((b * t_clamped - c) / jnp.maximum(a, 1e-12), 0.0, 1.0))
    return p1 + s[:, None] * d1, p2 + t_clamped[:, None] * d2


def _capsule_ends(pos, rot, size):
    half = size[:, 1:2] * rot[:, :, 2]
    return pos - half, pos + half


def _box_box_penalty(pos1, rot1, size1, pos2, rot2, size2, margin):
    """Box-box points for the penalty model: MuJoCo's contact set, with a look-ahead band.

    Points up to a tenth of the smaller box's thinnest half-size beyond `margin` are kept with
    their true distance, so the predictive activation of `contacts` sees them; slots without
    a point report `box_box.UNUSED_DIST` (1 m, never active).
    """
    lookahead = 0.1 * jnp.minimum(jnp.min(size1, axis=1), jnp.min(size2, axis=1))
    pos, normal, dist, _ = box_box.box_box(pos1, rot1, size1, pos2, rot2, size2, margin + lookahead)
    n = pos.shape[0] * box_box.POINTS
    return pos.reshape(n, 3), normal.reshape(n, 3), dist.reshape(n)


def _contacts_for(kind, pos1, rot1, size1, pos2, rot2, size2):
    if kind[0] == M.PLANE:
        if kind[1] == M.ELLIPSOID:
            return ellipsoid.plane_ellipsoid(pos1, rot1, pos2, rot2, size2)
        if kind[1] == M.SPHERE:
            return _plane_points(pos1, rot1, pos2[:, None, :], size2[:, 0])
        if kind[1] == M.CAPSULE:
            a, b = _capsule_ends(pos2, rot2, size2)
            return _plane_points(pos1, rot1, jnp.stack([a, b], axis=1), size2[:, 0])
        if kind[1] == M.BOX:
            pts = pos2[:, None, :] + pm.mat_vec(rot2[:, None, :, :], _BOX_CORNERS[None] * size2[:, None, :])
            return _plane_points(pos1, rot1, pts)
        # Cylinder: per cap, 4 rim points starting at the deepest rim direction.
        normal = rot1[:, :, 2]
        axis = rot2[:, :, 2]
        down = -(normal - pm.dot(normal, axis)[:, None] * axis)
        down_len = pm.safe_norm(down)
        fallback = rot2[:, :, 0]
        u = jnp.where((down_len > 1e-6)[:, None], down / down_len[:, None], fallback)
        w = pm.cross(axis, u)
        radius, half = size2[:, 0:1], size2[:, 1:2]
        rim = radius[:, None, :] * (_RIM[None, :, 0:1] * u[:, None, :] + _RIM[None, :, 1:2] * w[:, None, :])
        caps = jnp.concatenate([(pos2 - half * axis)[:, None, :] + rim, (pos2 + half * axis)[:, None, :] + rim], 1)
        return _plane_points(pos1, rot1, caps)
    if kind == (M.SPHERE, M.SPHERE):
        return _sphere_sphere(pos1, size1[:, 0], pos2, size2[:, 0])
    if kind == (M.SPHERE, M.CAPSULE):
        a, b = _capsule_ends(pos2, rot2, size2)
        return _sphere_sphere(pos1, size1[:, 0], _closest_on_segment(a, b, pos1), size2[:, 0])
    if kind == (M.CAPSULE, M.CAPSULE):
        a1, b1 = _capsule_ends(pos1, rot1, size1)
        a2, b2 = _capsule_ends(pos2, rot2, size2)
        c1, c2 = _segment_segment(a1, b1, a2, b2)
        return _sphere_sphere(c1, size1[:, 0], c2, size2[:, 0])
    # Sphere-box: closest box point in the box frame; inside, push out of the nearest face.
    local = pm.mat_vec(jnp.swapaxes(rot2, 1, 2), pos1 - pos2)
    half = size2
    clamped = jnp.clip(local, -half, half)
    outside_vec = local - clamped
    outside_len = pm.safe_norm(outside_vec)
    inside = outside_len < 1e-6
    depth_per_axis = half - jnp.abs(local)
    axis_onehot = (depth_per_axis == jnp.min(depth_per_axis, axis=1, keepdims=True)).astype(local.dtype)
    outward_in = axis_onehot * jnp.sign(jnp.where(local == 0, 1.0, local))
    normal_local = jnp.where(inside[:, None], -outward_in, -outside_vec / outside_len[:, None])
    dist = jnp.where(inside, -jnp.min(depth_per_axis, axis=1), outside_len) - size1[:, 0]
    normal = pm.mat_vec(rot2, normal_local)
    pos = pos1 + normal * (size1[:, 0] + 0.5 * dist)[:, None]
    return pos, normal, dist


def collide(sys: M.System, kin: kinematics.Kinematics) -> Contact:
    """All candidate contact points of `sys` at configuration `kin`."""
    groups, geom1, geom2 = contact_layout(sys.tree, sys.contact_pairs)
    dtype = kin.x_pos.dtype
    if not groups:
        z = jnp.zeros((0,), dtype)
        return Contact(pos=jnp.zeros((0, 3), dtype), normal=jnp.zeros((0, 3), dtype), dist=z, active=z,
                       force=jnp.zeros((0, 3), dtype))
    pos, normal, dist = [], [], []
    for kind, g1, g2 in groups:
        p1, r1 = kinematics.geom_poses(sys, kin, g1)
        p2, r2 = kinematics.geom_poses(sys, kin, g2)
        if kind == (M.BOX, M.BOX):
            margin = jnp.maximum(sys.geom_margin[g1], sys.geom_margin[g2])
            p, n, d = _box_box_penalty(p1, r1, sys.geom_size[g1], p2, r2, sys.geom_size[g2], margin)
        else:
            p, n, d = _contacts_for(kind, p1, r1, sys.geom_size[g1], p2, r2, sys.geom_size[g2])
        pos.append(p)
        normal.append(n)
        dist.append(d)
    pos, normal, dist = jnp.concatenate(pos), jnp.concatenate(normal), jnp.concatenate(dist)
    margin = jnp.maximum(sys.geom_margin[geom1], sys.geom_margin[geom2])
    active = (dist < margin).astype(dtype)
    return Contact(pos=pos, normal=normal, dist=dist, active=active, force=jnp.zeros_like(pos))


@functools.lru_cache(maxsize=64)
def couples_branches(tree: M.Tree, pairs: tuple) -> bool:
    """Whether some candidate contact joins two moving bodies (static).

    Such a contact couples two branches of the dof tree, so matrices with contact terms
    (`M + Jᵀ D J`) lose the tree sparsity that `integrator.solve_tree` needs.
    """
    _, geom1, geom2 = contact_layout(tree, pairs)
    movable = M.tree_arrays(tree)["body_dof"].sum(axis=1) > 0
    body = np.asarray(tree.geom_body)
    return bool(np.any(movable[body[geom1]] & movable[body[geom2]]))
