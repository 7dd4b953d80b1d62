"""gdfast.path: the solutions of an L1 or elastic-net problem over a grid of alphas, with warm
starts, from alpha_max (the smallest alpha whose solution has every coefficient at 0) down.

alpha_max comes from the fit of the unpenalised part, the intercept alone: at ``coef = 0`` the
L2 part's gradient is 0, so ``coef = 0`` is optimal exactly when ``|g_j| <= alpha l1_ratio f_j``
for every j, g the data term's gradient at ``[0, b*]`` with b* the best intercept; hence
``alpha_max = max_j |g_j| / (l1_ratio f_j)``. b* is the weighted mean of ``y - offset`` for the
squared error (closed form) and a one-dimensional Newton solve otherwise (to the rounding floor).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._objective import Objective
from ._result import OptimizeResult
from ._solvers import minimize
from ._validation import check_scalar

__all__ = ["path", "PathResult", "alpha_max"]


@dataclass(frozen=True)
class PathResult:
    """The solutions along a path of alphas.

    Attributes
    ----------
    alphas : ndarray of shape (n_alphas,)
        Decreasing, in gdfast's convention (:class:`gdfast.Objective`'s ``alpha``).
    w : ndarray of shape (n_alphas, n_params)
        The solution ``[coef..., intercept]`` at each alpha.
    results : list of OptimizeResult
        The solver's result at each alpha.
    alpha_max : float
        The smallest alpha whose solution has every coefficient at 0 (inf when l1_ratio = 0;
        NaN when not computed: given alphas with a penalty factor of 0).
    n_features : int
    """

    alphas: np.ndarray
    w: np.ndarray
    results: list[OptimizeResult]
    alpha_max: float
    n_features: int

    @property
    def coef(self) -> np.ndarray:
        """The coefficients at each alpha, shape (n_alphas, n_features)."""
        return self.w[:, :self.n_features]

    @property
    def n_nonzero(self) -> np.ndarray:
        """Non-zero coefficients at each alpha."""
        return np.asarray(np.count_nonzero(self.coef, axis=1))


def _intercept_only(obj: Objective) -> np.ndarray:
    """``[0..., b*]``, b* the best intercept with every coefficient at 0 (zeros without one)."""
    return best_intercept(obj, np.zeros(obj.n_params))


def best_intercept(obj: Objective, w: np.ndarray) -> np.ndarray:
    """A copy of w whose intercept is the best one for its coefficients (w itself without an
    intercept): in closed form for the squared error, by Newton's method on the intercept
    alone otherwise."""
    w = np.array(w, dtype=np.float64)
    if not obj.fit_intercept:
        return w
    d = obj.n_features
    if obj.loss.quadratic:
        s = obj.sample_weight
        w[d] = 0.0
        # y - offset - X coef (no pass over X when the coefficients are 0)
        r = obj.y - obj.predictions(w) if np.any(w[:d]) else (
            obj.y if obj.offset is None else obj.y - obj.offset)
        w[d] = float(np.mean(r) if s is None else (s @ r) / obj.weight_sum)
        return w
    e = np.zeros(obj.n_params)
    e[d] = 1.0
    cost: float | None = None                      # the cost at w, once known
    for _ in range(100):                           # Newton on the intercept alone
        g = obj.gradient(w)[d]
        h = float(obj.hessp(w, e)[d])
        if not (h > 0 and math.isfinite(h)):
            break
        step = g / h
        t = 1.0
        if cost is None:
            cost = obj.cost(w)
        trial_cost: float | None = None
        while t > 1e-10:
            trial = w.copy()
            trial[d] -= t * step
            try:
                trial_cost = obj.cost(trial)
                if trial_cost <= cost + 1e-15 * abs(cost):
                    break
            except ValueError:                      # an overflow along the step
                pass
            trial_cost = None
            t *= 0.5
        w[d] -= t * step
        cost = trial_cost                           # the accepted trial is the new w
        if abs(t * step) <= 1e-15 * max(1.0, abs(w[d])):
            break
    return w


def alpha_max(obj: Objective) -> float:
    """The smallest alpha at which every penalised coefficient of the solution is 0 (see the
    module notes).

    Features with a penalty factor of 0 are not penalised by the L1 part: at alpha_max they
    (and the intercept) take the fit of the model without the penalised features, whose L2 part
    ``(1 - l1_ratio) alpha`` depends on alpha itself; alpha_max is then the fixed point
    ``alpha = max_j |gradient_j| / (l1_ratio f_j)`` over the penalised j, found by iteration
    (one fit when ``l1_ratio = 1``).

    Parameters
    ----------
    obj : gdfast.Objective
        Its loss, data, l1_ratio and penalty factors are used; its alpha is not.

    Returns
    -------
    float
        inf when ``l1_ratio = 0`` (an L2 penalty never sets a coefficient to 0 exactly); 0
        when no feature is penalised.

    Raises
    ------
    ValueError
        When the fixed point is not reached in 100 fits (the message says how close it got).
    """
    return _alpha_max_and_solution(obj)[0]


def _alpha_max_and_solution(obj: Objective) -> tuple[float, np.ndarray]:
    """alpha_max and the solution there (the penalised coefficients 0): a path starts from it."""
    pen = obj.penalty
    if pen.l1_ratio == 0.0:
        return math.inf, _intercept_only(obj)
    d = obj.n_features
    pf = np.ones(d) if pen.penalty_factor is None else pen.penalty_factor
    penalised = pf > 0
    if not np.any(penalised):
        return 0.0, _intercept_only(obj)

    def at(w: np.ndarray) -> float:
        g = obj.gradient(w)[:d]                    # the L2 part adds 0 where coef is 0
        return float(np.max(np.abs(g[penalised]) / pf[penalised]) / pen.l1_ratio)

    if np.all(penalised):
        w = _intercept_only(obj)
        return at(w), w
    free = np.flatnonzero(~penalised)
    X = obj.X[:, free]
    alpha, previous = 0.0, math.inf
    for _ in range(100):
        sub = Objective(X, obj.y, loss=obj.loss, alpha=(1.0 - pen.l1_ratio) * alpha,
                        fit_intercept=obj.fit_intercept, sample_weight=obj.sample_weight,
                        n_threads=obj.n_threads, offset=obj.offset)
        fit = minimize(sub, tol=1e-12)
        w = np.zeros(obj.n_params)
        w[free] = fit.w[:free.size]
        if obj.fit_intercept:
            w[d] = fit.w[free.size]
        alpha, previous = at(w), alpha
        if pen.l1_ratio == 1.0 or abs(alpha - previous) <= 1e-13 * max(alpha, 1e-300):
            return alpha, w
    raise ValueError(f"penalty_factor: alpha_max with unpenalised features did not reach its "
                     f"fixed point in 100 fits (last two values {previous!r}, {alpha!r})")


def path(obj: Objective, alphas: Any = None, n_alphas: int = 100, eps: float = 1e-3,
         method: str = "auto", tol: float = 1e-8, max_iter: int | None = None) -> PathResult:
    """Solve ``obj`` over a decreasing grid of alphas, each from the previous solution.

    Parameters
    ----------
    obj : gdfast.Objective
        The problem; its ``alpha`` is replaced by each of ``alphas`` in turn (its l1_ratio,
        penalty factors, loss and data are kept).
    alphas : array-like, optional
        The alphas, in gdfast's convention (sorted into decreasing order). None:
        ``n_alphas`` values spaced evenly in log from :func:`alpha_max` down to ``eps *
        alpha_max`` (the first solution is then all zero, exactly).
    n_alphas : int, default 100
    eps : float, default 1e-3
        The smallest alpha of the default grid relative to alpha_max, in (0, 1].
    method, tol, max_iter
        As :func:`gdfast.minimize` (for each alpha).

    Returns
    -------
    PathResult

    Raises
    ------
    ValueError, TypeError
        For bad arguments (naming them), for ``alphas=None`` with ``l1_ratio = 0``, and as
        :func:`alpha_max`.
    """
    if not isinstance(obj, Objective):
        raise TypeError(f"obj must be a gdfast.Objective; got {type(obj).__name__}")
    top = math.nan
    start: np.ndarray | None = None
    if alphas is None:
        n_alphas = check_scalar(n_alphas, "n_alphas", low=1, integer=True)
        eps = check_scalar(eps, "eps", low=0.0, low_inclusive=False, high=1.0)
        top, start = _alpha_max_and_solution(obj)
        if not math.isfinite(top):
            raise ValueError("alphas must be given when l1_ratio = 0 (alpha_max is infinite)")
        grid = top * np.logspace(0.0, math.log10(eps), n_alphas) if top > 0 else np.zeros(1)
    else:
        grid = np.asarray(alphas, dtype=np.float64).ravel()
        if grid.size == 0 or not np.all(np.isfinite(grid)) or np.any(grid < 0):
            raise ValueError("alphas must be a non-empty list of finite numbers >= 0")
        grid = np.sort(grid)[::-1]
        if obj.penalty.l1_ratio > 0:
            top, start = _alpha_max_and_solution(obj)
    w = start if start is not None else _intercept_only(obj)
    results: list[OptimizeResult] = []
    for a in grid:
        sub = obj.with_alpha(float(a))
        res = minimize(sub, method=method, w0=w, tol=tol, max_iter=max_iter)
        results.append(res)
        w = res.w
    return PathResult(alphas=grid, w=np.array([r.w for r in results]), results=results,
                      alpha_max=top, n_features=obj.n_features)
