"""gdfast.dask: the objective of a linear model over a Dask array, on gdfast's compiled kernels.

The cost, its gradient and its Hessian are sums over the rows of X. Each block of rows is
handled by gdfast's kernels inside the worker that holds it; the workers' partial sums are added
up by a tree reduction, and only the total comes back to the client::

    cost_gradient(w)          -> 1 + (d + 1) numbers
    cost_gradient_hessian(w)  -> 1 + (d + 1) + (d + 1)^2 numbers
    hessp(w, v)               -> (d + 1) numbers

Each evaluation is one graph computation (one round trip to the scheduler). X is never
gathered to the client.

This module imports dask only when it is used, so ``import gdfast.dask`` works without dask
installed (``is_dask_array`` is useful to estimators that accept numpy and dask input alike).

Examples
--------
>>> import dask.array as da                                   # doctest: +SKIP
>>> from dask.distributed import Client                        # doctest: +SKIP
>>> client = Client("tcp://scheduler:8786")                    # doctest: +SKIP
>>> X = da.from_zarr("X.zarr"); y = da.from_zarr("y.zarr")     # doctest: +SKIP
>>> obj = gdfast.dask.Objective(X, y, loss="log_loss", alpha=1e-4)   # doctest: +SKIP
>>> res = gdfast.minimize(obj, method="newton")                # doctest: +SKIP

For more than two classes, :class:`MultinomialObjective` is the softmax model
(:class:`gdfast.MultinomialObjective`) over a dask array, with the same guarantees: one graph
per evaluation, X never gathered::

    obj = gdfast.dask.MultinomialObjective(X, y, alpha=1e-4)     # y: class indices 0 .. K-1
    res = gdfast.minimize(obj)
"""
from __future__ import annotations

import math
import sys
import uuid
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from . import _dispatch
from ._overflow import Magnitudes, OverflowInputError, magnitudes, overflow_error, results_finite
from ._result import OptimizeResult
from ._penalty import L2
from ._protocols import ObjectiveBase
from .losses import Loss, get_loss
from ._validation import (check_bool, check_n_threads, check_offset, check_scalar, check_vector,
                          check_X, check_y)

__all__ = ["MultinomialObjective", "Objective", "encode_labels", "fit_objective", "is_dask_array",
           "linear_predictor"]

_LEVELS = {"cost": 0, "gradient": 1, "hessian": 2}


def _import_dask() -> Any:
    try:
        import dask
        import dask.array  # noqa: F401
    except ImportError as exc:  # pragma: no cover - the test extra installs dask
        raise ImportError(
            "gdfast.dask needs dask: pip install 'gdfast[dask]' (dask[array] and distributed)"
        ) from exc
    return dask


# dask and distributed ship type information, but compute, delayed, get_scheduler, futures_of and
# wait are unannotated (and dask's __init__ does not re-export compute and delayed for a type
# checker): mypy --strict refuses to call them from typed code. Each is called through a variable
# or wrapper that states the type gdfast relies on; dask is still imported only when used.

def _dask_compute(*args: Any) -> tuple[Any, ...]:
    """dask.compute(*args): the computed values, in order."""
    from dask.base import compute
    run: Callable[..., tuple[Any, ...]] = compute
    return run(*args)


def _dask_delayed(func: Callable[..., Any], pure: bool | None = None) -> Callable[..., Any]:
    """dask.delayed(func, pure=pure): calling the result makes a task."""
    from dask.delayed import delayed
    wrap: Callable[..., Callable[..., Any]] = delayed
    return wrap(func, pure=pure)


def is_dask_array(x: Any) -> bool:
    """True when ``x`` is a dask array (without importing dask when it is not loaded).

    Parameters
    ----------
    x : object

    Returns
    -------
    bool
    """
    module = sys.modules.get("dask.array")
    return module is not None and isinstance(x, module.Array)


# ---------------------------------------------------------------------------------------------
# What lives on the workers: one block of rows and its kernel
# ---------------------------------------------------------------------------------------------

class _Block:
    """Validated rows of X with their targets and weights, and the compiled kernel over them.

    The kernel is built with ``scale = 1`` and ``alpha = 0``: it returns un-normalised sums
    (``sum_i sw_i loss_i``, ``Xa^T r`` ...), which add up across blocks. The client divides the
    total by the sum of all weights and adds the penalty once. The kernel is not pickled: if the
    block ever moves (it should not), the receiving worker builds its own.
    """

    def __init__(self, X: np.ndarray | None, y: np.ndarray | None, sw: np.ndarray | None,
                 loss: Loss, fit_intercept: bool, n_params: int,
                 offset: np.ndarray | None = None) -> None:
        self.X, self.y, self.sw, self.offset = X, y, sw, offset
        self.loss, self.fit_intercept, self.n_params = loss, fit_intercept, n_params
        self.n_rows = 0 if X is None else X.shape[0]
        if X is None:
            self.weight_sum = 0.0
        else:
            self.weight_sum = float(self.n_rows if sw is None else math.fsum(sw))
        self._kernel: Any = None

    def kernel(self) -> Any:
        if self._kernel is None:
            assert self.y is not None                # built only for blocks with rows
            self._kernel = _dispatch.core.Kernel(self.X, self.y, self.sw, 1.0, self.loss.code,
                                                 self.fit_intercept, 0.0,
                                                 self.loss.cost_offset(self.y, self.sw, 1.0),
                                                 self.loss.param, self.offset)
        return self._kernel

    def shifted_y(self) -> np.ndarray:
        """y - offset: the squared error's targets for the exact least-squares sums."""
        assert self.y is not None
        return self.y if self.offset is None else self.y - self.offset

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (_Block, (self.X, self.y, self.sw, self.loss, self.fit_intercept, self.n_params,
                         self.offset))

    def __sizeof__(self) -> int:
        # What dask's scheduler sees: a block as heavy as its data, so that it is not moved
        # to balance work (moving the task is cheaper).
        return sum(a.nbytes for a in (self.X, self.y, self.sw, self.offset)
                   if a is not None) + 256


def _in_block(exc: Exception, where: str) -> Exception:
    """The same exception type with the block's rows named in its message."""
    return type(exc)(f"{exc} ({where})")


def _make_block(X: Any, y: Any, sw: Any, where: str, loss: Loss, fit_intercept: bool,
                n_params: int, offset: Any = None) -> _Block:
    """Validate one block of rows (on the worker) and wrap it with its kernel."""
    X = np.asarray(X)
    y = np.asarray(y)
    for name, a in (("y", y), ("sample_weight", sw), ("offset", offset)):
        if a is not None and np.shape(a)[0] != X.shape[0]:
            raise ValueError(f"X and {name} have different numbers of rows: {X.shape[0]} and "
                             f"{np.shape(a)[0]} ({where})")
    if X.shape[0] == 0:          # an empty block (possible when chunk sizes were unknown)
        return _Block(None, None, None, loss, fit_intercept, n_params)
    try:
        X = check_X(X)
        y = check_y(y, X.shape[0], loss)
        if sw is not None:
            sw = check_vector(sw, X.shape[0], "sample_weight", "one weight per row of X")
            if (sw < 0).any():
                raise ValueError("sample_weight must be non-negative")
        offset = check_offset(offset, X.shape[0])
    except (TypeError, ValueError) as exc:
        raise _in_block(exc, where) from None
    return _Block(X, y, sw, loss, fit_intercept, n_params, offset)


def _block_summary(block: _Block) -> tuple[int, float, float, float, float]:
    """Rows, weight sum, smallest positive weight (inf when none), the weighted sum of y and
    the smallest offset (inf without one) of one block (the last two give the start of a loss
    with a restricted domain: ObjectiveBase.start_point)."""
    if block.n_rows == 0:
        return 0, 0.0, math.inf, 0.0, math.inf
    assert block.y is not None
    y_sum = float(np.sum(block.y) if block.sw is None else block.sw @ block.y)
    low = math.inf if block.offset is None else float(np.min(block.offset))
    if block.sw is None:
        return block.n_rows, block.weight_sum, 1.0, y_sum, low
    positive = block.sw[block.sw > 0]
    return (block.n_rows, block.weight_sum, float(positive.min()) if positive.size else math.inf,
            y_sum, low)


def _block_eval(block: _Block, what: str, w: np.ndarray, v: np.ndarray | None,
                n_threads: int | None) -> np.ndarray:
    """Un-normalised sums over one block, packed in one float64 vector.

    what = "cost": [loss]; "gradient": [loss, g...]; "hessian": [loss, g..., H...];
    "hessp": Xa^T diag(sw h(w)) Xa v (all NaN when the block's loss at w is not finite: an
    overflow of z that leaves h = 0 must not pass for a product); "gram": Xa^T diag(sw) Xa v;
    "separates": [1 if every row of positive weight is strictly on its side of the boundary at
    w, else 0]; "pearson": [sum sw (y - mu)^2 / V(mu)] (Loss.pearson_terms); "magnitudes":
    [max|X|, max|y|, max|z|, max per-sample |loss|, 1 if some z is outside the link's domain]
    (see gdfast._overflow); "expected": Xa^T diag(sw h) Xa with h the curvature at y = mu(w), the
    fitted means (the expected information; two passes over the block).
    """
    D = block.n_params
    sizes = {"cost": 1, "gradient": 1 + D, "hessian": 1 + D + D * D, "hessp": D, "gram": D,
             "separates": 1, "pearson": 1, "magnitudes": 5, "accurate": 2 * D + 2, "normal": 2 * (D + 1) ** 2,
             "expected": D * D}
    if block.n_rows == 0:
        return np.ones(1) if what == "separates" else np.zeros(sizes[what])
    if what == "accurate":       # [G_hi, rss_hi, G_lo, rss_lo]: compensated, see _add_compensated
        ghi, glo, rhi, rlo = _dispatch.accurate.residual_gradient(
            block.X, block.shifted_y(), block.sw, w, block.fit_intercept, n_threads, split=True)
        return np.concatenate([ghi, [rhi], glo, [rlo]])
    if what == "normal":
        hi, lo = _dispatch.accurate.normal_equations(block.X, block.shifted_y(), block.sw,
                                                     block.fit_intercept, n_threads)
        return np.concatenate([hi.ravel(), lo.ravel()])
    kernel = block.kernel()
    if what == "cost":
        return np.array([kernel.cost_grad(w, None, None, n_threads)])
    if what in ("gradient", "hessian"):
        out = np.empty(sizes[what])
        g = out[1:1 + D]
        H = out[1 + D:].reshape(D, D) if what == "hessian" else None
        out[0] = kernel.cost_grad(w, g, H, n_threads)
        return out
    if what in ("hessp", "gram"):
        out = np.empty(D)
        loss = kernel.hessp(w, v, out, what == "gram", n_threads)
        if not math.isfinite(loss):
            out[:] = math.nan
        return out
    z = np.empty(block.n_rows)
    kernel.linear(w, z, n_threads)
    assert block.y is not None                   # set on every block with rows
    if what == "separates":
        # a proof from Xa w alone: scaling w scales this part, whatever the fixed offset
        positive = block.sw > 0 if block.sw is not None else slice(None)
        return np.array([float(block.loss.separates(z[positive], block.y[positive]))])
    if block.offset is not None:
        z += block.offset
    if what == "magnitudes":
        m = magnitudes(block.X, block.y, z, block.loss)
        return np.array([m.x, m.y, m.z, m.loss, m.outside])
    if what == "expected":
        mu = block.loss.inverse_link(z)
        fitted = _dispatch.core.Kernel(block.X, mu, block.sw, 1.0, block.loss.code,
                                       block.fit_intercept, 0.0, 0.0, block.loss.param,
                                       block.offset)
        H = np.empty((D, D))
        fitted.cost_grad(w, None, H, n_threads)
        return H.ravel()
    if what == "pearson":
        terms = block.loss.pearson_terms(z, block.y)
        assert terms is not None                 # asked only of losses that have them
        return np.array([float(np.sum(terms if block.sw is None else block.sw * terms))])
    raise ValueError(f"unknown evaluation {what!r}")


def _group_eval(what: str, w: np.ndarray, v: np.ndarray | None, n_threads: int | None,
                *blocks: _Block) -> np.ndarray:
    """_block_eval over blocks that live on one worker, combined in their order."""
    parts = [_block_eval(b, what, w, v, n_threads) for b in blocks]
    return _COMBINE.get(what, _add)(*parts)


def _add(*parts: np.ndarray) -> np.ndarray:
    """Sum of the parts, in their order (a fixed tree gives the same result every time).

    A sum that overflows is inf, silently: the client checks the totals (gdfast._overflow)."""
    total = parts[0].copy()
    with np.errstate(over="ignore", invalid="ignore"):
        for p in parts[1:]:
            total += p
    return total


def _add_compensated(*parts: np.ndarray) -> np.ndarray:
    """Sum of parts that each hold a value as ``[hi, lo]`` halves, kept as hi + lo (two-sum)."""
    half = parts[0].size // 2
    hi, lo = parts[0][:half].copy(), parts[0][half:].copy()
    for p in parts[1:]:
        s = hi + p[:half]
        bb = s - hi
        lo += ((hi - (s - bb)) + (p[:half] - bb)) + p[half:]
        hi = s
    return np.concatenate([hi, lo])


def _all(*parts: np.ndarray) -> np.ndarray:
    return np.array([float(all(p[0] == 1.0 for p in parts))])


def _max(*parts: np.ndarray) -> np.ndarray:
    out: np.ndarray = np.max(np.vstack(parts), axis=0)
    return out


_COMBINE = {"separates": _all, "accurate": _add_compensated, "normal": _add_compensated,
            "magnitudes": _max}


# ---------------------------------------------------------------------------------------------
# The client side
# ---------------------------------------------------------------------------------------------

def _as_rows(a: Any, name: str, X: Any, da: Any) -> Any:
    """A 1-D dask array with X's blocks of rows, from a dask array or an in-memory array-like."""
    n = X.shape[0]
    if is_dask_array(a):
        if a.ndim != 1:
            raise ValueError(f"{name} must be 1-D; got shape {a.shape}")
        if X.numblocks[0] == a.numblocks[0] and any(math.isnan(c) for c in X.chunks[0] + a.chunks[0]):
            return a      # the blocks pair up; their lengths are checked on the workers
        if any(math.isnan(c) for c in X.chunks[0] + a.chunks[0]):
            raise ValueError(
                f"X and {name} have unknown chunk sizes and different numbers of blocks "
                f"({X.numblocks[0]} and {a.numblocks[0]}); call .compute_chunk_sizes() on them "
                "or build them with the same blocks of rows")
        if a.shape[0] != n:
            raise ValueError(f"{name} has {a.shape[0]} rows but X has {n}")
        return a if a.chunks[0] == X.chunks[0] else a.rechunk({0: X.chunks[0]})
    arr = np.asarray(a)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D; got shape {arr.shape}")
    if any(math.isnan(c) for c in X.chunks[0]):
        raise ValueError(f"X has unknown chunk sizes: {name} must then be a dask array with the "
                         "same blocks of rows as X (or call X.compute_chunk_sizes())")
    if arr.shape[0] != n:
        raise ValueError(f"{name} has {arr.shape[0]} rows but X has {n}")
    return da.from_array(arr, chunks=(X.chunks[0],))


def _distributed_client() -> Any:
    """The distributed Client that dask.compute would use now, or None."""
    if "distributed" not in sys.modules:
        return None
    from dask.base import get_scheduler
    from distributed import Client
    scheduler: Callable[[], Any] = get_scheduler
    owner = getattr(scheduler(), "__self__", None)
    return owner if isinstance(owner, Client) else None


def _group_by_worker(blocks: list[Any]) -> list[list[Any]]:
    """Persisted blocks grouped by the worker that holds them, one group per worker thread.

    A graph's cost on a distributed scheduler grows with its number of tasks (about a
    millisecond each), not with the size of the blocks: one task per worker thread, each over
    the blocks in that worker's memory, keeps an evaluation's overhead independent of how
    finely X is chunked. If blocks move later (a worker lost), a group still computes the right
    sums; its blocks are then fetched to one worker.
    """
    client = _distributed_client()
    if client is None or len(blocks) <= 1:
        return [[b] for b in blocks]
    import distributed
    futures_of: Callable[[Any], list[Any]] = distributed.futures_of
    wait: Callable[[list[Any]], Any] = distributed.wait
    futures = [futures_of(b)[0] for b in blocks]
    wait(futures)
    if any(f.status != "finished" for f in futures):
        return [[b] for b in blocks]          # the error surfaces in the first computation
    who_has = client.who_has(futures)
    try:
        workers = client.scheduler_info(n_workers=-1)["workers"]
    except TypeError:           # distributed before 2025 lists every worker by default
        workers = client.scheduler_info()["workers"]
    threads = {addr: info.get("nthreads", 1) for addr, info in workers.items()}
    by_worker: dict[str, list[Any]] = {}
    for b, f in zip(blocks, futures):
        holders = who_has.get(f.key) or ["?"]
        by_worker.setdefault(sorted(holders)[0], []).append(b)
    groups: list[list[Any]] = []
    for addr, bs in by_worker.items():
        k = max(1, min(len(bs), threads.get(addr, 1)))
        groups.extend(bs[j::k] for j in range(k))
    return groups


class Objective(ObjectiveBase):
    """Cost, gradient and Hessian of a linear model over a Dask array, computed on the workers.

    The same objective as :class:`gdfast.Objective` (and the same methods, so
    :func:`gdfast.minimize` runs on it unchanged)::

        cost(w) = sum_i s_i * loss(z_i, y_i) + alpha / 2 * ||coef||^2,   s = sw / sum(sw)

    Each block of rows of X is validated once, kept in the memory of the worker that holds it
    (``persist=True``), and evaluated there by gdfast's compiled kernels; the partial sums are
    added by a tree reduction. One evaluation is one graph computation; what comes back to the
    client is ``1 + (d + 1)`` numbers for the cost and gradient, plus ``(d + 1)^2`` for the
    Hessian. X never travels to the client.

    Parameters
    ----------
    X : dask.array.Array of shape (n_samples, n_features)
        Chunked by rows. Blocks that split the columns are joined first (``X.rechunk({1: -1})``,
        done once). float32 and float64 blocks are used as they are; other numeric types become
        float64 on the workers. Unknown chunk sizes (NaN, e.g. from a dask DataFrame) are
        allowed when y (and sample_weight) are dask arrays with the same number of blocks.
    y : dask.array.Array or array-like of shape (n_samples,)
        Targets; 0 or 1 for the log loss. A dask array with other row blocks than X is rechunked
        to X's (y is small); an in-memory array is split into X's blocks and sent to the workers.
    loss : str or gdfast.losses.Loss
        A registered loss, by name or as an instance (see gdfast.Objective).
    alpha : float, default 0.0
        Strength of the L2 penalty ``alpha / 2 * ||coef||^2`` (the intercept is not penalised).
    fit_intercept : bool, default True
    sample_weight : dask.array.Array, array-like of shape (n_samples,) or scalar, optional
        Non-negative weights, normalised to sum to one over all rows.
    n_threads : int, optional
        Threads each worker's kernel uses for its block. None follows the worker's
        OMP_NUM_THREADS (``distributed`` sets 1 in worker processes: one thread per task).
    persist : bool, default True
        Keep the validated blocks in the workers' memory (``dask.persist``), so that every
        evaluation reads X from RAM. With False, every evaluation recomputes X's graph (reads
        the files again): for data larger than the cluster's memory.
    split_every : int, default 8
        Fan-in of the tree reduction.
    speculate : bool, default True
        Let :meth:`cost` compute, in its one pass, the gradient (and Hessian) as well when the
        last request asked for them, and keep them for the next call at the same ``w``. On the
        workers this is the same pass over X (the Hessian adds a BLAS product per block); on
        the network it saves a round trip per accepted line-search step.
    offset : dask.array.Array or array-like of shape (n_samples,), optional
        A fixed term added to every row's prediction (``log(exposure)`` for rates), as for
        :class:`gdfast.Objective`; aligned to X's blocks like y and checked on the workers.

    Attributes
    ----------
    n_samples, n_features, n_params : int
    loss : str
    alpha : float
    fit_intercept : bool
    dtype : numpy.dtype
        The dtype the kernels read X in (float32 or float64).
    weight_sum : float
        The sum of the sample weights (n_samples without weights).
    min_positive_weight : float
        The smallest positive sample weight (1.0 without weights): with ``weight_sum``, what a
        solver's test for separable classes needs, found at construction for free.
    n_blocks : int
        Blocks of rows evaluated per pass (X's blocks, less those known to be empty). On a
        distributed cluster with ``persist=True`` they are evaluated by one task per worker
        thread, each over the blocks in that worker's memory.
    n_computations : int
        Graph computations this objective has run (construction included).
    X, y, sample_weight, offset : dask.array.Array or None
        The data, aligned to X's blocks of rows.

    Raises
    ------
    TypeError
        X is not a dask array, or not numeric.
    ValueError
        Wrong shapes, mismatched lengths, NaN or infinity, labels other than 0 and 1 for the log
        loss, negative weights or weights that sum to zero. Problems found inside a block name
        the block's rows.

    Notes
    -----
    Construction runs one graph computation: it validates every block (on the workers) and
    brings back each block's row count and weight sum. The last evaluation is cached, so
    ``cost_gradient(w)`` right after ``cost_gradient_hessian(w)`` costs nothing.
    """

    def __init__(self, X: Any, y: Any, loss: str | Loss = "log_loss", alpha: float = 0.0,
                 fit_intercept: bool = True, sample_weight: Any = None,
                 n_threads: int | None = None, *, persist: bool = True, split_every: int = 8,
                 speculate: bool = True, offset: Any = None) -> None:
        dask = _import_dask()
        import dask.array as da

        self.loss = get_loss(loss)
        self.penalty = L2(check_scalar(alpha, "alpha", low=0.0))
        self.fit_intercept = check_bool(fit_intercept, "fit_intercept")
        self.n_threads = check_n_threads(n_threads)
        persist = check_bool(persist, "persist")
        self.split_every = check_scalar(split_every, "split_every", low=2, integer=True)
        if not is_dask_array(X):
            raise TypeError(
                f"X must be a dask array; got {type(X).__module__}.{type(X).__qualname__}. Use "
                "gdfast.Objective for in-memory data, or wrap it with dask.array.from_array(X, chunks=...)")
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D (n_samples, n_features); got {X.ndim}-D with shape {X.shape}")
        if X.dtype.kind == "c":
            raise ValueError("X: complex data not supported")
        if X.dtype.kind not in "biuf":
            raise TypeError(f"X must be numeric; got dtype {X.dtype}")
        if X.shape[0] == 0:
            raise ValueError(f"X has no rows (shape {X.shape}); at least one sample is needed")
        if X.shape[1] == 0:
            raise ValueError(f"X has no columns (shape {X.shape}); at least one feature is needed")
        if X.numblocks[1] > 1:
            X = X.rechunk({1: -1})
        y = _as_rows(y, "y", X, da)
        weights_given = sample_weight is not None
        if weights_given and np.ndim(sample_weight) == 0 and not is_dask_array(sample_weight):
            # A positive constant weight is no weight after normalisation.
            check_scalar(sample_weight, "sample_weight", low=0.0, low_inclusive=False)
            sample_weight = None
        elif weights_given:
            sample_weight = _as_rows(sample_weight, "sample_weight", X, da)
        if offset is not None:
            offset = _as_rows(offset, "offset", X, da)
        self.X, self.y, self.sample_weight, self.offset = X, y, sample_weight, offset
        self.n_features = int(X.shape[1])
        self.n_params = self.n_features + int(self.fit_intercept)
        self.dtype = np.dtype(X.dtype) if X.dtype in (np.float32, np.float64) else np.dtype(np.float64)
        if self.dtype == np.float32:
            self.cost_rounding = 1e3 * float(np.finfo(np.float32).eps)
        self.n_computations = 0
        self.speculate = check_bool(speculate, "speculate")
        self.costly_evaluations = True        # each evaluation is a round trip to the workers
        self._cache: tuple[int, bytes, np.ndarray] | None = None
        self._hint = "cost"

        Xb = X.to_delayed().ravel()
        yb = y.to_delayed().ravel()
        sb = sample_weight.to_delayed().ravel() if sample_weight is not None else [None] * len(Xb)
        ob = offset.to_delayed().ravel() if offset is not None else [None] * len(Xb)
        starts = np.concatenate([[0], np.cumsum(X.chunks[0])])
        blocks = []
        for i, size in enumerate(X.chunks[0]):
            if size == 0:
                continue
            where = (f"block {i}, rows {int(starts[i])}:{int(starts[i + 1])}" if not math.isnan(size)
                     else f"block {i}")
            blocks.append(_dask_delayed(_make_block, pure=False)(
                Xb[i], yb[i], sb[i], where, self.loss, self.fit_intercept, self.n_params, ob[i],
                dask_key_name=f"gdfast-block-{uuid.uuid4().hex}"))
        if persist:
            blocks = list(dask.persist(*blocks))
        self._blocks = blocks
        self.n_blocks = len(blocks)
        self._groups = _group_by_worker(blocks) if persist else [[b] for b in blocks]
        summary = self._compute([_dask_delayed(_block_summary)(b) for b in blocks], as_list=True)
        self.n_samples = int(sum(s[0] for s in summary))
        self.weight_sum = float(math.fsum(s[1] for s in summary))
        self.min_positive_weight = float(min((s[2] for s in summary), default=math.inf))
        self._target_sum = float(math.fsum(s[3] for s in summary))
        self._offset_min = float(min((s[4] for s in summary), default=math.inf))
        if weights_given and not self.weight_sum > 0:
            raise ValueError("sample_weight sums to zero: at least one weight must be positive")
        if self.n_samples == 0:
            raise ValueError("X has no rows; at least one sample is needed")

    def target_summary(self) -> tuple[float, float]:
        """The weighted mean of y and the smallest offset, from the block summaries made at
        construction (no further computation).

        Returns
        -------
        (float, float)
            The mean and the smallest offset (0 without an offset).
        """
        low = self._offset_min if self.offset is not None else 0.0
        return self._target_sum / self.weight_sum, low

    # -- plumbing ---------------------------------------------------------------------------

    def _compute(self, parts: list[Any], as_list: bool = False) -> Any:
        """One graph computation; parts are reduced by a tree of fan-in split_every."""
        self.n_computations += 1
        if as_list:
            return _dask_compute(parts)[0]
        return _dask_compute(self._tree(parts, _add))[0]

    def _tree(self, parts: list[Any], combine: Any) -> Any:
        k = self.split_every
        tag = uuid.uuid4().hex
        level = 0
        while len(parts) > 1:
            parts = [_dask_delayed(combine, pure=False)(*parts[i:i + k],
                                                        dask_key_name=f"gdfast-sum-{tag}-{level}-{i}")
                     for i in range(0, len(parts), k)]
            level += 1
        return parts[0]

    def _map(self, what: str, w: np.ndarray, v: np.ndarray | None = None) -> list[Any]:
        tag = uuid.uuid4().hex
        return [_dask_delayed(_group_eval, pure=False)(what, w, v, self.n_threads, *group,
                                                       dask_key_name=f"gdfast-{what}-{tag}-{i}")
                for i, group in enumerate(self._groups)]

    def _w(self, w: Any, name: str = "w") -> np.ndarray:
        return check_vector(w, self.n_params, name,
                            "n_features + 1 with an intercept" if self.fit_intercept else "n_features")

    def _evaluate(self, level: str, w: np.ndarray, asked: str = "cost"
                  ) -> tuple[float, np.ndarray | None, np.ndarray | None]:
        """Cost, gradient and Hessian (the latter two as far as level asks) at w, normalised.

        What ``asked`` names (the cost, also the gradient, also the Hessian) is checked to be
        finite; an overflow raises the error of gdfast._overflow (one more round trip finds its
        cause). What was only computed in speculation is not checked."""
        key = w.tobytes()
        need = _LEVELS[level]
        if need > 0:
            self._hint = level
        if self._cache is not None and self._cache[0] >= need and self._cache[1] == key:
            packed = self._cache[2]
        else:
            packed = self._compute(self._map(level, w)) / self.weight_sum
            self._cache = (need, key, packed)
        D, d = self.n_params, self.n_features
        cost = float(packed[0]) + self.penalty.value(w, d)
        grad = hess = None
        if need >= 1:
            grad = self.penalty.add_gradient(w, d, packed[1:1 + D].copy())
        if need >= 2:
            hess = packed[1 + D:].reshape(D, D).copy()
            hess[np.diag_indices(D)] += self.penalty.hessian_diagonal(D, d)
        checked = _LEVELS[asked]
        if not results_finite(cost, grad if checked >= 1 else None, hess if checked >= 2 else None):
            what = ("the cost" if not math.isfinite(cost) else
                    "the gradient" if not results_finite(cost, grad) else "the Hessian")
            raise self._overflow(w, what)
        return cost, grad, hess

    def _overflow(self, w: np.ndarray, what: str, v: np.ndarray | None = None,
                  at_w: bool = True) -> OverflowInputError:
        """The error for ``what`` overflowing at w: one round trip brings back each block's
        magnitudes (gdfast._overflow.Magnitudes), combined by max."""
        self.n_computations += 1
        parts = _dask_compute(self._tree(self._map("magnitudes", w), _max))[0]
        return overflow_error(what, Magnitudes(*(float(p) for p in parts)), w, self.n_features,
                              self.alpha, self.loss, v=v, at_w=at_w)


    def __repr__(self) -> str:
        return (f"gdfast.dask.Objective(n_samples={self.n_samples}, n_features={self.n_features}, "
                f"loss={self.loss.name!r}, alpha={self.alpha!r}, fit_intercept={self.fit_intercept}, "
                f"dtype={self.dtype.name}, n_blocks={self.n_blocks})")

    # -- the Objective contract -------------------------------------------------------------

    def cost(self, w: Any) -> float:
        """The cost at ``w``: one graph computation.

        With ``speculate=True`` (the default) it computes, in the same pass, as much as the last
        ``cost_gradient`` or ``cost_gradient_hessian`` call asked for, and keeps it: a solver
        that tries a step with ``cost(trial)`` and, once it accepts it, asks for
        ``cost_gradient_hessian(trial)`` then pays one round trip per iteration, not two.
        """
        return self._evaluate(self._hint if self.speculate else "cost", self._w(w), "cost")[0]

    def gradient(self, w: Any) -> np.ndarray:
        """The gradient of the cost at ``w`` (computed with the cost, in one graph computation)."""
        return self.cost_gradient(w)[1]

    def cost_gradient(self, w: Any) -> tuple[float, np.ndarray]:
        """The cost and its gradient at ``w``: one pass over X on the workers, one round trip."""
        c, g, _ = self._evaluate("gradient", self._w(w), "gradient")
        assert g is not None                       # level "gradient" computes it
        return c, g

    def hessian(self, w: Any) -> np.ndarray:
        """The Hessian of the cost at ``w``, of shape (n_params, n_params)."""
        return self.cost_gradient_hessian(w)[2]

    def cost_gradient_hessian(self, w: Any) -> tuple[float, np.ndarray, np.ndarray]:
        """Cost, gradient and Hessian at ``w``: one pass over X on the workers, one round trip.

        Each worker builds its blocks' ``Xa^T diag(s h) Xa`` by BLAS; (n_params)^2 numbers per
        block travel up the reduction tree.
        """
        c, g, H = self._evaluate("hessian", self._w(w), "hessian")
        assert g is not None and H is not None     # level "hessian" computes both
        return c, g, H

    def hessp(self, w: Any, v: Any) -> np.ndarray:
        """The Hessian at ``w`` times ``v``, without forming the Hessian (one round trip)."""
        w, v = self._w(w), self._w(v, "v")
        out: np.ndarray = self._compute(self._map("hessp", w, v)) / self.weight_sum
        out = self.penalty.add_gradient(v, self.n_features, out)
        if not results_finite(self.penalty.value(w, self.n_features), out):
            raise self._overflow(w, "the Hessian-vector product", v=v)
        return out

    def residual_sums(self, w: Any) -> tuple[np.ndarray, np.ndarray, float] | None:
        """For the squared error: ``G = Xa^T diag(sw) (y - Xa w)`` as ``hi + lo`` and ``RSS``,
        to twice the precision of double (compensated on the workers, block sums added as
        hi + lo); one round trip. None for other losses.

        Parameters
        ----------
        w : array-like of shape (n_params,)

        Returns
        -------
        (ndarray, ndarray, float) or None
        """
        if not self.loss.quadratic:
            return None
        w = self._w(w)
        self.n_computations += 1
        packed = _dask_compute(self._tree(self._map("accurate", w), _add_compensated))[0]
        D = self.n_params
        hi, lo = packed[:D + 1], packed[D + 1:]
        return hi[:D].copy(), lo[:D].copy(), float(hi[D] + lo[D])

    def normal_equations(self) -> tuple[np.ndarray, np.ndarray] | None:
        """For the squared error: ``[Xa, y]^T diag(sw) [Xa, y]`` as ``hi + lo`` (see
        gdfast.Objective.normal_equations); one round trip. None for other losses.

        Returns
        -------
        (ndarray, ndarray) of shape (n_params + 1, n_params + 1), or None
        """
        if not self.loss.quadratic:
            return None
        self.n_computations += 1
        packed = _dask_compute(self._tree(self._map("normal", np.zeros(self.n_params)),
                                          _add_compensated))[0]
        m = self.n_params + 1
        return packed[:m * m].reshape(m, m), packed[m * m:].reshape(m, m)

    def curvature_bound(self, n_iter: int = 50) -> float:
        """An estimate of the largest eigenvalue of the Hessian, over all w.

        The same power iteration as :meth:`gdfast.Objective.curvature_bound`, on
        ``v -> Xa^T S Xa v``: one distributed pass (one round trip) per iteration, at most
        ``n_iter`` of them.

        Parameters
        ----------
        n_iter : int, default 50

        Returns
        -------
        float
            ``c lambda_max + alpha``, c the loss's curvature bound (``loss.curvature``;
            infinite when the loss has none).
        """
        n_iter = check_scalar(n_iter, "n_iter", low=1, integer=True)
        if self.loss.curvature is None:
            return math.inf
        rng = np.random.default_rng(0)
        v = rng.standard_normal(self.n_params)
        v /= np.linalg.norm(v)
        w = np.zeros(self.n_params)
        lam = 0.0
        for _ in range(n_iter):
            u = self._compute(self._map("gram", w, v)) / self.weight_sum
            new = float(np.linalg.norm(u))
            if new == 0.0 or not math.isfinite(new):
                lam = new if new else lam
                break
            v = u / new
            converged = abs(new - lam) <= 1e-5 * new
            lam = new
            if converged:
                break
        if not math.isfinite(lam):
            raise self._overflow(w, "the curvature bound (the largest eigenvalue of Xa^T S Xa)",
                                 at_w=False)
        return self.loss.curvature * lam + self.penalty.curvature

    def expected_hessian(self, w: Any) -> np.ndarray:
        """The Hessian at ``w`` with each target replaced by its fitted mean (the expected
        information's, see :meth:`gdfast.Objective.expected_hessian`): the Hessian for a
        canonical link, else one round trip (two passes over each block).

        Parameters
        ----------
        w : array-like of shape (n_params,)

        Returns
        -------
        ndarray of shape (n_params, n_params)
        """
        if self.loss.canonical:
            return self.hessian(w)
        w = self._w(w)
        D = self.n_params
        H = self._compute(self._map("expected", w)).reshape(D, D) / self.weight_sum
        H[np.diag_indices(D)] += self.penalty.hessian_diagonal(D, self.n_features)
        if not np.isfinite(H).all():
            raise self._overflow(w, "the Hessian")
        return np.asarray(H)

    def pearson_chi2(self, w: Any) -> float | None:
        """Pearson's chi^2 ``sum sw (y - mu)^2 / V(mu)`` at ``w`` (one round trip); None for
        a loss without Pearson residuals (``Loss.pearson_terms``)."""
        if self.loss.pearson_terms(np.ones(1), np.ones(1)) is None:
            return None
        w = self._w(w)
        self.n_computations += 1
        return float(_dask_compute(self._tree(self._map("pearson", w), _add))[0][0])

    def separates(self, w: Any) -> bool:
        """True when ``w`` puts every row of positive weight strictly on its side (log loss).

        One round trip; one number per block travels. A solver's check for separable classes
        (log loss, alpha = 0) can call this instead of computing the predictions itself.
        """
        if not self.loss.can_separate:
            raise ValueError(f"separates() is defined for losses that can separate; "
                             f"loss={self.loss.name!r} cannot")
        if self.loss.separation_from_data:
            return False     # deciding it needs the rows of X together (gdfast.Objective does)
        w = self._w(w)
        self.n_computations += 1
        return bool(_dask_compute(self._tree(self._map("separates", w), _all))[0][0] == 1.0)


# ---------------------------------------------------------------------------------------------
# For estimators
# ---------------------------------------------------------------------------------------------

def fit_objective(X: Any, y: Any, *, loss: str | Loss, alpha: float = 0.0, fit_intercept: bool = True,
                  sample_weight: Any = None, method: str = "auto", w0: Any = None,
                  max_iter: int | None = None, tol: float = 1e-8, n_threads: int | None = None,
                  persist: bool = True, offset: Any = None,
                  **options: Any) -> tuple[Objective, OptimizeResult]:
    """Build a :class:`gdfast.dask.Objective` and minimise it: what an estimator's ``fit`` calls.

    Parameters
    ----------
    X : dask.array.Array of shape (n_samples, n_features)
    y : dask.array.Array or array-like of shape (n_samples,)
        Already encoded: 0 and 1 for the log loss.
    loss : str or gdfast.losses.Loss
    alpha : float, default 0.0
    fit_intercept : bool, default True
    sample_weight : dask.array.Array or array-like, optional
    method : str, default "auto"
        A method of :func:`gdfast.minimize`. "auto" takes Newton's method (fewest round trips)
        while the Hessian is small enough to ship, ``n_params <= 1000``; above that "lbfgs" if
        gdfast.minimize has it, else Newton.
    w0 : array-like, optional
        Warm start.
    max_iter : int, optional
    tol : float, default 1e-8
    n_threads : int, optional
    persist : bool, default True
    offset : dask.array.Array or array-like of shape (n_samples,), optional
        Added to every row's prediction (see :class:`Objective`).
    **options
        Passed on to :func:`gdfast.minimize`.

    Returns
    -------
    objective : Objective
    result : OptimizeResult
        ``result.w = [coef..., intercept]``.
    """
    from . import _solvers
    obj = Objective(X, y, loss=loss, alpha=alpha, fit_intercept=fit_intercept,
                    sample_weight=sample_weight, n_threads=n_threads, persist=persist, offset=offset)
    if method == "auto":             # the one rule, resolved here so that options may be passed
        method = _solvers.choose_method(obj)
    result = _solvers.minimize(obj, method=method, w0=w0, max_iter=max_iter, tol=tol, **options)
    return obj, result


def encode_labels(y: Any) -> tuple[np.ndarray, list[Any]]:
    """The classes of a dask array of labels and the 0/1 targets of each binary problem.

    What a classifier's ``fit`` needs before it builds objectives: the sorted classes (found by
    one pass over y, which brings back only the distinct labels) and, lazily, ``1.0`` where
    ``y`` is the positive class. Two classes give one problem (``classes[1]`` positive); more
    give one per class (one-vs-rest).

    Parameters
    ----------
    y : dask.array.Array of shape (n_samples,)
        Labels of any orderable type.

    Returns
    -------
    classes : ndarray
    targets : list of dask.array.Array of shape (n_samples,), float64

    Raises
    ------
    ValueError
        When y is not 1-D or holds fewer than two classes.
    """
    _import_dask()
    import dask.array as da
    if not is_dask_array(y):
        raise TypeError(f"y must be a dask array; got {type(y).__module__}.{type(y).__qualname__}")
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D; got shape {y.shape}")
    classes = np.unique(np.asarray(da.unique(y).compute()))
    if len(classes) < 2:
        raise ValueError(f"y needs at least 2 classes; got {len(classes)} ({classes.tolist()!r})")
    positives = classes[1:] if len(classes) == 2 else classes
    return classes, [(y == c).astype(np.float64) for c in positives]


def _linear_block(block: np.ndarray, coef: np.ndarray, intercept: float) -> np.ndarray:
    z: np.ndarray = np.asarray(block, dtype=np.float64) @ coef + intercept
    return z


def linear_predictor(X: Any, coef: Any, intercept: float = 0.0) -> Any:
    """The raw predictions ``z = X @ coef + intercept`` of a dask array, as a lazy dask array.

    Parameters
    ----------
    X : dask.array.Array of shape (n_samples, n_features)
    coef : array-like of shape (n_features,)
    intercept : float, default 0.0

    Returns
    -------
    dask.array.Array of shape (n_samples,), float64
        Computed block by block on the workers (an estimator's ``decision_function``).
    """
    _import_dask()
    if not is_dask_array(X) or X.ndim != 2:
        raise TypeError("X must be a 2-D dask array")
    coef = check_vector(coef, X.shape[1], "coef", "n_features")
    intercept = check_scalar(intercept, "intercept")
    if X.numblocks[1] > 1:
        X = X.rechunk({1: -1})
    return X.map_blocks(_linear_block, coef, intercept, drop_axis=1, dtype=np.float64)


# The multinomial objective reuses this module's plumbing (its module imports the helpers
# above), so it is looked up on first use rather than imported here.
if TYPE_CHECKING:
    from ._dask_multinomial import MultinomialObjective


def __getattr__(name: str) -> Any:
    if name == "MultinomialObjective":
        from ._dask_multinomial import MultinomialObjective
        return MultinomialObjective
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
