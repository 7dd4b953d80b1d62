"""What method="auto" picks against every method, timed to the same cost.

    python benchmarks/auto_rule.py [--threads 1 2] [--quick] [--output FILE]

For each problem, every full-batch method of gdfast.minimize runs until its cost is within 1e-10
(relative) of the best cost any of them reaches (a callback stops it there and notes the time;
"auto" the same way); each time is the best of three runs. The table gives each method's time to that cost, the fastest,
what "auto" chose and auto / fastest. The problems are the logistic-regression shapes the rule
was tuned on (1e5 x 100 and 1e6 x 20 with alpha = 1e-4, and the benchmark suite's
make_classification fits) and three it was not (10,000 x 1,000 dense, 100,000 x 500 sparse,
squared error at 1,000,000 x 100).
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from datetime import datetime, timezone
from typing import Any

import numpy as np
import scipy.sparse
from threadpoolctl import threadpool_info, threadpool_limits

import gdfast
from gdbench.script import emit

METHODS = ["newton", "newton-cg", "lbfgs"]
TARGET = 1e-10          # time to a cost within this (relative) of the best
BUDGET_S = 60.0         # a method still above the target after this long is reported as such
REPEATS = 3             # each time is the best of this many runs (the machine is shared)


def problems(quick: bool) -> list[tuple[str, str, Any, np.ndarray, float, bool]]:
    """(name, loss, X, y, alpha, tuned)."""
    from sklearn.datasets import make_classification
    shrink = 10 if quick else 1
    out = []
    rng = np.random.default_rng(0)

    def logistic(n: int, d: int, seed: int, hard: bool = False) -> tuple[np.ndarray, np.ndarray]:
        # the benchmark suite's data: make_classification's defaults (2 informative features);
        # "hard": d/2 informative features, far worse conditioned for a gradient method
        X, y = make_classification(n_samples=n, n_features=d, random_state=seed,
                                   **({"n_informative": d // 2} if hard else {}))
        return X, y.astype(np.float64)

    for n, d in ((100_000 // shrink, 100), (1_000_000 // shrink, 20)):
        X, y = logistic(n, d, 0)
        out.append((f"logistic {n} x {d}, alpha 1e-4", "log_loss", X, y, 1e-4, True))
        out.append((f"logistic {n} x {d}, C 1e4 (alpha 1/(C n))", "log_loss", X, y,
                    1 / (1e4 * n), True))
        X, y = logistic(n, d, 0, hard=True)
        out.append((f"logistic {n} x {d} (d/2 informative), alpha 1e-4", "log_loss", X, y, 1e-4,
                    True))
    X, y = logistic(10_000, 1_000, 3)
    out.append(("logistic 10000 x 1000 dense, alpha 1e-4", "log_loss", X, y, 1e-4, False))
    n = 100_000 // shrink
    Xs = scipy.sparse.random(n, 500, density=0.02, format="csr", random_state=4,
                             data_rvs=rng.standard_normal)
    z = Xs @ (rng.standard_normal(500) / 3.0)
    ys = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(float)
    out.append((f"logistic {n} x 500 sparse (2%), alpha 1e-4", "log_loss", Xs, ys, 1e-4, False))
    n = 1_000_000 // shrink
    X = rng.standard_normal((n, 100))
    y = X @ rng.standard_normal(100) + rng.standard_normal(n)
    out.append((f"squared error {n} x 100, alpha 1e-4", "squared_error", X, y, 1e-4, False))
    return out


def time_to(obj: gdfast.Objective, method: str, target: float) -> tuple[float, float, str]:
    """(seconds until the cost is <= target, final cost, status): tol=0 and a callback that
    stops the run at the target ("auto" too, so that every method pays the same callback)."""
    start = time.perf_counter()
    reached: list[float] = []

    def stop(state: Any) -> bool:
        if state.cost <= target:
            reached.append(time.perf_counter() - start)
            return True
        return time.perf_counter() - start > BUDGET_S

    res = gdfast.minimize(obj, method=method, tol=0.0, callback=stop)
    elapsed = time.perf_counter() - start
    if not reached and res.cost <= target:
        reached.append(elapsed)
    return (reached[0] if reached else math.inf), res.cost, res.status


def _previous_rule(obj: gdfast.Objective) -> str:
    """What "auto" ran first before the rule was made per loss (gdfast at commit dad536d)."""
    if obj.n_params <= 500 and obj.n_samples * obj.n_params ** 2 <= 2e8:
        return "newton"
    return "newton-cg" if obj.is_sparse else "lbfgs"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", default=None)
    args = parser.parse_args(argv)
    lines = [f"- Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; machine: "
             f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical cores",
             f"- Command: `python benchmarks/auto_rule.py {' '.join(argv or sys.argv[1:])}`",
             f"- gdfast {gdfast.__version__}; BLAS "
             f"{', '.join(i.get('internal_api', '?') for i in threadpool_info())}",
             "", "| problem | threads | " + " | ".join(METHODS) + " | auto | auto chose | "
             "auto / fastest | the previous rule chose | its time / fastest |",
             "|---|---|" + "---|" * (len(METHODS) + 5)]
    for name, loss, X, y, alpha, tuned in problems(args.quick):
        for nt in args.threads:
            with threadpool_limits(nt):
                obj = gdfast.Objective(X, y, loss=loss, alpha=alpha, n_threads=nt)
                best = min(gdfast.minimize(obj, method=m, tol=0.0, max_iter=200).cost
                           for m in ("newton", "newton-cg") if m != "newton" or obj.n_params <= 2000)
                target = best + TARGET * abs(best)
                times = {m: min(time_to(obj, m, target)[0] for _ in range(REPEATS))
                         for m in METHODS}
                t_auto = min(time_to(obj, "auto", target)[0] for _ in range(REPEATS))
                chosen = gdfast.minimize(obj, max_iter=1).method
                fastest = min(times.values())
                cells = " | ".join(f"{times[m]:.3f}" if math.isfinite(times[m]) else "> budget"
                                   for m in METHODS)
                label = name + ("" if tuned else " (not tuned on)")
                before = _previous_rule(obj)
                t_before = times[before] if before in times else math.nan
                lines.append(f"| {label} | {nt} | {cells} | {t_auto:.3f} | {chosen} | "
                             f"{t_auto / fastest:.2f} | {before} | {t_before / fastest:.2f} |")
                print(lines[-1], file=sys.stderr, flush=True)
    return emit(lines, args.output)


if __name__ == "__main__":
    sys.exit(main())
