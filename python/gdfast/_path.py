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
    w = np.zeros(obj.n_params)
    if not obj.fit_intercept:
        return w
    d = obj.n_features
    if obj.loss.quadratic:
        s = obj.sample_weight
        y = obj.y if obj.offset is None else obj.y - obj.offset
        w[d] = float(np.mean(y) if s is None else (s @ y) / obj.weight_sum)
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
    """The smallest alpha at which every coefficient of the solution is 0 (see the module notes).

    Parameters
    ----------
    obj : gdfast.Objective
        Its loss, data, l1_ratio and penalty factors are used; its alpha is not.

    Returns
    -------
    float
        inf when ``l1_ratio = 0`` (an L2 penalty never sets a coefficient to 0 exactly).

    Raises
    ------
    ValueError
        When a penalty factor is 0 (the unpenalised features would have to be fitted first;
        not supported yet).
    """
    return _alpha_max(obj, None)


def _alpha_max(obj: Objective, w0: np.ndarray | None) -> float:
    """:func:`alpha_max`, from the intercept-only fit ``w0`` when given (a path has it)."""
    pen = obj.penalty
    if pen.l1_ratio == 0.0:
        return math.inf
    pf = np.ones(obj.n_features) if pen.penalty_factor is None else pen.penalty_factor
    if np.any(pf == 0):
        raise ValueError("penalty_factor: a factor of 0 is not supported by gdfast.path yet "
                         "(alpha_max needs the fit of the unpenalised features)")
    g = obj.gradient(_intercept_only(obj) if w0 is None else w0)[:obj.n_features]
    return float(np.max(np.abs(g) / pf) / pen.l1_ratio) if obj.n_features else 0.0


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
    w: np.ndarray | None = None                    # the intercept-only fit, made once
    if alphas is None:
        n_alphas = check_scalar(n_alphas, "n_alphas", low=1, integer=True)
        eps = check_scalar(eps, "eps", low=0.0, low_inclusive=False, high=1.0)
        w = _intercept_only(obj)
        top = _alpha_max(obj, w)
        if not math.isfinite(top):
            raise ValueError("alphas must be given when l1_ratio = 0 (alpha_max is infinite)")
        grid = top * np.logspace(0.0, math.log10(eps), n_alphas) if top > 0 else np.zeros(1)
    else:
        grid = np.asarray(alphas, dtype=np.float64).ravel()
        if grid.size == 0 or not np.all(np.isfinite(grid)) or np.any(grid < 0):
            raise ValueError("alphas must be a non-empty list of finite numbers >= 0")
        grid = np.sort(grid)[::-1]
        if obj.penalty.l1_ratio > 0 and not (obj.penalty.penalty_factor is not None
                                             and np.any(obj.penalty.penalty_factor == 0)):
            w = _intercept_only(obj)
            top = _alpha_max(obj, w)
    if w is None:
        w = _intercept_only(obj)
    results: list[OptimizeResult] = []
    for a in grid:
        sub = obj.with_alpha(float(a))
        res = minimize(sub, method=method, w0=w, tol=tol, max_iter=max_iter)
        results.append(res)
        w = res.w
    return PathResult(alphas=grid, w=np.array([r.w for r in results]), results=results,
                      alpha_max=top, n_features=obj.n_features)
