"""GLM fits side by side: gdfast against scikit-learn, glum and statsmodels.

    python benchmarks/glm.py [--n 1000000] [--d 20] [--threads 1 2] [--repeats 3] [--output FILE]

Poisson regression (y ~ Poisson(exp(X w + b))) and Gamma regression (y ~ Gamma with mean
exp(X w + b), shape 2) on standard normal X, alpha = 1e-4 in gdfast's convention (``alpha/2
||coef||^2`` on the mean half deviance, which is scikit-learn's and glum's), tol 1e-8 where a
contender has one. Each thread count runs in a fresh process with OMP_NUM_THREADS, MKL and
OpenBLAS limits set, so that every contender's OpenMP and BLAS see the same count. Every fit
is timed ``--repeats`` times (the median is reported, X already in memory in the layout each
contender wants: the conversion is not timed), and every contender's coefficients are scored
by the same function, gdfast's cost at them, so that all solve the same problem to a known
accuracy: "cost - best" is relative to the lowest cost any contender reached. statsmodels' GLM
has no L2 penalty in its IRLS fit: it solves alpha = 0, and its excess cost is that of the
unpenalised optimum (reported, not a failure).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from typing import Any, Callable

import numpy as np

from gdbench.script import emit, header_lines, median_time, thread_env

ALPHA = 1e-4
TOL = 1e-8


def data(family: str, n: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    z = X @ (rng.standard_normal(d) * 0.15) + 0.5
    mu = np.exp(z)
    if family == "poisson":
        y = rng.poisson(mu).astype(np.float64)
    else:
        y = rng.gamma(2.0, mu / 2.0)
    return X, y


def contenders(family: str, X: np.ndarray, y: np.ndarray, threads: int
               ) -> dict[str, Callable[[], np.ndarray]]:
    """name -> a fit returning [coef..., intercept]."""
    import gdfast

    out: dict[str, Callable[[], np.ndarray]] = {}

    def ours() -> np.ndarray:
        obj = gdfast.Objective(X, y, loss=family, alpha=ALPHA, n_threads=threads)
        return gdfast.minimize(obj, tol=TOL).w
    out["gdfast minimize (auto)"] = ours

    estimator = gdfast.PoissonRegressor if family == "poisson" else gdfast.GammaRegressor

    def ours_estimator() -> np.ndarray:
        reg = estimator(alpha=ALPHA, tol=TOL, n_threads=threads).fit(X, y)
        return np.append(reg.coef_, reg.intercept_)
    out["gdfast estimator (+ std errors, deviance)"] = ours_estimator

    import sklearn.linear_model as lm
    peer = lm.PoissonRegressor if family == "poisson" else lm.GammaRegressor
    for solver in ("lbfgs", "newton-cholesky"):
        def sk(solver: str = solver) -> np.ndarray:
            reg = peer(alpha=ALPHA, solver=solver, tol=TOL, max_iter=1000).fit(X, y)
            return np.append(reg.coef_, reg.intercept_)
        out[f"scikit-learn {solver}"] = sk
    try:
        import glum
    except ImportError:
        pass
    else:
        Xf = np.asfortranarray(X)            # glum's preferred layout (conversion not timed)

        def gl() -> np.ndarray:
            reg = glum.GeneralizedLinearRegressor(family=family, alpha=ALPHA, l1_ratio=0.0,
                                                  gradient_tol=TOL).fit(Xf, y)
            return np.append(reg.coef_, reg.intercept_)
        out["glum (IRLS, default)"] = gl
    try:
        import statsmodels.api as sm
    except ImportError:
        pass
    else:
        Xc = np.column_stack([X, np.ones(len(y))])
        fam = (sm.families.Poisson() if family == "poisson"
               else sm.families.Gamma(sm.families.links.Log()))

        def st() -> np.ndarray:
            return np.asarray(sm.GLM(y, Xc, family=fam).fit(tol=TOL).params)
        out["statsmodels GLM (IRLS, alpha = 0)"] = st
    return out


def child(family: str, n: int, d: int, threads: int, repeats: int) -> dict[str, Any]:
    from threadpoolctl import threadpool_limits

    import gdfast
    X, y = data(family, n, d)
    obj = gdfast.Objective(X, y, loss=family, alpha=ALPHA)
    rows = {}
    with threadpool_limits(threads):
        for name, fit in contenders(family, X, y, threads).items():
            t, w = median_time(fit, repeats)
            rows[name] = {"time": t, "cost": obj.cost(w)}
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--d", type=int, default=20)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--families", nargs="+", default=["poisson", "gamma"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", default=None)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        family, threads, repeats = args.child[0], int(args.child[1]), int(args.child[2])
        print(json.dumps(child(family, args.n, args.d, threads, repeats)))
        return 0
    lines = header_lines("glm.py", argv, args.repeats)
    for family in args.families:
        lines += [f"**{family}, {args.n} x {args.d}, alpha {ALPHA:g}, tol {TOL:g}**", "",
                  "| contender | threads | time (s) | cost - best (relative) | fastest peer / this |",
                  "|---|---|---|---|---|"]
        for threads in args.threads:
            out = subprocess.run([sys.executable, __file__, "--n", str(args.n), "--d", str(args.d),
                                  "--child", family, str(threads), str(args.repeats)],
                                 env=thread_env(threads), capture_output=True, text=True, check=True)
            rows = json.loads(out.stdout.strip().splitlines()[-1])
            best = min(r["cost"] for r in rows.values())
            peers = [r["time"] for name, r in rows.items() if not name.startswith("gdfast")
                     and (r["cost"] - best) <= 1e-6 * abs(best)]
            fastest_peer = min(peers) if peers else float("nan")
            for name, r in rows.items():
                lines.append(f"| {name} | {threads} | {r['time']:.3f} | "
                             f"{(r['cost'] - best) / abs(best):.1e} | {fastest_peer / r['time']:.2f} |")
                print(lines[-1], file=sys.stderr, flush=True)
        lines.append("")
    return emit(lines, args.output)


if __name__ == "__main__":
    sys.exit(main())
