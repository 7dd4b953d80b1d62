"""gdfast.Lasso and gdfast.ElasticNet: drop-ins for scikit-learn's, over gdfast.Objective.

scikit-learn's elastic net minimises, over n samples with weights normalised to sum to n,

    1/(2n) ||y - Xw - b||^2 + a l1_ratio ||w||_1 + a (1 - l1_ratio)/2 ||w||^2,

which is half of gdfast's cost (the mean squared error plus ``alpha (l1_ratio ||w||_1 + (1 -
l1_ratio)/2 ||w||^2)``) with ``alpha = 2a`` and the same l1_ratio: the same minimiser. These
estimators take scikit-learn's ``a`` and pass ``2a`` to the Objective.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted, validate_data

from ._backends import InMemory
from ._objective import Objective
from ._result import IterationState
from ._solvers import minimize
from ._validation import check_bool, check_n_threads, check_name, check_scalar

__all__ = ["ElasticNet", "Lasso", "ElasticNetCV", "LassoCV", "duality_gap"]


def duality_gap(obj: Objective, coef: np.ndarray, positive: bool = False
                ) -> tuple[float, float, float]:
    """The elastic net's duality gap at ``coef``, in scikit-learn's scaling.

    For ``P(w) = 1/2 sum_i s_i r_i^2 + l1 ||w||_1 + l2/2 ||w||^2`` (s the normalised weights,
    ``r = y - X w - b``, l1 and l2 half of gdfast's: scikit-learn's ``a l1_ratio`` and ``a (1 -
    l1_ratio)``), with the intercept at its best for ``coef``. The dual point is the residual
    scaled into the dual's feasible set (scikit-learn's, the usual one for the elastic net):
    ``theta = c r``, ``c = min(1, l1 / max|X^T S r - l2 w|)`` (with ``positive``, the
    constraint ``w >= 0``: ``max(X^T S r - l2 w)`` instead of the max-norm). Two passes over X.

    Returns
    -------
    gap : float
        ``P(w) - D(theta)``, at least 0 up to rounding; 0 exactly at the optimum.
    primal : float
        ``P(w)``.
    scale : float
        ``sum_i s_i (y_i - ybar)^2`` (``ybar`` 0 without an intercept): scikit-learn stops when
        the gap is at most ``tol`` times this.
    """
    d = obj.n_features
    s = (np.full(obj.n_samples, 1.0 / obj.n_samples) if obj.sample_weight is None
         else obj.sample_weight / obj.weight_sum)
    y = obj.y if obj.offset is None else obj.y - obj.offset
    w = np.zeros(obj.n_params)
    w[:d] = coef
    z = obj.predictions(w) - (0.0 if obj.offset is None else obj.offset)
    ybar = float(s @ y) if obj.fit_intercept else 0.0
    if obj.fit_intercept:
        w[d] = float(s @ (y - z))
    r = y - z - (w[d] if obj.fit_intercept else 0.0)
    l1 = 0.5 * obj.penalty.l1
    l2 = 0.5 * obj.penalty.l2
    grad = obj.gradient(w)                       # -2 X^T S r + 2 l2 w on the coefficients
    xta = -0.5 * grad[:d]                        # X^T S r - l2 w
    rr = float(s @ (r * r))
    l1_norm, w2 = float(np.abs(coef).sum()), float(coef @ coef)
    primal = 0.5 * rr + l1 * l1_norm + 0.5 * l2 * w2
    top = float(np.max(xta if positive else np.abs(xta))) if d else 0.0
    c = l1 / top if (l1 > 0 and top > l1) else 1.0
    gap = 0.5 * rr * (1.0 + c * c) + l1 * l1_norm - c * float(s @ (r * (y - ybar))) \
        + 0.5 * l2 * (1.0 + c * c) * w2
    return max(gap, 0.0), primal, float(s @ ((y - ybar) ** 2))


class ElasticNet(RegressorMixin, BaseEstimator):
    """Linear regression with the elastic-net penalty: a drop-in for scikit-learn's.

    Minimises scikit-learn's objective ``1/(2n) ||y - Xw - b||^2 + alpha * l1_ratio * ||w||_1 +
    0.5 * alpha * (1 - l1_ratio) * ||w||^2`` (weights normalised to sum to n): the same alpha
    and l1_ratio give the same solution. In gdfast's terms (:class:`gdfast.Objective`, whose
    squared-error cost is the mean of ``(y - p)^2``, twice scikit-learn's data term) this is
    ``Objective(X, y, loss="squared_error", alpha=2 * alpha, l1_ratio=l1_ratio)``.

    Parameters
    ----------
    alpha : float, default 1.0
        scikit-learn's strength (at least 0).
    l1_ratio : float, default 0.5
        In [0, 1]: 1 is the lasso, 0 ridge regression.
    fit_intercept : bool, default True
    precompute : bool or "auto", default False
        Accepted for compatibility and not used: gdfast's coordinate descent forms the Gram
        matrix ``X^T X`` itself when it works in covariance form (``solver="cd"``), whatever
        this says. A given Gram matrix (an array) is refused.
    max_iter : int, default 1000
        Most iterations of the solver (for "cd", outer iterations: for the squared error one
        or two suffice, each a full coordinate descent on the Gram matrix; scikit-learn counts
        sweeps over the coordinates).
    copy_X : bool, default True
        Accepted for compatibility: X is never modified, so no copy is needed.
    tol : float, default 1e-4
        scikit-learn's meaning: the fit stops once the duality gap is at most ``tol *
        sum_i s_i (y_i - ybar)^2`` (the variance of y), checked after each iteration; it also
        stops when gdfast's stationarity rule holds at 1e-12.
    warm_start : bool, default False
        Start from the previous fit's coefficients.
    positive : bool, default False
        Constrain the coefficients to be non-negative (solver "cd" only).
    random_state : int, RandomState instance or None, default None
        Seeds the coordinate order of ``selection="random"``.
    selection : {"cyclic", "random"}, default "cyclic"
        The coordinate order of each sweep.
    solver : {"auto", "cd", "proximal"}, default "auto"
        gdfast's method (:func:`gdfast.minimize`); "auto" is "cd": coordinate descent on the
        Gram matrix for at most 500 parameters and more rows than parameters, with residual
        updates otherwise; "proximal" is FISTA.
    n_threads : int, optional
        Threads for the kernels.
    standardize : bool, default False
        Penalise the coefficients of the standardised columns ``x_j / sd_j`` (glmnet's and
        glum's option; sd_j the weighted standard deviation, about the mean with an intercept,
        the root mean square without; constant columns keep sd 1), fitted on a scaled copy of
        X; ``coef_`` is on the original scale and ``dual_gap_`` that of the standardised
        problem. False, the default, is scikit-learn's convention.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
    intercept_ : float
    dual_gap_ : float
        The duality gap at the end, in scikit-learn's scaling (of its objective above).
    n_iter_ : int
        The solver's iterations (see max_iter).
    sparse_coef_ : scipy.sparse matrix of shape (1, n_features)
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when X had string column names.

    Notes
    -----
    Differences from scikit-learn: ``max_iter`` and ``n_iter_`` count gdfast's iterations;
    ``precompute`` and ``copy_X`` have no effect; y must be one-dimensional (no multi-output).
    X may be dense (float32 stays float32) or scipy.sparse.
    """

    alpha: float
    l1_ratio: float
    fit_intercept: bool
    precompute: Any
    max_iter: int
    copy_X: bool
    tol: float
    warm_start: bool
    positive: bool
    random_state: Any
    selection: str
    solver: str
    n_threads: int | None
    coef_: np.ndarray
    intercept_: float
    dual_gap_: float
    n_iter_: int

    def __init__(self, alpha: float = 1.0, *, l1_ratio: float = 0.5, fit_intercept: bool = True,
                 precompute: Any = False, max_iter: int = 1000, copy_X: bool = True,
                 tol: float = 1e-4, warm_start: bool = False, positive: bool = False,
                 random_state: Any = None, selection: str = "cyclic", solver: str = "auto",
                 n_threads: int | None = None, standardize: bool = False) -> None:
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.standardize = standardize
        self.fit_intercept = fit_intercept
        self.precompute = precompute
        self.max_iter = max_iter
        self.copy_X = copy_X
        self.tol = tol
        self.warm_start = warm_start
        self.positive = positive
        self.random_state = random_state
        self.selection = selection
        self.solver = solver
        self.n_threads = n_threads

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def _l1_ratio(self) -> float:
        return check_scalar(self.l1_ratio, "l1_ratio", low=0.0, high=1.0)

    def fit(self, X: Any, y: Any, sample_weight: Any = None, check_input: bool = True
            ) -> "ElasticNet":
        """Fit the model.

        Parameters
        ----------
        X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights (scikit-learn's meaning: they are normalised).
        check_input : bool, default True
            Accepted for compatibility; the input is always checked.

        Returns
        -------
        self

        Raises
        ------
        ValueError, TypeError
            For bad data or parameters, naming them (positive=True with solver="proximal",
            a Gram matrix given as precompute, y with more than one column).
        """
        alpha = check_scalar(self.alpha, "alpha", low=0.0)
        l1_ratio = self._l1_ratio()
        fit_intercept = check_bool(self.fit_intercept, "fit_intercept")
        if not (isinstance(self.precompute, (bool, np.bool_))
                or (isinstance(self.precompute, str) and self.precompute == "auto")):
            raise ValueError("precompute must be True, False or 'auto' (gdfast forms the Gram "
                             f"matrix itself and takes none); got {type(self.precompute).__name__}")
        check_bool(self.copy_X, "copy_X")
        max_iter = check_scalar(self.max_iter, "max_iter", low=1, integer=True)
        tol = check_scalar(self.tol, "tol", low=0.0)
        warm_start = check_bool(self.warm_start, "warm_start")
        positive = check_bool(self.positive, "positive")
        selection = check_name(self.selection, "selection", ["cyclic", "random"])
        solver = check_name(self.solver, "solver", ["auto", "cd", "proximal"])
        n_threads = check_n_threads(self.n_threads)
        seed = None
        if selection == "random":
            from sklearn.utils import check_random_state as sklearn_random_state
            seed = int(sklearn_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], y_numeric=True,
                             accept_sparse=["csr", "csc"])
        if np.ndim(y) != 1:
            raise ValueError(f"y must be one-dimensional (no multi-output); got shape {np.shape(y)}")
        sw = InMemory().sample_weight(sample_weight, X)
        scale = (_column_scales(X, sw, fit_intercept)
                 if check_bool(self.standardize, "standardize") else None)
        if scale is not None:
            X = _scaled_columns(X, 1.0 / scale)
        obj = Objective(X, y, loss="squared_error", alpha=2.0 * alpha, l1_ratio=l1_ratio,
                        fit_intercept=fit_intercept, sample_weight=sw, n_threads=n_threads)
        d = obj.n_features
        unscale = scale if scale is not None else np.ones(d)
        w0 = None
        if warm_start and hasattr(self, "coef_") and np.shape(self.coef_) == (d,):
            coef = self.coef_ * unscale
            w0 = np.append(coef, self.intercept_) if fit_intercept else coef
        if solver == "auto":
            solver = "cd"              # covariance or residual updates (see gdfast._coordinate)
        if positive and solver != "cd":
            raise ValueError("positive=True needs solver='cd' (or 'auto')")
        options: dict[str, Any] = {}
        if solver == "cd":
            options = {"positive": positive, "selection": selection, "random_state": seed}
        gap_met = [False]

        def gap_reached(state: IterationState) -> bool:
            gap, _, scale = duality_gap(obj, state.w[:d], positive)
            gap_met[0] = gap <= tol * scale
            return gap_met[0]

        res = minimize(obj, method=solver, w0=w0, max_iter=max_iter, tol=1e-12,
                       callback=gap_reached if tol > 0 else None, **options)
        gap, _, var_y = duality_gap(obj, res.w[:d], positive)
        self.coef_ = res.w[:d] / unscale
        self.intercept_ = float(res.w[d]) if fit_intercept else 0.0
        self.dual_gap_ = gap
        self.n_iter_ = res.n_iter
        if not (res.converged or gap_met[0] or gap <= tol * var_y):
            warnings.warn(f"{type(self).__name__} did not converge ({res.status}): {res.message}; "
                          f"duality gap {gap:.3g}, tol * var(y) = {tol * var_y:.3g}. Increase "
                          "max_iter or tol.", ConvergenceWarning, stacklevel=2)
        return self

    @property
    def sparse_coef_(self) -> Any:
        """``coef_`` as a scipy.sparse CSR matrix of shape (1, n_features)."""
        import scipy.sparse as sp
        check_is_fitted(self)
        return sp.csr_matrix(self.coef_[None, :])

    def predict(self, X: Any) -> np.ndarray:
        """``X @ coef_ + intercept_``.

        Parameters
        ----------
        X : array-like or scipy.sparse matrix of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        return _linear_predict(self, X)


class Lasso(ElasticNet):
    """Linear regression with the L1 penalty: a drop-in for scikit-learn's ``Lasso``.

    Minimises ``1/(2n) ||y - Xw - b||^2 + alpha * ||w||_1`` (scikit-learn's scaling); in
    gdfast's terms ``Objective(X, y, loss="squared_error", alpha=2 * alpha, l1_ratio=1)``.
    :class:`ElasticNet` with ``l1_ratio=1``: see it for the parameters, attributes and the
    differences from scikit-learn.

    Parameters
    ----------
    alpha : float, default 1.0
    fit_intercept, precompute, max_iter, copy_X, tol, warm_start, positive, random_state, \
selection, solver, n_threads, standardize
        As :class:`ElasticNet`.
    """

    def __init__(self, alpha: float = 1.0, *, fit_intercept: bool = True, precompute: Any = False,
                 max_iter: int = 1000, copy_X: bool = True, tol: float = 1e-4,
                 warm_start: bool = False, positive: bool = False, random_state: Any = None,
                 selection: str = "cyclic", solver: str = "auto",
                 n_threads: int | None = None, standardize: bool = False) -> None:
        # scikit-learn's rule: __init__ sets the parameters only (l1_ratio is not one here)
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.precompute = precompute
        self.max_iter = max_iter
        self.copy_X = copy_X
        self.tol = tol
        self.warm_start = warm_start
        self.positive = positive
        self.random_state = random_state
        self.selection = selection
        self.solver = solver
        self.n_threads = n_threads
        self.standardize = standardize

    def _l1_ratio(self) -> float:
        return 1.0



class ElasticNetCV(RegressorMixin, BaseEstimator):
    """:class:`ElasticNet` with alpha (and l1_ratio) chosen by k-fold cross-validation over the
    path: a drop-in for scikit-learn's ``ElasticNetCV``.

    For each l1_ratio the grid of alphas runs from alpha_max of the whole data (computed
    exactly: :func:`gdfast.alpha_max`) down to ``eps * alpha_max``; each fold solves the whole
    path on its training rows with warm starts (:func:`gdfast.path`) and scores the mean squared
    error on its held-out rows (weighted by sample_weight when given). The alpha and l1_ratio of
    the lowest mean error are refitted on all the data. alphas are in scikit-learn's convention
    (half of gdfast's, see :class:`ElasticNet`).

    Parameters
    ----------
    l1_ratio : float or list of float, default 0.5
        Each in (0, 1].
    eps : float, default 1e-3
    alphas : int or array-like, default 100
        An int: that many alphas from alpha_max down to ``eps * alpha_max``; an array: the
        grid itself (scikit-learn's convention). As scikit-learn 1.9's (which dropped
        ``n_alphas``).
    fit_intercept : bool, default True
    precompute, max_iter, tol, copy_X, positive, random_state, selection, solver, n_threads
        As :class:`ElasticNet` (for the final refit; the paths solve each alpha to gdfast's
        stationarity tolerance 1e-8).
    cv : int or cross-validation generator, default 5
        scikit-learn's ``cv`` (None: 5-fold).
    n_jobs : int, optional
        Folds solved at once, in threads (the kernels release the GIL).
    verbose : int, default 0
        Accepted for compatibility.

    Attributes
    ----------
    alpha_, l1_ratio_ : float
        The chosen values.
    alphas_ : ndarray of shape (n_alphas,) or (n_l1_ratio, n_alphas)
        The grids, in scikit-learn's convention.
    mse_path_ : ndarray of shape (n_alphas, n_folds) or (n_l1_ratio, n_alphas, n_folds)
    coef_, intercept_, dual_gap_, n_iter_
        Of the final refit.
    n_features_in_ : int
    """

    def __init__(self, *, l1_ratio: Any = 0.5, eps: float = 1e-3, alphas: Any = 100, fit_intercept: bool = True, precompute: Any = "auto",
                 max_iter: int = 1000, tol: float = 1e-4, cv: Any = None, copy_X: bool = True,
                 verbose: int = 0, n_jobs: int | None = None, positive: bool = False,
                 random_state: Any = None, selection: str = "cyclic", solver: str = "auto",
                 n_threads: int | None = None) -> None:
        self.l1_ratio = l1_ratio
        self.eps = eps
        self.alphas = alphas
        self.fit_intercept = fit_intercept
        self.precompute = precompute
        self.max_iter = max_iter
        self.tol = tol
        self.cv = cv
        self.copy_X = copy_X
        self.verbose = verbose
        self.n_jobs = n_jobs
        self.positive = positive
        self.random_state = random_state
        self.selection = selection
        self.solver = solver
        self.n_threads = n_threads

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def _l1_ratios(self) -> list[float]:
        ratios = np.atleast_1d(np.asarray(self.l1_ratio, dtype=object))
        return [check_scalar(r, "l1_ratio", low=0.0, low_inclusive=False, high=1.0)
                for r in ratios]

    def _several_ratios(self) -> bool:
        """Whether l1_ratio is a list (the attributes then get a leading axis, as
        scikit-learn's)."""
        return bool(np.ndim(self.l1_ratio) > 0)

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> "ElasticNetCV":
        """Choose alpha (and l1_ratio) by cross-validation, then fit on all the data.

        Parameters
        ----------
        X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        self

        Raises
        ------
        ValueError, TypeError
            For bad data or parameters, naming them.
        """
        from joblib import Parallel, delayed
        from sklearn.model_selection import check_cv

        from ._path import alpha_max, path
        ratios = self._l1_ratios()
        eps = check_scalar(self.eps, "eps", low=0.0, low_inclusive=False, high=1.0)
        given = None
        if isinstance(self.alphas, (int, np.integer)) and not isinstance(self.alphas, bool):
            n_alphas = check_scalar(self.alphas, "alphas", low=1, integer=True)
        else:
            given = np.sort(np.asarray(self.alphas, dtype=np.float64).ravel())[::-1]
            if given.size == 0 or np.any(given < 0) or not np.all(np.isfinite(given)):
                raise ValueError("alphas must be a positive int or a non-empty list of finite "
                                 "numbers >= 0")
        fit_intercept = check_bool(self.fit_intercept, "fit_intercept")
        positive = check_bool(self.positive, "positive")
        n_threads = check_n_threads(self.n_threads)
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], y_numeric=True,
                             accept_sparse=["csr", "csc"])
        if sp_format(X) == "csc":
            X = X.tocsr()                    # rows are taken per fold
        sw = InMemory().sample_weight(sample_weight, X)
        folds = list(check_cv(self.cv).split(X, y))
        grids = []
        for r in ratios:
            if given is not None:
                grid = given
            else:
                whole = Objective(X, y, loss="squared_error", l1_ratio=r,
                                  fit_intercept=fit_intercept, sample_weight=sw)
                top = 0.5 * alpha_max(whole)           # scikit-learn's convention
                grid = (top * np.logspace(0.0, np.log10(eps), n_alphas) if top > 0
                        else np.zeros(1))
            grids.append(grid)

        def fold_errors(r: float, grid: np.ndarray, train: np.ndarray, test: np.ndarray
                        ) -> np.ndarray:
            obj = Objective(X[train], y[train], loss="squared_error", alpha=0.0, l1_ratio=r,
                            fit_intercept=fit_intercept,
                            sample_weight=None if sw is None else sw[train], n_threads=n_threads)
            if positive:
                ws, w = [], np.zeros(obj.n_params)
                for a in grid:
                    res = minimize(obj.with_alpha(2.0 * a), method="cd", w0=w, tol=1e-8,
                                   positive=True)
                    w = res.w
                    ws.append(w)
                W = np.array(ws)
            else:
                W = path(obj, alphas=2.0 * grid, tol=1e-8).w
            d = obj.n_features
            pred = np.asarray(X[test] @ W[:, :d].T) + (W[:, d] if fit_intercept else 0.0)
            err = (y[test][:, None] - pred) ** 2
            wt = None if sw is None else sw[test]
            out: np.ndarray = (err.mean(axis=0) if wt is None or wt.sum() == 0
                               else (wt @ err) / wt.sum())
            return out

        jobs = [(i, k, r, grids[i], tr, te) for i, r in enumerate(ratios)
                for k, (tr, te) in enumerate(folds)]
        results = Parallel(n_jobs=self.n_jobs, prefer="threads")(
            delayed(fold_errors)(r, g, tr, te) for _, _, r, g, tr, te in jobs)
        n_grid = max(len(g) for g in grids)
        mse = np.full((len(ratios), n_grid, len(folds)), np.inf)
        for (i, k, *_), errors in zip(jobs, results):
            mse[i, :len(errors), k] = errors
        mean = mse.mean(axis=2)
        i, j = (int(v) for v in np.unravel_index(int(np.argmin(mean)), mean.shape))
        self.l1_ratio_ = ratios[i]
        self.alpha_ = float(grids[i][j])
        several = self._several_ratios()
        self.alphas_ = np.array(grids) if several else grids[0]
        self.mse_path_ = mse if several else mse[0]
        final = ElasticNet(alpha=self.alpha_, l1_ratio=self.l1_ratio_,
                           fit_intercept=fit_intercept, precompute=self.precompute,
                           max_iter=self.max_iter, copy_X=self.copy_X, tol=self.tol,
                           positive=positive, random_state=self.random_state,
                           selection=self.selection, solver=self.solver, n_threads=n_threads)
        final.fit(X, y, sample_weight=sw)
        self.coef_, self.intercept_ = final.coef_, final.intercept_
        self.dual_gap_, self.n_iter_ = final.dual_gap_, final.n_iter_
        return self

    def predict(self, X: Any) -> np.ndarray:
        """``X @ coef_ + intercept_``.

        Parameters
        ----------
        X : array-like or scipy.sparse matrix of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        return _linear_predict(self, X)


class LassoCV(ElasticNetCV):
    """:class:`Lasso` with alpha chosen by k-fold cross-validation over the path: a drop-in for
    scikit-learn's ``LassoCV``. :class:`ElasticNetCV` with ``l1_ratio=1``; see it.

    Parameters
    ----------
    eps, alphas, fit_intercept, precompute, max_iter, tol, cv, copy_X, verbose, \
n_jobs, positive, random_state, selection, solver, n_threads
        As :class:`ElasticNetCV`.
    """

    def __init__(self, *, eps: float = 1e-3, alphas: Any = 100,
                 fit_intercept: bool = True, precompute: Any = "auto", max_iter: int = 1000,
                 tol: float = 1e-4, cv: Any = None, copy_X: bool = True, verbose: int = 0,
                 n_jobs: int | None = None, positive: bool = False, random_state: Any = None,
                 selection: str = "cyclic", solver: str = "auto",
                 n_threads: int | None = None) -> None:
        self.eps = eps
        self.alphas = alphas
        self.fit_intercept = fit_intercept
        self.precompute = precompute
        self.max_iter = max_iter
        self.tol = tol
        self.cv = cv
        self.copy_X = copy_X
        self.verbose = verbose
        self.n_jobs = n_jobs
        self.positive = positive
        self.random_state = random_state
        self.selection = selection
        self.solver = solver
        self.n_threads = n_threads

    def _l1_ratios(self) -> list[float]:
        return [1.0]

    def _several_ratios(self) -> bool:
        return False


def _linear_predict(est: Any, X: Any) -> np.ndarray:
    """``X @ coef_ + intercept_`` of a fitted linear estimator, X checked against the fit."""
    check_is_fitted(est)
    X = validate_data(est, X, dtype=[np.float64, np.float32], accept_sparse=["csr", "csc"],
                      reset=False)
    z: np.ndarray = np.asarray(X @ est.coef_, dtype=np.float64) + est.intercept_
    return z


def _column_scales(X: Any, sw: np.ndarray | None, centred: bool) -> np.ndarray:
    """The weighted standard deviation of each column (about the mean when ``centred``, the
    root mean square otherwise), 1 for a constant column; sparse X is not densified."""
    s = np.full(X.shape[0], 1.0 / X.shape[0]) if sw is None else sw / np.sum(sw)
    squares = np.asarray(X.multiply(X).T @ s if hasattr(X, "multiply") else (X * X).T @ s,
                         dtype=np.float64).ravel()
    mean = np.asarray(X.T @ s, dtype=np.float64).ravel() if centred else 0.0
    sd = np.sqrt(np.maximum(squares - mean * mean, 0.0))
    out: np.ndarray = np.where(sd > 0, sd, 1.0)
    return out


def _scaled_columns(X: Any, factors: np.ndarray) -> Any:
    """A copy of X with column j multiplied by factors[j] (sparse stays sparse)."""
    if hasattr(X, "multiply"):
        return X.multiply(factors[None, :].astype(X.dtype)).tocsr()
    return X * factors.astype(X.dtype)


def sp_format(X: Any) -> str | None:
    """The scipy.sparse format of X, None when dense."""
    return getattr(X, "format", None)
