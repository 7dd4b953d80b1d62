"""gdfast.Objective: the cost of a linear model, its gradient and Hessian, over the compiled kernels."""
from __future__ import annotations

import copy
import math
from typing import Any, Callable

import numpy as np

from . import _dispatch, _sparse_input
from ._overflow import OverflowInputError, magnitudes, overflow_error, results_finite
from .losses import Loss, get_loss
from ._penalty import ElasticNet, check_penalty_factor
from ._protocols import CoordinatePasses, NewtonPasses, ObjectiveBase
from ._validation import (
    check_bool,
    check_n_threads,
    check_offset,
    check_sample_weight,
    check_scalar,
    check_vector,
    check_X,
    check_y,
)


#: The relative rounding error of a cost over float32 data (ObjectiveBase.cost_rounding).
FLOAT32_COST_ROUNDING = 1e3 * float(np.finfo(np.float32).eps)


class Objective(ObjectiveBase):
    """Cost, gradient and Hessian of a linear model with an L2 or elastic-net penalty.

    With ``z = X @ coef + intercept + offset`` and ``s = sample_weight / sum(sample_weight)``::

        cost(w) = sum_i s_i * loss(z_i, y_i)
                  + alpha * (l1_ratio * sum_j f_j |coef_j| + (1 - l1_ratio) / 2 * ||coef||^2)

    (``f`` the penalty factors, 1 by default). With ``l1_ratio * alpha > 0`` the cost is not
    differentiable where a coefficient is 0: ``gradient``, ``hessian`` and ``hessp`` are then
    those of the smooth part (the data term and the L2 part), ``cost`` includes the L1 part,
    and only ``method="proximal"`` and ``"cd"`` of :func:`gdfast.minimize` apply
    (:meth:`stationarity` measures how far a point is from the optimum).

    where ``loss`` is the squared error ``(y - z)^2`` or the log loss
    ``-(y log p + (1 - y) log(1 - p))`` with ``p = sigmoid(z)``. The parameter vector is
    ``w = [coef..., intercept]`` (length ``n_features + 1``; ``n_features`` without an intercept);
    the intercept is never penalised.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        float32 and float64 are used as they are (float32 is never upcast; sums are in double).
        X is not copied when its rows or its columns are contiguous (C or Fortran order, or a slice
        of either along the other axis); any other layout is copied once, to C order. C order is
        the faster layout for the gradient (a block of rows is read once and stays in cache).
        Or a scipy.sparse matrix or array (never densified): CSR is used as it is; CSC and other
        formats are converted to CSR once, here (one copy of the data). Unsorted indices and
        duplicate entries (which count as their sum) need no copy. The dense Hessian of a
        sparse X is formed only when it is small (at most 256 MiB); ``hessp`` always works.
    y : array-like of shape (n_samples,)
        Targets; 0 or 1 for the log loss.
    loss : str or gdfast.losses.Loss, default "log_loss"
        The name of a registered loss ("log_loss", "squared_error", ...; see
        ``gdfast.losses.LOSSES``) or an instance of one.
    alpha : float, default 0.0
        Strength of the penalty (with ``l1_ratio=0``: the L2 penalty ``alpha / 2 * ||coef||^2``).
    fit_intercept : bool, default True
    sample_weight : array-like of shape (n_samples,) or scalar, optional
        Non-negative weights, at least one positive; they are normalised to sum to one, so a
        weight of 2 on a row is the same as that row twice.
    n_threads : int, optional
        Threads for the kernels (1 to 1024). None follows OMP_NUM_THREADS and threadpoolctl
        limits. The same inputs and thread count give bitwise the same results, also when
        several Python threads use the kernels at once (they release the GIL and keep no global
        state). Different thread counts only change the order of floating-point sums: cost,
        gradient and Hessian then agree to a relative 1e-12 (2-norm), and fitted weights to 1e-9
        (tests/test_concurrency.py holds them to these tolerances).
    offset : array-like of shape (n_samples,), optional
        A fixed term added to every row's prediction, not fitted: ``log(exposure)`` for rates
        with the log link (a Poisson count over an exposure t has mean ``t e^(x . coef)``).
        Every method and solver uses it (the passes add it to ``z`` as they go; no n-by-d
        temporary). For the squared error it is the same as fitting ``y - offset``, which the
        exact least-squares solve uses.
    l1_ratio : float, default 0.0
        The share of ``alpha`` on the L1 part, in [0, 1] (glmnet's and glum's form): 0 is the
        L2 penalty, 1 the lasso.
    penalty_factor : array-like of shape (n_features,), optional
        Non-negative factors ``f_j`` on each coefficient's L1 term (0: that coefficient has no
        L1 penalty); the L2 part is not scaled. None: all 1.

    Attributes
    ----------
    X : ndarray of shape (n_samples, n_features)
        The validated data: X itself when it is float32 or float64 with contiguous rows or
        columns, else a float64 or C-ordered copy.
    y : ndarray of shape (n_samples,)
        The targets, as float64.
    sample_weight : ndarray of shape (n_samples,) or None
        The weights as given (not normalised), as float64; None for unit weights.
    offset : ndarray of shape (n_samples,) or None
        The offset as float64 (a copy); None without one.
    loss : gdfast.losses.Loss
        The loss object (it compares equal to its name).
    penalty : gdfast.ElasticNet
        The penalty (``l2 = (1 - l1_ratio) alpha``, ``l1 = l1_ratio alpha``).
    alpha, l1_ratio, penalty_factor, fit_intercept, n_threads
        The validated arguments.
    n_samples, n_features : int
        The shape of X.
    n_params : int
        The length of ``w``: ``n_features + 1`` with an intercept, ``n_features`` without.
    weight_sum : float
        The sum of the sample weights (``n_samples`` without weights).
    min_positive_weight : float
        The smallest positive sample weight (1 without weights).

    Raises
    ------
    ValueError, TypeError
        For bad input, with a message that starts with the argument's name: NaN or infinity,
        non-numeric data, wrong shapes or lengths, labels other than 0 and 1 for the log loss,
        negative weights, an unknown loss, a parameter out of range.

    Notes
    -----
    Every method returns float64 whatever the dtype of X, and none modifies its inputs.
    """

    n_samples: int
    n_features: int
    n_params: int
    penalty: ElasticNet

    def __init__(self, X: Any, y: Any, loss: str | Loss = "log_loss", alpha: float = 0.0,
                 fit_intercept: bool = True, sample_weight: Any = None,
                 n_threads: int | None = None, offset: Any = None, l1_ratio: float = 0.0,
                 penalty_factor: Any = None) -> None:
        self.loss = get_loss(loss)
        alpha = check_scalar(alpha, "alpha", low=0.0)
        l1_ratio = check_scalar(l1_ratio, "l1_ratio", low=0.0, high=1.0)
        self.fit_intercept = check_bool(fit_intercept, "fit_intercept")
        self.n_threads = check_n_threads(n_threads)
        self.is_sparse = _sparse_input.is_sparse(X)   # True: X is held as scipy.sparse CSR
        self.X = _sparse_input.check_sparse_X(X) if self.is_sparse else check_X(X)
        self.n_samples, self.n_features = self.X.shape
        self.penalty = ElasticNet(alpha, l1_ratio,
                                  check_penalty_factor(penalty_factor, self.n_features))
        self.y = check_y(y, self.n_samples, self.loss)
        self.sample_weight = check_sample_weight(sample_weight, self.n_samples)
        self.offset = check_offset(offset, self.n_samples)
        # the squared error's exact solve reads targets without an offset: y - offset
        self._shifted_y = self.y if self.offset is None else self.y - self.offset
        sw = self.sample_weight
        self.weight_sum = float(self.n_samples if sw is None else sw.sum())
        self.min_positive_weight = 1.0 if sw is None else float(np.min(sw[sw > 0]))
        self._kernel = self._build_kernel(_dispatch.core)
        if self.X.dtype == np.float32:          # predictions summed in float32 (see the kernels)
            self.cost_rounding = FLOAT32_COST_ROUNDING
        self._separable: bool | None = None     # see separates
        self._csc: tuple[Any, ...] | None = None     # see column_access
        self._gram: dict[str, np.ndarray] = {}       # see constant_hessian (shared by copies)
        self.n_params = self.n_features + int(self.fit_intercept)

    def _build_kernel(self, module: Any) -> Any:
        """The compiled kernel over this objective's data, from one instruction-set variant."""
        total = self.weight_sum
        kernel = (_sparse_input.sparse_module(module).SparseKernel if self.is_sparse
                  else module.Kernel)
        return kernel(self.X, self.y, self.sample_weight, 1.0 / total, self.loss.code,
                      self.fit_intercept, self.penalty.l2,
                      self.loss.cost_offset(self.y, self.sample_weight, 1.0 / total),
                      self.loss.param, self.offset)


    def __repr__(self) -> str:
        return (f"Objective(n_samples={self.n_samples}, n_features={self.n_features}, "
                f"loss={self.loss.name!r}, alpha={self.alpha!r}, fit_intercept={self.fit_intercept}, "
                f"dtype={self.X.dtype.name})")

    def _w(self, w: Any, name: str = "w") -> np.ndarray:
        return check_vector(w, self.n_params, name,
                            "n_features + 1 with an intercept" if self.fit_intercept else "n_features")

    def _overflow(self, w: np.ndarray, what: str, v: np.ndarray | None = None,
                  at_w: bool = True) -> OverflowInputError:
        """The error for ``what`` overflowing at w: one more pass over X finds the cause."""
        z = self._linear(w)
        return overflow_error(what, magnitudes(self.X, self.y, z, self.loss), w,
                              self.n_features, self.alpha, self.loss, v=v, at_w=at_w)

    def cost(self, w: Any) -> float:
        """The cost at ``w`` (one pass over X, no gradient).

        Parameters
        ----------
        w : array-like of shape (n_params,)
            The parameters ``[coef..., intercept]``.

        Returns
        -------
        float

        Raises
        ------
        ValueError, TypeError
            When ``w`` is not a 1-D vector of n_params finite numbers, or when the cost at
            ``w`` overflows double precision (the message names the input to scale: X, y or w).
        """
        w = self._w(w)
        c = float(self._kernel.cost_grad(w, None, None, self.n_threads)) + self._l1_value(w)
        if not math.isfinite(c):
            raise self._overflow(w, "the cost")
        return c

    def gradient(self, w: Any) -> np.ndarray:
        """The gradient of the cost at ``w``.

        Parameters
        ----------
        w : array-like of shape (n_params,)
            The parameters ``[coef..., intercept]``.

        Returns
        -------
        ndarray of shape (n_params,)

        Raises
        ------
        ValueError, TypeError
            When ``w`` is not a 1-D vector of n_params finite numbers, or when the cost or the
            gradient at ``w`` overflows double precision (naming X, y or w).
        """
        return self.cost_gradient(w)[1]

    def cost_gradient(self, w: Any) -> tuple[float, np.ndarray]:
        """The cost and its gradient at ``w``, from one pass over X.

        Parameters
        ----------
        w : array-like of shape (n_params,)
            The parameters ``[coef..., intercept]``.

        Returns
        -------
        cost : float
        gradient : ndarray of shape (n_params,)

        Raises
        ------
        ValueError, TypeError
            When ``w`` is not a 1-D vector of n_params finite numbers, or when the cost or the
            gradient at ``w`` overflows double precision (naming X, y or w).
        """
        w = self._w(w)
        g = np.empty(self.n_params)
        c = float(self._kernel.cost_grad(w, g, None, self.n_threads)) + self._l1_value(w)
        if not results_finite(c, g):
            raise self._overflow(w, "the cost" if not math.isfinite(c) else "the gradient")
        return c, g

    def hessian(self, w: Any) -> np.ndarray:
        """The Hessian of the cost at ``w``.

        For sparse X it is formed only up to 5792 parameters (256 MiB); beyond, a ValueError
        (use ``hessp`` or a Hessian-free method).

        Parameters
        ----------
        w : array-like of shape (n_params,)
            The parameters ``[coef..., intercept]``.

        Returns
        -------
        ndarray of shape (n_params, n_params)

        Raises
        ------
        ValueError, TypeError
            When ``w`` is not a 1-D vector of n_params finite numbers, or when the cost or the
            Hessian at ``w`` overflows double precision (naming X, y or w).
        """
        if self.is_sparse and _sparse_input.hessian_error(self.n_params):
            raise ValueError(_sparse_input.hessian_error(self.n_params))
        w = self._w(w)
        H = np.empty((self.n_params, self.n_params))
        c = float(self._kernel.cost_grad(w, None, H, self.n_threads))   # no gradient to accumulate
        if not results_finite(c, H):
            raise self._overflow(w, "the cost" if not math.isfinite(c) else "the Hessian")
        return H

    def expected_hessian(self, w: Any) -> np.ndarray:
        """The Hessian at ``w`` with each target replaced by its fitted mean ``mu``.

        The per-sample curvature of every GLM loss is affine in y, so this is the expected
        (Fisher) information ``Xa^T diag(s E[h]) Xa`` plus the penalty, what IRLS and R's
        ``glm`` use for standard errors. For a canonical link (the curvature does not depend
        on y) it is :meth:`hessian`; otherwise it costs one more pass over X for ``mu``.

        Parameters
        ----------
        w : array-like of shape (n_params,)
            The parameters ``[coef..., intercept]``.

        Returns
        -------
        ndarray of shape (n_params, n_params)
        """
        if self.loss.canonical:
            return self.hessian(w)
        mu = self.loss.inverse_link(self.predictions(w))
        fitted = Objective(self.X, mu, self.loss, self.alpha, self.fit_intercept,
                           self.sample_weight, self.n_threads, offset=self.offset,
                           **self._penalty_arguments())
        return fitted.hessian(w)

    def row_sample(self, max_rows: int) -> Objective | None:
        """The objective over at most ``max_rows`` rows of X spread evenly over it.

        The rows (the first and last included) are copied: ``max_rows`` by n_features. Its
        Hessian, the (weighted) mean of those rows' Hessians plus the penalty's, estimates this
        objective's; "auto" preconditions L-BFGS with it (gdfast._sampled_hessian). With
        ``max_rows >= n_samples`` it is this objective.

        Parameters
        ----------
        max_rows : int
            At most this many rows.

        Returns
        -------
        gdfast.Objective or None
            None when its Hessian could not be formed (sparse X with too many parameters) or
            the chosen rows carry no weight.
        """
        if self.is_sparse and _sparse_input.hessian_error(self.n_params):
            return None
        if self.n_samples <= max_rows:
            return self
        rows = self._sample_rows(max_rows)
        if rows is None:
            return None
        sw = self.sample_weight
        return Objective(self.X[rows], self.y[rows], self.loss, self.alpha, self.fit_intercept,
                         None if sw is None else sw[rows], self.n_threads,
                         offset=None if self.offset is None else self.offset[rows],
                         **self._penalty_arguments())

    def with_alpha(self, alpha: float) -> Objective:
        """This objective with another alpha (the same data, loss, l1_ratio and factors).

        The data are shared, not copied or validated again: what :func:`gdfast.path` uses at
        each alpha.

        Parameters
        ----------
        alpha : float
            At least 0.

        Returns
        -------
        gdfast.Objective
        """
        alpha = check_scalar(alpha, "alpha", low=0.0)
        new = copy.copy(self)
        new.penalty = ElasticNet(alpha, self.penalty.l1_ratio, self.penalty.penalty_factor)
        new._kernel = new._build_kernel(_dispatch.core)
        return new

    def _penalty_arguments(self) -> dict[str, Any]:
        """The penalty's keywords beyond alpha, for the copies this objective makes."""
        return {"l1_ratio": self.penalty.l1_ratio, "penalty_factor": self.penalty.penalty_factor}

    @property
    def l1_ratio(self) -> float:
        """The share of alpha on the L1 part (``penalty.l1_ratio``)."""
        return self.penalty.l1_ratio

    @property
    def penalty_factor(self) -> np.ndarray | None:
        """The per-feature factors on the L1 part (None: all 1)."""
        return self.penalty.penalty_factor

    def cost_gradient_hessian(self, w: Any) -> tuple[float, np.ndarray, np.ndarray]:
        """Cost, gradient and Hessian at ``w`` from one pass over X.

        The Hessian ``Xa^T diag(s h) Xa + alpha P`` is accumulated by BLAS syrk over scaled
        blocks of rows, so no n-by-d temporary is made.

        Parameters
        ----------
        w : array-like of shape (n_params,)
            The parameters ``[coef..., intercept]``.

        Returns
        -------
        cost : float
        gradient : ndarray of shape (n_params,)
        hessian : ndarray of shape (n_params, n_params)

        Raises
        ------
        ValueError, TypeError
            When ``w`` is not a 1-D vector of n_params finite numbers, or when the cost, the
            gradient or the Hessian at ``w`` overflows double precision (naming X, y or w).
        """
        if self.is_sparse and _sparse_input.hessian_error(self.n_params):
            raise ValueError(_sparse_input.hessian_error(self.n_params))
        w = self._w(w)
        g = np.empty(self.n_params)
        H = np.empty((self.n_params, self.n_params))
        c = float(self._kernel.cost_grad(w, g, H, self.n_threads)) + self._l1_value(w)
        if not results_finite(c, g, H):
            raise self._overflow(w, "the cost" if not math.isfinite(c) else
                                 "the gradient" if not results_finite(c, g) else "the Hessian")
        return c, g, H

    def hessp(self, w: Any, v: Any) -> np.ndarray:
        """The Hessian at ``w`` times the vector ``v``, without forming the Hessian.

        Parameters
        ----------
        w : array-like of shape (n_params,)
            The parameters ``[coef..., intercept]``.
        v : array-like of shape (n_params,)
            The vector to multiply.

        Returns
        -------
        ndarray of shape (n_params,)

        Raises
        ------
        ValueError, TypeError
            When ``w`` or ``v`` is not a 1-D vector of n_params finite numbers, or when the
            cost at ``w`` or the product overflows double precision (naming X, y, w or v).
        """
        w, v = self._w(w), self._w(v, "v")
        out = np.empty(self.n_params)
        c = float(self._kernel.hessp(w, v, out, False, self.n_threads))  # the cost at w, too
        if not results_finite(c, out):
            raise self._overflow(w, "the cost" if not math.isfinite(c) else
                                 "the Hessian-vector product", v=v)
        return out

    def curvature_bound(self, n_iter: int = 50) -> float:
        """An estimate of the largest eigenvalue of the Hessian, over all w.

        ``c lambda_max(Xa^T S Xa) + alpha`` with c the loss's bound on its second derivative
        (``loss.curvature``: 2 for the squared error, 1/4 for the log loss; infinite when the
        loss has none: an exponential mean), with lambda_max from power
        iterations on ``v -> Xa^T S Xa v`` (X^T X is never formed). Power iteration approaches
        lambda_max from below, so ``1 / curvature_bound()`` is a step of at most about ``1/L``,
        safely below the ``2/L`` at which gradient descent stops decreasing the cost.

        Parameters
        ----------
        n_iter : int, default 50
            The most power iterations (they stop earlier once the estimate settles to 1e-5).

        Returns
        -------
        float
            ``L``, the step ``1 / L`` of ``learning_rate="auto"``.

        Raises
        ------
        ValueError
            When ``Xa^T S Xa`` overflows double precision (entries of X beyond about 1e154):
            the message names X and says by how much.
        """
        if self.loss.curvature is None:
            return math.inf
        rng = np.random.default_rng(0)
        v = rng.standard_normal(self.n_params)
        v /= np.linalg.norm(v)
        u = np.empty(self.n_params)
        w = np.zeros(self.n_params)
        lam = 0.0
        for _ in range(n_iter):
            self._kernel.hessp(w, v, u, True, self.n_threads)
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

    # -- the contract's fast paths (gdfast._protocols.ObjectiveBase) ---------------------------

    def cost_grad_into(self, w: np.ndarray, grad: np.ndarray) -> float:
        """The cost at ``w`` with the gradient written into ``grad``: one pass, no checks.

        What solvers call in their inner loops, with a ``w`` they have already validated.

        Parameters
        ----------
        w : ndarray of shape (n_params,)
            float64, C-contiguous and finite.
        grad : ndarray of shape (n_params,)
            float64, written over.

        Returns
        -------
        float
        """
        return float(self._kernel.cost_grad(w, grad, None, self.n_threads)) + self._l1_value(w)

    def _l1_value(self, w: np.ndarray) -> float:
        return self.penalty.l1_value(w, self.n_features)

    def descent_run(self, mode: int, w: np.ndarray, aux: np.ndarray, lr: float, max_steps: int,
                    cost_hist: np.ndarray, gnorm_hist: np.ndarray, step_hist: np.ndarray,
                    it0: int, state: np.ndarray, best_w: np.ndarray, tol: float, final: bool
                    ) -> tuple[int, int]:
        """Gradient descent or Nesterov steps over the compiled kernel, without the GIL.

        The loop of ``method="gd"`` and ``"nesterov"``; see ``gdfast._descent.descent_loop``.

        Parameters
        ----------
        mode : int
            ``gdfast._core.DESCENT_FIXED``, ``DESCENT_BACKTRACKING`` or ``DESCENT_NESTEROV``.
        w, aux, best_w, state : ndarray
            The iterate, the loop's scratch (4 n_params), the best point and the run's state.
        lr : float
            The step (the first trial step for backtracking).
        max_steps : int
            Evaluations to make at most.
        cost_hist, gnorm_hist, step_hist : ndarray
            Histories, written from ``it0`` on.
        it0 : int
        tol : float
        final : bool
            Whether the last evaluation takes no step.

        Returns
        -------
        evaluations : int
        code : int
            0 running, 1 converged, 2 diverged, 3 no decrease possible.
        """
        k, code = self._kernel.descent_run(mode, w, aux, lr, max_steps, cost_hist, gnorm_hist,
                                           step_hist, it0, state, best_w, tol, final,
                                           self.n_threads)
        return int(k), int(code)

    def newton_cg_passes(self, w: np.ndarray) -> NewtonPasses:
        """Newton-CG's passes from ``w`` on, over cached predictions ``z = Xa w``.

        The gradient is one pass, each Hessian-vector product one pass, and a line-search
        trial ``loss(z + t Xa d)`` costs O(n) with no pass over X.

        Parameters
        ----------
        w : ndarray of shape (n_params,)

        Returns
        -------
        NewtonPasses
        """
        return _CachedPredictions(self, w)

    def gram_diagonal(self) -> np.ndarray:
        """``diag(Xa^T S Xa)``, the weighted mean square of each column of ``Xa`` (one pass).

        Returns
        -------
        ndarray of shape (n_params,)

        Raises
        ------
        ValueError
            When a mean square overflows double precision (entries of X beyond about 1e154),
            naming X.
        """
        s = np.full(self.n_samples, 1.0 / self.n_samples) if self.sample_weight is None else \
            self.sample_weight / self.weight_sum
        diag = np.empty(self.n_params)
        self._kernel.diag_weighted(s, diag, self.n_threads)
        if not np.isfinite(diag).all():
            raise self._overflow(np.zeros(self.n_params), "the mean square of X's columns",
                                 at_w=False)
        return diag

    def target_summary(self) -> tuple[float, float]:
        """The weighted mean of y and the smallest offset: what :meth:`start_point` needs for
        a loss with a restricted domain.

        Returns
        -------
        (float, float)
            The mean and the smallest offset (0 without an offset).
        """
        mean = float(np.average(self.y, weights=self.sample_weight))
        return mean, 0.0 if self.offset is None else float(np.min(self.offset))

    def constant_hessian(self) -> np.ndarray | None:
        """For the squared error: the Hessian, formed on the first call (one pass over X) and
        kept, its data part shared with the copies :meth:`with_alpha` makes, so that a path
        over many alphas forms ``Xa^T S Xa`` once. None for other losses, and when the Hessian
        cannot be formed (sparse X with too many parameters).

        Returns
        -------
        ndarray of shape (n_params, n_params) or None
        """
        if not self.loss.quadratic or not self.can_form_hessian:
            return None
        if "data" not in self._gram:
            H = self.hessian(np.zeros(self.n_params))
            H[np.diag_indices(self.n_params)] -= self.penalty.hessian_diagonal(
                self.n_params, self.n_features)
            self._gram["data"] = H
        H = self._gram["data"].copy()
        H[np.diag_indices(self.n_params)] += self.penalty.hessian_diagonal(self.n_params,
                                                                           self.n_features)
        return H

    def _columns(self) -> Any:
        """X by columns: X itself when dense, a CSC copy (made once and kept) when sparse."""
        if not self.is_sparse:
            return self.X
        if self._csc is None:
            Xs: Any = self.X
            csc = Xs.tocsc()
            csc.sum_duplicates()
            self._csc = (csc.data, csc.indices.astype(np.intp), csc.indptr.astype(np.intp),
                         self.n_samples)
        return self._csc

    @property
    def offers_coordinate_passes(self) -> bool:
        """Whether :meth:`coordinate_passes` gives passes: every loss but the squared error."""
        return not self.loss.quadratic

    def coordinate_passes(self, w: np.ndarray) -> tuple[Any, CoordinatePasses] | None:
        """For a loss that is not quadratic: X by columns (dense X itself, read with a stride
        when C-ordered; sparse X converted to CSC once and kept) and the passes from ``w`` over
        cached predictions (:meth:`newton_cg_passes`), which also give the IRLS weights:
        what proximal Newton by coordinate descent reads without forming the Hessian.

        Parameters
        ----------
        w : ndarray of shape (n_params,)

        Returns
        -------
        (X or (data, indices, indptr, n_rows), CoordinatePasses) or None
            None for the squared error (its coordinate descent reads :meth:`column_access`).
        """
        if not self.offers_coordinate_passes:
            return None
        return self._columns(), _CachedPredictions(self, w)

    def column_access(self) -> tuple[Any, np.ndarray, Callable[[np.ndarray], np.ndarray]] | None:
        """For the squared error: X by columns, the normalised weights and the residuals.

        Dense X is X itself (its columns read with a stride when it is C-ordered: no copy);
        sparse X is converted to CSC once and kept (one copy of its stored entries).

        Returns
        -------
        (X or (data, indices, indptr, n_rows), ndarray, callable) or None
            None for other losses.
        """
        if not self.loss.quadratic:
            return None
        X = self._columns()
        s = (np.full(self.n_samples, 1.0 / self.n_samples) if self.sample_weight is None
             else self.sample_weight / self.weight_sum)
        return X, s, lambda w: self.y - self.predictions(w)

    def residual_sums(self, w: Any) -> tuple[np.ndarray, np.ndarray, float] | None:
        """For the squared error: ``G = Xa^T diag(sw) (y - Xa w)`` and ``RSS``, to twice the
        precision of double.

        The residuals ``y - Xa w`` and the sums of ``Xa^T S r`` and ``r^T S r`` are compensated
        (double-double), in one pass over X: what the least-squares refinement of
        ``method="newton"`` needs to reach the exact solution (:meth:`accurate_cost_gradient`
        gives the cost and gradient from them). None for other losses.

        Parameters
        ----------
        w : array-like of shape (n_params,)

        Returns
        -------
        (ndarray, ndarray, float) or None
            ``G_hi``, ``G_lo`` (``G = G_hi + G_lo``, unnormalised sample weights) and ``RSS``.
        """
        if not self.loss.quadratic:
            return None
        w = self._w(w)
        if self.is_sparse:
            X: Any = self.X
            Ghi, Glo, rhi, rlo = _dispatch.accurate.residual_gradient_csr(
                X.data, X.indices, X.indptr, self.n_features, self._shifted_y, self.sample_weight,
                w, self.fit_intercept, self.n_threads, True)
        else:
            Ghi, Glo, rhi, rlo = _dispatch.accurate.residual_gradient(
                self.X, self._shifted_y, self.sample_weight, w, self.fit_intercept,
                self.n_threads, True)
        return Ghi, Glo, rhi + rlo

    def normal_equations(self) -> tuple[np.ndarray, np.ndarray] | None:
        """For the squared error: ``M = [Xa, y]^T diag(sw) [Xa, y]`` to twice the precision.

        One compensated pass over X (``n * n_params^2`` work, several times a Hessian's): the
        least-squares solve uses it when the Hessian is too ill-conditioned for Cholesky in
        double. None for other losses.

        Returns
        -------
        (ndarray, ndarray) of shape (n_params + 1, n_params + 1), or None
            ``hi`` and ``lo`` with ``M = hi + lo``: ``M[:-1, :-1]`` is ``Xa^T S Xa``,
            ``M[:-1, -1]`` is ``Xa^T S y`` and ``M[-1, -1]`` is ``y^T S y`` (S the sample weights,
            not normalised).
        """
        if not self.loss.quadratic:
            return None
        if self.is_sparse:
            Xs: Any = self.X
            return _dispatch.accurate.normal_equations_csr(  # type: ignore[no-any-return]  # compiled
                Xs.data, Xs.indices, Xs.indptr, self.n_features, self._shifted_y,
                self.sample_weight, self.fit_intercept, self.n_threads)
        return _dispatch.accurate.normal_equations(  # type: ignore[no-any-return]  # compiled
            self.X, self._shifted_y, self.sample_weight, self.fit_intercept, self.n_threads)

    def predictions(self, w: Any) -> np.ndarray:
        """The raw predictions ``z = X @ coef + intercept (+ offset)`` at ``w`` (one pass over X).

        Parameters
        ----------
        w : array-like of shape (n_params,)

        Returns
        -------
        ndarray of shape (n_samples,)

        Raises
        ------
        ValueError, TypeError
            When ``w`` is not a 1-D vector of n_params finite numbers, or when a prediction
            overflows double precision (naming X or w).
        """
        w = self._w(w)
        z = self._linear(w)
        if not np.isfinite(z).all():
            raise self._overflow(w, "X @ coef + intercept")
        return z

    def _linear(self, w: np.ndarray, z: np.ndarray | None = None,
                with_offset: bool = True) -> np.ndarray:
        """``Xa w`` (plus the offset unless with_offset is False) into z (a new array if None)."""
        if z is None:
            z = np.empty(self.n_samples)
        self._kernel.linear(w, z, self.n_threads)
        if with_offset and self.offset is not None:
            z += self.offset
        return z

    def pearson_chi2(self, w: Any) -> float | None:
        """Pearson's chi^2 ``sum sw (y - mu)^2 / V(mu)`` at ``w`` (one pass over X), from
        ``Loss.pearson_terms``; None for a loss without Pearson residuals.

        Parameters
        ----------
        w : array-like of shape (n_params,)

        Returns
        -------
        float or None
        """
        if self.loss.pearson_terms(np.ones(1), np.ones(1)) is None:
            return None                             # before a pass over X
        terms = self.loss.pearson_terms(self.predictions(w), self.y)
        assert terms is not None
        return float(np.sum(terms if self.sample_weight is None else self.sample_weight * terms))

    def separates(self, w: Any) -> bool:
        """Whether the predictions at ``w`` prove that the optimum is at infinity.

        The loss judges (``Loss.separates``) on the rows of positive weight: for the log loss,
        every row strictly on its side of the boundary. Always False for a loss that cannot
        separate.

        Parameters
        ----------
        w : array-like of shape (n_params,)

        Returns
        -------
        bool
        """
        if not self.loss.can_separate or self._separable is False:
            return False
        keep = None if self.sample_weight is None else self.sample_weight > 0
        if not self.loss.separation_from_data:      # the predictions at w are the proof
            # Xa w without the offset: scaling w up scales this part alone, and the loss then
            # falls towards 0 whatever the (fixed, finite) offset
            w = self._w(w)
            z = self._linear(w, with_offset=False)
            if not (self.loss.separates(z, self.y) if keep is None
                    else self.loss.separates(z[keep], self.y[keep])):
                return False
        if self._separable is None:         # a property of the data: decided once
            self._separable = self.loss.confirm_separation(self.X, self.y, keep,
                                                           self.fit_intercept)
        return self._separable

    @property
    def nnz(self) -> int:
        """Stored entries of X (``n_samples * n_features`` when X is dense)."""
        if not self.is_sparse:
            return self.n_samples * self.n_features
        X: Any = self.X
        return int(X.nnz)

    @property
    def can_form_hessian(self) -> bool:
        """Whether :meth:`hessian` forms the dense Hessian (sparse X: up to 5792 parameters)."""
        return not (self.is_sparse and _sparse_input.hessian_error(self.n_params))


#: Newton-CG's cached predictions are recomputed when their size falls below this fraction of
#: the largest they have held (their relative rounding error is then above 2e-12).
_REFRESH_RATIO = 1e-4


class _CachedPredictions:
    """Newton-CG's passes over a compiled kernel: z = Xa w is kept, so the gradient is one pass,
    each Hessian-vector product one pass, the Jacobi preconditioner one pass, and a line-search
    trial ``loss(z + t zd)`` costs O(n) with no pass over X."""

    def __init__(self, obj: Objective, w: np.ndarray) -> None:
        self.kernel, self.nt = obj._kernel, obj.n_threads
        self.linear = obj._linear                    # Xa w + offset
        n, D, self.d = obj.n_samples, obj.n_params, obj.n_features
        self.penalty = obj.penalty
        self.penalty_diag = obj.penalty.hessian_diagonal(D, self.d)
        self.z = self.linear(w)
        self.size = float(np.max(np.abs(self.z))) if n else 0.0   # the largest |z| held
        self.r, self.h, self.trial, self.zd = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
        self.g, self.hv, self.diag = np.empty(D), np.empty(D), np.empty(D)
        # float32 X: the kernels sum the predictions in float32, which a step's predictions
        # summed in double (line_along's) do not reproduce: advance then computes z afresh
        self.fresh_after_line_along = obj.X.dtype == np.float32
        self.fresh = False

    def _cost_from_z(self, z: np.ndarray, w: np.ndarray, r: np.ndarray | None = None,
                     h: np.ndarray | None = None) -> float:
        return float(self.kernel.loss_from_z(z, r, h)) + self.penalty.value(w, self.d)

    def cost_gradient(self, w: np.ndarray) -> tuple[float, np.ndarray]:
        c = self._cost_from_z(self.z, w, self.r, self.h)      # r = s loss'(z), h = s loss''(z)
        self.kernel.transpose(self.r, self.g, self.nt)
        self.penalty.add_gradient(w, self.d, self.g)
        return c, self.g

    def preconditioner_diagonal(self) -> np.ndarray:
        self.kernel.diag_weighted(self.h, self.diag, self.nt)
        self.diag += self.penalty_diag
        return self.diag

    def hessp(self, v: np.ndarray) -> np.ndarray:
        self.kernel.hessp_weighted(self.h, v, self.hv, self.nt)
        Hv: np.ndarray = self.hv + self.penalty_diag * v
        return Hv

    def line(self, w: np.ndarray, d: np.ndarray) -> Callable[[float], float]:
        self.kernel.linear(d, self.zd, self.nt)        # zd = Xa d: the change of z along d
        self.fresh = False
        return self._phi(w, d)

    def _phi(self, w: np.ndarray, d: np.ndarray) -> Callable[[float], float]:
        def phi(t: float) -> float:
            np.multiply(self.zd, t, out=self.trial)
            np.add(self.trial, self.z, out=self.trial)
            return self._cost_from_z(self.trial, w + t * d)
        return phi

    def weights(self) -> tuple[np.ndarray, np.ndarray]:
        """``(s loss'(z), s loss''(z))`` at the point of the last :meth:`cost_gradient`."""
        return self.r, self.h

    def line_along(self, w: np.ndarray, d: np.ndarray, zd: np.ndarray
                   ) -> Callable[[float], float]:
        """:meth:`line` with ``zd = Xa d`` given (no pass over X)."""
        self.zd[:] = zd
        self.fresh = self.fresh_after_line_along
        return self._phi(w, d)

    def advance(self, w: np.ndarray, t: float, d: np.ndarray) -> np.ndarray:
        self.z += t * self.zd
        w = w + t * d
        # z carries the rounding error of the largest predictions it has held (about eps times
        # them): once the predictions have shrunk far below those (a run from a far start),
        # that error would dominate the gradient, so z is computed afresh from w.
        size = float(np.max(np.abs(self.z))) if self.z.size else 0.0
        if self.fresh or size < _REFRESH_RATIO * self.size:
            self.linear(w, self.z)
            self.size = float(np.max(np.abs(self.z)))
        else:
            self.size = max(self.size, size)
        return w
