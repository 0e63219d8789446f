"""Box–box contacts, branch-free, with MuJoCo's contact set (`mjc_BoxBox`, MuJoCo ≥ 3.12).

Every pair yields `POINTS` = 8 candidate slots and a validity mask; nothing depends on
data through control flow (fixed-size arrays, `jnp.where` selections, one-hot gathers).

Stage 1 is a separating-axis test on the 15 candidate axes (3 face normals per box and the
9 edge cross products; a cross product with sin² < 1e-16 is skipped). Any separation above
`margin` (plus a rounding slack proportional to the box sizes) means no contact. The winning
axis is the face axis of largest separation (first on ties); an edge axis wins only if it
beats both the best axis so far (by a relative 1e-6) and the best face. A winning edge axis
within ~8° of the best face normal (|cos| > 0.99) gives way to that face unless it is 5 %
deeper.

Stage 2, face axis: the face of the other (incident) box most opposed to the reference face
normal is clipped (Sutherland–Hodgman) against the four side planes of the reference face;
each clipped vertex no more than `margin` above the reference face becomes a contact, unless
it lies within a tiny radius of an earlier one. The contact sits midway between the reference
face plane and the incident vertex, with `dist` the height of the vertex over the face plane
and the normal the reference face normal (oriented from box 1 to box 2). Edge axis: one
contact at the midpoint of the closest points of the two supporting edges, `dist` their
separation along the axis. A 4-gon clipped by 4 half-planes has at most 8 vertices, hence
8 slots; the valid ones come first, in MuJoCo's order.

All stage-2 geometry is evaluated in the reference box's frame, with the face axis `a` and the
two in-face axes `(a+1)%3, (a+2)%3` picked by 0/1 permutation matrices (exact in floating
point), so the numbers follow MuJoCo's arithmetic closely.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

POINTS = 8
MINVAL = 1e-15
MAXVAL = 1e10
EDGE_BIAS = 1e-6
UNUSED_DIST = 1.0  # [m] distance reported in slots without a contact
# (separation slack per unit size, sin² below which an edge axis is noise, ambiguous-sign
# threshold, squared relative duplicate radius) for float64 / float32, as in MuJoCo.
_EPS = {8: (1e-13, 1e-16, 1e-9, 1e-14), 4: (1e-6, 1e-7, 1e-5, 1e-10)}

_EYE = np.eye(3)
# Edge axes e_i(box1) x e_j(box2), enumerated as 3*i + j, and their cyclic companions.
_EI = np.repeat(np.arange(3, dtype=np.int32), 3)  # int32: the same under jax_enable_x64 on and off
_EJ = np.tile(np.arange(3, dtype=np.int32), 3)
_EI1, _EI2 = (_EI + 1) % 3, (_EI + 2) % 3
_EJ1, _EJ2 = (_EJ + 1) % 3, (_EJ + 2) % 3
# Permutation rows (axis a+1, a+2, a) for each face axis a.
_PERM = np.stack([_EYE[[(a + 1) % 3, (a + 2) % 3, a]] for a in range(3)])
_CORNER_SIGN = np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]], np.float64)


def _compact(values, mask, capacity):
    """Move the rows where `mask` holds to the front, in order: `values` `[..., k, d]` -> `[..., capacity, d]`."""
    dtype = values.dtype
    index = jnp.cumsum(mask.astype(jnp.int32), axis=-1) - 1
    slots = jnp.arange(capacity)
    select = (mask[..., None, :] & (index[..., None, :] == slots[:, None])).astype(dtype)  # [..., capacity, k]
    count = index[..., -1] + 1
    return jnp.einsum("...ok,...kd->...od", select, values), slots < jnp.minimum(count, capacity)[..., None]


def _clip(poly, valid, coord, sign, limit):
    """Sutherland–Hodgman: polygon `[n, C, 3]` (valid prefix) against `sign·v[coord] <= limit`."""
    count = jnp.sum(valid.astype(jnp.int32), axis=-1)
    k = jnp.arange(poly.shape[1])
    nxt = jnp.where((k[None] == count[:, None] - 1)[..., None], poly[:, :1], jnp.roll(poly, -1, axis=1))
    dp = sign * poly[..., coord] - limit[:, None]
    dq = sign * nxt[..., coord] - limit[:, None]
    cross = ((dp < 0) & (dq > 0)) | ((dp > 0) & (dq < 0))
    t = dp / jnp.where(cross, dp - dq, 1.0)
    inter = poly + t[..., None] * (nxt - poly)
    # Candidate outputs interleaved as MuJoCo emits them: vertex k (if inside), then the crossing on edge k.
    cand = jnp.stack([poly, inter], axis=2).reshape(poly.shape[0], -1, 3)
    keep = jnp.stack([valid & (dp <= 0), valid & cross], axis=2).reshape(poly.shape[0], -1)
    return _compact(cand, keep, poly.shape[1])


def _sat(rot, pos21, pos12, size1, size2, septol, pareps):
    """Separating-axis test on the 15 axes.

    Returns `(separated, code, sep_best, sep_face, face)`: code 0-2 / 3-5 is a face axis of box 1 / 2,
    6 + 3i + j the edge axis e_i(box 1) x e_j(box 2); `face` `[n, 6]` the face-axis separations.
    """
    rotabs = jnp.abs(rot)
    sep1 = jnp.abs(pos21) - size1 - jnp.einsum("nij,nj->ni", rotabs, size2)
    sep2 = jnp.abs(pos12) - size2 - jnp.einsum("nij,ni->nj", rotabs, size1)
    face = jnp.concatenate([sep1, sep2], axis=1)
    sep_face = jnp.max(face, axis=1)
    code = jnp.argmax(face, axis=1)
    ax1, ax2 = -rot[:, _EI2, _EJ], rot[:, _EI1, _EJ]
    norm2 = ax1 * ax1 + ax2 * ax2
    ok = norm2 >= pareps
    inv = 1.0 / jnp.sqrt(jnp.where(ok, norm2, 1.0))
    ax1, ax2 = ax1 * inv, ax2 * inv
    radius1 = size1[:, _EI1] * jnp.abs(ax1) + size1[:, _EI2] * jnp.abs(ax2)
    a2_1 = ax1 * rot[:, _EI1, _EJ1] + ax2 * rot[:, _EI2, _EJ1]
    a2_2 = ax1 * rot[:, _EI1, _EJ2] + ax2 * rot[:, _EI2, _EJ2]
    radius2 = size2[:, _EJ1] * jnp.abs(a2_1) + size2[:, _EJ2] * jnp.abs(a2_2)
    sep_edge = jnp.abs(ax1 * pos21[:, _EI1] + ax2 * pos21[:, _EI2]) - radius1 - radius2
    separated = jnp.any(face > septol[:, None], axis=1) | jnp.any(ok & (sep_edge > septol[:, None]), axis=1)
    sep_best = sep_face
    for e in range(9):  # MuJoCo's sequential choice, unrolled
        s = sep_edge[:, e]
        take = ok[:, e] & (s - EDGE_BIAS * jnp.abs(s) > sep_best) & (s > sep_face)
        sep_best = jnp.where(take, s, sep_best)
        code = jnp.where(take, 6 + e, code)
    return separated, code, sep_best, sep_face, face


def _edge_axes(rot, pos21):
    """Unit edge axes `[n, 9, 3]` e_i x e_j in box 1's frame (any orientation; zero for parallel edges)."""
    axis = -rot[:, _EI2, _EJ][..., None] * _EYE[_EI1] + rot[:, _EI1, _EJ][..., None] * _EYE[_EI2]
    norm2 = jnp.sum(axis * axis, axis=-1, keepdims=True)  # 0 for parallel edges: keep sqrt's gradient finite
    return axis / jnp.sqrt(jnp.where(norm2 > MINVAL * MINVAL, norm2, 1.0))


def _edge_contacts(rot, pos21, size1, size2, axis, sgneps):
    """Every edge pair's contact in box 1's frame: `(midpoint [n, 9, 3], dist [n, 9], axis [n, 9, 3])`.

    The axis is oriented from box 1 to box 2; the supporting edges are picked by the signs of its
    components, and where a component is ambiguous (|·| < sgneps) both edges are tried and the
    closer witness pair kept, as MuJoCo does.
    """
    axis = jnp.where((jnp.sum(axis * pos21[:, None], -1) < 0)[..., None], -axis, axis)
    a2 = jnp.einsum("ner,nrk->nek", axis, rot)
    d2 = jnp.swapaxes(rot[:, :, _EJ], 1, 2)  # column j of rot, [n, 9, 3]
    b = jnp.sum(d2 * _EYE[_EI], -1)
    denom = 1 - b * b
    pick = lambda x, idx: jnp.sum(x * _EYE[idx], -1)
    amb1_i1 = jnp.abs(pick(axis, _EI1)) < sgneps
    amb1_i2 = ~amb1_i1 & (jnp.abs(pick(axis, _EI2)) < sgneps)
    amb2_j1 = jnp.abs(pick(a2, _EJ1)) < sgneps
    amb2_j2 = ~amb2_j1 & (jnp.abs(pick(a2, _EJ2)) < sgneps)
    s1_i1 = jnp.where(pick(axis, _EI1) >= 0, 1.0, -1.0)
    s1_i2 = jnp.where(pick(axis, _EI2) >= 0, 1.0, -1.0)
    s2_j1 = jnp.where(pick(a2, _EJ1) >= 0, -1.0, 1.0)
    s2_j2 = jnp.where(pick(a2, _EJ2) >= 0, -1.0, 1.0)
    # The 4 sign variants (flip the ambiguous corner component of box 1 / box 2) on a last axis, in
    # MuJoCo's loop order; a variant is allowed only where that box has an ambiguous component.
    v1, v2 = np.array([1.0, 1.0, -1.0, -1.0]), np.array([1.0, -1.0, 1.0, -1.0])
    flip = lambda amb, v: jnp.where(amb[..., None], v, 1.0)
    c1 = ((flip(amb1_i1, v1) * (s1_i1 * size1[:, _EI1])[..., None])[..., None] * _EYE[_EI1][:, None]
          + (flip(amb1_i2, v1) * (s1_i2 * size1[:, _EI2])[..., None])[..., None] * _EYE[_EI2][:, None])
    cc = ((flip(amb2_j1, v2) * (s2_j1 * size2[:, _EJ1])[..., None])[..., None] * _EYE[_EJ1][:, None]
          + (flip(amb2_j2, v2) * (s2_j2 * size2[:, _EJ2])[..., None])[..., None] * _EYE[_EJ2][:, None])
    c2 = jnp.einsum("nrk,nevk->nevr", rot, cc) + pos21[:, None, None]
    e = c2 - c1  # [n, 9, 4, 3]
    d1e, d2e = jnp.sum(e * _EYE[_EI][:, None], -1), jnp.sum(d2[:, :, None] * e, -1)
    b, denom = b[..., None], denom[..., None]
    half1, half2 = size1[:, _EI, None], size2[:, _EJ, None]
    s = jnp.where(denom < MINVAL, 0.0, (d1e - b * d2e) / jnp.where(denom < MINVAL, 1.0, denom))
    s = jnp.clip(s, -half1, half1)
    t = jnp.clip(b * s - d2e, -half2, half2)
    s = jnp.clip(d1e + b * t, -half1, half1)
    p1 = c1 + s[..., None] * _EYE[_EI][:, None]
    p2 = c2 + t[..., None] * d2[:, :, None]
    gap2 = jnp.sum((p2 - p1) ** 2, -1)
    allowed = (((amb1_i1 | amb1_i2)[..., None] | (v1 > 0)) & ((amb2_j1 | amb2_j2)[..., None] | (v2 > 0)))
    best = jnp.argmin(jnp.where(allowed, gap2, jnp.inf), axis=-1)  # first strict minimum, as MuJoCo's loop
    onehot = (best[..., None] == jnp.arange(4)).astype(p1.dtype)
    w1, w2 = jnp.einsum("nev,nevd->ned", onehot, p1), jnp.einsum("nev,nevd->ned", onehot, p2)
    return 0.5 * (w1 + w2), jnp.sum((w2 - w1) * axis, -1), axis


@jax.jit  # one compiled kernel when called eagerly (e.g. `physics.init`), inlined under an outer jit
def box_box(pos1, rot1, size1, pos2, rot2, size2, margin):
    """Box–box contacts of `n` pairs (world poses, rotation matrices with local axes as columns).

    Returns `(pos [n, 8, 3], normal [n, 8, 3], dist [n, 8], valid [n, 8] bool)`: MuJoCo's contacts in
    the first slots (normal from box 1 to box 2); invalid slots hold finite filler values, masked out by `valid` (`dist` =
    `UNUSED_DIST`).
    """
    dtype = pos1.dtype
    sepeps, pareps, sgneps, dupeps = _EPS[jnp.finfo(dtype).bits // 8]
    pos21 = jnp.einsum("nij,ni->nj", rot1, pos2 - pos1)
    pos12 = jnp.einsum("nij,ni->nj", rot2, pos1 - pos2)
    rot = jnp.einsum("nki,nkj->nij", rot1, rot2)
    septol = margin + sepeps * (jnp.sum(size1, 1) + jnp.sum(size2, 1))
    separated, code, sep_best, sep_face, face = _sat(rot, pos21, pos12, size1, size2, septol, pareps)
    code_face = jnp.argmax(face, axis=1)  # the best face axis (first on ties)

    # Edge axis nearly parallel to the best face normal: the face wins unless the edge is 5 % deeper.
    axes = _edge_axes(rot, pos21)
    edge_onehot = (code[:, None] - 6 == jnp.arange(9)).astype(dtype)
    axis = jnp.einsum("ne,ned->nd", edge_onehot, axes)
    face_dirs = jnp.concatenate([jnp.broadcast_to(jnp.asarray(_EYE, dtype), rot.shape), jnp.swapaxes(rot, 1, 2)], 1)
    face_dir = jnp.einsum("nf,nfd->nd", (code_face[:, None] == jnp.arange(6)).astype(dtype), face_dirs)
    face_dot = jnp.abs(jnp.sum(axis * face_dir, -1))
    alias = (code >= 6) & (face_dot > 0.99) & (sep_best < sep_face + 0.05 * jnp.abs(sep_face) + MINVAL)
    code = jnp.where(alias, code_face, code)
    is_edge = code >= 6

    # Edge contact (slot 0 when an edge axis wins).
    mids, edists, eaxes = _edge_contacts(rot, pos21, size1, size2, axes, sgneps)
    edge_onehot = (code[:, None] - 6 == jnp.arange(9)).astype(dtype)
    emid = jnp.einsum("ne,ned->nd", edge_onehot, mids)
    edist = jnp.einsum("ne,ne->n", edge_onehot, edists)
    eaxis = jnp.einsum("ne,ned->nd", edge_onehot, eaxes)
    epos = jnp.einsum("nij,nj->ni", rot1, emid) + pos1
    enormal = jnp.einsum("nij,nj->ni", rot1, eaxis)

    # Face contact: reference box, face axis a, permutation P (rows a+1, a+2, a).
    ref1 = code < 3
    a = jnp.where(ref1, code, code - 3) % 3
    perm = jnp.asarray(_PERM, dtype)[a]
    sizeref = jnp.where(ref1[:, None], size1, size2)
    sizeinc = jnp.where(ref1[:, None], size2, size1)
    posref = jnp.where(ref1[:, None], pos1, pos2)
    matref = jnp.where(ref1[:, None, None], rot1, rot2)
    posoi = jnp.where(ref1[:, None], pos21, pos12)
    rinc = jnp.where(ref1[:, None, None], rot, jnp.swapaxes(rot, 1, 2))
    posoi_p = jnp.einsum("nij,nj->ni", perm, posoi)
    rinc_p = jnp.einsum("nij,njk->nik", perm, rinc)
    sizeref_p = jnp.einsum("nij,nj->ni", perm, sizeref)
    sgn = jnp.where(posoi_p[:, 2] >= 0, 1.0, -1.0).astype(dtype)
    binc = jnp.argmax(jnp.abs(rinc_p[:, 2]), axis=1)
    qperm = jnp.asarray(_PERM, dtype)[binc]
    rq = jnp.einsum("nrk,nck->nrc", rinc_p, qperm)  # columns: incident axes (binc+1, binc+2, binc)
    sizeinc_q = jnp.einsum("nij,nj->ni", qperm, sizeinc)
    tinc = jnp.where(sgn * rq[:, 2, 2] > 0, -1.0, 1.0)
    cx = posoi_p + (tinc * sizeinc_q[:, 2])[:, None] * rq[:, :, 2]
    du = sizeinc_q[:, 0:1] * rq[:, :, 0]
    dv = sizeinc_q[:, 1:2] * rq[:, :, 1]
    zsign = jnp.asarray([1.0, 1.0, 0.0], dtype) + jnp.asarray([0.0, 0.0, 1.0], dtype) * sgn[:, None]
    cx = cx * zsign - jnp.asarray([0.0, 0.0, 1.0], dtype) * sizeref_p[:, 2:3]
    du, dv = du * zsign, dv * zsign
    corners = (cx[:, None] + _CORNER_SIGN[None, :, 0:1] * du[:, None] + _CORNER_SIGN[None, :, 1:2] * dv[:, None])
    n = pos1.shape[0]
    poly = jnp.concatenate([corners, jnp.zeros((n, POINTS - 4, 3), dtype)], axis=1)
    valid = jnp.broadcast_to(jnp.arange(POINTS) < 4, (n, POINTS))
    for coord, sign in ((0, 1.0), (0, -1.0), (1, 1.0), (1, -1.0)):
        poly, valid = _clip(poly, valid, coord, sign, sizeref_p[:, coord])
    # Accept vertices within the margin, skipping near-duplicates of earlier accepted ones.
    dupe2 = dupeps * (sizeref_p[:, 0] ** 2 + sizeref_p[:, 1] ** 2)
    near = jnp.sum((poly[:, :, None, :2] - poly[:, None, :, :2]) ** 2, -1) < dupe2[:, None, None]  # [n, k, q]
    accepted = []
    for k in range(POINTS):
        ok = valid[:, k] & (poly[:, k, 2] <= margin)
        for q in range(k):
            ok = ok & ~(accepted[q] & near[:, k, q])
        accepted.append(ok)
    poly, fvalid = _compact(poly, jnp.stack(accepted, axis=1), POINTS)
    posc_p = jnp.concatenate([poly[..., :2], (sgn[:, None] * (sizeref_p[:, 2:3] + 0.5 * poly[..., 2]))[..., None]], -1)
    posc = jnp.einsum("nji,nkj->nki", perm, posc_p)
    fpos = jnp.einsum("nij,nkj->nki", matref, posc) + posref[:, None]
    nsign = jnp.where(ref1, sgn, -sgn)
    fnormal = nsign[:, None] * jnp.einsum("nij,nj->ni", matref, perm[:, 2])

    slot0 = (jnp.arange(POINTS) == 0)[None]
    pos = jnp.where(is_edge[:, None, None], jnp.where(slot0[..., None], epos[:, None], fpos), fpos)
    normal = jnp.broadcast_to(jnp.where(is_edge[:, None], enormal, fnormal)[:, None], (n, POINTS, 3))
    dist = jnp.where(is_edge[:, None], jnp.where(slot0, edist[:, None], 0.0), poly[..., 2])
    valid = jnp.where(is_edge[:, None], slot0 & (edist <= septol)[:, None], fvalid) & ~separated[:, None]
    return pos, normal, jnp.where(valid, dist, UNUSED_DIST), valid
