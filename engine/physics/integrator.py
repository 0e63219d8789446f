"""Semi-implicit Euler: velocities first (linear solve), then positions.

`qd' = qd + A⁻¹ · h·f` with `A = M + armature + h·D + (soft-constraint terms)`,
then `q' = q ⊕ h·qd'`, where ⊕ is addition for hinge/slide coordinates and
the quaternion exponential for ball/free rotations (angular velocity in the
body frame, as in MuJoCo).
"""
from __future__ import annotations

import functools

import jax.numpy as jnp
import jax.scipy.linalg as jsl
import numpy as np

from engine.physics import math as pm
from engine.physics import model as M


def solve_spd(matrix: jnp.ndarray, rhs: jnp.ndarray) -> jnp.ndarray:
    """Solve `matrix x = rhs` for a symmetric positive-definite `[n, n]` matrix (dense Cholesky).

    Used when contacts couple two branches of a tree (fill-in outside the tree
    pattern); otherwise `solve_tree` is cheaper.
    """
    factor = jsl.cho_factor(matrix, lower=True)
    return jsl.cho_solve(factor, rhs)


def integrate_positions(sys: M.System, q: jnp.ndarray, qd: jnp.ndarray, dt) -> jnp.ndarray:
    """Advance configuration `q` `[nq]` by velocity `qd` `[nv]` over `dt` seconds."""
    tree = sys.tree
    out = q
    for j, jtype in enumerate(tree.jnt_type):
        qa, da = tree.jnt_qadr[j], tree.jnt_dofadr[j]
        if jtype in (M.HINGE, M.SLIDE):
            continue
        if jtype == M.FREE:
            out = out.at[qa:qa + 3].add(dt * qd[da:da + 3])
            qa, da = qa + 3, da + 3
        rotated = pm.quat_mul(q[qa:qa + 4], pm.quat_from_rotvec(dt * qd[da:da + 3]))
        out = out.at[qa:qa + 4].set(pm.quat_normalize(rotated))
    scalar_q = [tree.jnt_qadr[j] for j, t in enumerate(tree.jnt_type) if t in (M.HINGE, M.SLIDE)]
    scalar_d = [tree.jnt_dofadr[j] for j, t in enumerate(tree.jnt_type) if t in (M.HINGE, M.SLIDE)]
    if scalar_q:
        out = out.at[jnp.array(scalar_q)].add(dt * qd[jnp.array(scalar_d)])
    return out


@functools.lru_cache(maxsize=64)
def leaf_elimination_plan(tree: M.Tree):
    """Static plan for `solve_tree`: groups of leaf dofs, eliminated one group per step.

    Dofs none of which is an ancestor of another (the current leaves of the dof
    tree) have a diagonal block in a tree-sparse matrix, so one vectorized step
    eliminates them all without fill-in. The last remaining dofs are all leaves,
    with a diagonal block.

    Returns `(steps, rest)`: per step `(group, kept)` index arrays into the dofs
    remaining before that step; `rest` the original ids of the last dofs.
    """
    anc = M.tree_arrays(tree)["dof_anc"]
    remaining = list(range(tree.nv))
    steps = []
    while True:
        leaves = [k for k in remaining if not any(anc[k, j] for j in remaining if j != k)]
        if len(leaves) == len(remaining):
            break
        group = np.array([remaining.index(k) for k in leaves], np.int32)
        kept_ids = [k for k in remaining if k not in leaves]
        kept = np.array([remaining.index(k) for k in kept_ids], np.int32)
        steps.append((group, kept))
        remaining = kept_ids
    return tuple(steps), np.array(remaining, np.int32)


def solve_tree(matrix: jnp.ndarray, rhs: jnp.ndarray, tree: M.Tree) -> jnp.ndarray:
    """Solve `matrix x = rhs` for an SPD `[nv, nv]` matrix with the sparsity of the dof tree.

    `matrix[i, j]` must vanish unless dof i is an ancestor of dof j or the reverse
    (joint-space inertia plus terms on one kinematic chain each, such as contacts
    with the static world). Leaf groups are eliminated by block LDLᵀ (`L = C D⁻¹`,
    `S = A_R − C D⁻¹ Cᵀ` with `D` diagonal, no fill-in), then back-substitution
    `x_g = D⁻¹ y_g − Lᵀ x_R`: as many vectorized steps as the dof tree is deep.
    Each Schur complement is materialized (`pm.materialize`) so XLA does not
    re-evaluate the elimination chain per element. On CPU this beats batched
    LAPACK Cholesky, whose per-matrix call overhead dominates at these sizes, and
    it needs no LAPACK thread pool (see `engine.batching.lapack_serial_batch`).
    """
    steps, _ = leaf_elimination_plan(tree)
    saved = []
    a, b = matrix, rhs
    for group, kept in steps:
        d = a[group, group]
        c = a[kept][:, group]                      # [|R|, |g|]
        l = c / d
        a = a[kept][:, kept] - pm.sum_axis(l[:, None, :] * c[None, :, :], -1)
        a = pm.materialize(a)
        y = b[group]
        b = b[kept] - pm.sum_axis(l * y, -1)
        saved.append((group, kept, l, d, y))
    x = b / a[np.arange(len(b)), np.arange(len(b))]  # the last dofs are unrelated leaves: diagonal
    for group, kept, l, d, y in reversed(saved):
        xg = y / d - pm.sum_axis(l * x[:, None], 0)
        order = np.argsort(np.concatenate([kept, group]))
        x = jnp.concatenate([x, xg])[order]
    return x
