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

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._common import (
    STOPPED_MESSAGE,
    Callback,
    SeparationCheck,
    converged_message,
    diverged,
    finish,
    gradient_scale,
    max_iter_message,
    state,
)
from ._protocols import ObjectiveBase
from ._result import OptimizeResult


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
        G of the stopping rule; by default the gradient's max-norm at the start (one pass).
    """

    def __init__(self, method: str, obj: ObjectiveBase, w: np.ndarray, max_iter: int,
                 tol: float, callback: Callback | None, per_step: tuple[str, ...] = (),
                 scale: float | None = None) -> None:
        self.method, self.obj, self.max_iter, self.tol = method, obj, max_iter, tol
        self.callback = callback
        self.scale = gradient_scale(obj, w) if scale is None else scale
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
        self.improved = self.best is None or point.grad_norm < self.best.grad_norm
        if self.improved:
            self.best = point
        if self.tolerance_met(point.grad_norm):
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
