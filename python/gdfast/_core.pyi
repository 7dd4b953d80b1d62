"""Type information for the compiled kernels ``gdfast._core`` (from ``src/gdcore/_core.pyx``).

The instruction-set variants ``gdfast._core_avx2`` and ``gdfast._core_avx512`` are built from the
same source and have the same contents. Array arguments are typed memoryviews in Cython: they take
any C-contiguous buffer of doubles (numpy float64 arrays here); ``X`` is float32 or float64 with
contiguous rows or columns. ``n_threads=None`` follows OpenMP's default (OMP_NUM_THREADS,
threadpoolctl limits).
"""
from typing import Final

from typing_extensions import disjoint_base

import numpy as np
import numpy.typing as npt

from ._protocols import CostGradient

_F64 = npt.NDArray[np.float64]
_X = npt.NDArray[np.float32] | npt.NDArray[np.float64]

DESCENT_FIXED: Final[int]
DESCENT_BACKTRACKING: Final[int]
DESCENT_NESTEROV: Final[int]

def loss_codes() -> dict[str, int]: ...
def cpu_supports(isa: str) -> bool: ...
def has_openmp() -> bool: ...
def max_threads() -> int: ...
def loss_terms(loss: int, z: float, y: float, param: float = 0.0) -> tuple[float, float, float]: ...
def elementary_functions(x: _F64, exp_out: _F64, log1p_out: _F64) -> None: ...
def stream_sum(a: _F64, n_threads: int | None = None) -> float: ...

# A Cython extension type: Python classes may subclass it, but not together with another
# extension type.
@disjoint_base
class Kernel:
    def __init__(self, X: _X, y: _F64, sample_weight: _F64 | None, scale: float, loss: int,
                 fit_intercept: bool, alpha: float, cost_offset: float = 0.0,
                 loss_param: float = 0.0, offset: _F64 | None = None) -> None: ...
    @property
    def n_params(self) -> int: ...
    def cost_grad(self, w: _F64, grad: _F64 | None = None, hess: _F64 | None = None,
                  n_threads: int | None = None) -> float: ...
    def hessp(self, w: _F64, v: _F64, out: _F64, gram: bool = False,
              n_threads: int | None = None) -> float: ...
    def hessp_weighted(self, hw: _F64, v: _F64, out: _F64, n_threads: int | None = None) -> None: ...
    def linear(self, v: _F64, out: _F64, n_threads: int | None = None) -> None: ...
    def transpose(self, r: _F64, out: _F64, n_threads: int | None = None) -> None: ...
    def diag_weighted(self, hw: _F64, out: _F64, n_threads: int | None = None) -> None: ...
    def descent_run(self, mode: int, w: _F64, aux: _F64, lr: float, max_steps: int,
                    cost_hist: _F64, gnorm_hist: _F64, step_hist: _F64, it0: int, state: _F64,
                    best_w: _F64, tol: float, final: bool, n_threads: int | None = None
                    ) -> tuple[int, int]: ...
    def loss_from_z(self, z: _F64, r: _F64 | None = None, h: _F64 | None = None) -> float: ...

def diag_weighted(kernel: Kernel, hw: _F64, out: _F64, n_threads: int | None = None) -> None: ...
def descent_run(kernel: Kernel, mode: int, w: _F64, aux: _F64, lr: float, max_steps: int,
                cost_hist: _F64, gnorm_hist: _F64, step_hist: _F64, it0: int, state: _F64,
                best_w: _F64, tol: float, final: bool, n_threads: int | None = None
                ) -> tuple[int, int]: ...

# The same loops over any objective without a compiled kernel (gdfast.dask.Objective): each
# evaluation takes the GIL and calls objective.cost_gradient(w); the loop reads only that and
# objective.n_params.
def descent_run_objective(objective: CostGradient, mode: int, w: _F64, aux: _F64, lr: float,
                          max_steps: int, cost_hist: _F64, gnorm_hist: _F64, step_hist: _F64,
                          it0: int, state: _F64, best_w: _F64, tol: float, final: bool
                          ) -> tuple[int, int]: ...
