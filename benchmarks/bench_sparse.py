"""Sparse logistic regression: gdfast's CSR kernels against scikit-learn (issue 7).

A script, not a test (no timing in tests; pytest collects nothing here):

    python benchmarks/bench_sparse.py                  # 200k x 50k, density 2e-4, binary, C = 1
    python benchmarks/bench_sparse.py --n 20000 --d 5000 --repeats 1    # a quick look

Every contender minimises the same cost, the mean log loss plus alpha/2 ||coef||^2 with
alpha = 1/(C n) and an unpenalised intercept (scikit-learn's LogisticRegression objective), to
tol 1e-8; the final costs are all evaluated by one gdfast.Objective in float64. liblinear also
penalises the intercept (intercept_scaling = 1), so its optimum is not quite the same point: its
cost is shown for reference.

gdfast contenders on this branch (the Hessian of 50k parameters is refused, so not Newton):
- "lbfgs": scipy's L-BFGS-B, with scikit-learn's exact options, on gdfast's fused
  cost_gradient: the same algorithm as scikit-learn's lbfgs, so the ratio is the kernels' gain.
- "trust-ncg": scipy's trust-region Newton-CG on cost_gradient and hessp (Hessian-vector
  products, one pass over the rows each, Hessian never formed).
- "trust-ncg, cached h": the same, with the kernels a Newton-CG solver uses: the gradient from
  linear (z = Xa w), loss_from_z (which also gives h = s loss''(z)) and transpose, and each
  Hessian-vector product from hessp_weighted on that cached h (no loss math per CG step).
Timings are medians of --repeats runs, contenders alternating; the machine may be shared, so
compare ratios from one run rather than absolute times across runs. BLAS is limited to one
thread for every contender (threadpoolctl): scipy's L-BFGS-B, used by scikit-learn's lbfgs and by
the gdfast lbfgs run alike, makes small BLAS calls whose thread hand-offs cost several times the
whole iteration on a busy 2-core machine. gdfast's own OpenMP threads are set by --threads.
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import time
import warnings

import numpy as np
import scipy
import scipy.optimize
import scipy.sparse as sp
import sklearn
import threadpoolctl
from sklearn.linear_model import LogisticRegression

import gdfast
from gdfast import _dispatch


def make_data(n: int, d: int, density: float, seed: int = 0):
    """Binary CSR features (each row has about density * d ones, in random columns; column
    popularity falls off like a text vocabulary's) and labels from a sparse logistic model."""
    rng = np.random.default_rng(seed)
    nnz = int(round(n * d * density))
    rows = rng.integers(0, n, nnz)
    # Zipf-like column popularity: a few frequent features, a long tail of rare ones.
    popularity = 1.0 / np.arange(1, d + 1) ** 0.7
    cols = rng.choice(d, size=nnz, p=popularity / popularity.sum())
    X = sp.csr_matrix((np.ones(nnz), (rows, cols)), shape=(n, d))
    X.data[:] = 1.0                                    # duplicates summed to 2: back to binary
    X.sort_indices()
    coef = rng.standard_normal(d) * (rng.random(d) < 0.2) * 2.0
    z = X @ coef
    z -= np.median(z)
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-z))).astype(np.float64)
    return X, y


def fit_sklearn(X, y, C, solver, tol):
    clf = LogisticRegression(C=C, solver=solver, tol=tol, max_iter=100_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, y)
    n_iter = int(np.max(clf.n_iter_))
    return np.r_[clf.coef_.ravel(), clf.intercept_], n_iter


def fit_gdfast(obj, method, tol):
    res = gdfast.minimize(obj, method=method, tol=tol)
    return res.w, res.n_iter


def fit_lbfgs(obj, tol):
    # scikit-learn's options for lbfgs (sklearn/linear_model/_logistic.py), on gdfast's kernels
    res = scipy.optimize.minimize(obj.cost_gradient, np.zeros(obj.n_params), jac=True,
                                  method="L-BFGS-B",
                                  options={"maxiter": 100_000, "maxls": 50, "gtol": tol,
                                           "ftol": 64 * np.finfo(float).eps})
    return res.x, res.nit


def fit_trust_ncg(obj, tol):
    res = scipy.optimize.minimize(obj.cost_gradient, np.zeros(obj.n_params), jac=True,
                                  hessp=obj.hessp, method="trust-ncg",
                                  options={"gtol": tol, "maxiter": 1000})
    return res.x, res.nit


def fit_trust_ncg_cached(obj, tol):
    k, nt, n, D = obj._kernel, obj.n_threads, obj.n_samples, obj.n_params
    z, r, h = np.empty(n), np.empty(n), np.empty(n)
    g, hv = np.empty(D), np.empty(D)
    pen = np.full(D, obj.alpha)
    pen[obj.n_features:] = 0.0
    at = [None]                                    # the point whose h is cached

    def evaluate(x):
        k.linear(x, z, nt)
        c = k.loss_from_z(z, r, h) + 0.5 * float((pen * x) @ x)
        k.transpose(r, g, nt)
        at[0] = x.copy()
        return c, g + pen * x

    def hessp(x, p):
        if at[0] is None or not np.array_equal(x, at[0]):
            evaluate(x)
        k.hessp_weighted(h, p, hv, nt)
        return hv + pen * p

    res = scipy.optimize.minimize(evaluate, np.zeros(D), jac=True, hessp=hessp,
                                  method="trust-ncg", options={"gtol": tol, "maxiter": 1000})
    return res.x, res.nit


def timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


def kernel_times(obj, X, y, repeats=20):
    """One cost+gradient: gdfast's fused pass against scikit-learn's way (X @ w, numpy loss,
    X.T @ r), best of repeats."""
    rng = np.random.default_rng(1)
    w = rng.standard_normal(obj.n_params) * 0.3
    coef, b = w[:-1], w[-1]
    n = X.shape[0]

    def numpy_pass():
        z = X @ coef + b
        loss = np.logaddexp(0, z) - y * z
        r = (1 / (1 + np.exp(-z)) - y) / n
        return loss.mean(), np.r_[X.T @ r, r.sum()]

    out = {}
    for name, f in ((f"gdfast cost_gradient, {obj.n_threads} threads", lambda: obj.cost_gradient(w)),
                    (f"gdfast hessp, {obj.n_threads} threads", lambda: obj.hessp(w, w)),
                    ("scipy.sparse + numpy cost and gradient", numpy_pass)):
        f()
        best = min(timed(f)[0] for _ in range(repeats))
        out[name] = best
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--d", type=int, default=50_000)
    ap.add_argument("--density", type=float, default=2e-4)
    ap.add_argument("--C", type=float, default=1.0)
    ap.add_argument("--tol", type=float, default=1e-8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="gdfast threads (default: all)")
    ap.add_argument("--no-liblinear", action="store_true")
    ap.add_argument("--only-gdfast-and-lbfgs", action="store_true",
                    help="time only gdfast.minimize's methods and scikit-learn's lbfgs")
    args = ap.parse_args()

    X, y = make_data(args.n, args.d, args.density)
    n = X.shape[0]
    alpha = 1.0 / (args.C * n)
    threads = args.threads or os.cpu_count()
    obj = gdfast.Objective(X, y, loss="log_loss", alpha=alpha, n_threads=threads)
    obj1 = gdfast.Objective(X, y, loss="log_loss", alpha=alpha, n_threads=1)
    judge = gdfast.Objective(X, y, loss="log_loss", alpha=alpha, n_threads=1)

    contenders = {}
    for o, label in ((obj, f"{threads} threads"), (obj1, "1 thread")):
        for method in ("newton-cg", "lbfgs", "auto"):
            contenders[f"gdfast.minimize {method}, {label}"] = \
                lambda o=o, method=method: fit_gdfast(o, method, args.tol)
        contenders[f"gdfast lbfgs (scipy L-BFGS-B, gdfast cost_gradient), {label}"] = \
            lambda o=o: fit_lbfgs(o, args.tol)
        contenders[f"gdfast trust-ncg (scipy, gdfast hessp), {label}"] = \
            lambda o=o: fit_trust_ncg(o, args.tol)
        contenders[f"gdfast trust-ncg, cached h (scipy, gdfast hessp_weighted), {label}"] = \
            lambda o=o: fit_trust_ncg_cached(o, args.tol)
    if args.only_gdfast_and_lbfgs:
        contenders = {k: v for k, v in contenders.items() if k.startswith("gdfast.minimize")}
        args.no_liblinear = True
    contenders["scikit-learn lbfgs"] = lambda: fit_sklearn(X, y, args.C, "lbfgs", args.tol)
    if not args.no_liblinear:
        contenders["scikit-learn liblinear (penalises the intercept)"] = \
            lambda: fit_sklearn(X, y, args.C, "liblinear", args.tol)

    times = {k: [] for k in contenders}
    results = {}
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        for _ in range(args.repeats):
            for name, fn in contenders.items():
                t, (w, nit) = timed(fn)
                times[name].append(t)
                results[name] = (w, nit)
        ktimes = kernel_times(obj, X, y)
        ktimes.update({k: v for k, v in kernel_times(obj1, X, y).items()
                       if k.startswith("gdfast")})
    ref = times["scikit-learn lbfgs"]
    ref_t = statistics.median(ref)
    costs = {k: judge.cost(results[k][0]) for k in contenders}
    best_cost = min(costs.values())

    blas = sorted({f"{i['internal_api']} {i['version']}" for i in threadpoolctl.threadpool_info()})
    print(f"# Sparse logistic regression, {datetime.date.today().isoformat()}")
    print()
    print(f"- data: {n} x {X.shape[1]} CSR, {X.nnz} stored ones (density {X.nnz / n / X.shape[1]:.2e}), "
          f"{y.mean():.3f} positive; C = {args.C} (alpha = 1/(C n) = {alpha:.3g}); tol = {args.tol}")
    print(f"- machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}; "
          f"kernels {_dispatch.isa}; Python {platform.python_version()}, numpy {np.__version__}, "
          f"scipy {scipy.__version__}, scikit-learn {sklearn.__version__}; {', '.join(blas)} "
          f"(BLAS limited to 1 thread for all)")
    print(f"- load average at the end: {os.getloadavg()[0]:.1f} (the machine is shared)")
    print(f"- median of {args.repeats} alternating runs")
    print()
    print("| method | time (s) | vs sklearn lbfgs | iterations | final cost | cost - best |")
    print("|---|---|---|---|---|---|")
    for name in contenders:
        t = statistics.median(times[name])
        print(f"| {name} | {t:.3f} | {ref_t / t:.2f}x | {results[name][1]} | {costs[name]:.12f} | "
              f"{costs[name] - best_cost:.2e} |")
    print()
    print("| one pass at a random w | time (ms) |")
    print("|---|---|")
    for name, t in ktimes.items():
        print(f"| {name} | {t * 1e3:.2f} |")


if __name__ == "__main__":
    main()
