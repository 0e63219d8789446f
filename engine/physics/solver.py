"""MuJoCo's constraint solve in acceleration space: Newton's method with a fixed number of
iterations and a fixed-length, safeguarded Newton line search. No data-dependent control flow.

The solved problem (MuJoCo's "Computation" chapter) is

  qacc = argmin_a  ½ (a − a₀)ᵀ M (a − a₀) + Σ_i s_i(J_i a − aref_i),     a₀ = M⁻¹ qfrc_smooth,

with, per row and `x = J_i a − aref_i`, `D = 1/R`:
  * limits and pyramidal contact rows (one-sided): `s = ½ D x²` for x < 0, else 0;
  * friction-loss rows (floss f): `½ D x²` for |x| < R f, else `f |x| − ½ R f²`.
The constraint force of a row is `−s'(x)`. Each Newton step solves with the Hessian
`M + Jᵀ diag(D·[quadratic]) J` (`factor_solve`: the tree-sparse or the dense Cholesky).
Along the step the cost is a convex piecewise quadratic; its derivative is piecewise linear
and nondecreasing, so Newton's method on it, kept inside a bracket (bisection when a step
leaves it), lands on the exact minimizer as soon as it reaches the right piece. It runs
`LINE_SEARCH_ITERATIONS` times, O(nr) each.
The start is the better (lower cost) of the previous step's `qacc` and `a₀`, as MuJoCo
warm-starts. Rows with `active = 0` contribute nothing. Friction-loss rows come first
(`n_friction`, static), as `constraint.layout` orders them.
"""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from engine.physics import math as pm
from engine.physics.constraint import Rows

LINE_SEARCH_ITERATIONS = 6


def matvec(a, x):
    """`a @ x` for `a` `[m, n]`, `x` `[n]`, as unrolled multiply-adds over n.

    Batched under `vmap`, XLA on CPU runs these small products 2x faster as fused
    elementwise code than as a batched dot.
    """
    return pm.dot(a, x)


def rmatvec(a, y):
    """`a.T @ y` for `a` `[m, n]`, `y` `[m]` (a reduction over m; see `matvec`)."""
    return jnp.sum(a * y[:, None], axis=0)


def _row_terms(rows: Rows, n_friction: int, x):
    """Per-row slope s'(x) and curvature (D where quadratic, else 0) at residuals `x` `[nr]`."""
    D = rows.active / rows.R
    xs, Ds = x[n_friction:], D[n_friction:]
    quad = xs < 0
    slope = jnp.where(quad, Ds * xs, 0.0)
    curv = jnp.where(quad, Ds, 0.0)
    if n_friction:
        xf, Df = x[:n_friction], D[:n_friction]
        f = rows.floss[:n_friction] * rows.active[:n_friction]
        rf = rows.R[:n_friction] * rows.floss[:n_friction]
        fquad = jnp.abs(xf) < rf
        slope = jnp.concatenate([jnp.where(fquad, Df * xf, jnp.sign(xf) * f), slope])
        curv = jnp.concatenate([jnp.where(fquad, Df, 0.0), curv])
    return slope, curv


def _row_cost(rows: Rows, n_friction: int, x):
    """Σ_i s_i(x_i) (scalar)."""
    D = rows.active / rows.R
    xs = x[n_friction:]
    cost = jnp.sum(jnp.where(xs < 0, 0.5 * D[n_friction:] * xs * xs, 0.0))
    if n_friction:
        xf, Df = x[:n_friction], D[:n_friction]
        f = rows.floss[:n_friction]
        rf = rows.R[:n_friction] * f
        linear = (f * jnp.abs(xf) - 0.5 * rf * f) * rows.active[:n_friction]
        cost = cost + jnp.sum(jnp.where(jnp.abs(xf) < rf, 0.5 * Df * xf * xf, linear))
    return cost


def total_cost(mass, qfrc_smooth, qacc_smooth, rows: Rows, n_friction: int, qacc):
    """MuJoCo's cost of `qacc`: the Gauss term plus every row's `s(J a − aref)` (scalar)."""
    delta = qacc - qacc_smooth
    return 0.5 * delta @ matvec(mass, delta) + _row_cost(rows, n_friction, matvec(rows.jac, qacc) - rows.aref)


def line_search(rows: Rows, n_friction: int, jar, g, quad, lin, iterations: int = LINE_SEARCH_ITERATIONS):
    """Step length `α ≥ 0` minimizing the cost along a descent direction.

    Args: `jar = J a − aref` and `g = J s` `[nr]` at the current point and direction,
    `quad = sᵀ M s`, `lin = sᵀ (M a − qfrc_smooth)` (scalars); `iterations` static.
    The derivative along the line is `quad·α + lin + Σ s'(jar + α g)·g`.
    """

    def derivative(alpha):
        slope, curv = _row_terms(rows, n_friction, jar + alpha * g)
        return alpha * quad + lin + slope @ g, quad + curv @ (g * g)

    lo = jnp.zeros_like(quad)
    hi = jnp.zeros_like(quad)  # meaningful once `bounded` (kept finite so gradients stay finite)
    bounded = jnp.zeros(quad.shape, bool)
    alpha = jnp.ones_like(quad)  # the full Newton step: exact when no row changes state
    for _ in range(iterations):
        d, c = derivative(alpha)
        lo = jnp.where(d < 0, alpha, lo)
        hi = jnp.where(d > 0, alpha, hi)
        bounded = bounded | (d > 0)
        newton = alpha - d / jnp.where(c > 0, c, 1.0)  # c = 0 only for a zero direction (d = 0)
        inside = (newton >= lo) & (~bounded | (newton <= hi))
        alpha = jnp.where(inside, newton, jnp.where(bounded, 0.5 * (lo + hi), 2.0 * alpha))
    return alpha


def solve(mass, qfrc_smooth, qacc_smooth, rows: Rows, n_friction: int, qacc_warmstart, iterations: int,
          factor_solve: Callable):
    """Newton's method for the constrained acceleration.

    Args:
      mass: `[nv, nv]` joint-space inertia with armature; qfrc_smooth: `[nv]` all forces but
        constraints; qacc_smooth: `[nv]` `M⁻¹ qfrc_smooth`; rows: the constraint rows;
      n_friction: static count of friction-loss rows (the first rows); qacc_warmstart: `[nv]`;
      iterations: fixed number of Newton steps (static); factor_solve: `(H [nv, nv], b [nv]) -> H⁻¹ b`
        for symmetric positive-definite H with the Hessian's sparsity.

    Returns `(qacc [nv], force [nr])`: the solution and each row's constraint force.
    """
    if rows.jac.shape[0] == 0:
        return qacc_smooth, jnp.zeros((0,), qacc_smooth.dtype)
    warm_better = (total_cost(mass, qfrc_smooth, qacc_smooth, rows, n_friction, qacc_warmstart)
                   < total_cost(mass, qfrc_smooth, qacc_smooth, rows, n_friction, qacc_smooth))
    qacc = jnp.where(warm_better, qacc_warmstart, qacc_smooth)
    tiny = (100 * jnp.finfo(qacc.dtype).eps) ** 2
    scale = 1.0 + jnp.sum(qfrc_smooth * qfrc_smooth)

    def newton(qacc, _):
        jar = matvec(rows.jac, qacc) - rows.aref
        slope, curv = _row_terms(rows, n_friction, jar)
        residual = matvec(mass, qacc) - qfrc_smooth
        grad = residual + rmatvec(rows.jac, slope)
        hessian = mass + (rows.jac.T * curv) @ rows.jac
        search = -factor_solve(hessian, grad)
        g = matvec(rows.jac, search)
        alpha = line_search(rows, n_friction, jar, g, search @ matvec(mass, search), search @ residual)
        # Converged (the gradient is rounding noise): stay, instead of a step of noise.
        converged = jnp.sum(grad * grad) <= tiny * scale
        step = jnp.where(converged, 0.0, alpha) * search
        # Value: the line-searched step. Derivative: a full Newton step's, which at the solution is
        # the implicit-function derivative of the minimizer (whatever the warm start was);
        # differentiating the line search's bracketing instead amplifies noise over many steps.
        step = jax.lax.stop_gradient(step) + (search - jax.lax.stop_gradient(search))
        return qacc + step, None

    qacc, _ = jax.lax.scan(newton, qacc, None, length=iterations)
    slope, _ = _row_terms(rows, n_friction, matvec(rows.jac, qacc) - rows.aref)
    return qacc, -slope
