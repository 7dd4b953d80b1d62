"""L1 fits side by side: gdfast's Lasso and L1 logistic regression against scikit-learn (and
skglm and glum when installed).

    python benchmarks/l1.py [--n-lasso 1000000] [--d-lasso 100] [--n-logistic 100000]
                            [--d-logistic 1000] [--threads 1 2] [--repeats 3] [--output FILE]

Lasso: standard normal X, y from 10 informative features plus unit noise, scikit-learn's
alpha 0.05 (gdfast's 0.1). L1 logistic regression: make_classification with 20 informative
features, scikit-learn's C = 0.02 / (n / 20000) (gdfast's alpha = 1 / (C n)), intercept fitted.
tol 1e-6 where a contender has one (each in its own meaning). Each thread count runs in a fresh
process with the thread limits set (gdbench.script); every fit is timed ``--repeats`` times (the
median is reported), and every contender's coefficients are scored by the same function,
gdfast's cost at them: "cost - best" is relative to the lowest cost any contender reached.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import warnings
from typing import Any, Callable

import numpy as np

from gdbench.script import emit, header_lines, median_time, thread_env

LASSO_ALPHA = 0.05          # scikit-learn's; gdfast's is twice this
TOL = 1e-6


def lasso_data(n: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d))
    return X, X[:, :10] @ rng.standard_normal(10) + rng.standard_normal(n)


def logistic_data(n: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_classification
    X, y = make_classification(n_samples=n, n_features=d, n_informative=20, random_state=0)
    return X, y.astype(np.float64)


def lasso_contenders(X: np.ndarray, y: np.ndarray, threads: int
                     ) -> dict[str, Callable[[], np.ndarray]]:
    import gdfast
    import sklearn.linear_model as lm
    out: dict[str, Callable[[], np.ndarray]] = {}

    def ours() -> np.ndarray:
        m = gdfast.Lasso(alpha=LASSO_ALPHA, tol=TOL, n_threads=threads).fit(X, y)
        return np.append(m.coef_, m.intercept_)
    out["gdfast Lasso (cd, covariance updates)"] = ours

    def sk() -> np.ndarray:
        m = lm.Lasso(alpha=LASSO_ALPHA, tol=TOL).fit(X, y)
        return np.append(m.coef_, m.intercept_)
    out["scikit-learn Lasso"] = sk
    try:
        import skglm
    except ImportError:
        pass
    else:
        def sg() -> np.ndarray:
            m = skglm.Lasso(alpha=LASSO_ALPHA, tol=TOL).fit(X, y)
            return np.append(m.coef_, m.intercept_)
        out["skglm Lasso"] = sg
    return out


def logistic_contenders(X: np.ndarray, y: np.ndarray, threads: int, alpha: float
                        ) -> dict[str, Callable[[], np.ndarray]]:
    import gdfast
    import sklearn.linear_model as lm
    C = 1.0 / (alpha * len(y))
    out: dict[str, Callable[[], np.ndarray]] = {}

    def ours() -> np.ndarray:
        m = gdfast.LogisticRegression(alpha=alpha, l1_ratio=1.0, tol=TOL,
                                      n_threads=threads).fit(X, y)
        return np.append(m.coef_.ravel(), m.intercept_)
    out["gdfast LogisticRegression (auto)"] = ours
    for solver in ("saga", "liblinear"):
        def sk(solver: str = solver) -> np.ndarray:
            m = lm.LogisticRegression(C=C, l1_ratio=1.0, solver=solver, tol=TOL,
                                      max_iter=100_000).fit(X, y)
            return np.append(m.coef_.ravel(), m.intercept_)
        out[f"scikit-learn {solver}"] = sk
    try:
        import skglm
    except ImportError:
        pass
    else:
        def sg() -> np.ndarray:
            # skglm's objective: mean log loss + alpha |w|_1, gdfast's (alpha the same)
            m = skglm.SparseLogisticRegression(alpha=alpha, tol=TOL, max_iter=1000,
                                               fit_intercept=True).fit(X, y)
            return np.append(m.coef_.ravel(), m.intercept_)
        out["skglm SparseLogisticRegression"] = sg
    try:
        import glum
    except ImportError:
        pass
    else:
        def gl() -> np.ndarray:
            m = glum.GeneralizedLinearRegressor(family="binomial", alpha=alpha, l1_ratio=1.0,
                                                gradient_tol=TOL).fit(X, y)
            return np.append(m.coef_, m.intercept_)
        out["glum"] = gl
    return out


def child(problem: str, n: int, d: int, threads: int, repeats: int) -> dict[str, Any]:
    from threadpoolctl import threadpool_limits

    import gdfast
    warnings.simplefilter("ignore")
    if problem == "lasso":
        X, y = lasso_data(n, d)
        obj = gdfast.Objective(X, y, loss="squared_error", alpha=2 * LASSO_ALPHA, l1_ratio=1.0)
        fits = lasso_contenders(X, y, threads)
    else:
        X, y = logistic_data(n, d)
        alpha = 1.0 / (0.02 * 20_000)
        obj = gdfast.Objective(X, y, alpha=alpha, l1_ratio=1.0)
        fits = logistic_contenders(X, y, threads, alpha)
    rows = {}
    with threadpool_limits(threads):
        for name, fit in fits.items():
            t, w = median_time(fit, repeats)
            rows[name] = {"time": t, "cost": obj.cost(w), "nnz": int(np.count_nonzero(w[:-1]))}
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-lasso", type=int, default=1_000_000)
    parser.add_argument("--d-lasso", type=int, default=100)
    parser.add_argument("--n-logistic", type=int, default=100_000)
    parser.add_argument("--d-logistic", type=int, default=1000)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--problems", nargs="+", default=["lasso", "logistic"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", default=None)
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        problem, n, d, threads, repeats = args.child[0], *map(int, args.child[1:])
        print(json.dumps(child(problem, n, d, threads, repeats)))
        return 0
    lines = header_lines("l1.py", argv, args.repeats)
    for problem in args.problems:
        n, d = ((args.n_lasso, args.d_lasso) if problem == "lasso"
                else (args.n_logistic, args.d_logistic))
        lines += [f"**{problem}, {n} x {d}, tol {TOL:g}**", "",
                  "| contender | threads | time (s) | cost - best (relative) | non-zeros | "
                  "fastest peer / this |", "|---|---|---|---|---|---|"]
        for threads in args.threads:
            out = subprocess.run([sys.executable, __file__, "--child", problem, str(n), str(d),
                                  str(threads), str(args.repeats)],
                                 env=thread_env(threads), capture_output=True, text=True, check=True)
            rows = json.loads(out.stdout.strip().splitlines()[-1])
            best = min(r["cost"] for r in rows.values())
            peers = [r["time"] for name, r in rows.items() if not name.startswith("gdfast")]
            fastest_peer = min(peers) if peers else float("nan")
            for name, r in rows.items():
                lines.append(f"| {name} | {threads} | {r['time']:.3f} | "
                             f"{(r['cost'] - best) / abs(best):.1e} | {r['nnz']} | "
                             f"{fastest_peer / r['time']:.2f} |")
                print(lines[-1], file=sys.stderr, flush=True)
        lines.append("")
    return emit(lines, args.output)


if __name__ == "__main__":
    sys.exit(main())
