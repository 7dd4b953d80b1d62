"""Type information for ``gdfast._stochastic`` (from ``src/gdcore/_stochastic.pyx``): epochs of
mini-batch SGD and Adam without the GIL, over dense X (run_epoch) or the arrays of a CSR X
(run_epoch_csr: O(nnz + n_features) an epoch for plain SGD; momentum and Adam add O(n_features)
per batch)."""
from typing import Final

from typing_extensions import disjoint_base

import numpy as np
import numpy.typing as npt

_F64 = npt.NDArray[np.float64]
_Data = npt.NDArray[np.float32] | npt.NDArray[np.float64]
_Index = npt.NDArray[np.int32] | npt.NDArray[np.int64]

METHOD_SGD: Final[int]
METHOD_ADAM: Final[int]
SCHEDULE_CONSTANT: Final[int]
SCHEDULE_INVSCALING: Final[int]

def loss_codes() -> dict[str, int]: ...

# A Cython extension type: Python classes may subclass it, but not together with another
# extension type.
@disjoint_base
class Stepper:
    # set by the caller between epochs
    learning_rate: float
    averaging: bool
    steps: float
    n_averaged: float
    def __init__(self, method: int, loss: int, fit_intercept: bool, alpha: float, n_params: int,
                 batch_size: int, learning_rate: float, schedule: int, power_t: float,
                 momentum: float = 0.0, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, loss_param: float = 0.0) -> None: ...
    @property
    def method(self) -> int: ...
    @property
    def loss(self) -> int: ...
    @property
    def schedule(self) -> int: ...
    @property
    def fit_intercept(self) -> bool: ...
    @property
    def alpha(self) -> float: ...
    @property
    def power_t(self) -> float: ...
    @property
    def momentum(self) -> float: ...
    @property
    def beta1(self) -> float: ...
    @property
    def beta2(self) -> float: ...
    @property
    def eps(self) -> float: ...
    @property
    def loss_param(self) -> float: ...
    @property
    def batch_size(self) -> int: ...
    @property
    def w_avg(self) -> _F64: ...
    def run_epoch(self, X: npt.NDArray[np.float32] | npt.NDArray[np.float64], y: _F64,
                  cw: _F64 | None, perm: npt.NDArray[np.intp], w: _F64,
                  offset: _F64 | None = None) -> bool: ...
    def run_epoch_csr(self, data: _Data, indices: _Index, indptr: _Index, y: _F64,
                      cw: _F64 | None, perm: npt.NDArray[np.intp], w: _F64,
                      offset: _F64 | None = None) -> bool: ...
