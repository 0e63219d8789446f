"""Plane–ellipsoid contact, as MuJoCo computes it (`mjc_PlaneConvex` with an ellipsoid).

MuJoCo collides an ellipsoid with a plane through the ellipsoid's support point in the direction
`−n` (n: the plane's normal, world): in the ellipsoid frame (rotation R, semi-axes s = (a, b, c)),
with `d = Rᵀ(−n)`,

    p_local = diag(s²) d / ‖diag(s) d‖,       p = x + R p_local,

the deepest point of the surface along the normal. One contact: distance `dist = n·(p − plane)`,
position `p − ½ dist·n` (midway between the surfaces), normal `n` from the plane to the ellipsoid,
frame tangents MuJoCo's default for a bare normal. Both contact models use this point.

Other pairs with an ellipsoid go through MuJoCo's general convex (GJK/EPA/MPR) path; they are not
implemented and `mjcf` refuses them, naming the pair.
"""
from __future__ import annotations

import jax.numpy as jnp

from simlab.engine.physics import math as pm


def plane_ellipsoid(plane_pos, plane_rot, pos, rot, size):
    """`(pos [n, 3], normal [n, 3], dist [n])` of planes `(plane_pos [n, 3], plane_rot [n, 3, 3])` against
    ellipsoids `(pos [n, 3], rot [n, 3, 3], size [n, 3] semi-axes)`."""
    normal = plane_rot[:, :, 2]
    direction = pm.mat_vec(jnp.swapaxes(rot, -1, -2), -normal)   # −n in the ellipsoid frame
    scaled = size * direction
    local = size * scaled / pm.safe_norm(scaled, 1e-30)[:, None]
    support = pos + pm.mat_vec(rot, local)
    dist = pm.dot(support - plane_pos, normal)
    return support - 0.5 * dist[:, None] * normal, normal, dist
