"""Pictures of fits: cost curves per iteration, a sweep over learning rates, and regularisation
paths.

matplotlib is optional (the ``demo`` extra: ``pip install 'gdfast[demo]'``); this module imports
without it and its functions raise an ImportError that says how to install it.
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ._objective import Objective
from ._result import DivergenceWarning, OptimizeResult, SeparationWarning
from ._solvers import minimize

__all__ = ["cost_history", "learning_rate_sweep", "path"]


def _require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError as e:
        raise ImportError("gdfast.plot needs matplotlib; install it with: pip install 'gdfast[demo]'") from e


def _new_axes(ax: Any) -> Any:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt
    return plt.subplots(figsize=(8, 5))[1]


def _costs(item: Any) -> np.ndarray:
    history = getattr(item, "history", item)
    if not isinstance(history, Mapping) or "cost" not in history:
        raise TypeError("results must be OptimizeResults or history dicts with a 'cost' entry "
                        f"(such as an estimator's history_); got {type(item).__name__}")
    return np.asarray(history["cost"], dtype=np.float64)


def cost_history(results: Any, labels: Sequence[str] | None = None, *, ax: Any = None,
                 title: str | None = None) -> Any:
    """Plot the cost at each iteration of one or more fits.

    Parameters
    ----------
    results : OptimizeResult, history dict, or a sequence of them
        What :func:`gdfast.minimize` returned, or a history dict with a "cost" entry (an
        estimator's ``history_``, or one element of a classifier's ``history_`` list).
    labels : sequence of str, optional
        One legend entry per result; by default the method and how the run ended.
    ax : matplotlib Axes, optional
        Where to draw; a new figure by default.
    title : str, optional
        Above the plot.

    Returns
    -------
    matplotlib Axes

    Raises
    ------
    ImportError
        When matplotlib is not installed.
    ValueError
        When there are no results, or labels and results differ in number.
    TypeError
        When a result is neither an OptimizeResult nor a history dict with a "cost" entry.

    Notes
    -----
    The cost axis is logarithmic when every cost is positive, so a diverging run and a
    converging one fit in one picture; the iteration axis is linear up to 1 and logarithmic
    beyond, so that Newton's handful of steps and gradient descent's thousands both show.
    Infinite costs (a diverged run) are left out.
    """
    _require_matplotlib()
    if isinstance(results, (OptimizeResult, Mapping)):
        results = [results]
    results = list(results)
    if not results:
        raise ValueError("results is empty: nothing to plot")
    if labels is None:
        labels = [f"{r.method} ({r.status})" if isinstance(r, OptimizeResult) else f"fit {i + 1}"
                  for i, r in enumerate(results)]
    if len(labels) != len(results):
        raise ValueError(f"labels has {len(labels)} entries for {len(results)} results")
    ax = _new_axes(ax)
    all_positive, longest = True, 1
    for result, label in zip(results, labels):
        cost = _costs(result)
        finite = np.isfinite(cost)
        all_positive &= bool(np.all(cost[finite] > 0))
        longest = max(longest, len(cost) - 1)
        ax.plot(np.arange(len(cost))[finite], cost[finite], marker="." if len(cost) < 30 else None,
                label=label)
    if all_positive:
        ax.set_yscale("log")
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlim(0, longest)
    ax.set_xlabel("iteration")
    ax.set_ylabel("cost")
    if title:
        ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend()
    return ax


def learning_rate_sweep(objective: Objective, rates: Sequence[float], *, method: str = "gd",
                        max_iter: int = 500, ax: Any = None) -> Any:
    """Fit ``objective`` once per learning rate and plot the cost curves side by side.

    The picture of the tutorial's lesson: too small a rate creeps, a good one converges, too
    large a one diverges (the run stops there, see :class:`gdfast.DivergenceWarning`, which is
    silenced here).

    Parameters
    ----------
    objective : gdfast.Objective
    rates : sequence of float
        Learning rates, each positive; ``1 / objective.curvature_bound()`` is a good one.
    method : str, default "gd"
        A :func:`gdfast.minimize` method that takes a learning rate.
    max_iter : int, default 500
        The most iterations per fit.
    ax : matplotlib Axes, optional
        Where to draw; a new figure by default.

    Returns
    -------
    matplotlib Axes

    Raises
    ------
    ImportError
        When matplotlib is not installed.
    ValueError
        When rates is empty, or a rate or the method is not valid for :func:`gdfast.minimize`.
    """
    _require_matplotlib()
    rates = list(rates)
    if not rates:
        raise ValueError("rates is empty: give at least one learning rate")
    results = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DivergenceWarning)
        warnings.simplefilter("ignore", SeparationWarning)
        for rate in rates:
            results.append(minimize(objective, method=method, learning_rate=rate, max_iter=max_iter))
    labels = [f"learning rate {rate:.3g} ({r.status})" for rate, r in zip(rates, results)]
    return cost_history(results, labels, ax=ax, title=f"{method}: cost per iteration by learning rate")


def path(result: Any, feature_names: Sequence[str] | None = None, *, ax: Any = None,
         title: str | None = None) -> Any:
    """Plot the coefficients along a regularisation path against alpha (log scale).

    Parameters
    ----------
    result : gdfast.PathResult
        What :func:`gdfast.path` returned.
    feature_names : sequence of str, optional
        One legend entry per feature (a legend is drawn only with names).
    ax : matplotlib Axes, optional
        Where to draw; a new figure by default.
    title : str, optional
        Above the plot.

    Returns
    -------
    matplotlib Axes
        One line per coefficient, alpha decreasing from left to right.

    Raises
    ------
    TypeError
        When ``result`` is not a PathResult.
    ValueError
        When ``feature_names`` does not have one name per feature.
    ImportError
        Without matplotlib.
    """
    from ._path import PathResult
    if not isinstance(result, PathResult):
        raise TypeError(f"result must be a gdfast.PathResult; got {type(result).__name__}")
    if feature_names is not None and len(feature_names) != result.n_features:
        raise ValueError(f"feature_names has {len(feature_names)} names, expected "
                         f"{result.n_features} (one per feature)")
    _require_matplotlib()
    ax = _new_axes(ax)
    alphas = np.where(result.alphas > 0, result.alphas, np.nan)
    for j in range(result.n_features):
        ax.plot(alphas, result.coef[:, j],
                label=None if feature_names is None else str(feature_names[j]))
    ax.set_xscale("log")
    ax.invert_xaxis()
    ax.set_xlabel("alpha (gdfast's convention)")
    ax.set_ylabel("coefficient")
    if feature_names is not None:
        ax.legend(fontsize="small")
    if title is not None:
        ax.set_title(title)
    return ax
