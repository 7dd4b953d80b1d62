"""gdfast.minimize: every way down the cost, with one result type.

Stopping rule (all methods): the run has converged when

    max_j |gradient_j(w)| <= tol * G,    G = max_j |gradient_j(w0)|,

the largest gradient component relative to its value at the start (for a warm start, G is the
larger of that and the gradient at w = 0, so that starting near the optimum does not make tol
unreachable). Multiplying a column of X by a constant (metres to millimetres) rescales the
gradient and G alike, so the rule means the same in any units. Newton's method also stops when
a full step no longer shrinks the gradient: it has then reached the rounding floor of double
precision, the most any method can give.
"""
from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np
import scipy.linalg

from . import _sparse_input
from ._objective import Objective
from ._result import DivergenceWarning, IterationState, OptimizeResult
from ._validation import check_scalar, check_vector

Callback = Callable[[IterationState], Any]

DEFAULT_MAX_ITER = {"gd": 10_000, "newton": 100}
_COST_ROUNDING = 1e3 * np.finfo(np.float64).eps   # relative error of a cost summed over many rows


def _finish(method: str, w: np.ndarray, cost: float, n_iter: int, status: str, message: str,
            history: dict[str, np.ndarray]) -> OptimizeResult:
    return OptimizeResult(w=w, cost=float(cost), n_iter=int(n_iter), converged=status == "converged",
                          status=status, message=message, method=method, history=history)


def _resolve_learning_rate(obj: Objective, learning_rate: Any) -> float:
    if isinstance(learning_rate, str):
        if learning_rate != "auto":
            raise ValueError(f"learning_rate must be a positive number or 'auto'; got {learning_rate!r}")
        return 1.0 / obj.curvature_bound()
    return check_scalar(learning_rate, "learning_rate", low=0.0, low_inclusive=False)


def _gradient_scale(obj: Objective, w: np.ndarray) -> float:
    """G in the stopping rule; 0 only when the gradient is zero at the start and at w = 0."""
    scale = float(np.max(np.abs(obj.gradient(w))))
    if np.any(w != 0):
        scale = max(scale, float(np.max(np.abs(obj.gradient(np.zeros_like(w))))))
    return scale


def _gd(obj: Objective, w: np.ndarray, max_iter: int, tol: float, callback: Callback | None,
        learning_rate: Any = "auto") -> OptimizeResult:
    lr = _resolve_learning_rate(obj, learning_rate)
    kernel = obj._kernel
    history = np.empty(max_iter + 1)
    state = np.array([0.0, _gradient_scale(obj, w), 0.0])   # start cost, G, best cost
    best = w.copy()
    # Without a callback the loop runs in C in chunks of about 1e8 element reads, so that
    # Python can notice Ctrl-C between chunks.
    chunk = 1 if callback is not None else max(1, int(1e8 // (obj.n_samples * obj.n_params)))
    done, code, status = 0, 0, ""
    while done < max_iter + 1 and code == 0:
        steps = min(chunk, max_iter + 1 - done)
        k, code = kernel.gd_run(w, lr, steps, history, done, state, best, tol,
                                done + steps == max_iter + 1, obj.n_threads)
        done += k
        if callback is not None and code == 0:
            info = IterationState(n_iter=done, w=w.copy(), cost=float(history[done - 1]),
                                  grad_norm=float("nan"), extra={"learning_rate": lr})
            if callback(info):
                status = "stopped"
                break
    hist = {"cost": history[:done].copy(), "step": np.full(done, lr)}
    if code == 2:
        cost = history[done - 1]
        warnings.warn(
            f"gradient descent diverged at iteration {done - 1}: the cost went from {state[0]:.6g} "
            f"to {cost:.6g} with learning_rate={lr:.6g}. The step is too large for this data; use "
            f"learning_rate='auto' (about {1.0 / obj.curvature_bound():.3g} here) or a smaller value. "
            "The best finite iterate is returned.",
            DivergenceWarning, stacklevel=3)
        return _finish("gd", best, state[2], done - 1, "diverged",
                       f"diverged: cost rose to {cost:.6g} from {state[0]:.6g}", hist)
    if status == "stopped":
        return _finish("gd", w, obj.cost(w), done, "stopped", "stopped by the callback", hist)
    if code == 1:
        return _finish("gd", w, history[done - 1], done - 1, "converged",
                       f"converged: max|gradient| <= tol * its start ({tol:g})", hist)
    return _finish("gd", w, history[done - 1], done - 1, "max_iter",
                   f"max_iter={max_iter} reached before the gradient fell below tol", hist)


def _newton_direction(H: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Solve H p = -g by Cholesky; damp H (Levenberg-Marquardt) when it is not positive definite."""
    scale = max(float(np.max(np.abs(np.diag(H)))), np.finfo(float).tiny)
    damping = 0.0
    while True:
        try:
            c = scipy.linalg.cho_factor(H + damping * np.eye(len(g)), check_finite=False)
            p = scipy.linalg.cho_solve(c, -g, check_finite=False)
            if np.all(np.isfinite(p)) and p @ g < 0:
                return p
        except np.linalg.LinAlgError:
            pass
        damping = scale * 1e-12 if damping == 0.0 else damping * 100.0
        if damping > scale * 1e12:
            return -g / scale


def _newton(obj: Objective, w: np.ndarray, max_iter: int, tol: float,
            callback: Callback | None) -> OptimizeResult:
    costs, gnorms, steps = [], [], []
    scale = _gradient_scale(obj, w)
    best = None                    # (max|g|, w, cost): the iterate with the smallest gradient
    status, message = "max_iter", f"max_iter={max_iter} reached before the gradient fell below tol"
    for it in range(max_iter + 1):
        c, g, H = obj.cost_gradient_hessian(w)
        gmax = float(np.max(np.abs(g)))
        costs.append(c)
        gnorms.append(gmax)
        if gmax <= tol * scale:
            status, message = "converged", f"converged: max|gradient| <= tol * its start ({tol:g})"
            best = (gmax, w, c)
            break
        if best is not None and steps and steps[-1] == 1.0 and gmax >= best[0]:
            # A full Newton step no longer shrinks the gradient: rounding dominates from here.
            status = "converged"
            message = (f"converged: the gradient stopped shrinking at max|gradient| = {best[0]:.3g}, "
                       "the limit of double precision for this problem")
            break
        if best is None or gmax < best[0]:
            best = (gmax, w, c)
        if it == max_iter:
            break
        if callback is not None and callback(IterationState(it, w.copy(), c, gmax)):
            status, message = "stopped", "stopped by the callback"
            break
        p = _newton_direction(H, g)
        slope = float(p @ g)
        # Near the optimum the predicted decrease -slope/2 falls below the rounding error of the
        # cost, and an Armijo test on costs says nothing: take the full step if the cost does not
        # rise by more than rounding, and let the shrinking gradient judge it.
        slack = _COST_ROUNDING * abs(c) if -slope <= _COST_ROUNDING * abs(c) else 0.0
        t = 1.0
        while True:
            trial = w + t * p
            if obj.cost(trial) <= c + 1e-4 * t * slope + slack:
                break
            slack = 0.0
            t *= 0.5
            if t < 1e-10:
                break
        if t < 1e-10:
            status = "converged"
            message = ("converged: no decrease of the cost is possible in double precision "
                       f"(max|gradient| = {best[0]:.3g})")
            break
        steps.append(t)
        w = trial
    assert best is not None
    hist = {"cost": np.array(costs), "grad_norm": np.array(gnorms), "step": np.array(steps)}
    return _finish("newton", best[1], best[2], len(steps), status, message, hist)


METHODS: dict[str, Callable[..., OptimizeResult]] = {"gd": _gd, "newton": _newton}


def minimize(obj: Objective, method: str = "auto", w0: Any = None, learning_rate: Any = "auto",
             max_iter: int | None = None, tol: float = 1e-8, callback: Callback | None = None,
             **options: Any) -> OptimizeResult:
    """Minimise an Objective's cost over ``w = [coef..., intercept]``.

    Parameters
    ----------
    obj : gdfast.Objective
    method : {"auto", "gd", "newton"}
        "gd": gradient descent ``w <- w - learning_rate * gradient``, run as a loop in C.
        "newton": Newton's method, a Cholesky solve of the Hessian per step with a backtracking
        line search, damped when the Hessian is not positive definite. "auto" picks Newton (for
        sparse X too large for a dense Hessian, "gd").
    w0 : array-like, optional
        Starting point (warm start); zeros by default.
    learning_rate : float or "auto"
        For "gd": the fixed step, or "auto" for ``1 / L`` with L the curvature bound of
        :meth:`Objective.curvature_bound`.
    max_iter : int, optional
        Most iterations; a per-method default when None.
    tol : float
        Stop when ``max|gradient| <= tol * max|gradient at w0|``.
    callback : callable, optional
        Called with an :class:`IterationState` after each iteration; returning True stops the
        run with status "stopped".

    Returns
    -------
    OptimizeResult
    """
    if method == "auto":   # sparse X whose dense Hessian is refused: the Hessian-free method here
        big = getattr(obj, "is_sparse", False) and obj.n_params > _sparse_input.MAX_HESSIAN_PARAMS
        method = "gd" if big else "newton"
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, ['auto', *METHODS]))}; got {method!r}")
    if max_iter is None:
        max_iter = DEFAULT_MAX_ITER[method]
    max_iter = check_scalar(max_iter, "max_iter", low=1, integer=True)
    tol = check_scalar(tol, "tol", low=0.0)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable; got {callback!r}")
    w = np.zeros(obj.n_params) if w0 is None else check_vector(w0, obj.n_params, "w0", "obj.n_params")
    if method == "gd":
        options["learning_rate"] = learning_rate
    return METHODS[method](obj, w, max_iter, tol, callback, **options)
