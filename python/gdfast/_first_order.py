"""Full-batch first-order methods: gradient descent ("gd") and Nesterov's accelerated gradient.

Both loops run in C without the GIL (``gdfast._core.descent_run``), one fused pass over X per
iteration (a rejected backtracking trial costs one more). Python drives the loop in chunks (see
_ELEMENTS_PER_CHUNK), or one iteration at a time when there is a callback.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from . import _core
from ._common import (STOPPED_MESSAGE, Callback, converged_message, max_iter_message,
                      stalled_message)
from ._monitor import Monitor
from ._overflow import OverflowInputError
from ._protocols import ObjectiveBase
from ._result import OptimizeResult
from ._validation import check_scalar

# The C loop runs in chunks of about this many element reads (a fraction of a second), and at most
# this many iterations, between which Python checks for Ctrl-C and for separable classes.
_ELEMENTS_PER_CHUNK = 1e8
_MAX_CHUNK_ITER = 1000


def auto_step(obj: ObjectiveBase) -> float:
    """``1 / L``, the step of ``learning_rate="auto"``. L = 0 only when Xa = 0 and alpha = 0:
    the gradient is then zero everywhere and any step is exact, so 1. L is infinite when the
    loss has no curvature bound (an exponential mean): then 0, and the callers fall back (see
    resolve_learning_rate)."""
    L = obj.curvature_bound()
    return 1.0 / L if L > 0 else 1.0


def no_bound_message(obj: ObjectiveBase, method: str) -> str:
    return (f"learning_rate='auto' needs a bound on the curvature, and loss={obj.loss.name!r} has "
            f"none (its second derivative grows without bound); give {method} a float "
            "learning_rate, or use method='gd' (whose 'auto' is then a backtracking line search) "
            "or a Newton method")


def resolve_learning_rate(obj: ObjectiveBase, learning_rate: Any, allowed: tuple[str, ...] = ("auto",),
                          method: str = "this method") -> float | str:
    """A positive float, or one of the ``allowed`` strings ("auto" becomes ``1 / L``; when the
    loss has no curvature bound, "backtracking" if allowed, else a ValueError)."""
    if isinstance(learning_rate, str):
        if learning_rate not in allowed:
            raise ValueError(f"learning_rate must be a positive number or one of "
                             f"{', '.join(map(repr, allowed))}; got {learning_rate!r}")
        if learning_rate == "auto" and obj.loss.curvature is None:
            if "backtracking" in allowed:
                return "backtracking"
            raise ValueError(no_bound_message(obj, method))
        return auto_step(obj) if learning_rate == "auto" else learning_rate
    return check_scalar(learning_rate, "learning_rate", low=0.0, low_inclusive=False)


def _first_step(obj: ObjectiveBase, w: np.ndarray | None = None) -> float:
    """A first trial step for backtracking that is at most 1/L, from one pass over X.

    The trace of the curvature bound's matrix, ``c * sum_j mean(Xa_j^2) + alpha * d``, is at
    least its largest eigenvalue, so its inverse never overshoots; the step then grows by 1.25
    per accepted iteration up to what the line search allows. Without a curvature bound c (a
    loss whose curvature is unbounded) the trace of the Hessian at the start stands in for it;
    without a cheap diagonal, 1/L from the power iteration.
    """
    diag = obj.gram_diagonal()
    if diag is None:                               # no compiled pass for the trace
        return auto_step(obj) if obj.loss.curvature is not None else 1.0
    if obj.loss.curvature is None:
        at = np.zeros(obj.n_params) if w is None else w
        try:
            trace = float(np.trace(obj.hessian(at))) if obj.can_form_hessian else 0.0
        except OverflowInputError as e:       # the Hessian at the start overflows
            raise e.renamed("w0") from None
    else:
        trace = obj.loss.curvature * float(diag.sum()) + obj.penalty.curvature * obj.n_features
    return 1.0 / trace if trace > 0 else 1.0


def _descent(method: str, mode: int, obj: ObjectiveBase, w: np.ndarray, lr: float, max_iter: int,
             tol: float, callback: Callback | None, what: str, advice: Callable[[], str]
             ) -> OptimizeResult:
    """Run descent_run to the end and turn its outcome into a result.

    ``what`` names the step for messages; ``advice()`` says what to do if the run diverges.
    """
    D = obj.n_params
    monitor = Monitor(method, obj, w, max_iter, tol, callback)
    n_eval = max_iter + 1                         # the start and one evaluation per step
    # histories grow as the run goes, so that a huge max_iter costs no memory up front
    costs, gnorms, steps = (np.empty(min(n_eval, 1024)) for _ in range(3))
    run_state = np.array([0.0, monitor.scale, 0.0, 0.0, 0.0])
    best = w.copy()
    aux = np.zeros(4 * D)                         # gradient and scratch vectors, kept across calls
    separation = monitor.separation
    chunk = 1 if callback is not None else \
        max(1, min(_MAX_CHUNK_ITER, int(_ELEMENTS_PER_CHUNK // (obj.n_samples * D))))
    done, code = 0, 0

    def history(extra_cost: float | None = None) -> dict[str, np.ndarray]:
        h = {"cost": costs[:done], "grad_norm": gnorms[:done], "step": steps[:done]}
        if extra_cost is not None:                # the current point, evaluated but not recorded
            h = {"cost": np.append(costs[:done], extra_cost),
                 "grad_norm": np.append(gnorms[:done], np.max(np.abs(aux[:D]))),
                 "step": np.append(steps[:done], 0.0)}
        return h

    while done < n_eval:
        n_steps = min(chunk, n_eval - done)
        if done + n_steps > len(costs):
            size = min(n_eval, max(done + n_steps, 2 * len(costs)))
            costs, gnorms, steps = (np.concatenate([a[:done], np.empty(size - done)])
                                    for a in (costs, gnorms, steps))
        k, code = obj.descent_run(mode, w, aux, lr, n_steps, costs, gnorms, steps, done,
                                  run_state, best, tol, done + n_steps == n_eval)
        done += k
        if code != 0 or done == n_eval:
            break
        # w has taken its step and been evaluated (cost in run_state[4]) but not yet recorded
        if separation(w, run_state[4]):
            return monitor.separated(w, run_state[4], done, history(run_state[4]))
        if monitor.stop_requested(done, w, run_state[4], np.max(np.abs(aux[:D])),
                                  step=steps[done - 1]):
            return monitor.finish(w, run_state[4], done, "stopped", STOPPED_MESSAGE,
                                  history(run_state[4]))

    n_iter = done - 1
    if code == 2:
        return monitor.diverged(best, run_state[2], n_iter, run_state[0], costs[n_iter], what,
                                advice(), history())
    cost = costs[n_iter]
    if separation.separates(w):
        return monitor.separated(w, cost, n_iter, history())
    if code == 1:
        return monitor.finish(w, cost, n_iter, "converged", converged_message(tol), history())
    if code == 3:
        # the last accepted step's predicted decrease: rounding (converged) or not (stalled)
        slope = -run_state[3] * float(aux[:D] @ aux[:D])
        if -slope <= monitor.floor(cost):
            return monitor.finish(w, cost, n_iter, "converged",
                                  "converged: no step along the gradient lowers the cost in double "
                                  f"precision (max|gradient| = {gnorms[n_iter]:.3g})", history())
        return monitor.finish(w, cost, n_iter, "stalled",
                              stalled_message(gnorms[n_iter], slope, monitor.floor(cost)),
                              history())
    return monitor.finish(w, cost, n_iter, "max_iter", max_iter_message(max_iter), history())


def gd(obj: ObjectiveBase, w: np.ndarray, max_iter: int, tol: float, callback: Callback | None, *,
       learning_rate: Any = "auto") -> OptimizeResult:
    """Gradient descent ``w <- w - step * gradient``.

    learning_rate: a fixed step; "auto" for ``1 / L`` with L from :meth:`Objective.curvature_bound`
    (never diverges, cost non-increasing; for a loss without a curvature bound, such as
    one with an exponential mean, "auto" is "backtracking"); or "backtracking" for an Armijo line search
    (``cost(w - t g) <= cost(w) - t/2 |g|^2``, the trial step growing by 1.25 per iteration and
    halving on rejection), which adapts to the local curvature.
    """
    lr = resolve_learning_rate(obj, learning_rate, ("auto", "backtracking"))
    if lr == "backtracking":
        return _descent("gd", _core.DESCENT_BACKTRACKING, obj, w, _first_step(obj, w), max_iter, tol,
                        callback, "learning_rate='backtracking'",
                        lambda: "A line search should not diverge; please report this data.")
    return _descent("gd", _core.DESCENT_FIXED, obj, w, float(lr), max_iter, tol, callback,
                    f"learning_rate={lr:.6g}",
                    lambda: "The step is too large for this data; use learning_rate='auto' ("
                            + (f"about {auto_step(obj):.3g} here" if obj.loss.curvature is not None
                               else "a backtracking line search for this loss")
                            + "), 'backtracking', or a smaller value.")


def nesterov(obj: ObjectiveBase, w: np.ndarray, max_iter: int, tol: float, callback: Callback | None,
             *, learning_rate: Any = "auto") -> OptimizeResult:
    """Nesterov's accelerated gradient with adaptive (gradient) restart.

    ``x+ = y - step * gradient(y)``, ``y+ = x+ + k/(k+3) (x+ - x)``; the momentum is reset when the
    gradient at y points along the last move (O'Donoghue and Candes, 2015), which keeps the
    iterates from oscillating and gives fast linear convergence without knowing the strong
    convexity. The histories hold the cost and gradient at the extrapolated points y, where the
    gradient is evaluated; the result is such a point.
    """
    lr = resolve_learning_rate(obj, learning_rate, method="nesterov")
    return _descent("nesterov", _core.DESCENT_NESTEROV, obj, w, float(lr), max_iter, tol, callback,
                    f"learning_rate={lr:.6g}",
                    lambda: "The step is too large for this data; use learning_rate='auto' (about "
                            f"{auto_step(obj):.3g} here) or a smaller value.")
