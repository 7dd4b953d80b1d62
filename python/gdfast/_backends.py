"""Where an estimator's data live: in memory (numpy, scipy.sparse) or in a dask array.

The estimators in :mod:`gdfast.estimators` are written once, over the :class:`Backend`
interface: checking X (and ``n_features_in_``), sample weights and labels, fitting an objective,
the class totals that class weights need, and the linear predictor. :func:`backend_for` picks the
back end from X, once per call: :class:`InMemory` (scikit-learn's checks, :class:`gdfast.Objective`)
or :class:`Dask` (X stays on the workers, :func:`gdfast.dask.fit_objective` fits it there, and
predictions are lazy). Nothing here imports dask unless X is a dask array.
"""
from __future__ import annotations

from typing import Any, Callable, Protocol

import numpy as np
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, validate_data

from . import dask as gdd
from ._fitting import STOCHASTIC_SOLVERS, fit_objective, solver_options
from ._multinomial_objective import MultinomialObjective
from ._objective import Objective
from ._result import OptimizeResult
from .losses import Loss
from ._solvers import METHODS
from ._validation import check_offset, check_sample_weight, check_scalar

_DTYPES = [np.float64, np.float32]   # X is kept in float32 when it is float32; else float64
_SPARSE = ("csr", "csc")             # kept as they are; other sparse formats become CSR
#: The solvers that run on a dask array: all of gdfast.minimize's but the stochastic ones, which
#: draw mini-batches of rows from memory.
DASK_SOLVERS = ("auto", *(m for m in METHODS if m not in STOCHASTIC_SOLVERS))


class Backend(Protocol):
    """What an estimator's fit and predict ask of the place its data live."""

    def check_fit(self, estimator: Any, X: Any, y: Any, solver: str,
                  y_numeric: bool = False) -> tuple[Any, Any]:
        """X and y checked for fit, ``estimator.n_features_in_`` set, y in X's rows.

        y_numeric asks for numeric targets (regression); the Dask back end also refuses a
        solver that cannot run on it."""

    def check_predict(self, estimator: Any, X: Any) -> Any:
        """X checked for predict, against ``estimator.n_features_in_``."""

    def sample_weight(self, sample_weight: Any, X: Any) -> Any:
        """Sample weights aligned to the rows of X, or None."""

    def encode_labels(self, y: Any) -> tuple[np.ndarray, Any, list[Any]]:
        """The sorted classes, the class index of each row, and the targets of each binary
        problem (true where the row is of the positive class: ``classes[1]`` for two classes,
        each class in turn for more)."""

    def class_totals(self, index: Any, sample_weight: Any, n_classes: int) -> np.ndarray:
        """Each class's total sample weight (row count without weights), as an ndarray."""

    def take(self, values: np.ndarray, index: Any) -> Any:
        """``values[index]``, one value per row."""

    def fit_objective(self, X: Any, y: Any, *, loss: str | Loss, alpha: float, fit_intercept: bool,
                      sample_weight: Any, n_threads: int | None, solver: str,
                      w0: np.ndarray | None, max_iter: int | None, tol: float,
                      learning_rate: Any, batch_size: int | None, random_state: int | None,
                      callback: Any, offset: Any = None, n_classes: int | None = None,
                      l1_ratio: float = 0.0
                      ) -> tuple[Any, OptimizeResult]:
        """Build the objective of one problem and minimise it: the objective and the result.

        loss="multinomial" (with n_classes, y the class indices) builds the K-class model."""

    def linear_predictor(self, X: Any, coef: np.ndarray, intercept: Any) -> Any:
        """``X @ coef.T + intercept``: shape (n_samples,) for coef of shape (n_features,),
        (n_samples, k) for coef of shape (k, n_features)."""

    def add_offset(self, z: Any, offset: Any, X: Any) -> Any:
        """``z + offset`` for the predictions z of X's rows (offset checked: one finite number
        per row, the error naming ``offset``); z itself when offset is None."""

    def per_row(self, func: Callable[..., np.ndarray], scores: Any, *args: Any, dtype: Any,
                n_columns: int | None = None) -> Any:
        """``func(scores, *args)``, a row-wise function of the scores giving shape (n_samples,),
        or (n_samples, n_columns) when n_columns is given."""


def _no_l1(what: str, alpha: float, l1_ratio: float) -> None:
    """The L1 penalty is not available for ``what``: a clear error when it is asked for."""
    if alpha * l1_ratio > 0:
        raise ValueError(f"l1_ratio > 0 (an L1 penalty) is not supported for {what} yet; "
                         "use l1_ratio=0 (the L2 penalty)")


class InMemory:
    """numpy arrays (and array-likes) and scipy.sparse matrices, fitted by gdfast.Objective."""

    def check_fit(self, estimator: Any, X: Any, y: Any, solver: str,
                  y_numeric: bool = False) -> tuple[Any, Any]:
        n, m = _rows(X), _rows(y)
        if n is not None and m is not None and n != m:     # before scikit-learn's wording
            raise ValueError(f"y has length {m}, expected {n} (one target per row of X)")
        try:
            X, y = validate_data(estimator, X, y, dtype=_DTYPES, y_numeric=y_numeric,
                                 accept_sparse=_SPARSE)
        except (TypeError, ValueError) as e:
            raise _named(e, lambda: check_array(X, dtype=_DTYPES, accept_sparse=_SPARSE)) from None
        return X, y

    def check_predict(self, estimator: Any, X: Any) -> Any:
        try:
            return validate_data(estimator, X, reset=False, dtype=_DTYPES, accept_sparse=_SPARSE)
        except (TypeError, ValueError) as e:
            raise _named(e, None) from None

    def sample_weight(self, sample_weight: Any, X: Any) -> np.ndarray | None:
        # any array-like: pandas Series, lists, array wrappers
        if sample_weight is None:
            return None
        return check_sample_weight(np.asarray(sample_weight), X.shape[0])

    def encode_labels(self, y: Any) -> tuple[np.ndarray, np.ndarray, list[Any]]:
        check_classification_targets(y)
        classes, index = np.unique(y, return_inverse=True)
        targets = [index == 1] if len(classes) == 2 else [index == k for k in range(len(classes))]
        return classes, index, targets

    def class_totals(self, index: np.ndarray, sample_weight: np.ndarray | None,
                     n_classes: int) -> np.ndarray:
        return np.bincount(index, weights=sample_weight, minlength=n_classes)

    def take(self, values: np.ndarray, index: np.ndarray) -> np.ndarray:
        return _take(index, values)

    def fit_objective(self, X: Any, y: Any, *, loss: str | Loss, alpha: float, fit_intercept: bool,
                      sample_weight: Any, n_threads: int | None, solver: str,
                      w0: np.ndarray | None, max_iter: int | None, tol: float,
                      learning_rate: Any, batch_size: int | None, random_state: int | None,
                      callback: Any, offset: Any = None, n_classes: int | None = None,
                      l1_ratio: float = 0.0
                      ) -> tuple[Objective | MultinomialObjective, OptimizeResult]:
        obj: Objective | MultinomialObjective
        if loss == "multinomial":
            obj = MultinomialObjective(X, y, n_classes=n_classes, alpha=alpha,
                                       fit_intercept=fit_intercept, sample_weight=sample_weight,
                                       n_threads=n_threads, l1_ratio=l1_ratio)
        else:
            obj = Objective(X, y, loss=loss, alpha=alpha, fit_intercept=fit_intercept,
                            sample_weight=sample_weight, n_threads=n_threads, offset=offset,
                            l1_ratio=l1_ratio)
        res = fit_objective(obj, solver, w0=w0, max_iter=max_iter, tol=tol,
                            learning_rate=learning_rate, batch_size=batch_size,
                            random_state=random_state, callback=callback)
        return obj, res

    def linear_predictor(self, X: Any, coef: np.ndarray, intercept: Any) -> np.ndarray:
        z: np.ndarray = X @ coef.T + intercept
        return z

    def add_offset(self, z: Any, offset: Any, X: Any) -> Any:
        if offset is None:
            return z
        return z + check_offset(offset, X.shape[0])

    def per_row(self, func: Callable[..., np.ndarray], scores: np.ndarray, *args: Any,
                dtype: Any, n_columns: int | None = None) -> np.ndarray:
        return func(scores, *args)


class Dask:
    """Dask arrays chunked by rows: never computed on the client, fitted on the workers through
    gdfast.dask (only sums travel), predicted lazily. y and sample_weight may be dask arrays
    or in memory."""

    def check_fit(self, estimator: Any, X: Any, y: Any, solver: str,
                  y_numeric: bool = False) -> tuple[Any, Any]:
        # y's values (numeric, no NaN; 0/1 for the log loss) are checked on the workers
        import dask.array as da
        X = _check_X(X, estimator, reset=True, solver=solver)
        return X, gdd._as_rows(y, "y", X, da)

    def check_predict(self, estimator: Any, X: Any) -> Any:
        return _check_X(X, estimator, reset=False)

    def sample_weight(self, sample_weight: Any, X: Any) -> Any:
        # A lazy array in X's blocks of rows (a scalar is broadcast, as for in-memory X);
        # the values are checked on the workers.
        if sample_weight is None:
            return None
        import dask.array as da
        if not gdd.is_dask_array(sample_weight) and np.ndim(sample_weight) == 0:
            c = check_scalar(sample_weight, "sample_weight", low=0.0, low_inclusive=False)
            if any(np.isnan(n) for n in X.chunks[0]):
                raise ValueError("X has unknown chunk sizes: sample_weight must then be a dask "
                                 "array with the same blocks of rows as X (or call "
                                 "X.compute_chunk_sizes())")
            full: Any = da.full
            return full(X.shape[0], float(c), chunks=(X.chunks[0],))
        return gdd._as_rows(sample_weight, "sample_weight", X, da)

    def encode_labels(self, y: Any) -> tuple[np.ndarray, Any, list[Any]]:
        # One pass over y brings back the distinct labels; the index and targets stay lazy.
        classes, targets = gdd.encode_labels(y)
        check_classification_targets(classes)
        return classes, y.map_blocks(_class_index, classes, dtype=np.intp), targets

    def class_totals(self, index: Any, sample_weight: Any, n_classes: int) -> np.ndarray:
        # One pass over y and the weights, which also brings back the smallest weight, so that
        # a negative one is reported as such.
        import dask.array as da
        totals, lowest = gdd._dask_compute(
            da.bincount(index, weights=sample_weight, minlength=n_classes),
            sample_weight.min() if sample_weight is not None else 0.0)
        if not lowest >= 0:
            raise ValueError(f"sample_weight must be non-negative; its smallest value is {lowest}")
        return np.asarray(totals)

    def take(self, values: np.ndarray, index: Any) -> Any:
        return index.map_blocks(_take, values, dtype=np.float64)

    def fit_objective(self, X: Any, y: Any, *, loss: str | Loss, alpha: float, fit_intercept: bool,
                      sample_weight: Any, n_threads: int | None, solver: str,
                      w0: np.ndarray | None, max_iter: int | None, tol: float,
                      learning_rate: Any, batch_size: int | None, random_state: int | None,
                      callback: Any, offset: Any = None, n_classes: int | None = None,
                      l1_ratio: float = 0.0
                      ) -> tuple[Any, OptimizeResult]:
        _no_l1("dask arrays", alpha, l1_ratio)
        if loss == "multinomial":
            from ._dask_multinomial import MultinomialObjective as DaskMultinomial
            obj = DaskMultinomial(X, y, n_classes=n_classes, alpha=alpha,
                                  fit_intercept=fit_intercept, sample_weight=sample_weight,
                                  n_threads=n_threads)
            res = fit_objective(obj, solver, w0=w0, max_iter=max_iter, tol=tol,
                                learning_rate=learning_rate, batch_size=batch_size,
                                random_state=random_state, callback=callback)
            return obj, res
        return gdd.fit_objective(
            X, y, loss=loss, alpha=alpha, fit_intercept=fit_intercept,
            sample_weight=sample_weight, method=solver, w0=w0, max_iter=max_iter, tol=tol,
            n_threads=n_threads, callback=callback, offset=offset,
            **solver_options(solver, learning_rate=learning_rate, batch_size=batch_size,
                             random_state=random_state))

    def linear_predictor(self, X: Any, coef: np.ndarray, intercept: Any) -> Any:
        if coef.ndim == 1:
            return gdd.linear_predictor(X, coef, intercept)
        import dask.array as da
        columns = [gdd.linear_predictor(X, c, b) for c, b in zip(coef, intercept)]
        stack: Any = da.stack                  # dask.array is only partly typed
        return stack(columns, axis=1).rechunk({1: -1})

    def add_offset(self, z: Any, offset: Any, X: Any) -> Any:
        if offset is None:
            return z
        import dask.array as da
        rows = gdd._as_rows(offset, "offset", X, da)
        return z.map_blocks(_plus_checked_offset, rows, dtype=np.float64)

    def per_row(self, func: Callable[..., np.ndarray], scores: Any, *args: Any, dtype: Any,
                n_columns: int | None = None) -> Any:
        if n_columns is None:
            return scores.map_blocks(func, *args, dtype=dtype,
                                     drop_axis=1 if scores.ndim == 2 else None)
        return scores.map_blocks(func, *args, dtype=dtype, chunks=(scores.chunks[0], (n_columns,)),
                                 new_axis=1 if scores.ndim == 1 else None)


_IN_MEMORY = InMemory()
_DASK = Dask()


def backend_for(X: Any) -> Backend:
    """The back end for X: Dask for a dask array, InMemory for anything else."""
    return _DASK if gdd.is_dask_array(X) else _IN_MEMORY


def _check_X(X: Any, estimator: Any, reset: bool, solver: str | None = None) -> Any:
    """Check a dask X without computing it: dimensions, dtype, n_features_in_ (set with
    reset=True, compared otherwise) and, in fit (given the solver), that the solver runs on dask."""
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features); got a {X.ndim}-D dask "
                         f"array of shape {X.shape}")
    if X.dtype.kind == "c":
        raise ValueError("X: complex data not supported")
    if X.dtype.kind not in "biuf":
        raise TypeError(f"X must be numeric; got a dask array of dtype {X.dtype}")
    if solver is not None and solver not in DASK_SOLVERS:
        if solver in STOCHASTIC_SOLVERS:
            raise ValueError(f"solver={solver!r} draws mini-batches of rows from memory and "
                             "does not run on dask arrays; use one of "
                             f"{', '.join(map(repr, DASK_SOLVERS))}")
        raise ValueError(f"solver={solver!r} is not a gdfast.minimize method; on dask "
                         f"arrays use one of {', '.join(map(repr, DASK_SOLVERS))}")
    validate_data(estimator, X, reset=reset, skip_check_array=True)   # reads X.shape only
    return X


def _named(exc: Exception, check_X: Callable[[], Any] | None) -> Exception:
    """scikit-learn's error for X or y, its message starting with the argument's name, as
    gdfast's messages do ("Input X contains NaN" becomes "X contains NaN"; a message naming
    neither gets "X: " or "y: " in front, y when X alone passes ``check_X``)."""
    message = str(exc)
    for name in ("X", "y"):
        if message.startswith(f"Input {name} "):
            return type(exc)(message[len("Input "):])
        if message.startswith((f"{name} ", f"{name}:")):
            return exc
    culprit = "X"
    if check_X is not None:
        try:
            check_X()
            culprit = "y"
        except (TypeError, ValueError):
            pass
    return type(exc)(f"{culprit}: {message}")


def _rows(a: Any) -> int | None:
    """The number of rows of an array-like (its first dimension), or None when it has none."""
    shape = getattr(a, "shape", None)
    if shape is not None:
        return int(shape[0]) if len(shape) > 0 else None
    try:
        return len(a)
    except TypeError:
        return None


def _class_index(labels: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """The index in ``classes`` (sorted) of each label of a block."""
    index: np.ndarray = np.searchsorted(classes, labels)
    return index


def _take(index: np.ndarray, values: np.ndarray) -> np.ndarray:
    taken: np.ndarray = values[index]
    return taken


def _plus_checked_offset(z: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """One block of predictions plus its block of the offset (checked on the worker)."""
    out: np.ndarray = z + check_offset(offset, z.shape[0])
    return out
