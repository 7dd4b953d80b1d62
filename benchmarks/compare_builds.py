"""Two builds of gdfast side by side: kernel and fit times of one against the other.

    python benchmarks/compare_builds.py OLD_PYTHON NEW_PYTHON [--rounds 5] [--output FILE]

Each python is an interpreter with a gdfast installed (e.g. a venv with the wheel of an older
commit, and one with the current build). The runs alternate (old, new, old, new, ...), each a
fresh process that times every case once after a warm-up, so that both builds see the same
machine state; the table gives, per case, the median over the rounds and new / old. Only the
public API (and the loss-free kernel methods both builds share) is used, so any two versions
since 0.1.0 compare.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from typing import Any, Callable

CASES = [
    # (name, threads)
    ("cost_gradient log f64 1e6x100", 1), ("cost_gradient log f64 1e6x100", 2),
    ("cost_gradient sq f64 1e6x100", 1), ("cost_gradient sq f64 1e6x100", 2),
    ("cost_gradient log f32 1e6x100", 1),
    ("cost_gradient log f64 1e6x10", 1),
    ("hessian log 1e5x100", 1), ("hessian log 1e5x100", 2),
    ("hessian log 1e6x20", 1),
    ("hessp log 1e6x100", 1),
    ("gd 200 iter 1e3x10", 1),
    ("fit newton 1e5x100", 1), ("fit newton 1e5x100", 2),
    ("fit lbfgs 1e5x100", 1),
    ("fit newton-cg 1e5x100", 1),
    ("fit newton 1e6x20", 1),
    ("fit lbfgs 1e6x20", 1),
    ("sparse cost_gradient 2e5x5e4", 1), ("sparse cost_gradient 2e5x5e4", 2),
    ("sparse fit auto 2e5x5e4", 1),
    ("sgd 5 epochs 1e5x20", 1),
]


def _worker() -> None:
    """Time every case once (after one warm-up call) in this process; print JSON."""
    import numpy as np
    import scipy.sparse
    from threadpoolctl import threadpool_limits

    import gdfast

    data: dict[tuple[int, int, str], Any] = {}

    def dense(n: int, d: int, dtype: Any = np.float64, loss: str = "log_loss") -> Any:
        key = (n, d, np.dtype(dtype).name + loss)
        if key not in data:
            r = np.random.default_rng(n + d)
            X = r.standard_normal((n, d))
            w = r.standard_normal(d) / np.sqrt(d)
            z = X @ w
            y = (r.random(n) < 1 / (1 + np.exp(-z))).astype(float) if loss == "log_loss" \
                else z + r.standard_normal(n)
            data[key] = (X.astype(dtype), y, np.append(w, 0.1))
        return data[key]

    def sparse_problem() -> Any:
        if "sparse" not in data:
            r = np.random.default_rng(7)
            n, d, per_row = 200_000, 50_000, 10        # ~10 entries a row, at random columns
            X = scipy.sparse.csr_matrix(
                (r.standard_normal(n * per_row), r.integers(0, d, n * per_row),
                 np.arange(0, n * per_row + 1, per_row)), shape=(n, d))
            w = r.standard_normal(d)
            y = (r.random(200_000) < 1 / (1 + np.exp(-(X @ w)))).astype(float)
            data["sparse"] = (X, y)
        return data["sparse"]

    def case(name: str, nt: int) -> Callable[[], Any]:
        parts = name.split()
        if name.startswith("cost_gradient"):
            loss = "log_loss" if parts[1] == "log" else "squared_error"
            n, d = (int(float(v)) for v in parts[3].split("x"))
            X, y, w = dense(n, d, np.float32 if parts[2] == "f32" else np.float64, loss)
            obj = gdfast.Objective(X, y, loss=loss, n_threads=nt)
            return lambda: obj.cost_gradient(w)
        if name.startswith("hessian") or name.startswith("hessp"):
            n, d = (int(float(v)) for v in parts[2].split("x"))
            X, y, w = dense(n, d)
            obj = gdfast.Objective(X, y, n_threads=nt)
            if parts[0] == "hessp":
                v = np.ones_like(w)
                return lambda: obj.hessp(w, v)
            return lambda: obj.hessian(w)
        if name.startswith("gd 200"):
            X, y, _ = dense(1000, 10)
            obj = gdfast.Objective(X, y, n_threads=nt)
            lr = 1.0 / obj.curvature_bound()
            return lambda: gdfast.minimize(obj, method="gd", learning_rate=lr, max_iter=200, tol=0)
        if name.startswith("fit") and "sparse" not in name:
            n, d = (int(float(v)) for v in parts[2].split("x"))
            X, y, _ = dense(n, d)
            obj = gdfast.Objective(X, y, alpha=1e-4, n_threads=nt)
            return lambda: gdfast.minimize(obj, method=parts[1])
        if name.startswith("sparse cost_gradient"):
            X, y = sparse_problem()
            obj = gdfast.Objective(X, y, n_threads=nt)
            w = np.random.default_rng(1).standard_normal(obj.n_params) * 0.1
            return lambda: obj.cost_gradient(w)
        if name.startswith("sparse fit"):
            X, y = sparse_problem()
            obj = gdfast.Objective(X, y, alpha=1.0 / X.shape[0], n_threads=nt)
            return lambda: gdfast.minimize(obj)
        if name.startswith("sgd"):
            X, y, _ = dense(100_000, 20)
            obj = gdfast.Objective(X, y, alpha=1e-4, n_threads=nt)
            return lambda: gdfast.minimize(obj, method="sgd", max_iter=5, tol=0, random_state=0)
        raise ValueError(name)

    out = {}
    for name, nt in CASES:
        with threadpool_limits(nt):
            fn = case(name, nt)
            fn()
            reps = []
            for _ in range(3):
                t0 = time.perf_counter()
                fn()
                reps.append(time.perf_counter() - t0)
            out[f"{name} | {nt}"] = min(reps)
    print(json.dumps({"version": gdfast.__version__, "times": out}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--output", default=None)
    args = parser.parse_args(argv)
    runs: dict[str, list[dict[str, float]]] = {"old": [], "new": []}
    for r in range(args.rounds):
        for label in ("old", "new"):
            python = args.old if label == "old" else args.new
            proc = subprocess.run([python, __file__, "--worker"], capture_output=True, text=True,
                                  check=True)
            runs[label].append(json.loads(proc.stdout.strip().splitlines()[-1])["times"])
            print(f"round {r + 1}/{args.rounds} {label} done", file=sys.stderr)
    lines = ["| case | threads | old (ms) | new (ms) | new / old |", "|---|---|---|---|---|"]
    worst = 0.0
    for key in runs["old"][0]:
        old = statistics.median(run[key] for run in runs["old"]) * 1e3
        new = statistics.median(run[key] for run in runs["new"]) * 1e3
        name, nt = key.split(" | ")
        worst = max(worst, new / old)
        lines.append(f"| {name} | {nt} | {old:.2f} | {new:.2f} | {new / old:.3f} |")
    lines.append("")
    lines.append(f"Largest new / old: {worst:.3f} (medians of {args.rounds} alternating rounds, "
                 "each the best of 3 calls after a warm-up).")
    text = "\n".join(lines)
    print(text)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--worker"]:
        _worker()
        sys.exit(0)
    sys.exit(main())
