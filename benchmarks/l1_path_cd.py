"""gdfast.path for L1 logistic regression at the issue's 100,000 x 1,000 (benchmarks/l1.py's
data and alpha): 20 alphas from alpha_max down, warm starts, tol 1e-6, 1 thread.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/l1_path_cd.py
"""
import time, sys, numpy as np, gdfast
sys.path.insert(0, "benchmarks")
from l1 import logistic_data
X, y = logistic_data(100_000, 1000)
alpha = 1.0 / (0.02 * 20_000)
obj = gdfast.Objective(X, y, alpha=alpha, l1_ratio=1.0, n_threads=1)
top = gdfast.alpha_max(obj)
alphas = np.geomspace(top, alpha, 20)
t = time.time(); p = gdfast.path(obj, alphas=alphas, tol=1e-6); t = time.time() - t
print(f"path 20 alphas {top:.4g} -> {alpha:.4g}: {t:.2f}s", [r.method for r in p.results][:2],
      [int(np.count_nonzero(w[:-1])) for w in p.w], all(r.converged for r in p.results), flush=True)
print([r.n_iter for r in p.results], sum(r.n_iter for r in p.results))
print([int(sum(r.history["sweeps"])) for r in p.results])
