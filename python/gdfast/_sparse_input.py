"""Sparse X for gdfast.Objective: the checks, the one conversion, and the kernel module.

scipy.sparse matrices and sparse arrays are accepted. CSR is used as it is (no copy when its data
is float32 or float64). CSC is converted to CSR once, when the Objective is built: one copy of
the data, after which every pass reads rows. Other formats (COO, LIL, DOK, BSR, DIA) are
converted to CSR once as well. X is never densified and the caller's matrix is never modified.
Unsorted column indices need no sorting, and duplicate entries of one (row, column) count as
their sum (as in scipy) without a copy: the kernels are written for both.
"""
from __future__ import annotations

from importlib import import_module
from types import ModuleType
from typing import Any

import numpy as np
import scipy.sparse

from . import _sparse

INDEX_TYPES = (np.int32, np.int64)
# The most parameters whose dense Hessian (8 * n_params**2 bytes) Objective.hessian will form.
MAX_HESSIAN_PARAMS = int((_sparse.MAX_HESSIAN_BYTES / 8) ** 0.5)


def is_sparse(X: Any) -> bool:
    """True for a scipy.sparse matrix or array."""
    return scipy.sparse.issparse(X)


def check_sparse_X(X: Any, name: str = "X") -> Any:
    """A CSR matrix (or array) with float32/float64 data and consistent int32/int64 indices.

    Raises TypeError for non-numeric data and ValueError for complex data, NaN or infinity, a
    shape that is not 2-D or has no rows or columns, and index arrays that do not describe a
    valid matrix (an index out of range, indptr not increasing).
    """
    shape = X.shape
    if len(shape) != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features); got a {len(shape)}-D "
                         f"sparse array of shape {shape}")
    if shape[0] == 0:
        raise ValueError(f"{name} has no rows (shape {shape}); at least one sample is needed")
    if shape[1] == 0:
        raise ValueError(f"{name} has no columns (shape {shape}); at least one feature is needed")
    dtype = X.dtype
    if dtype.kind == "c":
        raise ValueError(f"{name}: complex data not supported")
    if dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric; got a sparse matrix of dtype {dtype}")
    fmt = X.format
    if fmt not in ("csr", "csc"):
        X = X.tocsr()                            # COO, LIL, ...: one conversion, a new matrix
        fmt = "csr"
    if dtype not in (np.float32, np.float64):    # integers, bool, float16, non-native byte order
        X = X.astype(np.float64)
    X = _consistent_arrays(X, name)
    n_major, n_minor = (shape[0], shape[1]) if fmt == "csr" else (shape[1], shape[0])
    message = _sparse.structure_error(X.indptr, X.indices, n_major, n_minor)
    if message is not None:
        raise ValueError(f"{name} is not a valid {fmt.upper()} matrix: {message}")
    nnz = int(X.indptr[-1])
    if X.data.shape[0] < nnz:
        raise ValueError(f"{name} is not a valid {fmt.upper()} matrix: data holds "
                         f"{X.data.shape[0]} entries, indptr needs {nnz}")
    if not _sparse.all_finite(X.data[:nnz]):
        raise ValueError(f"{name} contains NaN or infinity")
    if fmt == "csc":
        X = X.tocsr()                            # the one copy: from here on every pass reads rows
    return X


def _consistent_arrays(X: Any, name: str) -> Any:
    """X itself when data, indices and indptr are 1-D C-contiguous and the two index arrays share
    an int32/int64 type; otherwise a new matrix of the same format with such arrays."""
    data, indices, indptr = X.data, X.indices, X.indptr
    if (indices.dtype == indptr.dtype and indices.dtype in INDEX_TYPES
            and all(a.ndim == 1 and a.flags.c_contiguous for a in (data, indices, indptr))):
        return X
    try:
        indices = np.ascontiguousarray(indices, dtype=np.int64)
        indptr = np.ascontiguousarray(indptr, dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        raise TypeError(f"{name}.indices and {name}.indptr must hold integers") from None
    try:
        # scipy gives both index arrays one type (int32 when the values fit).
        return type(X)((np.ascontiguousarray(data), indices, indptr), shape=X.shape)
    except ValueError as exc:
        raise ValueError(f"{name} is not a valid {X.format.upper()} matrix: {exc}") from None


def sparse_module(core: ModuleType) -> ModuleType:
    """The sparse kernels built for the same instruction set as the dense module ``core``
    (gdfast._core -> gdfast._sparse, gdfast._core_avx2 -> gdfast._sparse_avx2, ...)."""
    return import_module(core.__name__.replace("._core", "._sparse"))


def hessian_error(n_params: int) -> str | None:
    """Why the dense Hessian of a sparse objective with n_params parameters is refused, or None."""
    if n_params <= MAX_HESSIAN_PARAMS:
        return None
    size = 8 * n_params * n_params
    return (f"X is sparse with {n_params} parameters: its Hessian would be a dense "
            f"{n_params} x {n_params} matrix ({_bytes(size)}; at most "
            f"{_bytes(_sparse.MAX_HESSIAN_BYTES)} is formed). Use a Hessian-free method, "
            "gdfast.minimize(obj, method='newton-cg') or method='lbfgs', or Hessian-vector "
            "products with obj.hessp(w, v).")


def _bytes(size: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if size < 1024 or unit == "PiB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.3g} {unit}"
        size /= 1024
    raise AssertionError("unreachable")
