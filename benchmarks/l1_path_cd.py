"""gdfast.path for L1 logistic regression at the issue's 100,000 x 1,000 (benchmarks/l1.py's
data and alpha): 20 alphas from alpha_max down, warm starts, tol 1e-6, 1 thread.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/l1_path_cd.py
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

import gdfast

sys.path.insert(0, str(Path(__file__).parent))
from l1 import logistic_data  # noqa: E402


def main() -> int:
    X, y = logistic_data(100_000, 1000)
    alpha = 1.0 / (0.02 * 20_000)
    obj = gdfast.Objective(X, y, alpha=alpha, l1_ratio=1.0, n_threads=1)
    top = gdfast.alpha_max(obj)
    alphas = np.geomspace(top, alpha, 20)
    t = time.perf_counter()
    p = gdfast.path(obj, alphas=alphas, tol=1e-6)
    t = time.perf_counter() - t
    print(f"path, 20 alphas {top:.4g} -> {alpha:.4g}: {t:.2f} s; methods "
          f"{sorted({r.method for r in p.results})}; converged "
          f"{all(r.converged for r in p.results)}")
    print("non-zeros", [int(np.count_nonzero(w[:-1])) for w in p.w])
    print("outer iterations", [r.n_iter for r in p.results])
    return 0


if __name__ == "__main__":
    sys.exit(main())
