"""MuJoCo's constraint solve in acceleration space: Newton's method, a fixed number of
iterations, with an exact, branch-free line search.

The solved problem (MuJoCo's "Computation" chapter) is

  qacc = argmin_a  ½ (a − a₀)ᵀ M (a − a₀) + Σ_i s_i(J_i a − aref_i),     a₀ = M⁻¹ qfrc_smooth,

with, per row and `x = J_i a − aref_i`, `D = 1/R`:
  * limits and pyramidal contact rows (one-sided): `s = ½ D x²` for x < 0, else 0;
  * friction-loss rows (floss f): `½ D x²` for |x| < R f, else `f |x| − ½ R f²`.
The constraint force of a row is `−s'(x)`. Each Newton step solves with the Hessian
`M + Jᵀ diag(D·[quadratic]) J`; the cost along the step is a convex piecewise
quadratic, whose minimizer is found exactly from its breakpoints (sorted-free: the
derivative is evaluated at every breakpoint, a fixed-size `[nr, nr]` table).
The start is the better (lower cost) of the previous step's `qacc` and `a₀`, as MuJoCo
warm-starts. Rows with `active = 0` contribute nothing.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl

from engine.physics.constraint import Rows


def _row_terms(rows: Rows, is_friction, x):
    """Per-row cost, derivative s'(x) and curvature (D where quadratic) at residuals `x` `[..., nr]`."""
    D = rows.active / rows.R
    f = rows.floss
    rf = rows.R * f
    one_quad = (x < 0) & ~is_friction
    fr_low = is_friction & (x <= -rf)
    fr_high = is_friction & (x >= rf)
    fr_quad = is_friction & ~fr_low & ~fr_high
    quad = (one_quad | fr_quad)
    cost = jnp.where(quad, 0.5 * D * x * x, 0.0)
    cost = cost + jnp.where(fr_low, -0.5 * rf * f - f * x, 0.0) + jnp.where(fr_high, -0.5 * rf * f + f * x, 0.0)
    slope = jnp.where(quad, D * x, 0.0) + jnp.where(fr_low, -f, 0.0) + jnp.where(fr_high, f, 0.0)
    curvature = jnp.where(quad, D, 0.0)
    return cost * rows.active, slope * rows.active, curvature


def total_cost(mass, qfrc_smooth, qacc_smooth, rows: Rows, is_friction, qacc):
    """MuJoCo's cost of `qacc`: the Gauss term plus every row's `s(J a − aref)` (scalar)."""
    x = rows.jac @ qacc - rows.aref
    cost, _, _ = _row_terms(rows, is_friction, x)
    delta = qacc - qacc_smooth
    return 0.5 * delta @ (mass @ delta) + cost.sum()


def _line_search(mass, qfrc_smooth, rows, is_friction, qacc, search):
    """Exact minimizer `α` of the cost along `qacc + α·search`."""
    jar = rows.jac @ qacc - rows.aref
    g = rows.jac @ search
    m_search = mass @ search
    quad = search @ m_search
    lin = search @ (mass @ qacc - qfrc_smooth)
    safe_g = jnp.where(g == 0, 1.0, g)
    rf = rows.R * rows.floss
    # Breakpoints: one-sided rows at x = 0, friction rows at x = ±R f.
    bp = jnp.concatenate([-jar / safe_g, (-rf - jar) / safe_g, (rf - jar) / safe_g])
    valid = jnp.concatenate([(g != 0) & ~is_friction, (g != 0) & is_friction, (g != 0) & is_friction])
    valid = valid & jnp.tile(rows.active > 0, 3) & (bp > 0)
    candidates = jnp.concatenate([jnp.zeros(1, bp.dtype), jnp.where(valid, bp, 0.0)])

    def derivative(alpha):  # alpha [k] -> f'(alpha) [k]
        _, slope, _ = _row_terms(rows, is_friction, jar[None, :] + alpha[:, None] * g[None, :])
        return alpha * quad + lin + slope @ g

    d_cand = derivative(candidates)
    # Largest candidate where the derivative is still <= 0 (0 is always a candidate).
    lower = jnp.max(jnp.where(d_cand <= 0, candidates, 0.0))
    d_lower = derivative(lower[None])[0]
    beyond = jnp.where(candidates > lower, candidates, jnp.inf)
    upper = jnp.min(beyond)
    probe = jnp.where(jnp.isfinite(upper), 0.5 * (lower + upper), lower + 1.0)
    _, _, curv = _row_terms(rows, is_friction, jar + probe * g)
    second = quad + curv @ (g * g)
    return lower - d_lower / jnp.maximum(second, 1e-30)


def solve(mass, qfrc_smooth, qacc_smooth, rows: Rows, is_friction, qacc_warmstart, iterations: int):
    """Newton's method for the constrained acceleration.

    Args:
      mass: `[nv, nv]` joint-space inertia with armature; qfrc_smooth: `[nv]` all forces but
        constraints; qacc_smooth: `[nv]` `M⁻¹ qfrc_smooth`; rows: the constraint rows;
      is_friction: `[nr]` static bool, friction-loss rows; qacc_warmstart: `[nv]`;
      iterations: fixed number of Newton steps (static).

    Returns `(qacc [nv], force [nr])`: the solution and each row's constraint force.
    """
    if rows.jac.shape[0] == 0:
        return qacc_smooth, jnp.zeros((0,), qacc_smooth.dtype)
    is_friction = jnp.asarray(is_friction)
    warm_better = (total_cost(mass, qfrc_smooth, qacc_smooth, rows, is_friction, qacc_warmstart)
                   < total_cost(mass, qfrc_smooth, qacc_smooth, rows, is_friction, qacc_smooth))
    qacc = jnp.where(warm_better, qacc_warmstart, qacc_smooth)
    tiny = (100 * jnp.finfo(qacc.dtype).eps) ** 2

    def newton(qacc, _):
        x = rows.jac @ qacc - rows.aref
        _, slope, curv = _row_terms(rows, is_friction, x)
        grad = mass @ qacc - qfrc_smooth + rows.jac.T @ slope
        hessian = mass + (rows.jac.T * curv) @ rows.jac
        search = -jsl.cho_solve(jsl.cho_factor(hessian, lower=True), grad)
        alpha = _line_search(mass, qfrc_smooth, rows, is_friction, qacc, search)
        # Converged (the gradient is rounding noise): stay, instead of a step of noise.
        converged = jnp.sum(grad * grad) <= tiny * (1.0 + jnp.sum(qfrc_smooth * qfrc_smooth))
        return qacc + jnp.where(converged, 0.0, alpha) * search, None

    qacc, _ = jax.lax.scan(newton, qacc, None, length=iterations)
    _, slope, _ = _row_terms(rows, is_friction, rows.jac @ qacc - rows.aref)
    return qacc, -slope
