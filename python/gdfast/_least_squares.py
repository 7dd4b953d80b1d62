"""The squared error solved exactly: what ``method="newton"`` does for a least-squares objective.

The squared-error cost is quadratic, so its minimiser solves the normal equations
``(Xa^T S Xa + lam P) w = Xa^T S y`` (S the sample weights, ``lam = alpha W / 2``, P the identity
on the coefficients). Solved directly and refined until the corrections stop shrinking, the
result is the exact solution of the data as given, correctly rounded or nearly so, on problems
far beyond the reach of a Cholesky solve in double:

- **Well conditioned** (the equilibrated Hessian's condition estimate below ``COND_LIMIT``):
  Cholesky of the Hessian in double, then iterative refinement whose gradient is computed to
  twice the precision of double (compensated residuals and sums, one pass over X each:
  ``Objective.accurate_cost_gradient``). Each correction is smaller than the last by about
  ``cond * eps``; two or three passes reach the floor.
- **Ill conditioned** (or Cholesky fails): the normal equations to twice the precision
  (``Objective.normal_equations``, one pass of ``n * n_params^2`` compensated work), their
  Cholesky factor in double-double arithmetic, and refinement with residuals in double-double,
  all on ``n_params``-square matrices. This reaches full accuracy while ``cond(Xs) < ~1e15``
  (``Xs`` the equilibrated design); NIST's Filip (cond 5e9 after equilibration, 2.7e19 for the
  Hessian) is solved to the last digits of the data as given.

Equilibration scales each column by a power of two near ``1 / sqrt(H_jj)``: exact in binary,
so it changes no digit of the problem. A column whose Cholesky pivot falls below
``(max(n, n_params) eps)^2`` of its diagonal after equilibration (an R-factor pivot below
``max(n, n_params) eps``: numpy's ``lstsq`` rank threshold) is linearly dependent on the columns
before it (the intercept comes first): it gets the coefficient 0, as R's ``lm`` reports NA, and a
:class:`RankDeficientWarning` names it. ``tol`` does not end the solve: a least-squares fit is
refined to the limit of double precision whatever ``tol`` says.
"""
from __future__ import annotations

import math
import warnings
from typing import Callable

import numpy as np
import scipy.linalg
from scipy.linalg import lapack

from . import _dispatch
from ._common import Callback, refuse_unless_finite, start_evaluation
from ._monitor import Monitor, Point
from ._protocols import ObjectiveBase
from ._result import OptimizeResult, RankDeficientWarning

EPS = float(np.finfo(np.float64).eps)
COND_LIMIT = 1e10      # Cholesky in double with compensated refinement below this condition
WELL_CONDITIONED = 1e4  # gram_inverse: the Cholesky inverse in double below this condition
SHRINK = 0.5           # refinement goes on while each correction is at most this times the last

DONE_MESSAGE = ("converged: least squares solved {how} to the limit of double precision ({why})")
LAST_TAKEN = "the last correction, {rel:.1e} of the coefficients, was taken with an error below their rounding"
NOISE = "the corrections stopped shrinking at {rel:.1e} of the coefficients: rounding noise"
NOISY = 1e-12          # noise above this (relative) means digits were lost: a warning says how many


def power_of_two_scales(diag: np.ndarray) -> np.ndarray:
    """Column scales ``2^k`` near ``1 / sqrt(diag)``: an equilibration that is exact in binary."""
    safe = np.where(diag > 0, diag, 1.0)
    scales: np.ndarray = np.ldexp(1.0, -np.round(0.5 * np.log2(safe)).astype(int))
    return scales


def least_squares(obj: ObjectiveBase, w: np.ndarray, max_iter: int,
                  callback: Callback | None) -> OptimizeResult | None:
    """The exact least-squares solve from ``w`` (see the module notes); None when the Hessian
    is too ill-conditioned for Cholesky in double and the objective has no compensated normal
    equations (the caller then runs its damped Newton)."""
    # tol = 0: the solve ends at the rounding floor, not at a relative gradient (so no scale pass)
    monitor = Monitor("newton", obj, w, max_iter, 0.0, callback, scale=1.0)
    # the Hessian is constant: formed once; the cost and gradient at the start come with it (the
    # first step's error is that of the Cholesky factor in double anyway: the compensated passes
    # start with the refinement)
    with start_evaluation():        # the Monitor does not evaluate the start here (scale given)
        cost, g, H = obj.cost_gradient_hessian(w)
        refuse_unless_finite(float(cost), float(np.max(np.abs(g), initial=0.0)))
    scales = power_of_two_scales(np.diag(H))
    cholesky = _cholesky(H * scales[:, None] * scales[None, :])
    if cholesky is not None:
        return _refine_in_double(obj, monitor, w, (cost, g), *cholesky, scales)
    equations = obj.normal_equations()
    if equations is None:
        return None
    return _solve_double_double(obj, monitor, w, equations)


def _cholesky(Hs: np.ndarray) -> tuple[tuple[np.ndarray, bool], float] | None:
    """Cholesky of the equilibrated Hessian and the reciprocal of its condition estimate, when
    the estimate is below COND_LIMIT."""
    try:
        factor = scipy.linalg.cho_factor(Hs, lower=True, check_finite=False)
    except (np.linalg.LinAlgError, ValueError):
        return None
    anorm = float(np.max(np.sum(np.abs(Hs), axis=0))) if Hs.size else 0.0
    rcond, info = lapack.dpocon(factor[0], anorm, uplo="L")
    if info != 0 or not rcond * COND_LIMIT > 1.0:
        return None
    return factor, float(rcond)


def _refine_in_double(obj: ObjectiveBase, monitor: Monitor, w: np.ndarray,
                      first: tuple[float, np.ndarray], factor: tuple[np.ndarray, bool],
                      rcond: float, scales: np.ndarray) -> OptimizeResult:
    """Cholesky in double, refined with compensated gradients (one pass over X each).

    Each refinement step shrinks the error by about ``cond * (relative error of the Hessian in
    double)``; estimated generously as ``1000 eps cond``, it tells when the correction just
    computed is the last that matters (its own error is then below the rounding of w).
    """
    cost, g = first
    contraction = min(0.25, 1000.0 * EPS / rcond)

    def correction(w: np.ndarray, g: np.ndarray) -> np.ndarray:
        p: np.ndarray = -scales * scipy.linalg.cho_solve(factor, scales * g, check_finite=False)
        return p

    def evaluate(w: np.ndarray) -> tuple[float, np.ndarray]:
        # an objective without compensated passes is refined with its own gradient: to the
        # noise floor of that gradient (where the corrections stop halving)
        accurate = obj.accurate_cost_gradient(w)
        return obj.cost_gradient(w) if accurate is None else accurate

    return _refine(obj, monitor, w, cost, g, scales, correction, evaluate,
                   "by Cholesky with compensated refinement", contraction)


class _Factored:
    """The normal equations ``(Xa^T S Xa + lam P) w = Xa^T S y`` as hi + lo, equilibrated by
    powers of two, reordered with the intercept first (so that a constant column, not the
    intercept, is the dependent one) and factored in double-double arithmetic.

    ``A``, ``b``, ``L`` are in the factor's coordinates: ``x = (w / scales)[order]``.
    """

    def __init__(self, obj: ObjectiveBase, equations: tuple[np.ndarray, np.ndarray]) -> None:
        Mhi, Mlo = equations
        D = obj.n_params
        Ahi, Alo = Mhi[:D, :D].copy(), Mlo[:D, :D].copy()
        self.lam = 0.5 * obj.alpha * obj.weight_sum
        if self.lam > 0:
            k = np.arange(obj.n_features)
            Ahi[k, k], Alo[k, k] = _add(Ahi[k, k], Alo[k, k], self.lam)
        self.scales = power_of_two_scales(Ahi.diagonal().copy())
        self.order = np.r_[D - 1, np.arange(D - 1)] if D > obj.n_features else np.arange(D)
        self.inverse = np.argsort(self.order)
        self.so = self.scales[self.order]
        S2 = self.so[:, None] * self.so[None, :]
        ix = np.ix_(self.order, self.order)
        self.Ahi, self.Alo = Ahi[ix] * S2, Alo[ix] * S2
        self.bhi, self.blo = Mhi[:D, D][self.order] * self.so, Mlo[:D, D][self.order] * self.so
        floor = (max(obj.n_samples, D) * EPS) ** 2
        self.Lhi, self.Llo, self.dependent = _dispatch.accurate.dd_cholesky(self.Ahi, self.Alo, floor)


def _solve_double_double(obj: ObjectiveBase, monitor: Monitor, w: np.ndarray,
                         equations: tuple[np.ndarray, np.ndarray]) -> OptimizeResult:
    """The normal equations, their factor and the refinement in double-double arithmetic."""
    acc = _dispatch.accurate
    F = _Factored(obj, equations)
    D = obj.n_params
    Ahi, Alo, bhi, blo, Lhi, Llo = F.Ahi, F.Alo, F.bhi, F.blo, F.Lhi, F.Llo
    scales, order, inverse, so, dependent, lam = F.scales, F.order, F.inverse, F.so, F.dependent, F.lam
    if dependent.any():
        _warn_dependent(obj, order[dependent])
    residual: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def evaluate(w: np.ndarray) -> tuple[float, np.ndarray]:
        sums = obj.residual_sums(w)
        if sums is not None:
            # from the data, kept as hi + lo (the factor in double-double resolves what a
            # gradient rounded to double would blur): b - A w = G - lam P w
            Ghi, Glo, rss = sums
            Ghi, Glo = Ghi.copy(), Glo.copy()
            if lam > 0:
                k = np.arange(obj.n_features)
                Ghi[k], Glo[k] = _add(Ghi[k], Glo[k], -lam * w[k])
            residual["r"] = ((Ghi * scales)[order], (Glo * scales)[order])
            g = (-2.0 / obj.weight_sum) * (Ghi + Glo)        # the cost's gradient, -2 r / W
            return rss / obj.weight_sum + obj.penalty.value(w, obj.n_features), g
        x = (w / scales)[order]
        x[dependent] = 0.0
        rhi, rlo = acc.dd_residual(Ahi, Alo, bhi, blo, x)
        residual["r"] = (rhi, rlo)
        g = (-2.0 / obj.weight_sum) * ((rhi + rlo) / so)[inverse]
        return obj.cost(w), g

    def correction(w: np.ndarray, g: np.ndarray) -> np.ndarray:
        dhi, dlo = acc.dd_solve(Lhi, Llo, dependent, *residual["r"])
        step: np.ndarray = ((dhi + dlo) * so)[inverse]
        return step

    start = w.copy()
    start[order[dependent]] = 0.0
    cost, g = evaluate(start)
    return _refine(obj, monitor, start, cost, g, scales, correction, evaluate,
                   "in double-double arithmetic", 0.25)


def _refine(obj: ObjectiveBase, monitor: Monitor, w: np.ndarray, cost: float, g: np.ndarray,
            scales: np.ndarray, correction: Callable[[np.ndarray, np.ndarray], np.ndarray],
            evaluate: Callable[[np.ndarray], tuple[float, np.ndarray]], how: str,
            contraction: float) -> OptimizeResult:
    """Newton steps on the quadratic cost (step 1, no line search) until the correction, in
    equilibrated units, no longer halves (rounding noise), or is one whose own error (about
    ``contraction`` times its size) is below the rounding of w: it is taken, and the solve ends."""
    last = math.inf
    for it in range(monitor.max_iter + 1):
        if monitor.observe(it, w, cost, g):
            break
        p = correction(w, g)
        size = float(np.max(np.abs(p / scales), initial=0.0))
        if not size <= SHRINK * last:            # rounding noise: w is as good as it gets
            _done(monitor, how, NOISE, last, w, scales)
            break
        if size * contraction <= EPS * _magnitude(w, scales):
            # a correction in the last bits: take it; the cost and gradient at w + p differ from
            # those at w by less than their rounding
            w = w + p
            monitor.stepped(1.0)
            # the cost at w + p without a pass: exact for a quadratic, cost + g.p + p.H.p / 2 with
            # H p = -g (the correction may still be 1e-4 of w after a far start: the change in
            # the cost is then well above its rounding)
            cost = cost + 0.5 * float(g @ p)
            _done(monitor, how, LAST_TAKEN, size, w, scales, Point(w, cost, monitor.last.grad_norm))
            break
        w = w + p
        monitor.stepped(1.0)
        last = size
        cost, g = evaluate(w)
    return monitor.result()


def _add(hi: np.ndarray, lo: np.ndarray, v: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(hi + lo) + v`` renormalised to hi + lo (Knuth's two-sum, elementwise)."""
    s = hi + v
    bb = s - hi
    e = (hi - (s - bb)) + (v - bb)
    return s, e + lo


def _magnitude(w: np.ndarray, scales: np.ndarray) -> float:
    return float(np.max(np.abs(w / scales), initial=0.0))


def _done(monitor: Monitor, how: str, why: str, size: float, w: np.ndarray, scales: np.ndarray,
          point: Point | None = None) -> None:
    rel = size / max(_magnitude(w, scales), float(np.finfo(np.float64).tiny))
    if why is NOISE and rel > NOISY:
        digits = max(0.0, -math.log10(rel))
        warnings.warn(f"least squares: the design is too ill-conditioned for the solve to reach "
                      f"the last digits (its corrections stopped shrinking at {rel:.1e} of the "
                      f"coefficients): about {digits:.0f} significant digits are correct. Scale or "
                      "centre the columns (e.g. orthogonal polynomials instead of raw powers)",
                      RuntimeWarning, stacklevel=5)
    monitor.end(point, "converged",
                DONE_MESSAGE.format(how=how, why=why.format(rel=rel if math.isfinite(rel) else 0.0)))


def _warn_dependent(obj: ObjectiveBase, params: np.ndarray) -> None:
    names = ["intercept" if j == obj.n_features else f"coef[{j}]" for j in sorted(params)]
    one = len(names) == 1
    warnings.warn(
        f"X has linearly dependent columns: {', '.join(names)} {'is' if one else 'are'} a "
        f"combination of the columns before {'it' if one else 'them'} (to "
        f"{max(obj.n_samples, obj.n_params)} x machine epsilon after equilibration); "
        f"{'its coefficient is' if one else 'their coefficients are'} set to 0, the solution "
        "without them (R's lm reports NA). Drop the redundant columns or use alpha > 0",
        RankDeficientWarning, stacklevel=4)


def gram_inverse(obj: ObjectiveBase) -> tuple[np.ndarray, np.ndarray] | None:
    """``inv(Xa^T S Xa + lam P)`` for a least-squares objective, accurate to about
    ``cond * 1e-30`` relative where a Cholesky inverse in double loses ``cond * 1e-16``; with the
    mask of linearly dependent parameters (their rows and columns NaN, the others the inverse
    of the system without them, as R's ``lm`` reports). None when the objective has no
    compensated normal equations.

    Well-conditioned problems (condition estimate of the equilibrated Hessian below 1e4: the
    inverse in double is then good to 12 digits) take the Cholesky inverse in double, with no
    pass over X beyond the Hessian's.
    """
    D = obj.n_params
    H = obj.hessian(np.zeros(D)) * (0.5 * obj.weight_sum)     # Xa^T S Xa + lam P
    scales = power_of_two_scales(np.diag(H).copy())
    cholesky = _cholesky(H * scales[:, None] * scales[None, :])
    if cholesky is not None and cholesky[1] * WELL_CONDITIONED > 1.0:
        inverse = scipy.linalg.cho_solve(cholesky[0], np.eye(D), check_finite=False)
        return inverse * scales[:, None] * scales[None, :], np.zeros(D, dtype=bool)
    equations = obj.normal_equations()
    if equations is None:
        return None
    F = _Factored(obj, equations)
    inverse = np.full((D, D), np.nan)
    zero = np.zeros(D)
    for j in np.flatnonzero(~F.dependent):
        e = np.zeros(D)
        e[j] = 1.0
        hi, lo = _dispatch.accurate.dd_solve(F.Lhi, F.Llo, F.dependent, e, zero)
        column = hi + lo
        column[F.dependent] = np.nan
        inverse[:, j] = column
    inverse = inverse * F.so[:, None] * F.so[None, :]
    back = F.inverse
    return inverse[np.ix_(back, back)], F.dependent[back]
