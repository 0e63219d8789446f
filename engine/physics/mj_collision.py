"""Contacts as MuJoCo generates them, for `solver="mujoco"`.

The candidate points are those of `collision.collide` (the same fixed layout, so
`pipeline.contact_geoms` and `State.contact` mean the same in both modes); this
module adds what MuJoCo's constraint model needs of each point:

  * which points MuJoCo would create: `dist < margin − gap` (`includemargin`; the pair's
    margin and gap are the sums of the two geoms') and,
    for plane–box, only corners below the box centre, at most 4, in MuJoCo's corner
    order (bit 0: x, bit 1: y, bit 2: z);
  * the contact frame: rows (normal, tangent 1, tangent 2). For plane–capsule the
    first tangent follows the capsule axis; otherwise it is world y (or z when the
    normal is near y), made orthogonal to the normal;
  * the pair's mixed parameters: friction (max per component; sliding, sliding,
    torsional, rolling, rolling), solref/solimp (mixed by solmix), condim (max).

Capsule–capsule uses MuJoCo's clipping order for the closest points of the axes; box–box is
`box_box.box_box` (MuJoCo's separating-axis / face-clipping / edge-edge routine, 8 masked slots).
"""
from __future__ import annotations

import functools

import jax.numpy as jnp
import numpy as np

from simlab.engine.physics import box_box, collision, kinematics, math as pm, model as M
from simlab.engine.struct import pytree_dataclass

MINVAL = 1e-15  # MuJoCo's mjMINVAL
# Box corners in MuJoCo's order (bit 0 -> x, bit 1 -> y, bit 2 -> z).
_MJ_CORNERS = np.array([[(1 if i & 1 else -1), (1 if i & 2 else -1), (1 if i & 4 else -1)] for i in range(8)],
                       np.float64)


@pytree_dataclass
class MjContact:
    """Fixed-size contact set with MuJoCo's per-contact data (`nc` candidate points).

    Attributes:
      pos: `[nc, 3]` contact point, world; dist: `[nc]` signed distance [m].
      frame: `[nc, 3, 3]` rows: normal (geom1 -> geom2), tangent 1, tangent 2.
      valid: `[nc]` 1.0 where MuJoCo would create this contact, else 0.0.
      friction: `[nc, 5]` (slide, slide, spin, roll, roll).
      solref: `[nc, 2]`; solimp: `[nc, 5]`; includemargin: `[nc]` (margin − gap).
    """

    pos: jnp.ndarray
    dist: jnp.ndarray
    frame: jnp.ndarray
    valid: jnp.ndarray
    friction: jnp.ndarray
    solref: jnp.ndarray
    solimp: jnp.ndarray
    includemargin: jnp.ndarray


@functools.lru_cache(maxsize=64)
def contact_condim(tree: M.Tree, pairs: tuple) -> np.ndarray:
    """Static condim `[nc]` of every candidate point: the max of the two geoms' condim."""
    _, geom1, geom2 = collision.contact_layout(tree, pairs)
    condim = np.asarray(tree.geom_condim)
    return np.maximum(condim[geom1], condim[geom2]).astype(np.int32) if len(geom1) else np.zeros(0, np.int32)


def make_frame(normal, tangent=None):
    """MuJoCo's contact frame `[n, 3, 3]` from unit normals `[n, 3]` and optional tangent hints."""
    dtype = normal.dtype
    default = jnp.where((jnp.abs(normal[:, 1]) < 0.5)[:, None], jnp.asarray([0.0, 1.0, 0.0], dtype),
                        jnp.asarray([0.0, 0.0, 1.0], dtype))
    if tangent is None:
        tangent = default
    else:
        tangent = jnp.where((pm.dot(tangent, tangent) < 0.25)[:, None], default, tangent)
    tangent = tangent - pm.dot(normal, tangent)[:, None] * normal
    length = jnp.sqrt(pm.dot(tangent, tangent))
    # A hint parallel to the normal leaves nothing: MuJoCo's normalize falls back to x.
    tangent = jnp.where((length < MINVAL)[:, None], jnp.asarray([1.0, 0.0, 0.0], dtype),
                        tangent / jnp.maximum(length, MINVAL)[:, None])
    return jnp.stack([normal, tangent, pm.cross(normal, tangent)], axis=1)


def _capsule_capsule(p1, r1, s1, p2, r2, s2):
    """Closest axis points as MuJoCo clips them (x1 first, then x2, then x1 again)."""
    axis1, axis2 = r1[:, :, 2] * s1[:, 1:2], r2[:, :, 2] * s2[:, 1:2]
    dif = p1 - p2
    ma, mb, mc = pm.dot(axis1, axis1), -pm.dot(axis1, axis2), pm.dot(axis2, axis2)
    u, v = -pm.dot(axis1, dif), pm.dot(axis2, dif)
    det = ma * mc - mb * mb
    safe_det = jnp.where(jnp.abs(det) >= MINVAL, det, 1.0)
    x1 = (mc * u - mb * v) / safe_det
    x2 = (ma * v - mb * u) / safe_det
    x2 = jnp.where(x1 > 1, (v - mb) / mc, jnp.where(x1 < -1, (v + mb) / mc, x2))
    x1 = jnp.clip(x1, -1.0, 1.0)
    x1 = jnp.where(x2 > 1, jnp.clip((u - mb) / ma, -1, 1), jnp.where(x2 < -1, jnp.clip((u + mb) / ma, -1, 1), x1))
    x2 = jnp.clip(x2, -1.0, 1.0)
    # Parallel axes: MuJoCo's first candidate (the end x1 = +1 of capsule 1).
    parallel = jnp.abs(det) < MINVAL
    x1 = jnp.where(parallel, 1.0, x1)
    x2 = jnp.where(parallel, jnp.clip((v - mb) / mc, -1, 1), x2)
    c1, c2 = p1 + axis1 * x1[:, None], p2 + axis2 * x2[:, None]
    return collision._sphere_sphere(c1, s1[:, 0], c2, s2[:, 0])


def _points(kind, p1, r1, s1, p2, r2, s2, margin):
    """`(pos, normal, dist, tangent or None, keep or None)` of one pair kind, flattened per point.

    `margin` `[n]` is the pair's collision margin (plane-box keeps the first 4 corners within it).
    """
    if kind == (M.PLANE, M.BOX):
        normal = r1[:, :, 2]
        corners = pm.mat_vec(r2[:, None, :, :], _MJ_CORNERS[None].astype(p2.dtype) * s2[:, None, :])
        center = pm.dot(p2 - p1, normal)
        ldist = pm.dot(normal[:, None, :], corners)
        dist = center[:, None] + ldist
        pos = p2[:, None, :] + corners - 0.5 * dist[..., None] * normal[:, None, :]
        n = dist.shape[0]
        # Corners at or below the centre, the first 4 of them in corner order (branch-free count).
        near = ((ldist <= 0) & (dist <= margin[:, None])).astype(p2.dtype)
        keep = near * (jnp.cumsum(near, axis=1) <= 4)
        return (pos.reshape(n * 8, 3), jnp.broadcast_to(normal[:, None], (n, 8, 3)).reshape(n * 8, 3),
                dist.reshape(n * 8), None, keep.reshape(n * 8))
    if kind == (M.BOX, M.BOX):
        pos, normal, dist, valid = box_box.box_box(p1, r1, s1, p2, r2, s2, margin)
        n = pos.shape[0] * box_box.POINTS
        return (pos.reshape(n, 3), normal.reshape(n, 3), dist.reshape(n), None,
                valid.reshape(n).astype(p1.dtype))
    if kind == (M.CAPSULE, M.CAPSULE):
        pos, normal, dist = _capsule_capsule(p1, r1, s1, p2, r2, s2)
        return pos, normal, dist, None, None
    if kind in ((M.PLANE, M.SPHERE), (M.PLANE, M.CAPSULE), (M.SPHERE, M.SPHERE), (M.SPHERE, M.CAPSULE),
                (M.PLANE, M.ELLIPSOID)):
        pos, normal, dist = collision._contacts_for(kind, p1, r1, s1, p2, r2, s2)
        tangent = None
        if kind == (M.PLANE, M.CAPSULE):  # MuJoCo aligns both end contacts' frames with the capsule axis
            tangent = jnp.repeat(r2[:, :, 2], 2, axis=0)
        return pos, normal, dist, tangent, None
    raise ValueError(f"no MuJoCo-compatible contact function for {M.GEOM_NAMES[kind[0]]}-"
                     f"{M.GEOM_NAMES[kind[1]]} yet")


def _mixed(sys: M.System, geom1, geom2):
    """Per-point mixed pair parameters: friction `[n, 5]`, solref `[n, 2]`, solimp `[n, 5]`, includemargin."""
    mj = sys.mj
    f1 = jnp.concatenate([sys.geom_friction[geom1, None], mj.geom_friction[geom1, 1:]], axis=1)
    f2 = jnp.concatenate([sys.geom_friction[geom2, None], mj.geom_friction[geom2, 1:]], axis=1)
    fri = jnp.maximum(f1, f2)
    friction = jnp.stack([fri[:, 0], fri[:, 0], fri[:, 1], fri[:, 2], fri[:, 2]], axis=1)
    s1, s2 = mj.geom_solmix[geom1], mj.geom_solmix[geom2]
    both = (s1 >= MINVAL) & (s2 >= MINVAL)
    mix = jnp.where(both, s1 / jnp.where(both, s1 + s2, 1.0),
                    jnp.where((s1 < MINVAL) & (s2 < MINVAL), 0.5, jnp.where(s1 < MINVAL, 0.0, 1.0)))
    ref1, ref2 = sys.geom_solref[geom1], sys.geom_solref[geom2]
    standard = (ref1[:, :1] > 0) & (ref2[:, :1] > 0)
    solref = jnp.where(standard, mix[:, None] * ref1 + (1 - mix[:, None]) * ref2, jnp.minimum(ref1, ref2))
    solimp = mix[:, None] * mj.geom_solimp[geom1] + (1 - mix[:, None]) * mj.geom_solimp[geom2]
    margin = sys.geom_margin[geom1] + sys.geom_margin[geom2]  # MuJoCo adds the two geoms' margins and gaps
    gap = mj.geom_gap[geom1] + mj.geom_gap[geom2]
    return friction, solref, solimp, margin - gap


def collide(sys: M.System, kin: kinematics.Kinematics) -> MjContact:
    """Every candidate contact point of `sys` at `kin`, with MuJoCo's frame, parameters and validity."""
    groups, geom1, geom2 = collision.contact_layout(sys.tree, sys.contact_pairs)
    dtype = kin.x_pos.dtype
    if not groups:
        z = jnp.zeros((0,), dtype)
        return MjContact(pos=jnp.zeros((0, 3), dtype), dist=z, frame=jnp.zeros((0, 3, 3), dtype), valid=z,
                         friction=jnp.zeros((0, 5), dtype), solref=jnp.zeros((0, 2), dtype),
                         solimp=jnp.zeros((0, 5), dtype), includemargin=z)
    pos, frame, dist, keep = [], [], [], []
    for kind, g1, g2 in groups:
        p1, r1 = kinematics.geom_poses(sys, kin, g1)
        p2, r2 = kinematics.geom_poses(sys, kin, g2)
        margin = sys.geom_margin[g1] + sys.geom_margin[g2]
        p, n, d, t, k = _points(kind, p1, r1, sys.geom_size[g1], p2, r2, sys.geom_size[g2], margin)
        pos.append(p)
        dist.append(d)
        frame.append(make_frame(n, t))
        keep.append(jnp.ones_like(d) if k is None else k)
    pos, dist, frame, keep = (jnp.concatenate(x) for x in (pos, dist, frame, keep))
    friction, solref, solimp, includemargin = _mixed(sys, geom1, geom2)
    valid = keep * (dist < includemargin)
    return MjContact(pos=pos, dist=dist, frame=frame, valid=valid, friction=friction, solref=solref,
                     solimp=solimp, includemargin=includemargin)
