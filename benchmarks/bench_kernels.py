"""pytest-benchmark: cost_gradient and Hessian of gdfast against gdfast.reference, numpy and BLAS.

Each group holds one problem (size, loss, dtype, thread count) so that gdfast and its baseline are
listed side by side; the baselines run with their BLAS limited to the same thread count. Weights
are realistic (z roughly N(0, 1)), never w = 0. ``pytest benchmarks/ --quick`` for small sizes.
"""
from __future__ import annotations

from typing import Any, Callable

import pytest

import gdfast
from gdfast import reference


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("impl", ["gdfast", "reference"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("loss", ["log_loss", "squared_error"])
def test_cost_gradient(benchmark: Any, bench_run: Callable[..., Any], kernel_data: dict[str, Any], blas_limit: Callable[[int], Any],
                       loss: str, dtype: str, impl: str, threads: int) -> None:
    X, y, w = kernel_data[dtype], kernel_data[loss], kernel_data["w"]
    if impl == "gdfast":
        obj: Any = gdfast.Objective(X, y, loss, n_threads=threads)
    else:
        obj = reference.Objective(X, y, loss)
    benchmark.group = f"cost_gradient {loss} {dtype} {kernel_data['n']}x{kernel_data['d']} threads={threads}"
    benchmark.extra_info["bytes_of_X"] = X.nbytes
    with blas_limit(threads):
        cost, grad = bench_run(obj.cost_gradient, w)
    assert grad.shape == (X.shape[1] + 1,)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("impl", ["gdfast", "numpy", "bare syrk"])
def test_hessian(benchmark: Any, bench_run: Callable[..., Any], hessian_data: dict[str, Any], blas_limit: Callable[[int], Any],
                 impl: str, threads: int) -> None:
    from scipy.linalg.blas import dsyrk
    X, coef, h, Xs = hessian_data["X"], hessian_data["coef"], hessian_data["h"], hessian_data["Xs"]
    if impl == "gdfast":
        obj = gdfast.Objective(X, hessian_data["y"], "log_loss", fit_intercept=False, n_threads=threads)
        fn: Callable[[], Any] = lambda: obj.hessian(coef)          # noqa: E731
    elif impl == "numpy":
        fn = lambda: X.T @ (X * h[:, None])                          # noqa: E731
    else:
        fn = lambda: dsyrk(1.0, Xs.T, trans=0)                       # noqa: E731
    benchmark.group = f"hessian {hessian_data['n']}x{hessian_data['d']} threads={threads}"
    with blas_limit(threads):
        H = bench_run(fn)
    assert H.shape == (X.shape[1], X.shape[1])
