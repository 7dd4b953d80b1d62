"""The result every solver returns, and the warnings solvers emit."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

STATUSES = ("converged", "max_iter", "diverged", "separated", "stopped", "stalled")


class DivergenceWarning(RuntimeWarning):
    """The cost grew without bound (learning rate too large); the best finite iterate was kept."""


class SeparationWarning(RuntimeWarning):
    """The classes are separable and alpha is 0: the log loss has no finite minimiser."""


class RankDeficientWarning(RuntimeWarning):
    """Columns of X are linearly dependent (a least-squares fit): their coefficients are set to
    0, the solution without them, as R's ``lm`` reports NA; the message names them."""


@dataclass
class OptimizeResult:
    """What a solver found.

    Attributes
    ----------
    w : ndarray
        The parameters ``[coef..., intercept]`` (the best finite iterate if the run diverged).
    cost : float
        The cost at ``w``.
    n_iter : int
        Iterations (steps) taken.
    converged : bool
        True when the stopping rule was met.
    status : str
        One of "converged", "max_iter", "diverged", "separated", "stopped", "stalled" (no
        step lowered the cost although the gradient promised a decrease far above the cost's
        rounding error: badly scaled columns of X, or a start far from the optimum).
    message : str
        Why the run ended, in words.
    history : dict of str to ndarray
        Per iteration (per epoch for "sgd" and "adam"), starting with the starting point:
        "cost", "grad_norm" (max-norm of the gradient) and "step" (the learning rate or
        line-search step taken from that point); "newton-cg" adds "cg_iter" (conjugate-gradient
        steps per Newton step).
    method : str
        The method that ran (the one "auto" chose, for ``method="auto"``).
    x, fun, success
        The same as ``w``, ``cost`` and ``converged``, under scipy.optimize's names.
    """

    w: np.ndarray
    cost: float
    n_iter: int
    converged: bool
    status: str
    message: str
    method: str
    history: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def x(self) -> np.ndarray:
        """``w``, under scipy.optimize's name."""
        return self.w

    @property
    def fun(self) -> float:
        """``cost``, under scipy.optimize's name."""
        return self.cost

    @property
    def success(self) -> bool:
        """``converged``, under scipy.optimize's name."""
        return self.converged

    def __repr__(self) -> str:
        return (f"OptimizeResult(method={self.method!r}, status={self.status!r}, cost={self.cost!r}, "
                f"n_iter={self.n_iter}, message={self.message!r})")


@dataclass
class IterationState:
    """What a callback sees after each iteration; return True from the callback to stop.

    Attributes
    ----------
    n_iter : int
        Iterations done so far (epochs for "sgd" and "adam").
    w : ndarray
        A copy of the current parameters ``[coef..., intercept]``.
    cost : float
        The cost at ``w``.
    grad_norm : float
        The max-norm of the gradient at ``w``.
    extra : dict of str to float
        What the method adds: "step" (the step just taken; the learning rate for "sgd" and
        "adam") for every method, "cg_iter"
        (conjugate-gradient steps of the last Newton step) for "newton-cg".
    """

    n_iter: int
    w: np.ndarray
    cost: float
    grad_norm: float
    extra: dict[str, Any] = field(default_factory=dict)
