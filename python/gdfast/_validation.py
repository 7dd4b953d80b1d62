"""Input checks shared by every entry point: one place, one wording.

Each check returns a new array (or the input itself when no conversion is needed, which is then
only read) and raises ValueError or TypeError naming the argument and the problem:

- TypeError: the kind of thing is wrong (strings or other non-numbers, a sparse matrix, a float
  where an integer is needed, a number where True/False is needed, something not callable).
- ValueError: the kind is right but the value is not (NaN or infinity, complex numbers, the wrong
  shape or length, no rows, labels outside {0, 1}, negative weights, a parameter out of range,
  an unknown name).

Nothing here writes to its input. X is used without a copy when it is float32 or float64 with
contiguous rows or columns (read-only arrays and memory maps included); y, sample_weight and
parameter vectors are small and always copied to float64.
"""
from __future__ import annotations

import numbers
from typing import Any, Iterable, Literal, overload

import numpy as np


MAX_THREADS = 1024      # an upper bound on n_threads: each thread gets its own workspace

_FINITE_CHECK_ROWS = 4096    # rows per block when looking for the first NaN/inf


def _describe(value: Any) -> str:
    """A short repr for messages: arrays by shape and dtype, other values by repr."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _object_to_float(arr: np.ndarray, name: str) -> np.ndarray:
    """An object array that holds numbers, converted as numpy would (to float64)."""
    kinds = {type(v) for v in arr.flat}
    for kind in kinds:
        if issubclass(kind, (str, bytes)):
            raise TypeError(f"{name} must be numeric; it holds strings ({kind.__name__}). "
                            "Convert them to numbers first")
        if kind is type(None):
            raise ValueError(f"{name} contains None (a missing value); gdfast needs finite numbers")
        if issubclass(kind, numbers.Complex) and not issubclass(kind, numbers.Real):
            raise ValueError(f"{name}: complex data not supported")
    try:
        return arr.astype(np.float64)
    except (TypeError, ValueError):
        names = ", ".join(sorted(k.__name__ for k in kinds))
        raise TypeError(f"{name} must be numeric; it holds objects of type {names}") from None


def _as_numeric(a: Any, name: str) -> np.ndarray:
    """np.asarray(a), checked to be real numbers (bool, integer or float)."""
    if a is None:
        raise TypeError(f"{name} must be an array of numbers; got None")
    if hasattr(a, "tocsr") and hasattr(a, "nnz"):
        raise TypeError(f"{name} is a sparse matrix; gdfast needs a dense array")
    try:
        arr = np.asarray(a)
    except (TypeError, ValueError) as exc:      # ragged nested lists, objects numpy cannot read
        raise ValueError(f"{name} cannot be read as an array: {exc}") from None
    if arr.dtype == object:
        arr = _object_to_float(arr, name)
    if np.iscomplexobj(arr):
        raise ValueError(f"{name}: complex data not supported")
    if arr.dtype.kind in "USa":
        raise TypeError(f"{name} must be numeric; it holds strings (dtype {arr.dtype}). "
                        "Convert them to numbers first")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric; got dtype {arr.dtype}")
    return arr


def _check_finite(arr: np.ndarray, name: str) -> None:
    """Raise unless every entry is finite; makes no temporary as large as arr.

    The sum of finite numbers can only be non-finite by overflow, and a NaN or infinity makes
    the sum non-finite: a finite sum proves the array finite in one pass. Otherwise look for the
    culprit block by block (the sum may merely have overflowed).
    """
    if arr.dtype.kind in "biu" or arr.size == 0:
        return
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(arr.sum(dtype=np.float64)):
            return
    flat = arr.reshape(arr.shape[0], -1) if arr.ndim > 1 else arr.reshape(-1, 1)
    for i in range(0, flat.shape[0], _FINITE_CHECK_ROWS):
        block = flat[i:i + _FINITE_CHECK_ROWS]
        bad = ~np.isfinite(block)
        if bad.any():
            r, c = np.argwhere(bad)[0]
            where = f"index {i + r}" if arr.ndim == 1 else f"row {i + r}, column {c}"
            raise ValueError(f"{name} contains NaN or infinity (first at {where}: "
                             f"{float(block[r, c])}); gdfast needs finite numbers")


def check_X(X: Any, name: str = "X") -> np.ndarray:
    """A 2-D float32 or float64 array with contiguous rows or columns.

    float32 and float64 are kept as they are; any other numeric type becomes float64. An array
    whose rows or columns are contiguous is used without a copy (read-only arrays and memory
    maps included); any other layout is copied to C order.
    """
    arr = _as_numeric(X, name)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features); got {arr.ndim}-D with shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} has no rows (shape {arr.shape}); at least one sample is needed")
    if arr.shape[1] == 0:
        raise ValueError(f"{name} has no columns (shape {arr.shape}); at least one feature is needed")
    if arr.dtype not in (np.float32, np.float64):      # also a non-native byte order
        arr = arr.astype(np.float64)
    _check_finite(arr, name)
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


def check_y(y: Any, n: int, loss: Any) -> np.ndarray:
    """Targets: one finite number per row of X, in the loss's domain (``loss.check_y``)."""
    arr = check_vector(y, n, "y", "one target per row of X")
    return np.asarray(loss.check_y(arr))


def check_offset(offset: Any, n: int) -> np.ndarray | None:
    """None, or n finite numbers added to the predictions (a copy: the input is never kept)."""
    if offset is None:
        return None
    return check_vector(offset, n, "offset", "one value per row of X, added to X @ coef + "
                        "intercept")


def check_sample_weight(sample_weight: Any, n: int) -> np.ndarray | None:
    """None, or n finite non-negative weights, at least one positive, that can be normalised.

    A scalar is broadcast to every row.
    """
    if sample_weight is None:
        return None
    if np.ndim(sample_weight) == 0:
        sample_weight = np.full(n, _as_numeric(sample_weight, "sample_weight"), dtype=np.float64)
    sw = check_vector(sample_weight, n, "sample_weight", "one weight per row of X")
    if (sw < 0).any():
        i = int(np.argmax(sw < 0))
        raise ValueError(f"sample_weight must be non-negative; sample_weight[{i}] = {float(sw[i])}")
    with np.errstate(over="ignore"):
        total = float(sw.sum())
    if total == 0.0:
        raise ValueError("sample_weight sums to zero: at least one weight must be positive")
    if not (np.isfinite(total) and np.isfinite(1.0 / total)):
        raise ValueError(f"sample_weight sums to {total!r}, beyond what double precision can "
                         "normalise; rescale the weights (only their ratios matter)")
    return sw


def check_name(value: Any, name: str, valid: Iterable[str]) -> str:
    """A string among valid; otherwise a ValueError that lists the valid names."""
    valid = list(valid)
    if not isinstance(value, str) or value not in valid:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, valid))}; got {_describe(value)}")
    return str(value)


@overload
def check_scalar(value: Any, name: str, *, low: float | None = None, low_inclusive: bool = True,
                 high: float | None = None, integer: Literal[False] = False) -> float: ...
@overload
def check_scalar(value: Any, name: str, *, low: float | None = None, low_inclusive: bool = True,
                 high: float | None = None, integer: Literal[True]) -> int: ...
def check_scalar(value: Any, name: str, *, low: float | None = None, low_inclusive: bool = True,
                 high: float | None = None, integer: bool = False) -> float:
    """A real number (an integer with integer=True) in [low, high] (or (low, high])."""
    # type[Any]: value stays Any after the isinstance check (numpy's stubs take no numbers.Real)
    kind: type[Any] = numbers.Integral if integer else numbers.Real
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, kind):
        raise TypeError(f"{name} must be {'an integer' if integer else 'a real number'}; "
                        f"got {_describe(value)}")
    if not integer and not np.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value!r}")
    if low is not None and (value < low or (not low_inclusive and value == low)):
        op = ">=" if low_inclusive else ">"
        raise ValueError(f"{name} must be {op} {low}; got {value!r}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}; got {value!r}")
    return int(value) if integer else float(value)


def check_n_threads(n_threads: Any) -> int | None:
    """None (follow OMP_NUM_THREADS / threadpoolctl) or an integer from 1 to MAX_THREADS."""
    if n_threads is None:
        return None
    return check_scalar(n_threads, "n_threads", low=1, high=MAX_THREADS, integer=True)


def check_bool(value: Any, name: str) -> bool:
    """True or False (numpy's bool too); not 0/1 or other truthy values."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {_describe(value)}")
    return bool(value)


def check_random_state(value: Any, name: str = "random_state", *,
                       kind: type[Any] = np.random.Generator) -> Any:
    """A seed: None, a non-negative integer or an instance of ``kind`` (numpy's Generator for
    gdfast.minimize, RandomState for the estimators, as scikit-learn takes), returned as it is.

    Integers seed ``kind``; RandomState takes them below 2**32 only.
    """
    if value is None or isinstance(value, kind):
        return value
    what = (f"None, an integer from 0 to 2**32 - 1 or a numpy {kind.__name__}"
            if kind is np.random.RandomState else f"None, a non-negative integer or a numpy {kind.__name__}")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be {what}; got {_describe(value)}")
    seed = int(value)
    if seed < 0 or (kind is np.random.RandomState and seed >= 2 ** 32):
        raise ValueError(f"{name} must be {what}; got {value!r}")
    return seed
