"""Limited-memory BFGS ("lbfgs") over the fused cost-and-gradient pass.

The direction comes from the two-loop recursion over the last ``memory`` pairs
``s = w+ - w, y = g+ - g`` (Nocedal and Wright, Algorithm 7.4), scaled by ``s.y / y.y``; the step
from a line search that meets the strong Wolfe conditions (Algorithms 3.5 and 3.6, with cubic
interpolation), so that every stored pair has ``s.y > 0`` and the inverse Hessian estimate stays
positive definite. Every trial point costs one fused pass over X, which also gives the gradient
the next iteration needs.

"auto" may give the recursion a preconditioner: ``H_0 = gamma M`` with M an estimate of the
inverse Hessian (``gdfast._sampled_hessian``) instead of ``gamma I``; the first direction is
then ``-M g``, a Newton step of the estimated model, tried at the full step.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np

from ._common import COST_ROUNDING, Callback
from ._monitor import Monitor
from ._protocols import ObjectiveBase
from ._result import OptimizeResult
from ._validation import check_scalar

C1 = 1e-4            # sufficient decrease
C2 = 0.9             # curvature: |phi'(t)| <= C2 |phi'(0)| (loose, as usual for quasi-Newton)
MAX_BRACKET = 25     # extrapolation trials
MAX_ZOOM = 30        # interpolation trials
EXTRAPOLATE = 4.0    # step growth while bracketing
BACKTRACK_FLOOR = 1e-10   # while no step is accepted, a trial may be this fraction of the interval
FLOOR_PATIENCE = 5   # iterations at the rounding floor without a smaller gradient before stopping


#: A correction pair (s, y, 1 / s.y) of the memory.
_Pair = tuple[np.ndarray, np.ndarray, float]


@dataclass
class _Point:
    """A trial point on the line w + t d: its step, cost, slope phi'(t), parameters, gradient."""

    t: float
    f: float
    slope: float
    w: np.ndarray | None = None
    g: np.ndarray | None = None


def _cubic_min(a: _Point, b: _Point) -> float:
    """The minimiser of the cubic through (a.t, a.f, a.slope) and (b.t, b.f, b.slope); nan if none."""
    d1 = a.slope + b.slope - 3.0 * (a.f - b.f) / (a.t - b.t)
    disc = d1 * d1 - a.slope * b.slope
    if not disc >= 0:
        return math.nan
    d2 = math.copysign(math.sqrt(disc), b.t - a.t)
    return b.t - (b.t - a.t) * (b.slope + d2 - d1) / (b.slope - a.slope + 2.0 * d2)


def wolfe_search(evaluate: Callable[[float], _Point], f0: float, slope0: float, t: float,
                 slack: float | None = None) -> _Point | None:
    """A step meeting the strong Wolfe conditions along a descent direction (slope0 < 0).

    Sufficient decrease ``f(t) <= f0 + C1 t slope0`` is also granted when ``f(t)`` is within the
    rounding error of ``f0`` (``slack``, by default ``COST_ROUNDING * |f0|``: the "approximate
    Wolfe" condition of Hager and Zhang): near the optimum costs stop telling steps apart while
    slopes, computed from gradients, still do. Returns None when no decrease was found; a point
    that decreases the cost but misses the curvature condition is returned when the search runs
    out of trials.
    """
    if slack is None:
        slack = COST_ROUNDING * abs(f0)

    def sufficient(p: _Point) -> bool:
        return p.f <= f0 + C1 * p.t * slope0 or p.f <= f0 + slack

    def curvature(p: _Point) -> bool:
        return abs(p.slope) <= -C2 * slope0

    def zoom(lo: _Point, hi: _Point) -> _Point | None:
        # Invariant: lo meets sufficient decrease with the lowest cost so far, and the interval
        # between lo and hi contains a Wolfe point.
        for _ in range(MAX_ZOOM):
            width = hi.t - lo.t
            trial = _cubic_min(lo, hi) if math.isfinite(hi.f) else math.nan
            low, high = min(lo.t, hi.t), max(lo.t, hi.t)
            # Backtracking from the start (nothing accepted yet) trusts the cubic down to a tiny
            # fraction of the interval: a first step off by orders of magnitude (columns of X
            # in large units) is then cut to size in a few trials, not by halving 30 times.
            if lo.t == 0.0 and 0.0 < trial < BACKTRACK_FLOOR * hi.t:
                trial = BACKTRACK_FLOOR * hi.t
            lower = (BACKTRACK_FLOOR if lo.t == 0.0 else 0.1) * abs(width)
            if not (low + lower <= trial <= high - 0.1 * abs(width)):
                trial = lo.t + 0.5 * width                 # bisection when the cubic is unusable
            p = evaluate(trial)
            if not sufficient(p) or p.f >= lo.f:
                hi = p
            else:
                if curvature(p):
                    return p
                if p.slope * width >= 0:
                    hi = lo
                lo = p
            if abs(hi.t - lo.t) <= 1e-12 * max(abs(lo.t), abs(hi.t)):
                break
        return lo if lo.t > 0 else None

    prev = _Point(0.0, f0, slope0)
    for i in range(MAX_BRACKET):
        p = evaluate(t)
        if not sufficient(p) or (i > 0 and p.f >= prev.f):
            return zoom(prev, p)
        if curvature(p):
            return p
        if p.slope >= 0:
            return zoom(p, prev)
        prev, t = p, t * EXTRAPOLATE
    return prev if prev.t > 0 else None


class Preconditioner(Protocol):
    """An estimate M of the inverse Hessian (symmetric positive definite)."""

    def __call__(self, v: np.ndarray, /) -> np.ndarray:
        """``M v``."""

    def update(self, w: np.ndarray, iteration: int, /) -> None:
        """Called at the start of every iteration with its iterate: M may be re-estimated."""


def _two_loop(g: np.ndarray, pairs: deque[_Pair],
              precondition: Preconditioner | None = None) -> np.ndarray:
    """The L-BFGS direction ``-H_k g`` from the stored (s, y, rho) pairs, oldest first."""
    q = g.copy()
    alphas = []
    for s, y, rho in reversed(pairs):
        a = rho * float(s @ q)
        q -= a * y
        alphas.append(a)
    s, y, _ = pairs[-1]
    if precondition is None:
        q *= float(s @ y) / float(y @ y)          # H_0 = (s.y / y.y) I from the newest pair
    else:
        # H_0 = gamma M, gamma = s.y / y.M y: M's shape, scaled to the newest pair's curvature
        q = precondition(q) * (float(s @ y) / float(y @ precondition(y)))
    for (s, y, rho), a in zip(pairs, reversed(alphas)):
        b = rho * float(y @ q)
        q += (a - b) * s
    return -q


def lbfgs(obj: ObjectiveBase, w: np.ndarray, max_iter: int, tol: float, callback: Callback | None, *,
          memory: int = 10) -> OptimizeResult:
    """L-BFGS with a strong Wolfe line search; see the module docstring.

    Stops when max|gradient| <= tol * G, or at the rounding floor: when FLOOR_PATIENCE
    iterations in a row predict a decrease below the cost's rounding error without reaching a
    smaller gradient (the iterate with the smallest gradient is then returned).
    """
    memory = check_scalar(memory, "memory", low=1, integer=True)
    return lbfgs_run(obj, w, max_iter, tol, callback, memory, None)


def lbfgs_run(obj: ObjectiveBase, w: np.ndarray, max_iter: int, tol: float,
              callback: Callback | None, memory: int,
              precondition: Preconditioner | None) -> OptimizeResult:
    """:func:`lbfgs` with an optional preconditioner (see the module docstring)."""
    D = obj.n_params

    def steepest(g: np.ndarray) -> np.ndarray:
        return -g if precondition is None else -precondition(g)

    def cost_grad(v: np.ndarray) -> tuple[float, np.ndarray]:
        g = np.empty(D)
        return obj.cost_grad_into(v, g), g

    monitor = Monitor("lbfgs", obj, w, max_iter, tol, callback)
    assert monitor.start_grad is not None           # the monitor evaluated the start
    f, g = monitor.start_cost, monitor.start_grad
    pairs: deque[_Pair] = deque(maxlen=memory)
    at_floor = 0
    for it in range(max_iter + 1):
        if monitor.record(w, f, g):
            break
        if monitor.improved:
            at_floor = 0
        elif at_floor >= FLOOR_PATIENCE:
            monitor.end(None, "converged", (
                f"converged: the gradient stopped shrinking at max|gradient| = "
                f"{monitor.best_grad_norm:.3g}, the limit of double precision for a gradient "
                "method on this problem (method='newton' goes further on ill-conditioned data)"))
            break
        if monitor.check(it):
            break
        if precondition is not None:
            precondition.update(w, it)

        point = None
        promised = None                           # the first direction's predicted decrease
        for _ in range(2):                        # the memory's direction, then the gradient
            d = _two_loop(g, pairs, precondition) if pairs else steepest(g)
            slope = float(d @ g)
            if not slope < 0:                     # a stale memory gave no descent direction
                pairs.clear()
                d = steepest(g)
                slope = float(d @ g)
            # the first step of a fresh memory moves w by at most 1 in max-norm (with a
            # preconditioner, the estimated Newton step is tried whole)
            t0 = 1.0 if pairs or precondition is not None else \
                min(1.0, 1.0 / max(float(np.max(np.abs(d))), 1e-300))
            if promised is None:                  # at the step the memory (or the last step) scales
                steps = monitor.history["step"]
                promised = -slope * (1.0 if pairs else (steps[-1] if steps else t0))

            def evaluate(t: float, d: np.ndarray = d) -> _Point:
                v = w + t * d
                fv, gv = cost_grad(v)
                slope_v = float(gv @ d)
                if not (math.isfinite(fv) and math.isfinite(slope_v)):
                    fv = math.inf                 # beyond double precision: a rejected trial
                return _Point(t, fv, slope_v, v, gv)

            point = wolfe_search(evaluate, f, slope, t0, monitor.rounding(f))
            if point is not None or not pairs:
                break
            pairs.clear()                         # retry once along the gradient
        if point is None:
            assert promised is not None
            monitor.no_decrease(-promised, f)       # "converged" at the rounding floor only
            break
        assert point.w is not None and point.g is not None   # set on every evaluated point
        at_floor = at_floor + 1 if -slope <= monitor.rounding(f) else 0
        s, y = point.w - w, point.g - g
        sy = float(s @ y)
        if sy > np.finfo(float).eps * float(y @ y):   # keep only pairs of positive curvature
            pairs.append((s, y, 1.0 / sy))
        monitor.stepped(point.t)
        w, f, g = point.w, point.f, point.g
    return monitor.result()
