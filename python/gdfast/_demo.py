"""`gdfast demo`: the tutorial's lesson on the packaged breast-cancer data.

Logistic regression fitted by gradient descent with a too-small, a good and a too-large learning
rate, and by Newton's method; then the same gradient-descent fit timed in the compiled core and
in the numpy reference; and, when matplotlib is installed, a picture of the four cost curves.
"""
from __future__ import annotations

import os
import time
import warnings
from typing import Any

import numpy as np

from . import reference
from ._objective import Objective
from ._result import DivergenceWarning
from ._solvers import minimize
from .datasets import load_breast_cancer

ALPHA = 1e-2


def _standardise(X: np.ndarray) -> np.ndarray:
    Z: np.ndarray = (X - X.mean(axis=0)) / X.std(axis=0)
    return Z


def run_fits(max_iter: int | None = None) -> tuple[Objective, list[dict[str, Any]]]:
    """The demo's four fits; each row has label, rate, result, accuracy, seconds.

    Each method runs with minimize's defaults (``max_iter=None``): gradient descent with the
    good step 1/L then ends "converged" at gd's default tol, the too-small step "max_iter".
    """
    X, y, _ = load_breast_cancer()
    obj = Objective(_standardise(X), y, loss="log_loss", alpha=ALPHA)
    good = 1.0 / obj.curvature_bound()
    runs: list[tuple[str, dict[str, Any]]] = [
        ("gradient descent, too small", dict(method="gd", learning_rate=good / 100)),
        ("gradient descent, good (1/L)", dict(method="gd", learning_rate=good)),
        ("gradient descent, too large", dict(method="gd", learning_rate=good * 100)),
        ("Newton's method", dict(method="newton"))]
    rows = []
    for label, kw in runs:
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DivergenceWarning)
            res = minimize(obj, max_iter=max_iter, **kw)
        seconds = time.perf_counter() - t0
        w = res.w
        accuracy = float(np.mean(((obj.X @ w[:-1] + w[-1]) > 0) == (y == 1)))
        rows.append(dict(label=label, rate=kw.get("learning_rate"), result=res,
                         accuracy=accuracy, seconds=seconds))
    return obj, rows


def speedup(obj: Objective, n_iter: int = 2000) -> tuple[float, float]:
    """Seconds for n_iter gradient-descent steps: (compiled core, numpy reference)."""
    lr = 1.0 / obj.curvature_bound()
    ref = reference.Objective(obj.X, obj.y, loss=obj.loss, alpha=obj.alpha)
    best_fast, best_ref = np.inf, np.inf
    for _ in range(3):
        t0 = time.perf_counter()
        minimize(obj, method="gd", learning_rate=lr, max_iter=n_iter, tol=0.0)
        best_fast = min(best_fast, time.perf_counter() - t0)
        t0 = time.perf_counter()
        reference.gradient_descent(ref, lr, max_iter=n_iter, tol=0.0)
        best_ref = min(best_ref, time.perf_counter() - t0)
    return best_fast, best_ref


def write_plot(obj: Objective, rows: list[dict[str, Any]], path: str) -> None:
    """Save the four cost curves as a PNG at ``path``.

    Raises
    ------
    ImportError
        When matplotlib is not installed (the message names the ``demo`` extra).
    """
    from .plot import _require_matplotlib, cost_history
    _require_matplotlib()
    from matplotlib.figure import Figure   # no pyplot: no GUI backend, no global state

    fig = Figure(figsize=(8, 5), layout="constrained")
    labels = [r["label"] + ("" if r["rate"] is None else f", rate {r['rate']:.3g}") for r in rows]
    cost_history([r["result"] for r in rows], labels, ax=fig.add_subplot(),
                 title=f"Logistic regression on the breast-cancer data ({obj.n_samples} x "
                       f"{obj.n_features}, alpha={ALPHA:g})")
    fig.savefig(path, dpi=100)


def main(plot: str | None = "gdfast-demo.png") -> int:
    """Run the demo and print its table; save the cost curves to ``plot`` (None: no picture)."""
    obj, rows = run_fits()
    print("gdfast demo: logistic regression on the Breast Cancer Wisconsin data "
          f"({obj.n_samples} x {obj.n_features}, standardised, alpha={ALPHA:g})\n")
    head = f"{'method':<30} {'learning rate':>13} {'iterations':>10} {'final cost':>12} {'accuracy':>9} {'status':>10} {'time':>9}"
    print(head)
    print("-" * len(head))
    for r in rows:
        res = r["result"]
        rate = "-" if r["rate"] is None else f"{r['rate']:.4g}"
        print(f"{r['label']:<30} {rate:>13} {res.n_iter:>10} {res.cost:>12.8f} "
              f"{r['accuracy']:>9.3f} {res.status:>10} {r['seconds'] * 1e3:>7.1f}ms")
    diverged = [r for r in rows if r["result"].status == "diverged"]
    for r in diverged:
        res = r["result"]
        print(f"\n'{r['label']}' diverged: the cost climbed from {res.history['cost'][0]:.4g} to "
              f"{res.history['cost'][-1]:.4g}; the best iterate seen (cost {res.cost:.4g}) is reported.")
    fast, slow = speedup(obj)
    print(f"\n2000 gradient-descent steps: compiled core {fast * 1e3:.1f} ms, numpy reference "
          f"{slow * 1e3:.1f} ms: {slow / fast:.1f}x faster")
    if plot is not None:
        try:
            write_plot(obj, rows, plot)
        except ImportError as e:
            print(f"\nNo picture of the cost curves: {e}")
        else:
            print(f"\nThe cost curves are in {os.path.abspath(plot)}")
    return 0
