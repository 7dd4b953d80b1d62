"""Proximal gradient ("proximal"): FISTA with backtracking and adaptive restart.

The cost is split into a smooth part f (the data term and the L2 part of the penalty: what the
compiled kernels compute, one fused pass for f and its gradient) and the L1 part, whose proximal
operator is soft-thresholding. A step from the extrapolated point y is

    x+ = prox_{t l1}(y - t grad f(y)),    t = 1/L,

accepted when ``f(x+) <= f(y) + grad f(y).(x+ - y) + L/2 ||x+ - y||^2`` (Beck and Teboulle's
backtracking: L doubles on rejection); the trial L shrinks by a little at every iteration, so
that the step follows the local curvature. The momentum is that of FISTA, reset whenever the
step points against the last move (O'Donoghue and Candes's gradient restart) or the cost rises.

Stopping rule: the stationarity at x+ (the distance of 0 from the subdifferential there,
``Objective.stationarity``) at most ``tol * max|gradient of f at 0|``; with no L1 part it is the
other methods' rule. Each iteration costs one pass at x+ and, while the momentum is on, one at y.
"""
from __future__ import annotations

import math

import numpy as np

from ._common import Callback
from ._monitor import Monitor
from ._protocols import ObjectiveBase
from ._result import OptimizeResult

#: The trial L of an iteration: the last accepted one times this (slightly larger steps).
_SHRINK = 0.9
#: Iterations in a row that neither lower the cost beyond its rounding error nor the smallest
#: stationarity seen, after which the run is at the rounding floor (float32 data: the gradient
#: is known to about 1e-5 of G).
_FLAT_ITER = 200


def initial_curvature(obj: ObjectiveBase, w: np.ndarray) -> float:
    """A first trial L: the curvature bound when the loss has one, else the trace of the
    Hessian at the start (at least its largest eigenvalue); 1 when neither is available."""
    if obj.loss.curvature is not None:
        L = obj.curvature_bound()
        return L if L > 0 and math.isfinite(L) else 1.0
    diag = obj.gram_diagonal()
    if diag is not None and obj.can_form_hessian:
        trace = float(np.trace(obj.hessian(w)))
        if trace > 0 and math.isfinite(trace):
            return trace
    return 1.0


def _accepted(excess: float, step: np.ndarray, grad_change: np.ndarray, L: float,
              rounding: float) -> bool:
    """Whether L is large enough along the step: ``f(x+) - f(y) - grad f(y).step`` (the
    ``excess`` over the linear model) at most ``L/2 ||step||^2``. Near the optimum that excess
    is below the cost's rounding error and cannot be seen in computed costs; the test is then
    on the gradients, ``step.(grad f(x+) - grad f(y)) <= L ||step||^2`` (exact for a quadratic,
    whose excess is half the left side)."""
    size = float(step @ step)
    if abs(excess) <= 10.0 * rounding:
        return float(step @ grad_change) <= L * size
    return excess <= 0.5 * L * size


def proximal(obj: ObjectiveBase, w: np.ndarray, max_iter: int, tol: float,
             callback: Callback | None) -> OptimizeResult:
    """FISTA with backtracking and adaptive restart (see the module notes)."""
    pen, d = obj.penalty, obj.penalty_n_coef
    monitor = Monitor("proximal", obj, w, max_iter, tol, callback)
    assert monitor.start_grad is not None

    def smooth(v: np.ndarray, g: np.ndarray) -> float:
        """f(v) into the return value and grad f(v) into g: one pass."""
        return obj.cost_grad_into(v, g) - pen.l1_value(v, d)

    x = np.array(w, dtype=np.float64)
    gx = monitor.start_grad.copy()
    fx = monitor.start_cost - pen.l1_value(x, d)
    Fx = monitor.start_cost
    if monitor.observe(0, x, Fx, pen.min_norm_subgradient(x, gx, d)):
        return monitor.result()
    L = initial_curvature(obj, x) / _SHRINK
    y, fy, gy = x, fx, gx
    momentum = 1.0                     # FISTA's t_k
    lowest, flat = Fx, 0
    g_trial = np.empty_like(x)
    for it in range(1, max_iter + 1):
        L *= _SHRINK
        while True:
            x_new = pen.l1_prox(y - gy / L, 1.0 / L, d)
            step = x_new - y
            f_new = smooth(x_new, g_trial)
            if math.isfinite(f_new) and _accepted(f_new - fy - float(gy @ step), step,
                                                  g_trial - gy, L, monitor.rounding(fy)):
                break
            L *= 2.0
            if not math.isfinite(L) or L > 1e300:
                monitor.no_decrease(-float(step @ step) * L, fy)
                return monitor.result()
        g_new = g_trial.copy()
        F_new = f_new + pen.l1_value(x_new, d)
        monitor.stepped(1.0 / L)
        sub = pen.min_norm_subgradient(x_new, g_new, d)
        if monitor.observe(it, x_new, F_new, sub):
            return monitor.result()
        flat = flat + 1 if (F_new >= lowest - monitor.rounding(lowest)
                            and not monitor.improved) else 0
        lowest = min(lowest, F_new)
        if not np.any(step) or flat >= _FLAT_ITER:    # nothing moves, or the cost cannot fall
            monitor.no_decrease(-float(sub @ sub), F_new)
            return monitor.result()
        # adaptive restart: the step from y goes against the last move, or the cost rose
        if F_new > Fx or float(step @ (x_new - x)) < 0.0:
            momentum = 1.0
        next_momentum = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * momentum * momentum))
        beta = (momentum - 1.0) / next_momentum
        momentum = next_momentum
        if beta > 0.0:
            y = x_new + beta * (x_new - x)
            gy = np.empty_like(x)
            fy = smooth(y, gy)
            if not math.isfinite(fy):           # an extrapolation too far: restart from x+
                y, fy, gy, momentum = x_new, f_new, g_new, 1.0
        else:
            y, fy, gy = x_new, f_new, g_new
        x, Fx = x_new, F_new
    return monitor.result()
