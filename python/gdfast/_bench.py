"""``gdfast bench``: the compiled core against ``gdfast.reference`` on this machine, in seconds.

It times two things side by side: ``cost_gradient`` (one fused pass over X against the
reference's two numpy passes) at a wide and a narrow shape, and a Newton fit against the
reference's Newton loop. The full benchmark harness (bandwidth probe, scikit-learn, statsmodels,
memory, ``RESULTS.md``) lives in ``benchmarks/`` of the source tree and is not installed.
"""
from __future__ import annotations

import functools
import statistics
import time
from typing import Any, Callable, NamedTuple

import numpy as np
from threadpoolctl import threadpool_limits

from . import Objective, __version__, minimize, reference


class Sizes(NamedTuple):
    """(n, d) of the cost_gradient rows and of the fit, and the seconds a timed sample lasts at least."""

    kernels: list[tuple[int, int]]
    fit: tuple[int, int]
    min_sample: float


FULL = Sizes(kernels=[(100_000, 100), (1_000_000, 10)], fit=(100_000, 20), min_sample=0.05)
QUICK = Sizes(kernels=[(2_000, 20), (20_000, 5)], fit=(2_000, 5), min_sample=0.002)


def _problem(n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """X ~ N(0, 1), weights with z = X coef + b roughly N(0, 1), and labels drawn from sigmoid(z)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w = rng.standard_normal(d + 1) / np.sqrt(d + 1)
    z = X @ w[:-1] + w[-1]
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-z))).astype(np.float64)
    return X, y, w


def _medians(fns: dict[str, Callable[[], Any]], repeats: int, min_sample: float) -> dict[str, float]:
    """Median seconds per call; the contenders take turns within each repeat."""
    number = {}
    for name, fn in fns.items():
        t0 = time.perf_counter()
        fn()                                    # warm-up, and the calls a sample needs
        number[name] = max(1, int(min_sample / max(time.perf_counter() - t0, 1e-9)))
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(number[name]):
                fn()
            samples[name].append((time.perf_counter() - t0) / number[name])
    return {name: statistics.median(s) for name, s in samples.items()}


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms" if seconds < 1.0 else f"{seconds:.2f} s"


def _size(n: int, d: int) -> str:
    e = len(str(n)) - 1
    return (f"1e{e}" if n == 10 ** e and e >= 3 else str(n)) + f" x {d}"


def run(threads: int = 1, quick: bool = False, repeats: int = 5) -> int:
    """Time gdfast against gdfast.reference and print the speed-ups.

    Parameters
    ----------
    threads : int, default 1
        gdfast's ``n_threads``; BLAS (which the reference uses) is limited to the same count.
    quick : bool, default False
        Tiny sizes that run in a second or two: a check that it runs, not a measurement.
    repeats : int, default 5
        Timed samples per contender; the median is printed.

    Returns
    -------
    int
        0.

    Raises
    ------
    ValueError
        When ``threads`` or ``repeats`` is less than 1.
    """
    for name, value in (("threads", threads), ("repeats", repeats)):
        if value < 1:
            raise ValueError(f"--{name} must be at least 1; got {value}")
    sizes = QUICK if quick else FULL
    start = time.perf_counter()
    print(f"gdfast {__version__} against gdfast.reference (numpy), log loss, float64, {threads} "
          f"thread{'s' if threads > 1 else ''} (BLAS limited to the same); medians of {repeats}"
          + (" at tiny sizes (--quick: the ratios mean little)" if quick else ""))
    print(f"{'':34}{'gdfast':>11}{'reference':>12}{'speed-up':>10}  agreement")
    with threadpool_limits(limits=threads, user_api="blas"):
        for seed, (n, d) in enumerate(sizes.kernels):
            X, y, w = _problem(n, d, seed)
            fast, ref = Objective(X, y, n_threads=threads), reference.Objective(X, y)
            t = _medians({"gdfast": functools.partial(fast.cost_gradient, w),
                          "reference": functools.partial(ref.cost_gradient, w)}, repeats, sizes.min_sample)
            (_, g), (_, g_ref) = fast.cost_gradient(w), ref.cost_gradient(w)
            diff = np.linalg.norm(g - g_ref) / np.linalg.norm(g_ref)
            _row(f"cost_gradient, {_size(n, d)}", t, f"gradient rel. diff {diff:.1e}")
            del X, fast, ref
        n, d = sizes.fit
        X, y, _ = _problem(n, d, seed=7)
        alpha = 1.0 / (1e4 * n)                 # scikit-learn's C = 1e4, as in benchmarks/
        fits: dict[str, Any] = {}

        def fit_fast() -> None:
            fits["gdfast"] = minimize(Objective(X, y, alpha=alpha, n_threads=threads), method="newton", tol=1e-8)

        def fit_ref() -> None:
            fits["reference"] = reference.newton(reference.Objective(X, y, alpha=alpha), tol=1e-8)

        t = _medians({"gdfast": fit_fast, "reference": fit_ref}, repeats, 0.0)
        cost, cost_ref = fits["gdfast"].cost, float(fits["reference"][1][-1])
        _row(f"Newton fit to tol 1e-8, {_size(n, d)}", t,
             f"cost rel. diff {abs(cost - cost_ref) / abs(cost_ref):.1e}")
    print(f"Took {time.perf_counter() - start:.0f} s. The full report (scikit-learn, statsmodels, "
          "memory bandwidth, memory use) is\n`python benchmarks/report.py` in a source checkout of gdfast.")
    return 0


def _row(label: str, t: dict[str, float], agreement: str) -> None:
    print(f"{label:34}{_ms(t['gdfast']):>11}{_ms(t['reference']):>12}"
          f"{t['reference'] / t['gdfast']:>9.2f}x  {agreement}", flush=True)
