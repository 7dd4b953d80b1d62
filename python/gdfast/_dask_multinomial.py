"""The multinomial objective over a dask array: each block of rows stays on its worker, where the
compiled multinomial passes (gdfast._multinomial) compute its un-normalised sums; one graph per
evaluation brings back the cost, the gradient over the full Theta (D K numbers) and, when asked,
its Hessian ((D K)^2). X never reaches the client.

The parameters are those of :class:`gdfast.MultinomialObjective` (``MultinomialParameters``):
the client expands ``w`` to Theta, sends Theta, and picks the free entries of what comes back.
The plumbing (blocks persisted per worker, one task per worker thread, a tree reduction) is
:mod:`gdfast.dask`'s.
"""
from __future__ import annotations

import math
import uuid
from typing import Any

import numpy as np

from . import _dispatch
from .dask import (_add, _all, _as_rows, _dask_compute, _dask_delayed, _group_by_worker,
                   _import_dask, _in_block, is_dask_array)
from ._multinomial_objective import (MAX_HESSIAN_PARAMS, Multinomial, MultinomialParameters,
                                     _Overflow, check_classes)
from ._penalty import L2
from ._protocols import ObjectiveBase
from ._validation import (check_bool, check_n_threads, check_scalar, check_vector, check_X)

__all__ = ["MultinomialObjective"]

_LEVELS = {"cost": 0, "gradient": 1, "hessian": 2}


class _Block:
    """One validated block of rows (class indices as intp) and, built on first use on the
    worker, its multinomial kernel with scale 1 (un-normalised sums)."""

    def __init__(self, X: np.ndarray | None, y: np.ndarray | None, sw: np.ndarray | None,
                 fit_intercept: bool) -> None:
        self.X, self.y, self.sw, self.fit_intercept = X, y, sw, fit_intercept
        self.n_rows = 0 if X is None else X.shape[0]
        self._kernel: Any = None

    def kernel(self, n_classes: int) -> Any:
        if self._kernel is None:
            self._kernel = _dispatch.multinomial.MultinomialKernel(
                self.X, self.y, self.sw, 1.0, n_classes, self.fit_intercept)
        return self._kernel

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (_Block, (self.X, self.y, self.sw, self.fit_intercept))

    def __sizeof__(self) -> int:
        return sum(a.nbytes for a in (self.X, self.y, self.sw) if a is not None) + 256


def _make_block(X: Any, y: Any, sw: Any, where: str, fit_intercept: bool,
                n_classes: int | None) -> _Block:
    """Validate one block of rows (on the worker)."""
    X = np.asarray(X)
    if X.shape[0] == 0:
        return _Block(None, None, None, fit_intercept)
    try:
        X = check_X(X)
        y, _ = check_classes(y, X.shape[0], n_classes if n_classes is not None else None)
        if sw is not None:
            sw = check_vector(sw, X.shape[0], "sample_weight", "one weight per row of X")
            if (sw < 0).any():
                raise ValueError("sample_weight must be non-negative")
    except (TypeError, ValueError) as exc:
        # one class in a block is fine (check_classes asks for two in all of y: see below)
        if n_classes is None and str(exc).startswith("y: the multinomial model needs"):
            y = np.asarray(y).astype(np.intp)
        else:
            raise _in_block(exc, where) from None
    return _Block(X, y, sw, fit_intercept)


def _block_summary(block: _Block) -> tuple[int, float, float, int]:
    """Rows, weight sum, smallest positive weight (inf when none) and largest class."""
    if block.n_rows == 0 or block.y is None:
        return 0, 0.0, math.inf, -1
    top = int(block.y.max())
    if block.sw is None:
        return block.n_rows, float(block.n_rows), 1.0, top
    positive = block.sw[block.sw > 0]
    return (block.n_rows, float(math.fsum(block.sw)),
            float(positive.min()) if positive.size else math.inf, top)


def _block_eval(block: _Block, what: str, theta: np.ndarray, v: np.ndarray | None,
                n_classes: int, n_threads: int | None) -> np.ndarray:
    """Un-normalised sums over one block in one vector: "cost" [loss], "gradient" [loss,
    g...], "hessian" [loss, g..., H...], "hessp" [H v...] (NaN when the loss is not finite),
    "gram" [Xa^T diag(sw) Xa v], "separates" [1 when every row of positive weight is strictly
    in its class]."""
    DK = theta.shape[0]
    D = DK // n_classes
    sizes = {"cost": 1, "gradient": 1 + DK, "hessian": 1 + DK + DK * DK, "hessp": DK,
             "gram": D, "separates": 1}
    if block.n_rows == 0:
        return np.ones(1) if what == "separates" else np.zeros(sizes[what])
    assert block.X is not None and block.y is not None
    if what == "gram":
        assert v is not None
        d = block.X.shape[1]
        z = block.X @ v[:d] + (v[d] if block.fit_intercept else 0.0)
        sz = z if block.sw is None else block.sw * z
        g = block.X.T @ sz
        return np.append(g, sz.sum()) if block.fit_intercept else np.asarray(g, dtype=np.float64)
    kernel = block.kernel(n_classes)
    if what == "cost":
        return np.array([kernel.cost_grad(theta, None, None, n_threads)])
    if what in ("gradient", "hessian"):
        out = np.empty(sizes[what])
        H = out[1 + DK:].reshape(DK, DK) if what == "hessian" else None
        out[0] = kernel.cost_grad(theta, out[1:1 + DK], H, n_threads)
        return out
    if what == "hessp":
        assert v is not None
        out = np.empty(DK)
        if not math.isfinite(kernel.hessp(theta, v, out, n_threads)):
            out[:] = math.nan
        return out
    z = np.empty((block.n_rows, n_classes))
    kernel.linear(theta, z, n_threads)
    keep = slice(None) if block.sw is None else block.sw > 0
    return np.array([float(Multinomial().separates(z[keep], block.y[keep]))])


def _group_eval(what: str, theta: np.ndarray, v: np.ndarray | None, n_classes: int,
                n_threads: int | None, *blocks: _Block) -> np.ndarray:
    parts = [_block_eval(b, what, theta, v, n_classes, n_threads) for b in blocks]
    return _all(*parts) if what == "separates" else _add(*parts)


class MultinomialObjective(MultinomialParameters, ObjectiveBase):
    """:class:`gdfast.MultinomialObjective` over a dask array chunked by rows, evaluated on the
    workers: one graph computation per evaluation, X never gathered.

    Parameters
    ----------
    X : dask.array.Array of shape (n_samples, n_features)
        Chunked by rows (column blocks are joined once).
    y : dask.array.Array or array-like of shape (n_samples,)
        Class indices 0 .. n_classes - 1.
    n_classes : int, optional
        ``max(y) + 1`` by default (found by the construction's one graph computation).
    alpha, fit_intercept, sample_weight, n_threads, reference
        As for :class:`gdfast.MultinomialObjective`.
    persist : bool, default True
        Keep the validated blocks in the workers' memory.
    split_every : int, default 8
        Fan-in of the tree reduction.

    Attributes
    ----------
    n_samples, n_features, n_classes, n_params, n_free_coef, free, reference, weight_sum
        As for :class:`gdfast.MultinomialObjective`.
    n_computations : int
        Graph computations run so far (construction included).

    Raises
    ------
    TypeError, ValueError
        For bad input, naming the argument (and the block's rows for what is found in a block).
    """

    costly_evaluations = True

    def __init__(self, X: Any, y: Any, n_classes: int | None = None, alpha: float = 0.0,
                 fit_intercept: bool = True, sample_weight: Any = None,
                 n_threads: int | None = None, reference: bool | None = None, *,
                 persist: bool = True, split_every: int = 8) -> None:
        dask = _import_dask()
        import dask.array as da
        self.loss = Multinomial()
        self.penalty = L2(check_scalar(alpha, "alpha", low=0.0))
        self.fit_intercept = check_bool(fit_intercept, "fit_intercept")
        self.n_threads = check_n_threads(n_threads)
        self.reference = (self.penalty.alpha == 0.0 if reference is None
                          else check_bool(reference, "reference"))
        self.split_every = check_scalar(split_every, "split_every", low=2, integer=True)
        if n_classes is not None:
            n_classes = check_scalar(n_classes, "n_classes", low=2, integer=True)
        if not is_dask_array(X):
            raise TypeError("X must be a dask array; use gdfast.MultinomialObjective for "
                            "in-memory data")
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D (n_samples, n_features); got shape {X.shape}")
        if X.numblocks[1] > 1:
            X = X.rechunk({1: -1})
        y = _as_rows(y, "y", X, da)
        if sample_weight is not None:
            sample_weight = _as_rows(sample_weight, "sample_weight", X, da)
        self.X, self.y, self.sample_weight = X, y, sample_weight
        self.n_features = int(X.shape[1])
        self.n_computations = 0
        self._cache: tuple[int, bytes, np.ndarray] | None = None
        Xb, yb = X.to_delayed().ravel(), y.to_delayed().ravel()
        sb = (sample_weight.to_delayed().ravel() if sample_weight is not None
              else [None] * len(Xb))
        blocks = [_dask_delayed(_make_block, pure=False)(
                      Xb[i], yb[i], sb[i], f"block {i}", self.fit_intercept, n_classes,
                      dask_key_name=f"gdfast-mblock-{uuid.uuid4().hex}")
                  for i, size in enumerate(X.chunks[0]) if size != 0]
        if persist:
            blocks = list(dask.persist(*blocks))
        self._blocks = blocks
        self._groups = _group_by_worker(blocks) if persist else [[b] for b in blocks]
        self.n_computations += 1
        summary = _dask_compute([_dask_delayed(_block_summary)(b) for b in blocks])[0]
        self.n_samples = int(sum(s[0] for s in summary))
        self.weight_sum = float(math.fsum(s[1] for s in summary))
        self.min_positive_weight = float(min((s[2] for s in summary), default=math.inf))
        top = max((s[3] for s in summary), default=-1) + 1
        self.n_classes = int(n_classes if n_classes is not None else top)
        if self.n_classes < 2:
            raise ValueError(f"y: the multinomial model needs at least 2 classes; got "
                             f"{self.n_classes}")
        if not self.weight_sum > 0:
            raise ValueError("sample_weight sums to zero: at least one weight must be positive")
        self._set_parameters()

    def __repr__(self) -> str:
        return (f"gdfast.dask MultinomialObjective(n_samples={self.n_samples}, "
                f"n_features={self.n_features}, n_classes={self.n_classes}, "
                f"alpha={self.alpha!r}, n_blocks={len(self._blocks)})")

    def _run(self, what: str, theta: np.ndarray, v: np.ndarray | None = None) -> np.ndarray:
        """One graph computation: every group's sums, reduced by a tree."""
        self.n_computations += 1
        tag = uuid.uuid4().hex
        parts = [_dask_delayed(_group_eval, pure=False)(
                     what, theta, v, self.n_classes, self.n_threads, *group,
                     dask_key_name=f"gdfast-m{what}-{tag}-{i}")
                 for i, group in enumerate(self._groups)]
        combine = _all if what == "separates" else _add
        level = 0
        while len(parts) > 1:
            k = self.split_every
            parts = [_dask_delayed(combine, pure=False)(
                         *parts[i:i + k], dask_key_name=f"gdfast-msum-{tag}-{level}-{i}")
                     for i in range(0, len(parts), k)]
            level += 1
        out: np.ndarray = _dask_compute(parts[0])[0]
        return out

    def _evaluate(self, level: str, w: Any) -> tuple[float, np.ndarray | None,
                                                    np.ndarray | None]:
        w = self._w(w)
        need = _LEVELS[level]
        if level == "hessian" and not self.can_form_hessian:
            raise ValueError(f"w: the Hessian of {self.n_params} parameters would take more than "
                             f"256 MiB (at most {MAX_HESSIAN_PARAMS} parameters); use hessp or a "
                             "Hessian-free method (lbfgs, newton-cg)")
        key = w.tobytes()
        if self._cache is not None and self._cache[0] >= need and self._cache[1] == key:
            packed = self._cache[2]
        else:
            packed = self._run(level, self._theta_flat(w)) / self.weight_sum
            self._cache = (need, key, packed)
        DK = self._D * self.n_classes
        idx = self._index
        cost = float(packed[0]) + self.penalty.value(w, self.n_free_coef)
        g = H = None
        if need >= 1:
            g = self.penalty.add_gradient(w, self.n_free_coef, packed[1:1 + DK][idx].copy())
        if need >= 2:
            H = packed[1 + DK:].reshape(DK, DK)[np.ix_(idx, idx)]
            H[np.diag_indices(self.n_params)] += self.penalty.hessian_diagonal(
                self.n_params, self.n_free_coef)
        if not (math.isfinite(cost) and (g is None or np.isfinite(g).all())
                and (H is None or np.isfinite(H).all())):
            raise _Overflow("the cost" if not math.isfinite(cost) else "the gradient", "w")
        return cost, g, H

    def cost(self, w: Any) -> float:
        """The cost at ``w`` (one graph computation).

        Parameters
        ----------
        w : array-like of shape (n_params,)

        Returns
        -------
        float
        """
        return self._evaluate("cost", w)[0]

    def gradient(self, w: Any) -> np.ndarray:
        """The gradient at ``w``.

        Parameters
        ----------
        w : array-like of shape (n_params,)

        Returns
        -------
        ndarray of shape (n_params,)
        """
        return self.cost_gradient(w)[1]

    def cost_gradient(self, w: Any) -> tuple[float, np.ndarray]:
        """Cost and gradient at ``w``: one pass over X on the workers, one round trip.

        Parameters
        ----------
        w : array-like of shape (n_params,)

        Returns
        -------
        cost : float
        gradient : ndarray of shape (n_params,)
        """
        c, g, _ = self._evaluate("gradient", w)
        assert g is not None
        return c, g

    def hessian(self, w: Any) -> np.ndarray:
        """The Hessian at ``w``.

        Parameters
        ----------
        w : array-like of shape (n_params,)

        Returns
        -------
        ndarray of shape (n_params, n_params)
        """
        return self.cost_gradient_hessian(w)[2]

    def cost_gradient_hessian(self, w: Any) -> tuple[float, np.ndarray, np.ndarray]:
        """Cost, gradient and Hessian at ``w``: one pass, one round trip ((D K)^2 numbers per
        worker group travel up the reduction tree).

        Parameters
        ----------
        w : array-like of shape (n_params,)

        Returns
        -------
        cost : float
        gradient : ndarray of shape (n_params,)
        hessian : ndarray of shape (n_params, n_params)
        """
        c, g, H = self._evaluate("hessian", w)
        assert g is not None and H is not None
        return c, g, H

    def hessp(self, w: Any, v: Any) -> np.ndarray:
        """The Hessian at ``w`` times ``v`` (one round trip).

        Parameters
        ----------
        w, v : array-like of shape (n_params,)

        Returns
        -------
        ndarray of shape (n_params,)
        """
        w, v = self._w(w), self._w(v, "v")
        out = self._run("hessp", self._theta_flat(w), self._theta_flat(v)) / self.weight_sum
        Hv: np.ndarray = out[self._index]
        self.penalty.add_gradient(v, self.n_free_coef, Hv)
        if not np.isfinite(Hv).all():
            raise _Overflow("the Hessian-vector product", "w")
        return Hv

    def curvature_bound(self, n_iter: int = 50) -> float:
        """``lambda_max(Xa^T S Xa) / 2 + alpha`` by power iteration, one round trip per step.

        Parameters
        ----------
        n_iter : int, default 50

        Returns
        -------
        float
        """
        v = np.random.default_rng(0).standard_normal(self._D)
        v /= np.linalg.norm(v)
        lam = 0.0
        dummy = np.zeros(self._D * self.n_classes)
        for _ in range(n_iter):
            u = self._run("gram", dummy, v) / self.weight_sum
            new = float(np.linalg.norm(u))
            if new == 0.0 or not math.isfinite(new):
                lam = new if new else lam
                break
            v = u / new
            converged = abs(new - lam) <= 1e-5 * new
            lam = new
            if converged:
                break
        return Multinomial.bound * lam + self.penalty.curvature

    def separates(self, w: Any) -> bool:
        """Whether ``w`` puts every row of positive weight strictly in its class.

        Parameters
        ----------
        w : array-like of shape (n_params,)

        Returns
        -------
        bool
        """
        return bool(self._run("separates", self._theta_flat(self._w(w)))[0] == 1.0)

    @property
    def can_form_hessian(self) -> bool:
        """Whether the Hessian is formed (at most MAX_HESSIAN_PARAMS entries of Theta)."""
        return self._D * self.n_classes <= MAX_HESSIAN_PARAMS
