"""Type information for ``gdfast._accurate`` (from ``src/gdcore/_accurate.pyx``): the compensated
(double-double) least-squares passes and the small dense algebra of the normal equations in
hi + lo arithmetic. ``gdfast._accurate_avx2`` is the same source built with FMA. X is a dense
float32 or float64 array with contiguous rows or columns, or the three arrays of a CSR matrix;
``n_threads=None`` follows OpenMP's default."""
from typing import Any

import numpy as np
import numpy.typing as npt

_F64 = npt.NDArray[np.float64]
_Data = npt.NDArray[np.float32] | npt.NDArray[np.float64]
_Index = npt.NDArray[np.int32] | npt.NDArray[np.int64]

def residual_gradient(X: _Data, y: _F64, sample_weight: _F64 | None, w: _F64,
                      fit_intercept: bool, n_threads: int | None = None,
                      split: bool = False) -> Any: ...
def residual_gradient_csr(data: _Data, indices: _Index, indptr: _Index, n_features: int,
                          y: _F64, sample_weight: _F64 | None, w: _F64, fit_intercept: bool,
                          n_threads: int | None = None, split: bool = False) -> Any: ...
def normal_equations(X: _Data, y: _F64, sample_weight: _F64 | None, fit_intercept: bool,
                     n_threads: int | None = None) -> tuple[_F64, _F64]: ...
def normal_equations_csr(data: _Data, indices: _Index, indptr: _Index, n_features: int,
                         y: _F64, sample_weight: _F64 | None, fit_intercept: bool,
                         n_threads: int | None = None) -> tuple[_F64, _F64]: ...
def dd_cholesky(Ahi: _F64, Alo: _F64, pivot_floor: float) -> tuple[_F64, _F64, npt.NDArray[np.bool_]]: ...
def dd_solve(Lhi: _F64, Llo: _F64, dependent: npt.NDArray[np.bool_], rhi: _F64,
             rlo: _F64) -> tuple[_F64, _F64]: ...
def dd_residual(Ahi: _F64, Alo: _F64, bhi: _F64, blo: _F64, w: _F64) -> tuple[_F64, _F64]: ...
