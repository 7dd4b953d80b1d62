"""One epoch of sgd on CSR: the cost grows with the stored entries, not with n x d.

A script, not a test (no timing in tests; pytest collects nothing here):

    python benchmarks/bench_sparse_sgd.py                      # 1e6 x 1e5, densities 1e-4, 1e-3
    python benchmarks/bench_sparse_sgd.py --n 100000 --d 10000 --repeats 1    # a quick look

It times ``Stepper.run_epoch_csr`` (the compiled epoch that ``gdfast.minimize(method="sgd")``
runs, without the full cost and gradient passes minimize adds between epochs) on X of one shape
at two densities, the second with 10x the stored entries:

- "sgd": plain SGD (momentum 0) with the L2 penalty, lazily decayed: O(nnz + d) an epoch, so the
  time should grow about 10x with nnz;
- "sgd, average": the same with iterate averaging (lazy too);
- "sgd, momentum 0.9" and "adam": every coefficient moves at every batch, O(nnz + d n / batch),
  the cost of a dense update per batch;
- "sgd, rows in order": "sgd" on the rows in storage order instead of a shuffle, to show how
  much of the epoch is the cost of visiting rows at random (a cache miss per row start);
- "dense X": an epoch of the dense path on the densified X, O(n d), extrapolated from a slab of
  rows (the full dense X would not fit in memory).

Rows hold Poisson(density * d) entries in uniformly random columns (unsorted; a rare repeated
column counts as the sum). Each epoch starts from w = 0 with a fresh stepper and one fixed
shuffle; the two densities alternate within each repeat, and the median is reported. The epoch
loop runs on one thread (it is serial by design); the Objective's passes are pinned to 1 thread.
"""
from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import statistics
import time

import numpy as np
import scipy
import scipy.sparse as sp

import gdfast
from gdfast import _dispatch, _stochastic
from gdfast._sgd import _loss_code


def make_csr(n: int, d: int, density: float, seed: int) -> sp.csr_matrix:
    """n x d CSR with Poisson(density d) entries a row, straight from the three arrays."""
    rng = np.random.default_rng(seed)
    counts = rng.poisson(density * d, n)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    nnz = int(indptr[-1])
    index = np.int32 if nnz < 2**31 else np.int64
    indices = rng.integers(0, d, nnz, dtype=np.int32)
    data = rng.standard_normal(nnz)
    return sp.csr_matrix((data, indices, indptr.astype(index)), shape=(n, d))


def labels(X: sp.csr_matrix, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    coef = rng.standard_normal(X.shape[1]) * (rng.random(X.shape[1]) < 0.1)
    z = X @ coef
    return (rng.random(X.shape[0]) < 1.0 / (1.0 + np.exp(-z))).astype(np.float64)


VARIANTS = {
    "sgd": dict(method=_stochastic.METHOD_SGD, momentum=0.0, average=False),
    "sgd, average": dict(method=_stochastic.METHOD_SGD, momentum=0.0, average=True),
    "sgd, momentum 0.9": dict(method=_stochastic.METHOD_SGD, momentum=0.9, average=False),
    "adam": dict(method=_stochastic.METHOD_ADAM, momentum=0.0, average=False),
    # the same work as "sgd" without the shuffle: what the random visit order costs
    "sgd, rows in order": dict(method=_stochastic.METHOD_SGD, momentum=0.0, average=False,
                               ordered=True),
}


def stepper(obj: gdfast.Objective, variant: str, batch_size: int, lr: float) -> _stochastic.Stepper:
    v = VARIANTS[variant]
    s = _stochastic.Stepper(v["method"], _loss_code(obj), obj.fit_intercept, obj.alpha,
                            obj.n_params, batch_size, lr, _stochastic.SCHEDULE_CONSTANT, 0.5,
                            momentum=v["momentum"])
    s.averaging = bool(v["average"])
    return s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--d", type=int, default=100_000)
    ap.add_argument("--densities", type=float, nargs=2, default=[1e-4, 1e-3])
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--learning-rate", type=float, default=0.05)
    ap.add_argument("--alpha", type=float, default=1e-6)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dense-rows", type=int, default=500,
                    help="rows of the dense slab whose epoch is extrapolated to n rows")
    ap.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    ap.add_argument("--no-dense", action="store_true", help="skip the dense X extrapolation")
    args = ap.parse_args()
    n, d, lo, hi = args.n, args.d, *args.densities
    variants = args.variants

    problems = {}
    for k, density in enumerate((lo, hi)):
        X = make_csr(n, d, density, seed=k)
        problems[density] = gdfast.Objective(X, labels(X, seed=10 + k), alpha=args.alpha,
                                             n_threads=1)
    shuffled, in_order = np.random.default_rng(99).permutation(n), np.arange(n)

    def order(variant: str) -> np.ndarray:
        return in_order if VARIANTS[variant].get("ordered") else shuffled

    # One run per density and variant, as minimize does: the first epoch (not timed) also checks
    # the CSR structure (one pass over the indices, once per run); the timed epochs continue it.
    runs = {}
    for density, obj in problems.items():
        X = obj.X
        for variant in variants:
            s, w = stepper(obj, variant, args.batch_size, args.learning_rate), np.zeros(obj.n_params)
            assert s.run_epoch_csr(X.data, X.indices, X.indptr, obj.y, None, order(variant), w)
            runs[(density, variant)] = (s, w)
    times: dict[tuple[float, str], list[float]] = {key: [] for key in runs}
    pass_times: dict[float, list[float]] = {rho: [] for rho in problems}
    for _ in range(args.repeats):
        for variant in variants:
            for density, obj in problems.items():
                s, w = runs[(density, variant)]
                X = obj.X
                t0 = time.perf_counter()
                ok = s.run_epoch_csr(X.data, X.indices, X.indptr, obj.y, None, order(variant), w)
                times[(density, variant)].append(time.perf_counter() - t0)
                assert ok and np.abs(w).max() > 0
        for density, obj in problems.items():
            t0 = time.perf_counter()
            obj.cost_gradient(np.zeros(obj.n_params))
            pass_times[density].append(time.perf_counter() - t0)

    # dense X: the same epoch over a slab of the densified rows, scaled to n rows
    rows = args.dense_rows
    slab = problems[lo].X[:rows].toarray()
    dense_obj = gdfast.Objective(slab, problems[lo].y[:rows], alpha=args.alpha, n_threads=1)
    s, w = stepper(dense_obj, "sgd", args.batch_size, args.learning_rate), np.zeros(dense_obj.n_params)
    slab_perm = np.random.default_rng(98).permutation(rows)
    dense_times = [math.nan]
    for _ in range(0 if args.no_dense else args.repeats):
        t0 = time.perf_counter()
        s.run_epoch(slab, dense_obj.y, None, slab_perm, w)
        dense_times.append((time.perf_counter() - t0) * n / rows)
    dense_times = dense_times[1:] or dense_times
    dense_epoch = statistics.median(dense_times)

    print(f"# One sgd epoch on CSR, {datetime.date.today().isoformat()}")
    print()
    print(f"- X: {n} x {d} CSR, float64 data, {problems[lo].X.indices.dtype} indices; batch_size "
          f"{args.batch_size} ({-(-n // args.batch_size)} batches), learning_rate "
          f"{args.learning_rate} (constant), alpha {args.alpha}, log loss, intercept")
    for rho, obj in problems.items():
        print(f"  - density {rho:g}: {obj.X.nnz} stored entries ({obj.X.nnz / n:.1f} a row)")
    print(f"- machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}; "
          f"Python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}; "
          f"gdfast kernels {_dispatch.isa}")
    print("- threads: 1 (the epoch loop is serial; the Objective's passes pinned to 1 thread)")
    print(f"- load average at the end: {os.getloadavg()[0]:.1f} (the machine is shared)")
    print(f"- median of {args.repeats} epochs per cell, the densities alternating")
    print()
    nnz_ratio = problems[hi].X.nnz / problems[lo].X.nnz
    print(f"| one epoch | density {lo:g} (s) | density {hi:g} (s) | ratio (nnz: {nnz_ratio:.2f}x) "
          f"| ns per stored entry at {hi:g} | dense X / this, at {lo:g} |")
    print("|---|---|---|---|---|---|")
    for variant in variants:
        t_lo = statistics.median(times[(lo, variant)])
        t_hi = statistics.median(times[(hi, variant)])
        print(f"| {variant} | {t_lo:.3f} | {t_hi:.3f} | {t_hi / t_lo:.2f}x | "
              f"{t_hi / problems[hi].X.nnz * 1e9:.2f} | {dense_epoch / t_lo:.0f}x |")
    t_lo, t_hi = statistics.median(pass_times[lo]), statistics.median(pass_times[hi])
    print(f"| (one cost_gradient pass, for scale) | {t_lo:.3f} | {t_hi:.3f} | {t_hi / t_lo:.2f}x | "
          f"{t_hi / problems[hi].X.nnz * 1e9:.2f} | |")
    print(f"| dense X (O(n d): {rows} densified rows, x {n / rows:g}) | {dense_epoch:.1f} | "
          f"{dense_epoch:.1f} | 1x | | 1x |")
    print()
    print("Each epoch (s):")
    for (rho, variant), ts in times.items():
        print(f"- {variant} @ {rho:g}: {', '.join(f'{t:.3f}' for t in ts)}")
    print(f"- dense X, extrapolated: {', '.join(f'{t:.1f}' for t in dense_times)}")


if __name__ == "__main__":
    main()
