"""What every solver shares: the stopping rule's scale, the result, divergence and separation.

Each solver module (``_first_order``, ``_sgd``, ``_newton``, ``_lbfgs``) builds on these so that
all methods report in the same words and keep the same promises: one result type, the best finite
iterate on divergence, finite weights and a clear message when the classes are separable.
"""
from __future__ import annotations

import math
import os
import sys
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Any, Callable, Iterator

import numpy as np

from ._overflow import OverflowInputError
from ._protocols import ObjectiveBase, ObjectiveLike, as_objective
from ._result import DivergenceWarning, IterationState, OptimizeResult, SeparationWarning

Callback = Callable[[IterationState], Any]

# The cost is a weighted sum over many rows: its rounding error is about this times its value.
# Near an optimum a predicted decrease smaller than that cannot be seen in the computed cost.
COST_ROUNDING = 1e3 * float(np.finfo(np.float64).eps)

# A cost above this multiple of its start (or not finite) means the run diverges.
DIVERGENCE_FACTOR = 10.0

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _user_stacklevel() -> int:
    """The stacklevel that makes a warning point at the first frame outside gdfast.

    Counted from the function that calls warnings.warn, so a warning names the user's line
    (their call to minimize, or to an estimator's fit) however deep inside gdfast it is raised.
    """
    level = 1
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR):
        frame = frame.f_back
        level += 1
    return level


def finish(method: str, w: np.ndarray, cost: float, n_iter: int, status: str, message: str,
           history: dict[str, Any]) -> OptimizeResult:
    """The result object, with the history as float arrays.

    Every history entry gets one value per point, the first being the start: per-step entries
    ("step": the step taken from that point; "cg_iter") are padded with 0 for the last point,
    from which no step was taken.
    """
    n_points = len(history["cost"])
    hist = {}
    for key, values in history.items():
        values = np.asarray(values, dtype=np.float64)
        hist[key] = np.concatenate([values, np.zeros(n_points - len(values))])
    return OptimizeResult(w=np.asarray(w, dtype=np.float64), cost=float(cost), n_iter=int(n_iter),
                          converged=status == "converged", status=status, message=message,
                          method=method, history=hist)


@dataclass(frozen=True)
class Start:
    """What a run knows before its first step (see :func:`check_start`).

    Attributes
    ----------
    cost : float
        The cost at the start, finite.
    scale : float
        G in the stopping rule ``max|gradient| <= tol * G``.
    cost_at_zero : float
        The cost at the default start (w = 0, or the intercept-only point of a loss with a
        restricted domain; inf when it overflows there): every optimum of a convex cost costs
        at most this, so it bounds the magnitude of the cost that rounding is judged against.
    grad : ndarray
        The gradient at the start (a method may begin from it instead of evaluating again).
    """

    cost: float
    scale: float
    cost_at_zero: float
    grad: np.ndarray


def check_start(obj: ObjectiveLike, w: np.ndarray) -> Start:
    """Evaluate the start, refuse it unless its cost and gradient are finite, and find G.

    G is the largest gradient component at the default start (w = 0, or the intercept-only
    point of a loss with a restricted domain: ``ObjectiveBase.start_point``): the stopping
    rule's target is then the same whatever the start, so a start far from the optimum (whose
    gradient is huge) cannot make "converged" easy, and a start near it cannot make tol
    unreachable. G is the gradient at
    the start only when the gradient at w = 0 is zero (or overflows). It is 0 only when both
    are zero.

    Raises
    ------
    ValueError
        Naming w0 (or the input to scale) when the cost or the gradient at the start is not
        finite: no descent can start from there, and no result could honestly be reported.
    """
    with start_evaluation():
        cost, grad = obj.cost_gradient(w)
        cost, gmax = float(cost), _max_abs(grad)
        refuse_unless_finite(cost, gmax)
    try:
        reference = as_objective(obj).start_point()
    except ValueError:                      # no default start (a restricted domain, no intercept)
        reference = w                       # G and the cost's magnitude are then the start's
    if np.array_equal(w, reference):
        return Start(cost, gmax, cost, grad)
    try:
        cost0, grad0 = obj.cost_gradient(reference)
        cost0, gmax0 = float(cost0), _max_abs(grad0)
    except OverflowInputError:
        cost0, gmax0 = math.inf, math.inf
    if not math.isfinite(cost0):
        cost0 = math.inf
    scale = gmax0 if 0 < gmax0 < math.inf else gmax
    return Start(cost, scale, cost0, grad)


@contextmanager
def start_evaluation() -> Iterator[None]:
    """Around a method's evaluation of its start: an overflow there names w0 (see check_start,
    for a method that evaluates its start itself)."""
    try:
        yield
    except OverflowInputError as e:
        raise e.renamed("w0") from None


def refuse_unless_finite(cost: float, grad_norm: float) -> None:
    """The start's cost and gradient max-norm must be finite (an objective that does not raise
    on overflow answers inf or NaN there instead)."""
    if not (math.isfinite(cost) and math.isfinite(grad_norm)):
        raise ValueError(f"w0: the cost at the start is {cost!r} and its largest gradient "
                         f"component {grad_norm!r}; a run needs a start where both are finite "
                         "(w0=None starts from zeros)")


def _max_abs(a: Any) -> float:
    a = np.asarray(a, dtype=np.float64)
    top = float(np.max(np.abs(a))) if a.size else 0.0
    return top if math.isfinite(top) else math.inf



def converged_message(tol: float) -> str:
    return f"converged: max|gradient| <= tol * its start ({tol:g})"


def max_iter_message(max_iter: int, unit: str = "iterations") -> str:
    return f"max_iter={max_iter} {unit} reached before the gradient fell below tol"


STOPPED_MESSAGE = "stopped by the callback"

NO_DECREASE_MESSAGE = ("converged: no decrease of the cost is possible in double precision "
                       "(max|gradient| = {:.3g})")


def stalled_message(grad_norm: float, slope: float, rounding: float) -> str:
    """Why a run ended "stalled": no step lowered the cost, away from the rounding floor."""
    return (f"stalled: no step lowers the cost although the step's predicted decrease "
            f"({-slope:.3g}) is far above the cost's rounding error ({rounding:.3g}), at "
            f"max|gradient| = {grad_norm:.3g}: the columns of X are probably in very different "
            "units, or the start is far from the optimum; standardise the columns of X, or "
            "start from w = 0")


def is_diverging(cost: float, start: float) -> bool:
    """True when the cost is not finite or has grown far above its value at the start."""
    return not math.isfinite(cost) or cost > DIVERGENCE_FACTOR * start + 1e-300


def diverged(method: str, w_best: np.ndarray, cost_best: float, n_iter: int, start: float,
             cost: float, what: str, advice: str, history: dict[str, Any]) -> OptimizeResult:
    """Warn (a DivergenceWarning saying what to do) and return the best finite iterate.

    ``what`` names the step the user chose (e.g. "learning_rate=0.5"); ``advice`` says what to
    change.
    """
    seen = f"{cost:.6g}" if math.isfinite(cost) else "a non-finite value"
    warnings.warn(f"{method} diverged at iteration {n_iter}: the cost went from {start:.6g} to "
                  f"{seen} with {what}. {advice} The best finite iterate is returned.",
                  DivergenceWarning, stacklevel=_user_stacklevel())
    return finish(method, w_best, cost_best, n_iter, "diverged",
                  f"diverged: the cost rose to {seen} from {start:.6g} with {what}", history)


class SeparationCheck:
    """Detects an optimum at infinity: separable classes under the log loss without a penalty.

    If some w puts every training sample (of positive weight) strictly on its side of the
    boundary, the log loss of ``t * w`` falls to 0 as t grows, while it is positive for every
    finite w: the cost has no minimiser and the weights of any descent method grow without
    bound. Such a w is a certificate (the loss judges it: ``Loss.separates``), so the check
    has no false positives.

    It costs nothing on most iterations: a sample of normalised weight s_i that is not on its
    side adds at least ``s_i * loss.separation_floor`` (log 2 for the log loss) to the cost, so
    only a cost below ``min_i s_i * separation_floor`` can come from a certificate; only then
    does the objective compute the predictions (one pass over X) to confirm.
    """

    def __init__(self, obj: ObjectiveBase) -> None:
        self.obj = obj
        self.active = obj.loss.can_separate and obj.alpha == 0.0
        self.threshold = (obj.loss.separation_floor * obj.min_positive_weight / obj.weight_sum
                          if self.active else -math.inf)

    def separates(self, w: np.ndarray) -> bool:
        """True when w proves that the optimum is at infinity."""
        return self.active and bool(self.obj.separates(w))

    def __call__(self, w: np.ndarray, cost: float) -> bool:
        """The cheap test on the cost, confirmed on the predictions when it passes."""
        return self.active and cost < self.threshold and self.separates(w)

    def result(self, method: str, w: np.ndarray, cost: float, n_iter: int,
               history: dict[str, Any]) -> OptimizeResult:
        """Warn (a SeparationWarning) and return the separating w with status "separated"."""
        message = self.obj.loss.separation_message
        warnings.warn(f"{method}: {message}.", SeparationWarning, stacklevel=_user_stacklevel())
        return finish(method, w, cost, n_iter, "separated", message, history)


def state(n_iter: int, w: np.ndarray, cost: float, grad_norm: float, **extra: Any) -> IterationState:
    """What a callback sees: a copy of w, so the callback cannot disturb the run."""
    return IterationState(n_iter=int(n_iter), w=np.array(w, dtype=np.float64), cost=float(cost),
                          grad_norm=float(grad_norm), extra=extra)
