"""The Hessian estimated on a few rows, as L-BFGS's preconditioner in method="auto".

L-BFGS's own inverse-Hessian estimate starts from a multiple of the identity and needs many
pairs to learn the shape of an ill-conditioned Hessian: on logistic regression with many
informative, correlated features it takes 30-90 iterations where Newton takes 5-6. Started
from ``H^-1`` of the Hessian estimated on ``m`` rows spread over the data, it takes about as
many iterations as on well-conditioned data (benchmarks/RESULTS.md, "auto").

The estimate is the Hessian of the objective over the m rows (``Objective.row_sample``, copied
once), with ``m = max(50 n_params, n / 50)``: the sampling error of a mean Hessian falls as
``sqrt(n_params / m)``, and a preconditioner need not be exact, the pairs correct it. When the
Hessian is B x B blocks that are each a weighted Gram of the same D = n_params / B columns
(``hessian_blocks``: the K classes of the multinomial model), the error of each block falls as
``sqrt(D / m)`` and ``m = max(50 D, n / 50)``: at 100,000 x 50, K = 10, 2,545 rows instead of
25,450 (L-BFGS then took 18 iterations against 45, at a tenth of the cost per estimate). One
estimate costs about ``m (1 + n_params / 16) / n`` gradient passes (the register-tiled Gram
against the fused gradient pass); it is made again at the current iterate every k iterations,
k chosen so that the estimates take at most about 5% of the passes (every iteration at
1e6 x 20, every 8th at 1e5 x 100): the Hessian at the start can be far from the one near the
solution on well-separated classes, where L-BFGS alone is already fast. The multinomial
model's Hessian moves more between the start (all probabilities 1/K) and the optimum: with
estimates at most 5% of the passes (every 17th iteration at 100,000 x 50, K = 10) L-BFGS took 27
iterations, with 20% (every 5th) 18, and the time fell by a third; blocked Hessians take 20%.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.linalg import lapack

from ._protocols import ObjectiveBase

ROWS_PER_PARAM = 50       # m >= 50 n_params ...
ROW_FRACTION = 50         # ... and m >= n / 50
PASS_SHARE = 0.05         # the estimates' cost, at most this share of the gradient passes
BLOCKED_PASS_SHARE = 0.2  # ... of a blocked (multinomial) Hessian


class SampledHessian:
    """``v -> H_m(w)^-1 v`` for the Hessian on m rows (see the module docstring).

    Build it with :meth:`create`, which returns None when the objective has no row sample or
    its Hessian is not positive definite (no penalty and dependent columns)."""

    def __init__(self, sample: ObjectiveBase, every: int) -> None:
        self.sample = sample
        self.every = every
        self.factor: np.ndarray | None = None      # the Cholesky factor (lower)

    @staticmethod
    def plan(obj: ObjectiveBase) -> tuple[int, float]:
        """The rows m of the sample and the cost of one estimate, in gradient passes."""
        columns = math.ceil(obj.n_params / max(1, obj.hessian_blocks))
        rows = min(obj.n_samples, max(ROWS_PER_PARAM * columns, obj.n_samples // ROW_FRACTION))
        return rows, rows * (1.0 + obj.n_params / 16.0) / obj.n_samples

    @classmethod
    def create(cls, obj: ObjectiveBase, w: np.ndarray) -> SampledHessian | None:
        rows, passes = cls.plan(obj)
        sample = obj.row_sample(rows)
        if sample is None:
            return None
        share = PASS_SHARE if obj.hessian_blocks <= 1 else BLOCKED_PASS_SHARE
        pre = cls(sample, max(1, math.ceil(passes / share)))
        pre.estimate(w)
        return pre if pre.factor is not None else None

    def estimate(self, w: np.ndarray) -> None:
        """Factor the estimate at w; keeps the previous factor if this one is unusable."""
        try:
            H = self.sample.hessian(w)
        except ValueError:                      # overflow at w: keep the last estimate
            return
        if not np.all(np.isfinite(H)):
            return
        # LAPACK directly: scipy.linalg's cho_factor/cho_solve wrappers cost ~0.4 ms a call at
        # 509 parameters, 5% of a multinomial fit at 100,000 x 50 (two solves an iteration)
        factor, info = lapack.dpotrf(H.T, lower=1, clean=0, overwrite_a=1)   # H symmetric
        if info != 0:
            return                              # not positive definite: keep the last one
        self.factor = factor

    def update(self, w: np.ndarray, iteration: int) -> None:
        if iteration > 0 and iteration % self.every == 0:
            self.estimate(w)

    def __call__(self, v: np.ndarray) -> np.ndarray:
        assert self.factor is not None
        x, info = lapack.dpotrs(self.factor, v, lower=1)
        return np.asarray(x)
