"""The solver monitor: the bookkeeping every method shares, in one place.

A method is its steps; the monitor owns what all of them promise: the stopping rule's scale, the
history (one entry per point, the first being the start), the best iterate, the test for an
optimum at infinity (separation), the callback, divergence, and the result with its status and
message. The iterative methods (Newton, Newton-CG, L-BFGS) report each evaluated point to
:meth:`Monitor.observe` and each step to :meth:`Monitor.stepped`; the methods whose loops run in
C (gd, nesterov) or by epochs (sgd, adam) keep their own histories and end through the same
:meth:`Monitor.finish`, :meth:`Monitor.diverged` and :meth:`Monitor.separated`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._common import (
    COST_ROUNDING,
    NO_DECREASE_MESSAGE,
    STOPPED_MESSAGE,
    Callback,
    SeparationCheck,
    check_start,
    converged_message,
    diverged,
    finish,
    max_iter_message,
    stalled_message,
    state,
)
from ._protocols import ObjectiveBase
from ._result import OptimizeResult


#: A line search that finds no decrease once the gradient is this far below G is at the floor.
FLOOR_PROGRESS = 1e-3


@dataclass
class Point:
    """An evaluated iterate: its parameters, cost and max-norm of the gradient."""

    w: np.ndarray
    cost: float
    grad_norm: float


class Monitor:
    """One run's bookkeeping (see the module notes).

    Parameters
    ----------
    method : str
        The method's name, for messages and the result.
    obj : ObjectiveBase
    w : ndarray
        The starting point.
    max_iter, tol, callback
        As given to :func:`gdfast.minimize`.
    per_step : tuple of str
        History entries recorded per step besides "step" (e.g. "cg_iter").
    scale : float, optional
        G of the stopping rule, when the method knows it (or uses none: tol = 0). The start is
        then not evaluated here, and the method checks it itself (see
        :func:`gdfast._common.start_evaluation`).

    Raises
    ------
    ValueError
        When the cost or the gradient at the start is not finite (see
        :func:`gdfast._common.check_start`): the run does not begin.
    """

    def __init__(self, method: str, obj: ObjectiveBase, w: np.ndarray, max_iter: int,
                 tol: float, callback: Callback | None, per_step: tuple[str, ...] = (),
                 scale: float | None = None) -> None:
        self.method, self.obj, self.max_iter, self.tol = method, obj, max_iter, tol
        self.callback = callback
        #: The gradient at the start when this monitor evaluated it (None otherwise).
        self.start_grad: np.ndarray | None = None
        if scale is None:
            start = check_start(obj, w)
            self.scale, self.start_cost, self.cost_at_zero = (start.scale, start.cost,
                                                              start.cost_at_zero)
            self.start_grad = np.array(start.grad, dtype=np.float64)
        else:                          # the caller checks the start (start_evaluation)
            self.scale, self.start_cost, self.cost_at_zero = scale, math.nan, math.inf
        self.separation = SeparationCheck(obj)
        self.history: dict[str, list[float]] = {"cost": [], "grad_norm": [], "step": [],
                                                **{key: [] for key in per_step}}
        self.best: Point | None = None      # the point with the smallest gradient
        self.status, self.message = "max_iter", max_iter_message(max_iter)
        self._separated: Point | None = None
        self.improved = False           # whether the last observed point became the best
        self._last: Point | None = None

    @property
    def last(self) -> Point:
        """The point observed last."""
        assert self._last is not None, "observe() was never called"
        return self._last

    @property
    def best_grad_norm(self) -> float:
        """The smallest max-norm of the gradient seen."""
        assert self.best is not None, "observe() was never called"
        return self.best.grad_norm

    @property
    def n_steps(self) -> int:
        return len(self.history["step"])

    def tolerance_met(self, grad_norm: float) -> bool:
        """The stopping rule: ``max|gradient| <= tol * G``."""
        return grad_norm <= self.tol * self.scale

    def cost_magnitude(self, cost: float) -> float:
        """The magnitude of the cost that rounding is judged at: ``min(|cost|, |cost at w = 0|)``.

        A computed cost is only known to about ``COST_ROUNDING`` times its magnitude, and the
        methods' rounding-floor rules stop when a step's predicted decrease is below that. Near
        the optimum this is ``|cost|``; far from it (a cost far above its value at w = 0, which
        every minimum of a convex cost is below, as from a huge start) it is the magnitude of
        the optimum's cost instead, so that a run there is never "converged" by the floor rules
        merely because the cost is huge.
        """
        return min(abs(cost), abs(self.cost_at_zero))

    def rounding(self, cost: float) -> float:
        """``COST_ROUNDING * cost_magnitude(cost)``: the decrease below which a step from
        ``cost`` is rounding."""
        return COST_ROUNDING * self.cost_magnitude(cost)

    def observe(self, it: int, w: np.ndarray, cost: float, grad: np.ndarray) -> bool:
        """Record the point evaluated at iteration ``it`` and check it; True when the run ends.

        :meth:`record`, then :meth:`check`.
        """
        return self.record(w, cost, grad) or self.check(it)

    def record(self, w: np.ndarray, cost: float, grad: np.ndarray) -> bool:
        """Add the point to the history; True (status "converged") when the stopping rule
        holds there. Sets :attr:`improved` when the point has the smallest gradient so far."""
        point = Point(w, cost, float(np.max(np.abs(grad))) if grad.size else 0.0)
        self._last = point
        self.history["cost"].append(cost)
        self.history["grad_norm"].append(point.grad_norm)
        # a point whose cost or gradient is not finite is recorded, never kept or converged
        finite = math.isfinite(cost) and math.isfinite(point.grad_norm)
        self.improved = finite and (self.best is None or point.grad_norm < self.best.grad_norm)
        if self.improved:
            self.best = point
        if finite and self.tolerance_met(point.grad_norm):
            self.end(point, "converged", converged_message(self.tol))
            return True
        return False

    def check(self, it: int) -> bool:
        """True when the run ends at the last recorded point: it proves separation, ``it`` is
        max_iter, or the callback asks to stop (status "stopped"; not asked at the start)."""
        point = self.last
        if self.separation(point.w, point.cost):
            self._separated = point
            return True
        if it == self.max_iter:
            return True
        if it > 0 and self.callback is not None and self.callback(state(
                it, point.w, point.cost, point.grad_norm,
                **{k: v[-1] for k, v in self.history.items() if k not in ("cost", "grad_norm") and v})):
            self.end(point, "stopped", STOPPED_MESSAGE)
            return True
        return False

    def stepped(self, step: float, **per_step: float) -> None:
        """Record the step taken from the last point (and the method's per-step entries)."""
        self.history["step"].append(step)
        for key, value in per_step.items():
            self.history[key].append(value)

    def note(self, **per_step: float) -> None:
        """Record per-step entries known before the step is taken (e.g. CG iterations)."""
        for key, value in per_step.items():
            self.history[key].append(value)

    def no_decrease(self, slope: float, cost: float) -> None:
        """End the run where no step along the method's direction (of slope ``slope``, at the
        step the method takes by default, from a point of cost ``cost``) lowers the cost.

        That is the rounding floor, and convergence (double precision allows no better), when
        the decrease promised was below the cost's rounding error (:meth:`floor`) or the run
        has already brought the gradient down to ``FLOOR_PROGRESS * G`` (a model inflated by a
        nearly singular Hessian promises more than rounding lets any step deliver). Otherwise
        it is not: the run made no headway against a large promised decrease, and it ends
        "stalled", the best point so far returned with a message saying what to change. A line
        search that finds no lower cost is never reported as an optimum on its own.
        """
        floor = self.floor(cost)
        if -slope <= floor or self.best_grad_norm <= FLOOR_PROGRESS * self.scale:
            self.end(None, "converged", NO_DECREASE_MESSAGE.format(self.best_grad_norm))
        else:
            self.end(None, "stalled", stalled_message(self.best_grad_norm, slope, floor))

    def floor(self, cost: float) -> float:
        """The least decrease a failed line search must have been promised to be "stalled".

        The rounding error, in the precision the objective computes its cost
        (``obj.cost_rounding``: larger for float32 data), of the problem's own scale of cost:
        the cost at w = 0 (or ``|cost|`` when that is 0 or overflows). Near the optimum the
        noise of a computed cost is not always relative to it (a perfect fit's cost is near 0,
        yet its predictions carry their own rounding), so a search that finds no decrease
        smaller than this is at the floor, and "converged". A far larger promised decrease
        that no step delivers is a stall (columns of X in wildly different units, or a start
        very far from the optimum).
        """
        scale = self.cost_at_zero if 0 < abs(self.cost_at_zero) < math.inf else cost
        return self.obj.cost_rounding * abs(scale)

    def end(self, point: Point | None, status: str, message: str) -> None:
        """End the run with this status; ``point`` (None: the best so far) is returned."""
        if point is not None:
            self.best = point
        self.status, self.message = status, message

    def result(self) -> OptimizeResult:
        """The result: the best point (or the separating one), with the status and message."""
        if self._separated is not None:
            p = self._separated
            return self.separated(p.w, p.cost, self.n_steps)
        assert self.best is not None, "observe() was never called"
        p = self.best
        if self.status != "stopped" and self.separation.active and self.separation.separates(p.w):
            return self.separated(p.w, p.cost, self.n_steps)
        return self.finish(p.w, p.cost, self.n_steps, self.status, self.message)

    # -- endings shared with the methods that keep their own histories ----------------------

    def finish(self, w: np.ndarray, cost: float, n_iter: int, status: str, message: str,
               history: dict[str, Any] | None = None) -> OptimizeResult:
        return finish(self.method, w, cost, n_iter, status, message,
                      self.history if history is None else history)

    def separated(self, w: np.ndarray, cost: float, n_iter: int,
                  history: dict[str, Any] | None = None) -> OptimizeResult:
        return self.separation.result(self.method, w, cost, n_iter,
                                      self.history if history is None else history)

    def diverged(self, w_best: np.ndarray, cost_best: float, n_iter: int, start: float,
                 cost: float, what: str, advice: str, history: dict[str, Any]) -> OptimizeResult:
        return diverged(self.method, w_best, cost_best, n_iter, start, cost, what, advice, history)

    def stop_requested(self, n_iter: int, w: np.ndarray, cost: float, grad_norm: float,
                       **extra: Any) -> bool:
        """Whether the callback (if any) asks to stop after this iteration."""
        return self.callback is not None and bool(
            self.callback(state(n_iter, w, cost, grad_norm, **extra)))
