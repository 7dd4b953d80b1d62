"""Coordinate descent ("cd") for L1 and elastic-net penalties: proximal Newton with coordinate
descent on the quadratic model.

For the losses that are not quadratic, on an objective that offers coordinate passes
(``ObjectiveBase.coordinate_passes``: gdfast's Objective), the Hessian is never formed
(``_proximal_newton``, glmnet's and newGLMNET's scheme): each outer iteration is one gradient
pass over cached predictions z (the cost, the full gradient, and the IRLS weights h_i = s_i
loss''(z_i) with r_i = s_i loss'(z_i)); the KKT check on every feature comes with it. The model

    sum_i r_i zd_i + 1/2 sum_i h_i zd_i^2 + the penalty at w + delta,   zd = Xa delta

is minimised by coordinate descent in C (``_cd.cd_newton_model``, the GIL released) over a
working set: the non-zeros and the features whose |gradient| exceeds their L1 threshold (the
others stay at 0 until a later outer iteration's gradient says otherwise, so the cost grows
with the non-zeros, not with all features). It keeps zd (length n): a coordinate update is
O(n), a column read directly (F-ordered), from a gathered copy of the working columns
(C-ordered) or by its stored entries (CSC, converted once). After |W|/16 sweeps the rest runs
in covariance form over the working set only (its weighted Gram matrix, n |W|^2, a BLAS
product): correlated features need many sweeps, each then O(|W|). The line search on the
true cost along the step costs O(n) per trial, from zd.

Other objectives (the multinomial, Dask), and ``selection="random"``, take the path below,
which forms the Hessian.

Each outer iteration forms, in one pass over X (the existing fused kernels, BLAS syrk over
blocks of rows: no n-by-d temporary), the cost, the gradient g and the Hessian H of the smooth
part at w_k, and minimises the model

    g.(w - w_k) + 1/2 (w - w_k)^T H (w - w_k) + l1 sum_j f_j |w_j|

by coordinate descent (``gdfast._cd.cd_quadratic``: active sets, the GIL released), each update
O(n_params) with no pass over X. For the squared error the model is the cost itself: this is
glmnet's covariance-update coordinate descent, and a second outer iteration only refines the
rounding of the first. For the other losses it is the proximal-Newton method of glmnet and
newGLMNET (the Hessian's weights are the IRLS weights), with a backtracking line search on the
full cost along the model's step (Armijo on the decrease the model predicts, as newGLMNET).

The model's coordinate descent stops when no coordinate moves by more than ``eta`` in gradient
units, eta a tenth of the current stationarity (at least a hundredth of tol * G): loose far from
the optimum, tight near it. For the squared error the Hessian is formed once and eta is that
hundredth from the start (the model is exact). The run stops on the same rule as "proximal": stationarity at most
``tol * max|gradient at 0|``.

Forming H costs ``n * n_params^2`` per outer iteration; for sparse X beyond 5792 parameters it
cannot be formed, and "cd" refers to "proximal". The squared error with more than
GRAM_MAX_PARAMS parameters or fewer rows than parameters takes residual updates instead
(``_cd.cd_squared_error``: glmnet's naive updates, O(n) or a column's stored entries per update,
X read by columns without a copy; sparse X is converted to CSC once).
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from . import _cd
from ._common import Callback
from ._monitor import Monitor
from ._protocols import CoordinatePasses, ObjectiveBase
from ._result import OptimizeResult
from ._validation import check_bool, check_name, check_random_state

#: Armijo's fraction of the predicted decrease, and the most halvings of the step.
_ARMIJO, _MAX_HALVINGS = 1e-2, 40
#: Covariance updates up to this many parameters (the Gram matrix is formed once).
GRAM_MAX_PARAMS = 500
#: Outer iterations in a row at the rounding floor (see cd) that end the run.
_FLAT_ITER = 3
#: Sweeps of the model's coordinate descent per outer iteration, at most.
_MAX_SWEEPS = 100_000
#: Proximal Newton's model: after max(_MIN_RESIDUAL_SWEEPS, |W| / 16) sweeps with residual
#: updates the rest runs in covariance form over the working set W, up to this many entries.
_MIN_RESIDUAL_SWEEPS, _WORKING_GRAM_MAX = 2, 2000
#: ... and when its columns hold at most this many entries (it copies them, in float64).
_WORKING_GRAM_MAX_ENTRIES = 1 << 24


def cd(obj: ObjectiveBase, w: np.ndarray, max_iter: int, tol: float, callback: Callback | None,
       *, positive: bool = False, selection: str = "cyclic", random_state: Any = None
       ) -> OptimizeResult:
    """Proximal Newton with coordinate descent on the model (see the module notes).

    positive: constrain the coefficients to be >= 0 (the intercept is free). selection:
    "cyclic" or "random" (each sweep in a random order, from random_state).
    """
    positive = check_bool(positive, "positive")
    check_name(selection, "selection", ["cyclic", "random"])
    rng = np.random.default_rng(check_random_state(random_state)) if selection == "random" else None
    columns = obj.column_access() if obj.loss.quadratic else None
    if columns is not None and not _gram_pays(obj):
        return _naive(obj, w, max_iter, tol, callback, positive, columns)
    if positive:
        w = w.copy()
        w[:obj.penalty_n_coef] = np.maximum(w[:obj.penalty_n_coef], 0.0)
    coordinate = obj.coordinate_passes(w) if obj.offers_coordinate_passes and rng is None \
        else None
    if coordinate is not None:
        return _proximal_newton(obj, coordinate[0], coordinate[1], w, max_iter, tol, callback,
                                positive)
    if not obj.can_form_hessian:
        raise ValueError(f"method='cd' forms the Hessian ({obj.n_params} parameters), which this "
                         "objective cannot (sparse X with too many parameters); use "
                         "method='proximal'")
    pen, d = obj.penalty, obj.penalty_n_coef
    if positive:
        w = w.copy()
        w[:d] = np.maximum(w[:d], 0.0)
    monitor = Monitor("cd", obj, w, max_iter, tol, callback, per_step=("sweeps",))
    lam = pen.thresholds(d)
    floor = 0.01 * tol * monitor.scale
    quadratic = obj.loss.quadratic      # the Hessian is constant: formed once
    H: np.ndarray | None = obj.constant_hessian() if quadratic else None
    it, flat = 0, 0
    while True:
        if quadratic and H is not None:
            cost, grad = obj.cost_gradient(w)
        else:
            cost, grad, H = obj.cost_gradient_hessian(w)
            H = np.ascontiguousarray(H)
        sub = _subgradient(pen, w, grad, d, positive)
        if monitor.observe(it, w, cost, sub):
            break
        it += 1
        # the model's tolerance: for the squared error the model is the cost, solved to the
        # run's own; otherwise a tenth of the stationarity (inexact Newton)
        eta = floor if quadratic else max(0.1 * float(np.max(np.abs(sub))), floor)
        b = H @ w - grad
        new = w.copy()
        u = H @ new
        sweeps, _, _ = _cd.cd_quadratic(H, b, new, u, lam, d, positive, eta, _MAX_SWEEPS,
                                        rng is not None, rng)
        step = new - w
        if not np.any(step):
            monitor.stepped(0.0, sweeps=sweeps)
            monitor.no_decrease(_slope(sub), cost)
            break
        # the decrease the model predicts from its linear part and the L1 part
        l1_now = pen.l1_value(w, d)
        predicted = float(grad @ step) + pen.l1_value(new, d) - l1_now
        t, flat = _line_search(lambda t: _cost(obj, w + t * step), cost, predicted, sub,
                               monitor, sweeps, flat)
        if t == 0.0:
            break
        w = w + t * step
    return monitor.result()


def _line_search(phi: Callable[[float], float], cost: float, predicted: float,
                 sub: np.ndarray, monitor: Monitor, sweeps: int, flat: int) -> tuple[float, int]:
    """Backtracking along the model's step (Armijo on the decrease ``predicted``); records the
    step. Returns (the step, 0 when the run ends; the count of flat steps in a row)."""
    t, accepted, trial_cost = 1.0, False, math.inf
    for _ in range(_MAX_HALVINGS):
        trial_cost = phi(t)
        if trial_cost <= cost + _ARMIJO * t * predicted or \
                (-predicted * t <= monitor.rounding(cost) and trial_cost <= cost
                 + monitor.rounding(cost)):
            accepted = True
            break
        t *= 0.5
    monitor.stepped(t if accepted else 0.0, sweeps=sweeps)
    if not accepted:
        monitor.no_decrease(predicted, cost)
        return 0.0, flat
    # at the rounding floor: steps that neither lower the cost beyond its rounding error
    # nor the smallest stationarity seen, a few in a row
    flat = flat + 1 if (trial_cost >= cost - monitor.rounding(cost)
                        and not monitor.improved) else 0
    if flat >= _FLAT_ITER:
        monitor.no_decrease(_slope(sub), cost)
        return 0.0, flat
    return t, flat


def _proximal_newton(obj: ObjectiveBase, X: Any, passes: CoordinatePasses, w: np.ndarray,
                     max_iter: int, tol: float, callback: Callback | None, positive: bool
                     ) -> OptimizeResult:
    """Proximal Newton without the Hessian (glmnet's and newGLMNET's scheme, see the module
    notes): per outer iteration one gradient pass over cached predictions gives the cost, the
    full gradient (the KKT check on every feature) and the IRLS weights; the model is minimised
    by ``_cd.cd_newton_model`` over the working set, then a line search on the true cost along
    the step costs O(n) per trial (the step's predictions come from the coordinate descent)."""
    pen, d, D = obj.penalty, obj.penalty_n_coef, obj.n_params
    monitor = Monitor("cd", obj, w, max_iter, tol, callback, per_step=("sweeps", "working"))
    lam = pen.thresholds(d)
    l2 = pen.hessian_diagonal(D, d)
    floor = 0.01 * tol * monitor.scale
    zd = np.empty(obj.n_samples)
    tail = np.arange(d, D, dtype=np.intp)               # the intercept: always worked on
    it, flat = 0, 0
    while True:
        cost, grad = passes.cost_gradient(w)
        sub = _subgradient(pen, w, grad, d, positive)
        if monitor.observe(it, w, cost, sub):
            break
        it += 1
        eta = max(0.1 * float(np.max(np.abs(sub))), floor)
        r, h = passes.weights()
        working = np.concatenate([_working_set(w[:d], grad[:d], lam, positive), tail])
        new = w.copy()
        zd[:] = 0.0
        gram = len(working) <= _WORKING_GRAM_MAX and \
            len(working) * obj.n_samples <= _WORKING_GRAM_MAX_ENTRIES
        first = max(_MIN_RESIDUAL_SWEEPS, len(working) // 16) if gram else _MAX_SWEEPS
        sweeps, _, done = _cd.cd_newton_model(X, r, h, new, zd, l2, lam, working, positive,
                                              eta, first)
        if not done:
            sweeps += _working_gram_sweeps(X, r, h, new, zd, l2, lam, working, d, positive,
                                           eta)
        step = new - w
        if not np.any(step):
            monitor.stepped(0.0, sweeps=sweeps, working=len(working))
            monitor.no_decrease(_slope(sub), cost)
            break
        predicted = float(grad @ step) + pen.l1_value(new, d) - pen.l1_value(w, d)
        monitor.note(working=len(working))
        t, flat = _line_search(passes.line_along(w, step, zd), cost, predicted, sub, monitor,
                               sweeps, flat)
        if t == 0.0:
            break
        w = passes.advance(w, t, step)
    return monitor.result()


def _working_gram_sweeps(X: Any, r: np.ndarray, h: np.ndarray, new: np.ndarray,
                         zd: np.ndarray, l2: np.ndarray, lam: np.ndarray, working: np.ndarray,
                         d: int, positive: bool, eta: float) -> int:
    """The rest of the model's coordinate descent in covariance form over the working set:
    its weighted Gram matrix ``Xw^T diag(h) Xw`` (one BLAS product over the working columns,
    n |W|^2, never the full Hessian) makes each further update O(|W|) instead of O(n), which
    pays once the sweeps outnumber about |W| / 16 (correlated features need many). ``new``
    and ``zd`` are continued in place; returns the sweeps made."""
    feats = working[working < d]
    if isinstance(X, tuple):
        data, indices, indptr, n = X
        import scipy.sparse as sp
        cols = sp.csc_matrix((data, indices, indptr), shape=(n, d))[:, feats]
        Xw = cols.astype(np.float64).toarray()
    else:
        Xw = np.asarray(X[:, feats], dtype=np.float64)
    intercept = len(feats) < len(working)
    if intercept:
        Xw = np.column_stack([Xw, np.ones(len(r))])
    # the data part of the model (h may have negative entries for a non-canonical link: no
    # square root of it)
    Q = Xw.T @ (Xw * h[:, None])
    q = r + h * zd                                       # the model's pull at the point reached
    v0 = new[working].copy()
    b = Q @ v0 - Xw.T @ q
    Q[np.diag_indices_from(Q)] += l2[working]
    v = v0.copy()
    sweeps, _, _ = _cd.cd_quadratic(Q, b, v, Q @ v, np.ascontiguousarray(lam[feats]),
                                    len(feats), positive, eta, _MAX_SWEEPS)
    new[working] = v
    zd += Xw @ (v - v0)
    return int(sweeps)


def _working_set(coef: np.ndarray, grad: np.ndarray, lam: np.ndarray, positive: bool
                 ) -> np.ndarray:
    """The coordinates the model's coordinate descent works on: the non-zeros and the zeros that
    violate their KKT condition at the current point (|gradient| above the threshold; with
    ``positive``, a pull towards positive values only). The others stay at 0 this outer
    iteration; the next one's full gradient checks them again, so none is left out at the
    end. From a warm start on a path this is the sequential strong rule's set at its tightest
    (the previous alpha's solution in place of the rule's estimate)."""
    pull = -grad if positive else np.abs(grad)
    return np.flatnonzero((coef != 0.0) | (pull > lam)).astype(np.intp)


def _slope(sub: np.ndarray) -> float:
    """The slope a step along minus the min-norm subgradient promises: what ``no_decrease``
    weighs against the cost's rounding error to tell the rounding floor ("converged") from a
    stall."""
    return -float(sub @ sub)


def _gram_pays(obj: ObjectiveBase) -> bool:
    """Covariance updates (the Gram matrix, formed once) when it is small and there are more
    rows than parameters, as glmnet chooses; otherwise residual updates."""
    return (obj.can_form_hessian and obj.n_params <= GRAM_MAX_PARAMS
            and obj.n_samples >= obj.n_params)


def _naive(obj: ObjectiveBase, w: np.ndarray, max_iter: int, tol: float,
           callback: Callback | None, positive: bool,
           columns: tuple[Any, np.ndarray, Callable[[np.ndarray], np.ndarray]]) -> OptimizeResult:
    """The squared error by coordinate descent with residual updates (``_cd.cd_squared_error``):
    each outer iteration recomputes the residuals from w (one pass, so that the rounding of
    the running updates does not build up), runs the sweeps to the tolerance, and checks the
    stopping rule on a fresh gradient."""
    X, s, residuals = columns
    pen, d = obj.penalty, obj.penalty_n_coef
    if positive:
        w = w.copy()
        w[:d] = np.maximum(w[:d], 0.0)
    monitor = Monitor("cd", obj, w, max_iter, tol, callback, per_step=("sweeps",))
    diag = obj.gram_diagonal()
    assert diag is not None
    q0 = 2.0 * diag[:d]
    lam = pen.thresholds(d)
    floor = 0.01 * tol * monitor.scale
    it, flat = 0, 0
    while True:
        cost, grad = obj.cost_gradient(w)
        sub = _subgradient(pen, w, grad, d, positive)
        if monitor.observe(it, w, cost, sub):
            break
        if it > 0 and not monitor.improved:
            flat += 1
            if flat >= _FLAT_ITER:
                monitor.no_decrease(_slope(sub), cost)
                break
        it += 1
        r = residuals(w)
        new = w.copy()
        sweeps, _, _ = _cd.cd_squared_error(X, s, r, new, q0, lam, pen.l2, positive,
                                            obj.fit_intercept, floor, _MAX_SWEEPS)
        monitor.stepped(1.0, sweeps=sweeps)
        w = new
    return monitor.result()


def _cost(obj: ObjectiveBase, w: np.ndarray) -> float:
    g = np.empty(obj.n_params)
    c = obj.cost_grad_into(w, g)
    return c if math.isfinite(c) else math.inf


def _subgradient(pen: Any, w: np.ndarray, grad: np.ndarray, d: int, positive: bool) -> np.ndarray:
    """The element of the subdifferential nearest 0 (see ``ElasticNet.min_norm_subgradient``).
    With ``positive``, at a coefficient at 0 the normal cone of the constraint ``w_j >= 0``,
    ``(-inf, 0]``, is added: a pull towards negative values is then no violation."""
    sub: np.ndarray = pen.min_norm_subgradient(w, grad, d)
    if positive:
        at_zero = w[:d] == 0.0
        coef_sub = sub[:d]
        coef_sub[at_zero] = np.minimum(coef_sub[at_zero], 0.0)
    return sub
