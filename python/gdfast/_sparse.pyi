"""Type information for the compiled CSR kernels ``gdfast._sparse`` (from ``src/gdcore/_sparse.pyx``).

The instruction-set variants ``gdfast._sparse_avx2`` and ``gdfast._sparse_avx512`` are built from
the same source and have the same contents. SparseKernel has the methods of
``gdfast._core.Kernel`` (the solvers use either), over a scipy.sparse CSR matrix or array whose
data is float32 or float64 and whose ``indices`` and ``indptr`` are both int32 or both int64 and
C-contiguous (gdfast._sparse_input sees to it). Array arguments are typed memoryviews in
Cython: they take any C-contiguous buffer of doubles (numpy float64 arrays here).
``n_threads=None`` follows OpenMP's default (OMP_NUM_THREADS, threadpoolctl limits).
"""
from typing import Any, Final

from typing_extensions import disjoint_base

import numpy as np
import numpy.typing as npt
import scipy.sparse

_F64 = npt.NDArray[np.float64]
_Data = npt.NDArray[np.float32] | npt.NDArray[np.float64]
_Index = npt.NDArray[np.int32] | npt.NDArray[np.int64]

DESCENT_FIXED: Final[int]
DESCENT_BACKTRACKING: Final[int]
DESCENT_NESTEROV: Final[int]
def loss_codes() -> dict[str, int]: ...

# The largest dense Hessian (in bytes) gdfast.Objective.hessian forms for sparse X (256 MiB).
MAX_HESSIAN_BYTES: Final[int]

# None when indptr and indices describe a valid compressed matrix with n_major rows (columns for
# CSC) and indices in [0, n_minor); otherwise what is wrong, in words (index arrays of other
# types than int32 and int64 included).
def structure_error(indptr: npt.NDArray[Any], indices: npt.NDArray[Any], n_major: int,
                    n_minor: int) -> str | None: ...
def has_duplicates(indptr: _Index, indices: _Index, n_minor: int) -> bool: ...
def all_finite(a: _Data) -> bool: ...

# A Cython extension type: Python classes may subclass it, but not together with another
# extension type.
@disjoint_base
class SparseKernel:
    def __init__(self, X: scipy.sparse.csr_array | scipy.sparse.csr_matrix, y: _F64,
                 sample_weight: _F64 | None, scale: float, loss: int, fit_intercept: bool,
                 alpha: float, cost_offset: float = 0.0, loss_param: float = 0.0,
                 offset: _F64 | None = None) -> None: ...
    @property
    def n_params(self) -> int: ...
    def cost_grad(self, w: _F64, grad: _F64 | None = None, hess: _F64 | None = None,
                  n_threads: int | None = None) -> float: ...
    def hessp(self, w: _F64, v: _F64, out: _F64, gram: bool = False,
              n_threads: int | None = None) -> float: ...
    def hessp_weighted(self, hw: _F64, v: _F64, out: _F64, n_threads: int | None = None) -> None: ...
    def descent_run(self, mode: int, w: _F64, aux: _F64, lr: float, max_steps: int,
                    cost_hist: _F64, gnorm_hist: _F64, step_hist: _F64, it0: int, state: _F64,
                    best_w: _F64, tol: float, final: bool, n_threads: int | None = None
                    ) -> tuple[int, int]: ...
    def diag_weighted(self, hw: _F64, out: _F64, n_threads: int | None = None) -> None: ...
    def linear(self, v: _F64, out: _F64, n_threads: int | None = None) -> None: ...
    def transpose(self, r: _F64, out: _F64, n_threads: int | None = None) -> None: ...
    def loss_from_z(self, z: _F64, r: _F64 | None = None, h: _F64 | None = None) -> float: ...

def diag_weighted(kernel: SparseKernel, hw: _F64, out: _F64, n_threads: int | None = None) -> None: ...
def descent_run(kernel: SparseKernel, mode: int, w: _F64, aux: _F64, lr: float, max_steps: int,
                cost_hist: _F64, gnorm_hist: _F64, step_hist: _F64, it0: int, state: _F64,
                best_w: _F64, tol: float, final: bool, n_threads: int | None = None
                ) -> tuple[int, int]: ...
