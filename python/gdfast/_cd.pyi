"""Type information for ``gdfast._cd`` (from ``src/gdcore/_cd.pyx``): coordinate descent on an
L1-penalised quadratic in Gram form."""
from typing import Any

import numpy as np
import numpy.typing as npt

_F64 = npt.NDArray[np.float64]

def cd_quadratic(Q: _F64, b: _F64, w: _F64, u: _F64, lam: _F64, n_coef: int, positive: bool,
                 tol: float, max_sweeps: int, random_order: bool = False,
                 rng: Any = None) -> tuple[int, int, bool]: ...
def cd_squared_error(X: Any, s: _F64, r: _F64, w: _F64, q0: _F64, lam: _F64, l2: float,
                     positive: bool, intercept: bool, tol: float,
                     max_sweeps: int) -> tuple[int, int, bool]: ...
def cd_newton_model(X: Any, r: _F64, h: _F64, w: _F64, zd: _F64, l2: _F64, lam: _F64,
                    working: npt.NDArray[np.intp], positive: bool, tol: float,
                    max_sweeps: int) -> tuple[int, int, bool]: ...
GATHER_MAX_ENTRIES: int
