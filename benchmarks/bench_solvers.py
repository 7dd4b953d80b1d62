"""pytest-benchmark: gdfast's solvers against the reference loops, scikit-learn and statsmodels.

- 200 gradient-descent iterations at 1e3 x 10: gdfast's compiled loop against the reference loop.
- Logistic-regression fits to tol 1e-8 on make_classification (C = 1e4, alpha = 1/(C n)):
  gdfast's second-order and quasi-Newton methods against scikit-learn and statsmodels.
- First-order methods with iteration caps on the same kind of data (the cost reached is recorded in
  extra_info; the time-to-tolerance table is in ``python benchmarks/report.py``).

Every gdfast method is timed; scikit-learn and statsmodels run on the same data.
"""
from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np
import pytest

import gdfast
from gdfast import reference
from gdbench import call_method, linear_problem


def _fit(benchmark: Any, fn: Callable[[], Any], rounds: int = 3) -> Any:
    """One warm-up call, then ``rounds`` timed fits."""
    return benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=1)



@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("impl", ["gdfast", "reference"])
def test_gd_200_iterations(benchmark: Any, bench_run: Callable[..., Any], blas_limit: Callable[[int], Any], impl: str, threads: int) -> None:
    X, y, _, _ = linear_problem(1_000, 10, seed=3)
    lr = 1.0 / gdfast.Objective(X, y).curvature_bound()
    benchmark.group = f"gd 200 iterations 1000x10 threads={threads}"
    if impl == "gdfast":
        obj = gdfast.Objective(X, y, n_threads=threads)
        fn: Callable[[], Any] = lambda: gdfast.minimize(obj, method="gd", learning_rate=lr, max_iter=200, tol=0)  # noqa: E731
    else:
        robj = reference.Objective(X, y)
        fn = lambda: reference.gradient_descent(robj, lr, max_iter=200, tol=0)  # noqa: E731
    with blas_limit(threads):
        bench_run(fn)


FITS = ["gdfast newton", "gdfast auto", "gdfast newton-cg", "gdfast lbfgs", "sklearn newton-cholesky",
        "sklearn lbfgs", "statsmodels Logit newton"]


@pytest.mark.parametrize("impl", FITS)
def test_logistic_fit(benchmark: Any, classification: dict[str, Any], impl: str) -> None:
    X, y, alpha, C = classification["X"], classification["y"], classification["alpha"], classification["C"]
    benchmark.group = f"logistic fit tol 1e-8 {classification['n']}x{classification['d']}"
    obj = gdfast.Objective(X, y, alpha=alpha)
    rounds = 3
    if impl.startswith("gdfast"):
        method = impl.split()[1]

        def fn() -> np.ndarray:
            return call_method(gdfast.Objective(X, y, alpha=alpha), method, tol=1e-8).w
    elif impl.startswith("sklearn"):
        from sklearn.linear_model import LogisticRegression
        solver = impl.split()[1]

        def fn() -> np.ndarray:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                m = LogisticRegression(solver=solver, C=C, tol=1e-8, max_iter=10_000).fit(X, y)
            return np.r_[m.coef_.ravel(), m.intercept_]
    else:
        import statsmodels.api as sm
        Xc = sm.add_constant(X, prepend=False)
        rounds = 1

        def fn() -> np.ndarray:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return np.asarray(sm.Logit(y, Xc).fit(method="newton", maxiter=100, tol=1e-8, disp=0).params)
    w = _fit(benchmark, fn, rounds)
    benchmark.extra_info["cost"] = obj.cost(w)
    assert np.all(np.isfinite(w))


FIRST_ORDER = {"gd": 1_000, "nesterov": 1_000, "sgd": 20, "adam": 20}


@pytest.mark.parametrize("impl", [*FIRST_ORDER, "sklearn SGDClassifier"])
def test_first_order_fit(benchmark: Any, first_order_data: dict[str, Any], impl: str) -> None:
    X, y, alpha = first_order_data["X"], first_order_data["y"], first_order_data["alpha"]
    benchmark.group = f"first-order fits (capped) {first_order_data['n']}x{first_order_data['d']}"
    obj = gdfast.Objective(X, y, alpha=alpha)
    if impl in FIRST_ORDER:

        def fn() -> np.ndarray:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return call_method(gdfast.Objective(X, y, alpha=alpha), impl, tol=1e-8,
                                    max_iter=FIRST_ORDER[impl]).w
    else:
        from sklearn.linear_model import SGDClassifier

        def fn() -> np.ndarray:
            m = SGDClassifier(loss="log_loss", alpha=alpha, max_iter=20, tol=None, random_state=0).fit(X, y)
            return np.r_[m.coef_.ravel(), m.intercept_]
    w = _fit(benchmark, fn, rounds=1)
    benchmark.extra_info["cost"] = obj.cost(w)
    benchmark.extra_info["cost_newton"] = call_method(obj, "newton", tol=1e-10).cost
