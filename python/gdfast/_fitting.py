"""One fit: estimator-style solver settings mapped onto :func:`gdfast.minimize`.

The estimators and ``gdfast fit`` both describe a fit by a solver name and the same handful of
settings; this module is the one place that decides which of them each solver is given.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ._protocols import ObjectiveLike
from ._result import OptimizeResult
from ._solvers import minimize

#: Solvers that take a step size (``learning_rate``).
GRADIENT_SOLVERS = frozenset({"gd", "nesterov", "sgd", "adam"})
#: Solvers that draw mini-batches (``batch_size``, ``random_state``).
STOCHASTIC_SOLVERS = frozenset({"sgd", "adam"})


def solver_options(solver: str, *, learning_rate: Any = "auto", batch_size: int | None = None,
                   random_state: int | None = None) -> dict[str, Any]:
    """The keyword arguments of :func:`gdfast.minimize` that ``solver`` uses.

    ``learning_rate`` goes to the gradient solvers only, ``batch_size`` and ``random_state`` to
    the stochastic ones only (and only when they are not None, so that minimize's defaults
    apply). Any other solver name gets no options: minimize then says which names are valid.
    """
    options: dict[str, Any] = {}
    if solver in GRADIENT_SOLVERS:
        options["learning_rate"] = learning_rate
    if solver in STOCHASTIC_SOLVERS:
        if batch_size is not None:
            options["batch_size"] = batch_size
        if random_state is not None:
            options["random_state"] = random_state
    return options


def fit_objective(obj: ObjectiveLike, solver: str = "auto", *, w0: np.ndarray | None = None,
                  max_iter: int | None = None, tol: float = 1e-8, learning_rate: Any = "auto",
                  batch_size: int | None = None, random_state: int | None = None,
                  callback: Any = None) -> OptimizeResult:
    """Minimise ``obj`` with ``solver``, passing each solver only the settings it uses.

    Parameters
    ----------
    obj : gdfast.Objective
    solver : str
        Any :func:`gdfast.minimize` method.
    w0 : ndarray, optional
        Starting point (warm start).
    max_iter : int, optional
        None for the method's own default.
    tol : float
        minimize's relative gradient tolerance.
    learning_rate, batch_size, random_state
        See :func:`solver_options`.
    callback : callable, optional
        Called with an :class:`gdfast.IterationState` after each iteration.

    Returns
    -------
    OptimizeResult

    Raises
    ------
    ValueError
        For a solver minimize does not know (naming ``solver``) and for bad settings.
    """
    options = solver_options(solver, learning_rate=learning_rate, batch_size=batch_size,
                             random_state=random_state)
    try:
        return minimize(obj, method=solver, w0=w0, max_iter=max_iter, tol=tol, callback=callback,
                        **options)
    except ValueError as e:
        if str(e).startswith("method "):    # minimize's message for a method it does not know
            raise ValueError(f"solver={solver!r} is not a gdfast.minimize method: {e}") from None
        raise
