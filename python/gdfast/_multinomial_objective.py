"""gdfast.MultinomialObjective: the softmax model of K classes over the compiled passes.

Why an objective of its own rather than ``Objective(loss="multinomial")``: the solvers see an
objective only through the ObjectiveBase contract over a flat ``w``, and that contract is all the
multinomial model shares with the one-output losses. Its parameters are a matrix with a
constraint (below), its targets are class indices, its predictions are n x K, and the one-output
fast paths of :class:`gdfast.Objective` (cached n-vector predictions for Newton-CG, least-squares
refinement, Pearson residuals, one compiled per-sample function) do not apply. A class of its
own keeps each of them honest and leaves ``Objective``'s loss list to the one-output losses.

The parameters. ``Theta`` is the (D, K) matrix whose first ``n_features`` rows are the
coefficients ``W`` (feature j, class k) and whose last row, with an intercept, holds the K
intercepts ``b``; ``z_i = x_i W + b``. The compiled passes read Theta flat in C order (the K
numbers of one feature contiguous: each x_ij is read once and multiplies K contiguous
coefficients). Adding the same vector to every column of Theta changes no probability, so
Theta is not identifiable; the objective's ``w`` holds only its free entries,
``w = Theta.ravel()[free]``, always the free coefficients first (C order) and then the free
intercepts:

- ``reference=True`` (the default when ``alpha = 0``): class 0 is the reference, its column of
  Theta is 0 (as statsmodels' ``MNLogit``, Stata's ``mlogit``); ``w = Theta[:, 1:].ravel()``,
  ``(K - 1) * D`` parameters. Every other model is an affine reparametrisation of this one, and
  with alpha = 0 it is the only unique choice.
- ``reference=False`` (the default when ``alpha > 0``): the coefficients of all K classes are
  free (the penalty makes them unique: the symmetric parametrisation of scikit-learn, whose
  columns of W sum to zero at the optimum), and the intercepts are fixed by ``b_0 = 0`` (the
  penalty does not touch them, so without a constraint the Hessian would be singular along
  ``b + c``); ``w = [W.ravel(), b[1:]]``, ``K * n_features + K - 1`` parameters.
  :meth:`MultinomialObjective.coef_intercept` returns the intercepts shifted to sum to zero,
  scikit-learn's convention, with the same probabilities.
"""
from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from . import _dispatch, _sparse_input
from ._objective import FLOAT32_COST_ROUNDING
from ._overflow import OverflowInputError
from ._penalty import ElasticNet
from ._protocols import NewtonPasses, ObjectiveBase
from ._validation import (
    check_bool,
    check_n_threads,
    check_sample_weight,
    check_scalar,
    check_vector,
    check_X,
)
from .losses import Loss

__all__ = ["MultinomialObjective", "Multinomial", "check_classes", "MAX_HESSIAN_PARAMS"]

#: The most parameters whose dense Hessian (8 * n_params**2 bytes, 256 MiB) is formed; above it
#: ``hessian`` raises and ``minimize(method="auto")`` takes L-BFGS (or Newton-CG on sparse X).
MAX_HESSIAN_PARAMS = 5792


class _Overflow(OverflowInputError):
    """A cost, gradient or Hessian that overflows double precision, blamed on the weights."""

    def __init__(self, what: str, name: str) -> None:
        super().__init__(f"{name}: {what} overflows double precision at these weights; scale X "
                         "or start from smaller weights", name, {"what": what})

    def renamed(self, name: str) -> OverflowInputError:
        return _Overflow(self._parts["what"], name)


class Multinomial(Loss):
    """The multinomial (softmax) log loss ``-log p_y``, ``p = softmax(z)`` over K outputs.

    Not a registered one-output loss (see the module notes): it is the ``loss`` of a
    :class:`MultinomialObjective`, and what the solvers and :mod:`gdfast.stats` ask of it.
    """

    name = "multinomial"
    model_name = "multinomial logistic regression"
    #: diag(p) - p p^T <= (I - 1 1^T / K) / 2 (Boehning's bound): at most 1/2.
    curvature = 0.5
    bound: ClassVar[float] = 0.5      # the same, typed as a float for the arithmetic
    can_separate = True
    #: A row whose class is not the strict argmax of z has p_y <= 1/2: loss >= log 2.
    separation_floor = math.log(2.0)
    separation_message = (
        "the classes are separable: some weights put every sample strictly in its class, so the "
        "multinomial log loss has no minimum with alpha = 0 (it falls towards 0 as the weights "
        "grow); use alpha > 0")
    is_classifier = True
    #: The softmax is the canonical link: the curvature diag(p) - p p^T does not depend on y, so
    #: the expected information is the Hessian.
    canonical = True
    target_description = "class indices 0 .. n_classes - 1"

    @property
    def code(self) -> int:
        raise ValueError("method='sgd' and 'adam' run over the one-output losses of "
                         "gdfast.Objective only; for the multinomial model use 'auto', 'lbfgs', "
                         "'newton', 'newton-cg', 'gd' or 'nesterov'")

    def invalid_targets(self, y: np.ndarray) -> np.ndarray:
        bad: np.ndarray = (y < 0) | (y != np.round(y))
        return bad

    def inverse_link(self, z: np.ndarray) -> np.ndarray:
        """softmax(z) row by row (z of shape (n_samples, n_classes))."""
        e = np.exp(z - z.max(axis=1, keepdims=True))
        out: np.ndarray = e / e.sum(axis=1, keepdims=True)
        return out

    def reference_terms(self, z: np.ndarray, y: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-row loss, ``d loss / dz = p - onehot(y)`` and ``p`` (the Hessian in z is
        ``diag(p) - p p^T``), for z of shape (n, K) and class indices y."""
        zmax = z.max(axis=1, keepdims=True)
        lse = np.log(np.exp(z - zmax).sum(axis=1)) + zmax[:, 0]
        idx = y.astype(np.intp)
        loss = lse - z[np.arange(len(idx)), idx]
        p = self.inverse_link(z)
        r = p.copy()
        r[np.arange(len(idx)), idx] -= 1.0
        return loss, r, p

    def separates(self, z: np.ndarray, y: np.ndarray) -> bool:
        """Every row's class strictly above the others."""
        idx = y.astype(np.intp)
        rows = np.arange(len(idx))
        zy = z[rows, idx]
        others = z.copy()
        others[rows, idx] = -np.inf
        return bool(np.all(zy > others.max(axis=1))) if z.shape[1] > 1 else False

    def confirm_separation(self, X: Any, y: np.ndarray, rows: np.ndarray | None,
                           fit_intercept: bool) -> bool:
        return True      # strict separation by some w is the certificate itself


def check_classes(y: Any, n_samples: int, n_classes: int | None, name: str = "y"
                  ) -> tuple[np.ndarray, int]:
    """Class indices as intp, and the class count (at least 2; max(y) + 1 when not given).

    Raises
    ------
    ValueError, TypeError
        Naming ``y`` (or ``n_classes``): wrong length or dimension, non-numeric, NaN, values
        that are not integers in 0 .. n_classes - 1.
    """
    arr = np.asarray(y)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold class indices 0 .. n_classes - 1 (integers); got "
                        f"dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (n_samples,); got shape {arr.shape}")
    if arr.shape[0] != n_samples:
        raise ValueError(f"{name} has length {arr.shape[0]}, expected {n_samples} (one class per "
                         "row of X)")
    values = arr.astype(np.float64)
    if not np.isfinite(values).all():
        raise ValueError(f"{name} contains NaN or infinity")
    bad = (values < 0) | (values != np.round(values))
    if bad.any():
        raise ValueError(f"{name} must hold class indices 0 .. n_classes - 1 (integers); found "
                         f"{np.unique(values[bad])[:5]}")
    top = int(values.max()) + 1
    if n_classes is None:
        n_classes = top
    else:
        n_classes = check_scalar(n_classes, "n_classes", low=2, integer=True)
        if top > n_classes:
            raise ValueError(f"{name} holds class {top - 1}, outside 0 .. n_classes - 1 = "
                             f"{n_classes - 1}")
    if n_classes < 2:
        raise ValueError(f"{name}: the multinomial model needs at least 2 classes; got "
                         f"{n_classes}")
    return values.astype(np.intp), int(n_classes)


def free_mask(n_features: int, n_classes: int, fit_intercept: bool, reference: bool
              ) -> np.ndarray:
    """Which entries of Theta (D x K) are free parameters (see the module notes)."""
    D = n_features + int(fit_intercept)
    mask = np.ones((D, n_classes), dtype=bool)
    if reference:
        mask[:, 0] = False
    elif fit_intercept:
        mask[n_features, 0] = False
    return mask


class MultinomialParameters:
    """The parameter vector of the multinomial model (see the module notes): which entries of
    Theta are free, and the maps between ``w`` and Theta. Shared by the in-memory and the Dask
    objectives."""

    n_features: int
    n_classes: int
    fit_intercept: bool
    reference: bool
    free: np.ndarray
    n_free_coef: int
    n_params: int

    def _set_parameters(self) -> None:
        self.free = free_mask(self.n_features, self.n_classes, self.fit_intercept, self.reference)
        self._index = np.flatnonzero(self.free.ravel())
        self.n_free_coef = int(self.free[:self.n_features].sum())
        self.n_params = int(self._index.size)
        self._D = self.n_features + int(self.fit_intercept)

    # -- parameters ----------------------------------------------------------------------------

    def _w(self, w: Any, name: str = "w") -> np.ndarray:
        return check_vector(w, self.n_params, name, "MultinomialObjective.n_params")

    def theta(self, w: Any) -> np.ndarray:
        """The full (D, n_classes) matrix ``[W; b]`` for the parameters ``w`` (fixed entries 0).

        Parameters
        ----------
        w : array-like of shape (n_params,)

        Returns
        -------
        ndarray of shape (n_features + fit_intercept, n_classes)
        """
        w = self._w(w)
        return self._theta_flat(w).reshape(self._D, self.n_classes)

    def _theta_flat(self, w: np.ndarray) -> np.ndarray:
        theta = np.zeros(self._D * self.n_classes)
        theta[self._index] = w
        return theta

    def pack(self, theta: Any) -> np.ndarray:
        """``w`` from a full (D, n_classes) matrix: its free entries (the others are ignored).

        Parameters
        ----------
        theta : array-like of shape (n_features + fit_intercept, n_classes)

        Returns
        -------
        ndarray of shape (n_params,)

        Raises
        ------
        ValueError
            When theta does not have shape (D, n_classes).
        """
        theta = np.asarray(theta, dtype=np.float64)
        if theta.shape != (self._D, self.n_classes):
            raise ValueError(f"theta must have shape {(self._D, self.n_classes)}; got "
                             f"{theta.shape}")
        w: np.ndarray = theta.ravel()[self._index].copy()
        return w

    def coef_intercept(self, w: Any) -> tuple[np.ndarray, np.ndarray]:
        """``coef`` of shape (n_classes, n_features) and ``intercept`` (n_classes,) for ``w``.

        With ``reference=True`` the row and intercept of class 0 are 0; with ``reference=False``
        the intercepts are shifted to sum to zero (scikit-learn's convention; the same
        probabilities).

        Parameters
        ----------
        w : array-like of shape (n_params,)

        Returns
        -------
        coef : ndarray of shape (n_classes, n_features)
        intercept : ndarray of shape (n_classes,)
        """
        theta = self.theta(w)
        coef = theta[:self.n_features].T.copy()
        intercept = theta[self.n_features].copy() if self.fit_intercept else np.zeros(self.n_classes)
        if self.fit_intercept and not self.reference:
            intercept -= intercept.mean()
        return coef, intercept


    def coef_intercept_stderr(self, cov: Any) -> tuple[np.ndarray, np.ndarray]:
        """Standard errors of :meth:`coef_intercept`'s coef and intercept, from the covariance
        of ``w``.

        Both are linear in ``w`` (``A w``: A picks entries, and centres the intercepts when
        they are shifted to sum to zero), so their covariance is ``A cov A^T``; entries fixed at
        0 have no error (NaN), and without an intercept the intercepts' errors are NaN.

        Parameters
        ----------
        cov : array-like of shape (n_params, n_params)

        Returns
        -------
        coef_stderr : ndarray of shape (n_classes, n_features)
        intercept_stderr : ndarray of shape (n_classes,)
        """
        cov = np.asarray(cov, dtype=np.float64)
        d, K = self.n_features, self.n_classes
        flat = np.full(self.free.size, -1)
        flat[np.flatnonzero(self.free.ravel())] = np.arange(self.n_params)
        index_of: np.ndarray = flat.reshape(self.free.shape)
        var = np.diag(cov)

        def variance(j: np.ndarray) -> np.ndarray:
            out = np.full(j.shape, np.nan)
            out[j >= 0] = var[j[j >= 0]]
            return out

        coef_se = np.sqrt(variance(index_of[:d].T))
        if not self.fit_intercept:
            return coef_se, np.full(K, np.nan)
        if self.reference:
            return coef_se, np.sqrt(variance(index_of[d]))
        A = np.zeros((K, self.n_params))          # b = [0, w_b], then b - mean(b)
        A[np.arange(1, K), index_of[d, 1:]] = 1.0
        A -= A.mean(axis=0)
        return coef_se, np.sqrt(np.einsum("ij,jk,ik->i", A, cov, A))


class MultinomialObjective(MultinomialParameters, ObjectiveBase):
    """Cost, gradient and Hessian of the multinomial (softmax) logistic model with an L2 penalty.

    With ``z_i = x_i W + b`` (K numbers), ``p_i = softmax(z_i)`` and ``s = sample_weight /
    sum(sample_weight)``::

        cost(w) = sum_i s_i * -log p_{i, y_i} + alpha / 2 * ||W||^2

    (the intercepts are never penalised). ``w`` holds the free entries of the (D, K) matrix
    ``Theta = [W; b]``, coefficients first (C order), then intercepts: class 0 is the reference
    (its coefficients and intercept 0) by default when ``alpha = 0``, and only its intercept is 0
    by default when ``alpha > 0`` (see :mod:`gdfast._multinomial_objective`). Each evaluation is
    one pass over X computing all K columns (X is read once), with the GIL released.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features) or scipy.sparse matrix
        As for :class:`gdfast.Objective`: float32 is kept, contiguous rows or columns are not
        copied, sparse X is used as CSR (converted once otherwise) and never densified.
    y : array-like of shape (n_samples,)
        Class indices 0 .. n_classes - 1 (integers, or floats with integer values).
    n_classes : int, optional
        K, at least 2; ``max(y) + 1`` by default (a class without rows is allowed).
    alpha : float, default 0.0
        Strength of the L2 penalty ``alpha / 2 * ||W||^2`` over the free coefficients.
    fit_intercept : bool, default True
    sample_weight : array-like of shape (n_samples,) or scalar, optional
        Non-negative weights, at least one positive (normalised to sum to one).
    n_threads : int, optional
        Threads for the passes (None follows OMP_NUM_THREADS and threadpoolctl). The same
        inputs and thread count give bitwise the same results; other thread counts agree to
        a relative 1e-12.
    reference : bool, optional
        True: class 0's coefficients and intercept are 0. False: only its intercept is. None
        (default): True when ``alpha == 0`` (the only identifiable choice), else False.
    l1_ratio : float, default 0.0
        The share of alpha on an L1 penalty over the free coefficients, in [0, 1]: the penalty
        is ``alpha * (l1_ratio ||W||_1 + (1 - l1_ratio)/2 ||W||^2)``; with ``alpha * l1_ratio >
        0`` use ``method="proximal"`` or ``"cd"`` (``gradient`` and ``hessian`` are then the
        smooth part's).

    Attributes
    ----------
    X, y, sample_weight, alpha, fit_intercept, n_threads, penalty
        The validated arguments (y as intp class indices).
    loss : Multinomial
    n_samples, n_features, n_classes, n_params : int
        ``n_params = len(w)``.
    reference : bool
    free : ndarray of bool, shape (D, n_classes)
        Which entries of Theta ``w`` holds (``w = Theta.ravel()[free.ravel()]``).
    n_free_coef : int
        The leading entries of ``w`` that are coefficients (the penalised ones).
    hessian_blocks : int
        n_classes: the Hessian is K x K blocks, each a weighted Gram matrix of the same D
        columns of Xa (what the sampled-Hessian preconditioner of "auto" sizes its sample by).
    weight_sum, min_positive_weight : float

    Raises
    ------
    ValueError, TypeError
        For bad input, naming the argument: NaN or infinity, wrong shapes, class indices out of
        range or not integers, negative weights, parameters out of range.
    """

    penalty: ElasticNet

    @property
    def penalty_n_coef(self) -> int:
        """The penalty acts on the leading ``n_free_coef`` entries of ``w``."""
        return self.n_free_coef


    def __init__(self, X: Any, y: Any, n_classes: int | None = None, alpha: float = 0.0,
                 fit_intercept: bool = True, sample_weight: Any = None,
                 n_threads: int | None = None, reference: bool | None = None,
                 l1_ratio: float = 0.0) -> None:
        self.loss = Multinomial()
        self.penalty = ElasticNet(check_scalar(alpha, "alpha", low=0.0),
                                  check_scalar(l1_ratio, "l1_ratio", low=0.0, high=1.0))
        self.fit_intercept = check_bool(fit_intercept, "fit_intercept")
        self.n_threads = check_n_threads(n_threads)
        self.reference = (self.penalty.alpha == 0.0 if reference is None
                          else check_bool(reference, "reference"))
        self.is_sparse = _sparse_input.is_sparse(X)
        self.X = _sparse_input.check_sparse_X(X) if self.is_sparse else check_X(X)
        self.n_samples, self.n_features = self.X.shape
        self.y, self.n_classes = check_classes(y, self.n_samples, n_classes)
        self.sample_weight = check_sample_weight(sample_weight, self.n_samples)
        sw = self.sample_weight
        self.weight_sum = float(self.n_samples if sw is None else sw.sum())
        self.min_positive_weight = 1.0 if sw is None else float(np.min(sw[sw > 0]))
        self._set_parameters()
        self.hessian_blocks = self.n_classes     # K x K blocks, each a Gram of the D columns
        self._kernel = self._build_kernel(_dispatch.multinomial)
        if self.X.dtype == np.float32:
            self.cost_rounding = FLOAT32_COST_ROUNDING

    def _build_kernel(self, module: Any) -> Any:
        """The compiled passes over this objective's data, from one instruction-set variant."""
        return module.MultinomialKernel(self.X, self.y, self.sample_weight, 1.0 / self.weight_sum,
                                        self.n_classes, self.fit_intercept)

    def __repr__(self) -> str:
        return (f"MultinomialObjective(n_samples={self.n_samples}, n_features={self.n_features}, "
                f"n_classes={self.n_classes}, alpha={self.alpha!r}, "
                f"fit_intercept={self.fit_intercept}, reference={self.reference}, "
                f"dtype={self.X.dtype.name})")

    # -- the required contract -------------------------------------------------------------------

    def _overflow(self, what: str) -> OverflowInputError:
        return _Overflow(what, "w")

    def cost(self, w: Any) -> float:
        """The cost at ``w`` (one pass over X).

        Parameters
        ----------
        w : array-like of shape (n_params,)

        Returns
        -------
        float
        Raises
        ------
        ValueError, TypeError
            When ``w`` (or ``v``) is not a 1-D vector of n_params finite numbers, or when the
            result overflows double precision (the message starts with ``w``).
        """
        w = self._w(w)
        c = float(self._kernel.cost_grad(self._theta_flat(w), None, None, self.n_threads))
        c += self.penalty.value(w, self.n_free_coef)
        if not math.isfinite(c):
            raise self._overflow("the cost")
        return c

    def gradient(self, w: Any) -> np.ndarray:
        """The gradient of the cost at ``w`` (see :meth:`cost_gradient`).

        Parameters
        ----------
        w : array-like of shape (n_params,)

        Returns
        -------
        ndarray of shape (n_params,)
        """
        return self.cost_gradient(w)[1]

    def cost_gradient(self, w: Any) -> tuple[float, np.ndarray]:
        """The cost and its gradient at ``w``, from one pass over X computing all K columns.

        Parameters
        ----------
        w : array-like of shape (n_params,)

        Returns
        -------
        cost : float
        gradient : ndarray of shape (n_params,)
        Raises
        ------
        ValueError, TypeError
            When ``w`` (or ``v``) is not a 1-D vector of n_params finite numbers, or when the
            result overflows double precision (the message starts with ``w``).
        """
        w = self._w(w)
        g = np.empty(self.n_params)
        c = self.cost_grad_into(w, g)
        if not (math.isfinite(c) and np.isfinite(g).all()):
            raise self._overflow("the cost" if not math.isfinite(c) else "the gradient")
        return c, g

    def hessian(self, w: Any) -> np.ndarray:
        """The Hessian of the cost at ``w`` (see :meth:`cost_gradient_hessian`).

        Parameters
        ----------
        w : array-like of shape (n_params,)

        Returns
        -------
        ndarray of shape (n_params, n_params)
        """
        return self._hessian(w, False)[2]

    def cost_gradient_hessian(self, w: Any) -> tuple[float, np.ndarray, np.ndarray]:
        """Cost, gradient and Hessian at ``w`` from one pass over X.

        The Hessian is ``sum_i s_i (xa_i xa_i^T) kron (diag(p_i) - p_i p_i^T)`` over the free
        entries, plus ``alpha`` on the diagonal of the coefficients. Formed up to
        ``MAX_HESSIAN_PARAMS`` parameters (a ValueError above: use ``hessp``).

        Parameters
        ----------
        w : array-like of shape (n_params,)

        Returns
        -------
        cost : float
        gradient : ndarray of shape (n_params,)
        hessian : ndarray of shape (n_params, n_params)

        Raises
        ------
        ValueError, TypeError
            For a bad ``w``, a result that overflows, or more than MAX_HESSIAN_PARAMS parameters.
        """
        c, g, H = self._hessian(w, True)
        assert g is not None
        return c, g, H

    def _hessian(self, w: Any, with_gradient: bool
                 ) -> tuple[float, np.ndarray | None, np.ndarray]:
        if not self.can_form_hessian:
            raise ValueError(f"w: the Hessian of {self.n_params} parameters would take more than "
                             f"256 MiB (at most {MAX_HESSIAN_PARAMS} parameters); use hessp or a "
                             "Hessian-free method (lbfgs, newton-cg)")
        w = self._w(w)
        DK = self._D * self.n_classes
        full_g = np.empty(DK) if with_gradient else None
        full_H = np.empty((DK, DK))
        c = float(self._kernel.cost_grad(self._theta_flat(w), full_g, full_H, self.n_threads))
        c += self.penalty.value(w, self.n_free_coef)
        idx = self._index
        H = full_H[np.ix_(idx, idx)] if self.n_params < DK else full_H
        H[np.diag_indices(self.n_params)] += self.penalty.hessian_diagonal(self.n_params,
                                                                           self.n_free_coef)
        g = None
        if full_g is not None:
            g = self.penalty.add_gradient(w, self.n_free_coef, full_g[idx])
        if not (math.isfinite(c) and np.isfinite(H).all()
                and (g is None or np.isfinite(g).all())):
            raise self._overflow("the cost" if not math.isfinite(c) else "the Hessian")
        return c, g, H

    def hessp(self, w: Any, v: Any) -> np.ndarray:
        """The Hessian at ``w`` times ``v``, without forming the Hessian (one pass over X).

        Parameters
        ----------
        w : array-like of shape (n_params,)
        v : array-like of shape (n_params,)

        Returns
        -------
        ndarray of shape (n_params,)
        Raises
        ------
        ValueError, TypeError
            When ``w`` (or ``v``) is not a 1-D vector of n_params finite numbers, or when the
            result overflows double precision (the message starts with ``w``).
        """
        w, v = self._w(w), self._w(v, "v")
        out = np.empty(self._D * self.n_classes)
        c = float(self._kernel.hessp(self._theta_flat(w), self._theta_flat(v), out,
                                     self.n_threads))
        Hv: np.ndarray = out[self._index]
        self.penalty.add_gradient(v, self.n_free_coef, Hv)
        if not (math.isfinite(c) and np.isfinite(Hv).all()):
            raise self._overflow("the cost" if not math.isfinite(c) else
                                 "the Hessian-vector product")
        return Hv

    def curvature_bound(self, n_iter: int = 50) -> float:
        """An estimate of the largest eigenvalue of the Hessian over all w:
        ``lambda_max(Xa^T S Xa) / 2 + alpha`` (Boehning's bound on ``diag(p) - p p^T``), with
        lambda_max from power iterations on ``v -> Xa^T S Xa v`` (n-vectors only).

        Parameters
        ----------
        n_iter : int, default 50

        Returns
        -------
        float
        """
        s = (np.full(self.n_samples, 1.0 / self.n_samples) if self.sample_weight is None
             else self.sample_weight / self.weight_sum)
        X: Any = self.X
        rng = np.random.default_rng(0)
        v = rng.standard_normal(self._D)
        v /= np.linalg.norm(v)
        lam = 0.0
        for _ in range(n_iter):
            z = X @ v[:self.n_features] + (v[-1] if self.fit_intercept else 0.0)
            sz = s * z
            u = np.asarray(X.T @ sz).ravel()
            if self.fit_intercept:
                u = np.append(u, sz.sum())
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

    # -- fast paths ------------------------------------------------------------------------------

    def cost_grad_into(self, w: np.ndarray, grad: np.ndarray) -> float:
        """The cost at ``w`` with the gradient written into ``grad``: one pass, no checks.

        Parameters
        ----------
        w : ndarray of shape (n_params,)
        grad : ndarray of shape (n_params,)

        Returns
        -------
        float
        """
        full = np.empty(self._D * self.n_classes)
        c = float(self._kernel.cost_grad(self._theta_flat(w), full, None, self.n_threads))
        grad[:] = full[self._index]
        self.penalty.add_gradient(w, self.n_free_coef, grad)
        return c + self.penalty.value(w, self.n_free_coef)

    def predictions(self, w: Any) -> np.ndarray:
        """The raw predictions ``z = X W + b`` at ``w`` (one pass over X).

        Parameters
        ----------
        w : array-like of shape (n_params,)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        w = self._w(w)
        z = np.empty((self.n_samples, self.n_classes))
        self._kernel.linear(self._theta_flat(w), z, self.n_threads)
        return z

    def separates(self, w: Any) -> bool:
        """Whether ``w`` puts every row of positive weight strictly in its class (then the
        optimum with alpha = 0 is at infinity).

        Parameters
        ----------
        w : array-like of shape (n_params,)

        Returns
        -------
        bool
        """
        z = self.predictions(w)
        if self.sample_weight is not None:
            keep = self.sample_weight > 0
            return self.loss.separates(z[keep], self.y[keep])
        return self.loss.separates(z, self.y)

    def descent_run(self, mode: int, w: np.ndarray, aux: np.ndarray, lr: float, max_steps: int,
                    cost_hist: np.ndarray, gnorm_hist: np.ndarray, step_hist: np.ndarray,
                    it0: int, state: np.ndarray, best_w: np.ndarray, tol: float, final: bool
                    ) -> tuple[int, int]:
        """The compiled first-order loops of ``method="gd"`` and ``"nesterov"``, each evaluation
        one multinomial pass (:meth:`cost_gradient`, the GIL taken between passes).

        Parameters
        ----------
        mode, w, aux, lr, max_steps, cost_hist, gnorm_hist, step_hist, it0, state, best_w, tol, final
            As for :meth:`gdfast.Objective.descent_run`.

        Returns
        -------
        evaluations : int
        code : int
        """
        return super().descent_run(mode, w, aux, lr, max_steps, cost_hist, gnorm_hist,
                                   step_hist, it0, state, best_w, tol, final)

    def newton_cg_passes(self, w: np.ndarray) -> NewtonPasses:
        """Newton-CG's passes from ``w``: a gradient pass, one pass per Hessian-vector product
        and cost passes for the line search; no preconditioner (the identity).

        Parameters
        ----------
        w : ndarray of shape (n_params,)

        Returns
        -------
        NewtonPasses
        """
        return super().newton_cg_passes(w)

    def row_sample(self, max_rows: int) -> MultinomialObjective | None:
        """The objective over at most ``max_rows`` rows of X spread evenly over it.

        The rows are chosen as by :meth:`gdfast.Objective.row_sample` (the first and last
        included) and copied: ``max_rows`` by n_features. The class count, penalty, intercept
        and identifiability constraint (``reference``) are this objective's, so its ``w`` is
        this one's and its Hessian, the (weighted) mean of those rows' Hessians plus the
        penalty's, estimates this objective's; "auto" preconditions L-BFGS with it
        (gdfast._sampled_hessian). With ``max_rows >= n_samples`` it is this objective.

        Parameters
        ----------
        max_rows : int
            At most this many rows.

        Returns
        -------
        gdfast.MultinomialObjective or None
            None when its Hessian could not be formed (more than MAX_HESSIAN_PARAMS
            parameters) or the chosen rows carry no weight.
        """
        if not self.can_form_hessian:
            return None
        if self.n_samples <= max_rows:
            return self
        rows = self._sample_rows(max_rows)
        if rows is None:
            return None
        sw = self.sample_weight
        X: Any = self.X
        return MultinomialObjective(X[rows], self.y[rows], self.n_classes, self.alpha,
                                    self.fit_intercept, None if sw is None else sw[rows],
                                    self.n_threads, reference=self.reference,
                                    l1_ratio=getattr(self.penalty, "l1_ratio", 0.0))

    def gram_diagonal(self) -> np.ndarray | None:
        """None: the multinomial objective gives no cheap diagonal of ``Xa^T S Xa`` per entry
        of ``w`` (the first-order methods then use :meth:`curvature_bound`).

        Returns
        -------
        None
        """
        return None

    def residual_sums(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, float] | None:
        """None: the least-squares refinement does not apply.

        Parameters
        ----------
        w : ndarray of shape (n_params,)

        Returns
        -------
        None
        """
        return None

    def normal_equations(self) -> tuple[np.ndarray, np.ndarray] | None:
        """None: the least-squares refinement does not apply.

        Returns
        -------
        None
        """
        return None

    def pearson_chi2(self, w: np.ndarray) -> float | None:
        """None: the dispersion of the multinomial model is fixed at 1.

        Parameters
        ----------
        w : ndarray of shape (n_params,)

        Returns
        -------
        None
        """
        return None

    @property
    def nnz(self) -> int:
        """Stored entries of X (``n_samples * n_features`` when X is dense)."""
        if not self.is_sparse:
            return self.n_samples * self.n_features
        X: Any = self.X
        return int(X.nnz)

    @property
    def can_form_hessian(self) -> bool:
        """Whether :meth:`hessian` forms the dense Hessian (at most MAX_HESSIAN_PARAMS)."""
        return self._D * self.n_classes <= MAX_HESSIAN_PARAMS

