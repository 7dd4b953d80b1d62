"""Input checks shared by every entry point: one place, one wording.

Each check returns a new array (or the input itself when no conversion is needed, which is then
only read) and raises ValueError or TypeError naming the argument and the problem.
"""
from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from . import _dispatch

LOSSES = ("log_loss", "squared_error")


def _as_numeric(a: Any, name: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype == object:
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"{name} must hold numbers; it holds objects that are not numeric") from None
    if np.iscomplexobj(arr):
        raise ValueError(f"{name}: complex data not supported")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric; got dtype {arr.dtype}")
    return arr


def _check_finite(arr: np.ndarray, name: str) -> None:
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinity")


def check_X(X: Any, name: str = "X") -> np.ndarray:
    """A 2-D float32 or float64 array with contiguous rows or columns.

    float32 and float64 are kept as they are; any other numeric type becomes float64. An array
    whose rows or columns are contiguous is used without a copy; any other layout is copied
    to C order.
    """
    if hasattr(X, "tocsr") and hasattr(X, "nnz"):
        raise TypeError(f"{name} is a sparse matrix; gdfast.Objective needs a dense array")
    arr = _as_numeric(X, name)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features); got {arr.ndim}-D with shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} has no rows (shape {arr.shape}); at least one sample is needed")
    if arr.shape[1] == 0:
        raise ValueError(f"{name} has no columns (shape {arr.shape}); at least one feature is needed")
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    if not _dispatch.core.all_finite(arr):      # np.isfinite would make an n-by-d temporary
        raise ValueError(f"{name} contains NaN or infinity")
    item = arr.itemsize
    rows_contiguous = arr.strides[1] == item or arr.shape[1] == 1
    cols_contiguous = arr.strides[0] == item or arr.shape[0] == 1
    aligned = arr.strides[0] % item == 0 and arr.strides[1] % item == 0 and arr.flags.aligned
    if not (aligned and (rows_contiguous or cols_contiguous)):
        arr = np.ascontiguousarray(arr)
    return arr


def check_vector(v: Any, n: int, name: str, expected: str) -> np.ndarray:
    """A finite float64 C-contiguous copy of a 1-D vector of length n."""
    arr = _as_numeric(v, name)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D; got shape {arr.shape}")
    if arr.shape[0] != n:
        raise ValueError(f"{name} has length {arr.shape[0]}, expected {n} ({expected})")
    arr = np.array(arr, dtype=np.float64, order="C", copy=True)
    _check_finite(arr, name)
    return arr


def check_y(y: Any, n: int, loss: str) -> np.ndarray:
    arr = check_vector(y, n, "y", "one target per row of X")
    if loss == "log_loss":
        bad = (arr != 0) & (arr != 1)
        if bad.any():
            raise ValueError(
                f"y must hold labels 0 and 1 for loss='log_loss'; found {np.unique(arr[bad])[:5]}"
            )
    return arr


def check_sample_weight(sample_weight: Any, n: int) -> np.ndarray | None:
    if sample_weight is None:
        return None
    if np.ndim(sample_weight) == 0:
        sample_weight = np.full(n, sample_weight, dtype=np.float64)
    sw = check_vector(sample_weight, n, "sample_weight", "one weight per row of X")
    if (sw < 0).any():
        raise ValueError("sample_weight must be non-negative")
    if not (sw > 0).any():
        raise ValueError("sample_weight sums to zero: at least one weight must be positive")
    return sw


def check_loss(loss: Any) -> str:
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(map(repr, LOSSES))}; got {loss!r}")
    return str(loss)


def check_scalar(value: Any, name: str, *, low: float | None = None, low_inclusive: bool = True,
                 integer: bool = False) -> Any:
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        raise TypeError(f"{name} must be {'an integer' if integer else 'a real number'}; got {value!r}")
    if not integer and not np.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value!r}")
    if low is not None and (value < low or (not low_inclusive and value == low)):
        op = ">=" if low_inclusive else ">"
        raise ValueError(f"{name} must be {op} {low}; got {value!r}")
    return int(value) if integer else float(value)


def check_n_threads(n_threads: Any) -> int | None:
    if n_threads is None:
        return None
    return check_scalar(n_threads, "n_threads", low=1, integer=True)


def check_bool(value: Any, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {value!r}")
    return bool(value)
