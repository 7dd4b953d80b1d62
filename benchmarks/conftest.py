"""Options, sizes and shared data of the pytest-benchmark suite.

Run with ``pytest benchmarks/`` (full sizes) or ``pytest benchmarks/ --quick`` (or with the
environment variable ``GDFAST_BENCH_QUICK=1``) for small sizes that run in seconds. Compare the
contenders of one group side by side: ``--benchmark-group-by=group`` is the default, and every test
sets its group to the problem, so gdfast and its baseline sit in the same table. The data come from
the harness in ``benchmarks/gdbench/`` (importable through ``pythonpath`` in ``pyproject.toml``).
"""
from __future__ import annotations

import contextlib
import os
from typing import Any, Callable, Iterator

import numpy as np
import pytest

from gdbench import linear_problem

FULL = {
    "kernel_size": [(1_000, 10), (100_000, 100), (1_000_000, 100)],
    "hessian_size": [(100_000, 100), (1_000_000, 20)],
    "fit_size": [(100_000, 100), (1_000_000, 20)],
    "first_order_size": [(100_000, 100)],
}
QUICK = {
    "kernel_size": [(1_000, 10), (20_000, 50)],
    "hessian_size": [(5_000, 20)],
    "fit_size": [(2_000, 10)],
    "first_order_size": [(2_000, 10)],
}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--quick", action="store_true", default=False,
                     help="gdfast benchmarks: small sizes (also GDFAST_BENCH_QUICK=1)")


def is_quick(config: pytest.Config) -> bool:
    """True when the small sizes were asked for."""
    return bool(config.getoption("--quick")) or os.environ.get("GDFAST_BENCH_QUICK", "") not in ("", "0")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    sizes = QUICK if is_quick(metafunc.config) else FULL
    for name, values in sizes.items():
        if name in metafunc.fixturenames:
            metafunc.parametrize(name, values, ids=[f"{n}x{d}" for n, d in values], scope="module")


@pytest.fixture(scope="module")
def kernel_data(kernel_size: tuple[int, int]) -> dict[str, Any]:
    """X in float64 and float32, targets for both losses and realistic weights (z ~ N(0, 1))."""
    n, d = kernel_size
    X, y_log, y_sq, w = linear_problem(n, d, seed=1)
    return {"float64": X, "float32": X.astype(np.float32), "log_loss": y_log, "squared_error": y_sq,
            "w": w, "n": n, "d": d}


@pytest.fixture(scope="module")
def hessian_data(hessian_size: tuple[int, int]) -> dict[str, Any]:
    """X, labels, coefficients, the Hessian weights h and X pre-scaled by sqrt(h)."""
    n, d = hessian_size
    X, y, _, w = linear_problem(n, d, seed=2)
    coef = w[:-1]
    z = X @ coef
    p = 1.0 / (1.0 + np.exp(-z))
    h = p * (1.0 - p) / n
    return {"X": X, "y": y, "coef": coef, "h": h, "Xs": X * np.sqrt(h)[:, None], "n": n, "d": d}


@pytest.fixture(scope="module")
def classification(fit_size: tuple[int, int]) -> dict[str, Any]:
    """scikit-learn's make_classification at the fit sizes, with alpha = 1/(C n) for C = 1e4."""
    from sklearn.datasets import make_classification
    n, d = fit_size
    X, y = make_classification(n_samples=n, n_features=d, random_state=0)
    return {"X": X, "y": y.astype(np.float64), "C": 1e4, "alpha": 1.0 / (1e4 * n), "n": n, "d": d}


@pytest.fixture(scope="module")
def first_order_data(first_order_size: tuple[int, int]) -> dict[str, Any]:
    """The same kind of data, for the first-order methods (run with iteration caps)."""
    from sklearn.datasets import make_classification
    n, d = first_order_size
    X, y = make_classification(n_samples=n, n_features=d, random_state=0)
    return {"X": X, "y": y.astype(np.float64), "alpha": 1.0 / (1e4 * n), "n": n, "d": d}


@pytest.fixture(scope="session")
def blas_limit() -> Callable[[int | None], Any]:
    """A context manager factory: BLAS limited to k threads inside the block."""
    from threadpoolctl import ThreadpoolController
    controller = ThreadpoolController()

    @contextlib.contextmanager
    def limit(k: int | None) -> Iterator[None]:
        if k is None:
            yield
            return
        with controller.limit(limits=k, user_api="blas"):
            yield
    return limit


def _run(benchmark: Any, fn: Callable[..., Any], *args: Any, quick: bool = False, slow: float = 0.05,
         rounds: int = 5) -> Any:
    import time
    t0 = time.perf_counter()
    fn(*args)                                         # warm-up, and a first estimate
    t = time.perf_counter() - t0
    if quick:                                         # a few short rounds: checks, not numbers
        return benchmark.pedantic(fn, args=args, rounds=3, iterations=max(1, min(1000, int(0.005 / max(t, 1e-7)))),
                                  warmup_rounds=0)
    if t >= slow:
        return benchmark.pedantic(fn, args=args, rounds=rounds, iterations=1, warmup_rounds=0)
    return benchmark(fn, *args)


@pytest.fixture
def bench_run(benchmark: Any, request: pytest.FixtureRequest) -> Callable[..., Any]:
    """``bench_run(fn, *args)``: benchmark fn(*args) with pytest-benchmark's calibration when it is
    fast, or as five single calls when one call takes 50 ms or more (after one warm-up call); three
    short rounds with ``--quick``."""
    quick = is_quick(request.config)
    return lambda fn, *args: _run(benchmark, fn, *args, quick=quick)
