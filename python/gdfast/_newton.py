"""Second-order methods: Newton's method ("newton") and Hessian-free Newton-CG ("newton-cg").

Both take the Newton step ``H p = -g`` (exactly by Cholesky, or approximately by preconditioned
conjugate gradients on Hessian-vector products) with a backtracking line search, and keep refining
until the gradient stops shrinking: near the optimum that is the rounding floor of double
precision, the most any method can reach.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.linalg

from ._common import COST_ROUNDING, Callback
from ._least_squares import least_squares
from ._monitor import Monitor
from ._overflow import trial_cost
from ._protocols import ObjectiveBase
from ._result import OptimizeResult
from ._validation import check_scalar

ARMIJO_C1 = 1e-4      # sufficient decrease: cost(w + t p) <= cost + C1 t g.p
MIN_STEP = 1e-10      # a line-search step below this means no decrease is possible
ZONE_GUARD = 1e-9     # in the rounding zone, a full step may not raise the cost by more than this, relatively


def in_rounding_zone(slope: float, magnitude: float) -> bool:
    """True when a step's predicted decrease ``-slope`` is below the rounding error of a cost of
    this magnitude (``Monitor.cost_magnitude``: the cost's, at most the cost's at w = 0).

    The cost is then no judge of the step (its rounding error can be larger still: cancellation
    in ``z = X w`` on ill-conditioned data), but the step is tiny in the metric of the Hessian.
    """
    return -slope <= COST_ROUNDING * magnitude


def _armijo(phi: Any, cost: float, slope: float, magnitude: float | None = None) -> float:
    """A step t for ``w + t p``: backtracking from t = 1 until ``phi(t) <= cost + C1 t slope``.

    In the rounding zone (see in_rounding_zone; ``magnitude`` defaults to ``|cost|``) the full
    step is taken unless it raises the cost grossly (by more than ZONE_GUARD times the
    magnitude, far above any rounding); the caller judges it by the size of the next
    correction. Returns 0.0 when no step of at least MIN_STEP decreases the cost.
    """
    t = 1.0
    magnitude = abs(cost) if magnitude is None else magnitude
    if in_rounding_zone(slope, magnitude):
        if phi(1.0) <= cost + ZONE_GUARD * magnitude:
            return 1.0
        t = 0.5
    while t >= MIN_STEP:
        if phi(t) <= cost + ARMIJO_C1 * t * slope:
            return t
        t *= 0.5
    return 0.0


class Refinement:
    """When to stop refining in the rounding zone.

    There, Newton steps act as iterative refinement: each correction is smaller than the last by
    a factor of about ``cond * eps`` while the computed gradient still carries information.
    Refinement goes on while the correction, measured in equilibrated units
    (``max_j |p_j| sqrt(H_jj)``, free of the columns' units), at least halves; when it no longer
    does, the gradient is rounding noise and the current iterate is as good as double precision
    allows. This reaches the digits a QR or SVD solver reaches on ill-conditioned least
    squares, where the gradient's max-norm alone stops at its noisy floor several digits
    earlier.
    """

    def __init__(self) -> None:
        self.last = math.inf

    def finished(self, p: np.ndarray, hess_diag: np.ndarray) -> bool:
        correction = float(np.max(np.abs(p) * np.sqrt(np.abs(hess_diag))))
        if correction > 0.5 * self.last:
            return True
        self.last = correction
        return False


FLOOR_MESSAGE = ("converged: the corrections stopped shrinking at max|gradient| = {:.3g}, the limit "
                 "of double precision for this problem")


# ---------------------------------------------------------------------------------------------
# Newton: Cholesky of the Hessian
# ---------------------------------------------------------------------------------------------

def newton_direction(H: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Solve ``H p = -g`` by Cholesky; damp H (Levenberg-Marquardt) when it is not positive definite.

    H is first scaled to unit diagonal, ``Hs = D^-1/2 H D^-1/2`` with ``D = diag(H)``: this undoes
    the units of the columns of X (a Hessian of columns in nanometres and kilometres has a
    diagonal spread of 1e24 but a well-scaled Hs), so Cholesky sees only the correlation between
    columns. If Hs is singular or not numerically positive definite (collinear or constant
    columns, alpha = 0), ``mu I`` is added to Hs with mu growing from 1e-12 by factors of 100:
    Marquardt's damping, scaled like the variables. The result is a descent direction.
    """
    d = np.diag(H).copy()
    d[~(d > 0)] = 1.0                             # zero columns: nothing to scale
    s = 1.0 / np.sqrt(d)
    Hs = H * s[:, None] * s[None, :]
    gs = g * s
    mu = 0.0
    while True:
        try:
            c = scipy.linalg.cho_factor(Hs + mu * np.eye(len(g)) if mu else Hs, check_finite=False)
            p = scipy.linalg.cho_solve(c, -gs, check_finite=False)
            if np.all(np.isfinite(p)) and p @ gs < 0:
                return p * s
        except np.linalg.LinAlgError:
            pass
        mu = 1e-12 if mu == 0.0 else mu * 100.0
        if mu > 1e12:
            return -g * s * s                     # a scaled gradient step


def newton(obj: ObjectiveBase, w: np.ndarray, max_iter: int, tol: float,
           callback: Callback | None) -> OptimizeResult:
    """Newton's method: a Cholesky solve per step (see newton_direction) with a line search.

    Each iteration computes the cost, gradient and Hessian in one pass over X (for a quadratic
    loss, the squared error, the Hessian once: it does not depend on w). Stops when
    max|gradient| <= tol * G, or at the rounding floor (see Refinement).
    """
    if obj.loss.quadratic:
        exact = least_squares(obj, w, max_iter, callback)
        if exact is not None:
            return exact
    monitor = Monitor("newton", obj, w, max_iter, tol, callback)
    refinement = Refinement()
    H: np.ndarray | None = None
    for it in range(max_iter + 1):
        if H is not None and obj.loss.quadratic:
            c, g = obj.cost_gradient(w)        # a quadratic cost's Hessian does not change
        else:
            c, g, H = obj.cost_gradient_hessian(w)
        if monitor.observe(it, w, c, g):
            break
        p = newton_direction(H, g)
        if not _newton_step(monitor, refinement, p, g, np.diag(H), c):
            break
        magnitude = monitor.cost_magnitude(c)
        slope = float(p @ g)
        t = _armijo(lambda t: trial_cost(obj, w + t * p), c, slope, magnitude)
        if t == 0.0 and not in_rounding_zone(slope, magnitude):
            # No decrease along the Newton step, yet it promises one: the quadratic model is
            # poor here (far from the optimum, where loss'' vanishes). Step along -g.
            p = -g
            t = _armijo(lambda t: trial_cost(obj, w + t * p), c, float(p @ g), magnitude)
        if t == 0.0:
            monitor.no_decrease(slope, c)      # "converged" at the rounding floor only
            break
        monitor.stepped(t)
        w = w + t * p
    return monitor.result()


def _newton_step(monitor: Monitor, refinement: Refinement, p: np.ndarray, g: np.ndarray,
                 hess_diag: np.ndarray, cost: float) -> bool:
    """False (and the run ends converged) when the step p is refinement that no longer pays."""
    if (in_rounding_zone(float(p @ g), monitor.cost_magnitude(cost))
            and refinement.finished(p, hess_diag)):
        monitor.end(monitor.last, "converged", FLOOR_MESSAGE.format(monitor.last.grad_norm))
        return False
    return True


# ---------------------------------------------------------------------------------------------
# Newton-CG: Hessian-free, with cached predictions
# ---------------------------------------------------------------------------------------------

def _pcg(hessp: Any, g: np.ndarray, inv_diag: np.ndarray, rtol: float, max_iter: int
         ) -> tuple[np.ndarray, int]:
    """Approximately solve ``H d = -g`` by conjugate gradients preconditioned with ``diag(H)``.

    Stops when ``||H d + g|| <= rtol ||g||``, after max_iter products, or on a direction of zero
    or negative curvature (possible only when H is singular: then the last d, or the scaled
    gradient step at the first iteration, is returned, which is still a descent direction).
    Returns (d, number of Hessian-vector products).
    """
    d = np.zeros_like(g)
    r = -g                                        # residual of H d = -g at d = 0
    zr = inv_diag * r
    p = zr.copy()
    rz = float(r @ zr)
    target = rtol * float(np.linalg.norm(g))
    for i in range(max_iter):
        Hp = hessp(p)
        curvature = float(p @ Hp)
        if not curvature > 0:
            return (zr if i == 0 else d), i + 1
        a = rz / curvature
        d += a * p
        r -= a * Hp
        if np.linalg.norm(r) <= target:
            return d, i + 1
        zr = inv_diag * r
        rz_new = float(r @ zr)
        p = zr + (rz_new / rz) * p
        rz = rz_new
    return d, max_iter


def newton_cg(obj: ObjectiveBase, w: np.ndarray, max_iter: int, tol: float,
              callback: Callback | None, *, max_cg_iter: int | None = None) -> OptimizeResult:
    """Truncated Newton: the Newton step from preconditioned CG on Hessian-vector products.

    Per outer iteration on a gdfast.Objective: the gradient (one pass over X, from the cached
    predictions z = Xa w), the Jacobi preconditioner diag(H) (one pass), one pass per CG
    iteration, and zd = Xa d (one pass) for the line search, whose trials cost O(n):
    ``loss(z + t zd)`` with no pass over X. Any other objective is driven through its
    cost_gradient, hessp and cost (gdfast._protocols.ContractPasses). CG stops at the relative
    residual ``min(0.5, sqrt(max|g| / G))`` (inexact early, close to exact near the optimum:
    superlinear convergence).
    """
    D = obj.n_params
    if max_cg_iter is None:
        max_cg_iter = min(max(2 * D, 20), 500)
    max_cg_iter = check_scalar(max_cg_iter, "max_cg_iter", low=1, integer=True)
    passes = obj.newton_cg_passes(w)
    monitor = Monitor("newton-cg", obj, w, max_iter, tol, callback, per_step=("cg_iter",))
    refinement = Refinement()
    for it in range(max_iter + 1):
        c, g = passes.cost_gradient(w)
        if monitor.observe(it, w, c, g):
            break
        diag = passes.preconditioner_diagonal()
        inv_diag = np.where(diag > 0, 1.0 / np.where(diag > 0, diag, 1.0), 1.0)
        scale = monitor.scale
        rtol = min(0.5, math.sqrt(monitor.last.grad_norm / scale)) if scale > 0 else 0.5
        d, k = _pcg(passes.hessp, g, inv_diag, rtol, max_cg_iter)
        monitor.note(cg_iter=k)
        slope = float(d @ g)
        if not slope < 0:                          # CG failed to give descent: use the scaled gradient
            d = -inv_diag * g
            slope = float(d @ g)
        if not _newton_step(monitor, refinement, d, g, diag, c):
            break
        magnitude = monitor.cost_magnitude(c)
        t = _armijo(passes.line(w, d), c, slope, magnitude)
        if t == 0.0 and not in_rounding_zone(slope, magnitude):
            d = -g                                 # as in newton: a poor model, step along -g
            t = _armijo(passes.line(w, d), c, float(d @ g), magnitude)
        if t == 0.0:
            monitor.no_decrease(slope, c)
            break
        monitor.stepped(t)
        w = passes.advance(w, t, d)
    return monitor.result()
