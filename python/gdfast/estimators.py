"""scikit-learn estimators over gdfast's objective and solvers.

:class:`LogisticRegression` and :class:`LinearRegression` fit ``z = X @ coef_ + intercept_`` by
minimising gdfast's cost (the mean loss plus ``alpha/2 ||coef||^2``) with any
:func:`gdfast.minimize` method, and report standard errors and a coefficient table from the
Hessian at the optimum (see :mod:`gdfast.stats`). They work in pipelines, grid searches and
anywhere scikit-learn estimators do. scikit-learn is needed for this module only: ``import gdfast``
does not import it.

X may be a numpy array (or anything array-like), a scipy.sparse CSR or CSC matrix or array (never
densified), or a dask array chunked by rows. Dask arrays are fitted on the cluster through
:mod:`gdfast.dask` (X stays on the workers; only sums travel) and predicted lazily; dask is
imported only when such an array is passed.
"""
from __future__ import annotations

import contextlib
import numbers
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from scipy.special import logsumexp

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.utils import check_random_state as sklearn_random_state
    from sklearn.utils.validation import check_is_fitted
except ImportError as e:  # pragma: no cover - exercised only without scikit-learn
    raise ImportError("gdfast.LogisticRegression and gdfast.LinearRegression need scikit-learn "
                      ">= 1.6: pip install 'gdfast[sklearn]'") from e

from ._backends import Backend, backend_for
from ._duality import log_loss_duality_gap
from ._families import Family, family
from ._lasso import ElasticNet, ElasticNetCV, Lasso, LassoCV
from ._fitting import STOCHASTIC_SOLVERS
from ._objective import Objective
from ._protocols import ObjectiveLike, as_objective
from ._progress import Progress
from ._result import OptimizeResult
from ._sparse_input import is_sparse
from ._validation import (check_bool, check_n_threads, check_name, check_random_state,
                          check_scalar)
from .losses import Loss, get_loss
from .stats import (GoodnessOfFit, Summary, covariance, goodness_of_fit, residual_df,
                    standard_errors, total_weight)

__all__ = ["LogisticRegression", "LogisticRegressionCV", "LinearRegression", "PoissonRegressor",
           "GammaRegressor", "TweedieRegressor", "GeneralizedLinearRegressor", "Lasso", "ElasticNet", "LassoCV",
           "ElasticNetCV", "MAX_STDERR_PARAMS"]

#: Standard errors are computed in ``fit`` only up to this many parameters (features + intercept):
#: they need the Hessian, ``n_params**2`` numbers and ``n_samples * n_params**2`` work. Above it
#: ``coef_stderr_`` and ``intercept_stderr_`` are NaN (and also when X is sparse and its Hessian
#: would be larger than gdfast.Objective agrees to form).
MAX_STDERR_PARAMS = 2000


@dataclass(frozen=True)
class _Settings:
    """The estimator's parameters, validated at the start of fit."""

    solver: str
    alpha: float
    fit_intercept: bool
    max_iter: int | None
    tol: float
    learning_rate: Any
    batch_size: int | None
    seed: int | None
    n_threads: int | None
    verbose: int
    warm_start: bool
    l1_ratio: float = 0.0


@dataclass(frozen=True)
class _FitInfo:
    """What ``summary()`` needs to know about the fit that produced the attributes."""

    solver: str
    alpha: float
    fit_intercept: bool
    total_weight: float
    weighted: bool
    df_resid: float | None
    l1_ratio: float = 0.0


class _LinearModel(BaseEstimator):
    """What both estimators share: parameter checks, one fit of the core, the summary."""

    _loss: str | Loss = ""

    # The parameters (set by the subclasses' __init__) and what fit sets, for the type checker.
    solver: str
    alpha: float
    fit_intercept: bool
    max_iter: int | None
    tol: float
    learning_rate: Any
    batch_size: int | None
    random_state: Any
    n_threads: int | None
    verbose: int
    warm_start: bool
    #: Whether fit computes standard errors (the cross-validation's fits do without).
    _standard_errors = True
    #: The share of alpha on an L1 penalty (estimators that take ``l1_ratio`` set it).
    l1_ratio: float = 0.0
    coef_: np.ndarray
    intercept_: np.ndarray | float
    n_features_in_: int
    feature_names_in_: np.ndarray
    _fit_info_: _FitInfo

    def _settings(self) -> _Settings:
        """Validate the parameters (in fit, as scikit-learn asks, never in __init__)."""
        if not isinstance(self.solver, str):
            raise TypeError(f"solver must be a string naming a gdfast.minimize method; got {self.solver!r}")
        lr = self.learning_rate
        if not (isinstance(lr, str) and lr == "auto"):
            if isinstance(lr, str):
                raise ValueError(f"learning_rate must be a positive number or 'auto'; got {lr!r}")
            lr = check_scalar(lr, "learning_rate", low=0.0, low_inclusive=False)
        verbose = self.verbose
        if isinstance(verbose, (bool, np.bool_)):
            verbose = int(verbose)
        verbose = check_scalar(verbose, "verbose", low=0, integer=True)
        # checked whatever the solver (scikit-learn's rule: every parameter is checked in fit)
        random_state = check_random_state(self.random_state, kind=np.random.RandomState)
        seed = None
        if self.solver in STOCHASTIC_SOLVERS and random_state is not None:
            seed = int(sklearn_random_state(random_state).randint(np.iinfo(np.int32).max))
        return _Settings(
            solver=self.solver,
            alpha=check_scalar(self.alpha, "alpha", low=0.0),
            fit_intercept=check_bool(self.fit_intercept, "fit_intercept"),
            max_iter=None if self.max_iter is None else check_scalar(self.max_iter, "max_iter", low=1,
                                                                     integer=True),
            tol=check_scalar(self.tol, "tol", low=0.0),
            learning_rate=lr,
            batch_size=None if self.batch_size is None else check_scalar(self.batch_size, "batch_size",
                                                                         low=1, integer=True),
            seed=seed,
            n_threads=check_n_threads(self.n_threads),
            verbose=verbose,
            warm_start=check_bool(self.warm_start, "warm_start"),
            l1_ratio=check_scalar(self.l1_ratio, "l1_ratio", low=0.0, high=1.0),
        )

    def _solve(self, backend: Backend, X: Any, y: Any, sample_weight: Any, w0: np.ndarray | None,
               s: _Settings, what: str, offset: Any = None, n_classes: int | None = None
               ) -> tuple[OptimizeResult, np.ndarray, Any]:
        """Fit one problem of the core: the result, the standard errors and the objective.

        X in memory (dense or sparse) gets a :class:`gdfast.Objective` (a
        :class:`gdfast.MultinomialObjective` when n_classes is given: y then holds class
        indices, and the errors are the covariance matrix, not its diagonal's root); a dask
        array gets a :class:`gdfast.dask.Objective`, built and minimised by
        :func:`gdfast.dask.fit_objective` on the cluster (y and sample_weight may then be dask
        arrays too).
        """
        progress = (Progress(what, s.max_iter, verbose=s.verbose) if s.verbose
                    else contextlib.nullcontext(None))
        obj: ObjectiveLike
        with progress as callback:
            obj, res = backend.fit_objective(
                X, y, loss="multinomial" if n_classes else self._loss, alpha=s.alpha,
                fit_intercept=s.fit_intercept,
                sample_weight=sample_weight, n_threads=s.n_threads, solver=s.solver, w0=w0,
                max_iter=s.max_iter, tol=s.tol, learning_rate=s.learning_rate,
                batch_size=s.batch_size, random_state=s.seed, callback=callback, offset=offset,
                n_classes=n_classes, l1_ratio=s.l1_ratio)
        if res.status != "converged":
            warnings.warn(f"{what} did not converge ({res.status}): {res.message}. "
                          f"{_advice(res.status, s.solver)}", ConvergenceWarning, stacklevel=3)
        if not (self._standard_errors and _hessian_affordable(obj)) or s.alpha * s.l1_ratio > 0:
            # with an L1 part the support is chosen by the fit: no classical errors
            se = np.full((obj.n_params,) * (2 if n_classes else 1), np.nan)
        elif n_classes:
            se = covariance(obj, res.w)
        else:
            se = standard_errors(obj, res.w)
        return res, se, obj

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def _fit_info(self, obj: ObjectiveLike, s: _Settings, weighted: bool) -> _FitInfo:
        return _FitInfo(solver=s.solver, alpha=s.alpha, fit_intercept=s.fit_intercept,
                        total_weight=total_weight(obj), weighted=weighted, df_resid=residual_df(obj),
                        l1_ratio=s.l1_ratio)

    def _feature_names(self) -> list[str]:
        if hasattr(self, "feature_names_in_"):
            return [str(n) for n in self.feature_names_in_]
        return [f"x{i}" for i in range(self.n_features_in_)]

    def _summary_notes(self) -> list[str]:
        info = self._fit_info_
        notes = []
        if info.alpha * info.l1_ratio > 0:
            notes.append(f"alpha * l1_ratio = {info.alpha * info.l1_ratio:g} > 0: the standard "
                         "errors are NaN. The L1 penalty chooses which coefficients are non-zero "
                         "from the same data, and inference after such a selection is not "
                         "classical (refit the selected features with l1_ratio=0, on new data, "
                         "for errors).")
        elif info.alpha > 0:
            notes.append(f"alpha = {info.alpha:g} > 0: the standard errors include the penalty's "
                         "curvature and ignore its bias (see gdfast.stats); fit with alpha=0 for "
                         "classical errors.")
        if info.weighted:
            notes.append(f"Sample weights are read as frequency weights: {info.total_weight:g} "
                         "observations in all.")
        return notes

    def _warm_start_points(self, n_problems: int, n_features: int, s: _Settings,
                           same_classes: bool = True) -> list[np.ndarray | None]:
        """Warm-start points from the previous fit, when there is one of the same shape."""
        if not (s.warm_start and same_classes and hasattr(self, "coef_")):
            return [None] * n_problems
        coef = np.reshape(self.coef_, (-1, np.shape(self.coef_)[-1]))
        if coef.shape != (n_problems, n_features):
            return [None] * n_problems
        intercept = np.reshape(self.intercept_, -1)
        return [np.append(coef[i], intercept[i]) if s.fit_intercept else coef[i].copy()
                for i in range(n_problems)]


def _advice(status: str, solver: str) -> str:
    if status == "diverged":
        return "The learning rate is too large: use learning_rate='auto' or a smaller value."
    if status == "separated":
        return ("The classes are separable, so the log loss has no minimum without a penalty: "
                "use alpha > 0.")
    if status == "stalled":
        return ("Standardise the features (columns in very different units stop the line "
                "search), or use solver='auto' (Newton's method).")
    if solver in ("auto", "newton"):
        return "Increase max_iter or tol."
    return "Increase max_iter, scale the features, or use solver='auto' (Newton's method)."


_PARAMETERS = """\
    solver : str, default "auto"
        Any :func:`gdfast.minimize` method: "auto" (Newton's method), "newton", "gd", and the
        other methods minimize offers ("nesterov", "sgd", "adam", "newton-cg", "lbfgs" where
        available). minimize checks the name. On dask arrays all but "sgd" and "adam" (which
        draw mini-batches of rows from memory).
    alpha : float, default 1e-4 (LogisticRegression) or 0.0 (LinearRegression)
        Strength of the L2 penalty ``alpha/2 ||coef||^2`` added to the mean loss (the intercept
        is not penalised). LinearRegression's default 0 is ordinary least squares, as
        scikit-learn's ``LinearRegression``.
    fit_intercept : bool, default True
    max_iter : int, optional
        Most iterations; None for the solver's own default.
    tol : float, default 1e-8
        Stop when ``max|gradient| <= tol * max|gradient at the start|``.
    learning_rate : float or "auto", default "auto"
        Step size of the gradient solvers ("gd", "nesterov", "sgd", "adam"); unused by the others.
    batch_size : int, optional
        Mini-batch size for "sgd" and "adam"; None for their default. Unused by other solvers.
    random_state : int, RandomState instance or None, default None
        Seeds the mini-batch order of "sgd" and "adam"; unused by other solvers.
    n_threads : int, optional
        Threads for the kernels; None follows OMP_NUM_THREADS and threadpoolctl limits.
    verbose : int, default 0
        1: a progress bar (tqdm if installed, else lines on stderr) with the iteration, cost and
        gradient norm, for fits longer than a second; 2: from the first iteration.
    warm_start : bool, default False
        Start from the previous fit's coefficients when their shape still fits."""

_FIT_ATTRIBUTES = """\
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when X had string column names (a pandas DataFrame)."""


class LogisticRegression(ClassifierMixin, _LinearModel):
    __doc__ = f"""Logistic regression with an L2 penalty, fitted by gdfast.

    Minimises the (sample- and class-weighted) mean log loss plus ``alpha/2 ||coef||^2``.
    Labels may be of any type; ``classes_[1]`` is the positive class of a binary problem.
    With more than two classes the model is multinomial by default (``multi_class=
    "multinomial"``, as scikit-learn's ``LogisticRegression`` and statsmodels' ``MNLogit``):
    ``p = softmax(X @ coef_.T + intercept_)``, one cost over all classes
    (:class:`gdfast.MultinomialObjective`), probabilities that sum to one by construction.
    With ``alpha > 0`` the coefficients of every class are estimated (the penalty makes them
    unique, scikit-learn's parametrisation) and the intercepts, which the penalty does not
    identify, are reported shifted to sum to zero. With ``alpha = 0`` class ``classes_[0]`` is
    the reference: its row of ``coef_`` and its intercept are 0, and the others are log-odds
    against it (statsmodels' ``MNLogit``, Stata's ``mlogit``). ``multi_class="ovr"`` fits one
    binary model per class against the rest instead and normalises their probabilities.

    Parameters
    ----------
{_PARAMETERS}
    class_weight : dict, "balanced" or None, default None
        Multiplies the sample weights of each class: a dict maps labels to weights (classes
        not in it weigh 1); "balanced" weighs class k by ``W / (n_classes * W_k)``, ``W_k`` its
        total sample weight.
    multi_class : {"multinomial", "ovr"}, default "multinomial"
        The model for more than two classes (unused for two): one multinomial (softmax) model,
        or one binary model per class against the rest. Both run on dask arrays (one graph
        per evaluation, X stays on the workers).
    l1_ratio : float, default 0.0
        The elastic net in gdfast's convention: the penalty is ``alpha * (l1_ratio ||coef||_1 +
        (1 - l1_ratio)/2 ||coef||^2)`` (glmnet's and glum's form; 0: the L2 penalty). With
        ``alpha * l1_ratio > 0`` the solver must handle an L1 part ("auto", "cd" or
        "proximal"), the standard errors are NaN (``summary()`` says why), and X must be in
        memory (dask arrays take no L1 penalty yet). scikit-learn's ``LogisticRegression(C=C, l1_ratio=r)`` with
        ``solver="saga"`` is ``alpha = 1 / (C n)`` and the same ``l1_ratio`` here (n unweighted
        samples).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        One row for a binary problem (the log-odds of ``classes_[1]``), one per class otherwise
        (multinomial with ``alpha = 0``: the row of ``classes_[0]`` is 0).
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Zero when ``fit_intercept=False``; multinomial with ``alpha > 0``: they sum to zero.
    coef_stderr_, intercept_stderr_ : ndarrays of the same shapes
        Standard errors from the Hessian at the optimum, as statsmodels' ``Logit`` and
        ``MNLogit`` report them (with ``alpha=0`` and no weights; see :mod:`gdfast.stats` for
        what ``alpha > 0`` and sample weights mean for them). NaN for the intercept when it is
        not fitted, for the reference class of a multinomial fit with ``alpha = 0`` (fixed, not
        estimated), and everywhere when the Hessian is singular or there are more than
        ``MAX_STDERR_PARAMS`` parameters (or X is sparse and its dense Hessian would be too
        large to form).
    n_iter_ : ndarray of int, shape (1,) or (n_classes,)
        Iterations per problem (one problem for binary and multinomial fits, one per class for
        one-vs-rest).
    status_ : ndarray of str, shape (1,) or (n_classes,)
        How each fit ended ("converged", "max_iter", "diverged", "separated", "stalled").
    cost_ : ndarray of shape (1,) or (n_classes,)
        The final cost of each problem.
    history_ : list of dict
        Per problem, the per-iteration history of :class:`gdfast.OptimizeResult` ("cost"
        always).
    dual_gap_ : ndarray of shape (1,) or (n_classes,)
        With an L1 part (``alpha * l1_ratio > 0``), each binary problem's duality gap at the
        fit (an upper bound of its cost's distance from the optimum; ``gdfast._duality``); NaN
        without one, for the multinomial model and for dask arrays.
{_FIT_ATTRIBUTES}

    Notes
    -----
    scikit-learn's ``LogisticRegression(C=C)`` on n unweighted samples is ``alpha = 1 / (C * n)``
    here, for two classes and for the multinomial model alike. A fit that does not converge
    emits scikit-learn's ``ConvergenceWarning``.

    Examples
    --------
    >>> from gdfast import LogisticRegression
    >>> from gdfast.datasets import load_breast_cancer
    >>> X, y, names = load_breast_cancer()
    >>> clf = LogisticRegression(alpha=1e-2).fit((X - X.mean(0)) / X.std(0), y)
    >>> clf.status_
    array(['converged'], dtype='<U9')
    """

    _loss = "log_loss"

    classes_: np.ndarray
    intercept_: np.ndarray
    coef_stderr_: np.ndarray
    intercept_stderr_: np.ndarray
    n_iter_: np.ndarray
    status_: np.ndarray
    cost_: np.ndarray
    history_: list[dict[str, np.ndarray]]

    def __init__(self, *, solver: str = "auto", alpha: float = 1e-4, fit_intercept: bool = True,
                 max_iter: int | None = None, tol: float = 1e-8, learning_rate: Any = "auto",
                 batch_size: int | None = None, random_state: Any = None,
                 n_threads: int | None = None, verbose: int = 0, warm_start: bool = False,
                 class_weight: Any = None, multi_class: str = "multinomial",
                 l1_ratio: float = 0.0) -> None:
        self.solver = solver
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.random_state = random_state
        self.n_threads = n_threads
        self.verbose = verbose
        self.warm_start = warm_start
        self.class_weight = class_weight
        self.multi_class = multi_class
        self.l1_ratio = l1_ratio

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> "LogisticRegression":
        """Fit the model.

        Parameters
        ----------
        X : array-like, scipy.sparse matrix or dask array of shape (n_samples, n_features)
            Sparse X (CSR or CSC; other formats become CSR) is never densified. A dask array
            chunked by rows is fitted on the cluster (see :mod:`gdfast.dask`): it is never
            computed on the client; y and sample_weight may then be dask arrays too.
        y : array-like of shape (n_samples,)
            Labels of any type, at least two classes.
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights; a weight of 2 is the same as the row twice.

        Returns
        -------
        self

        Raises
        ------
        ValueError, TypeError
            For bad data or parameters (naming them), and when y has fewer than two classes
            with positive weight.
        """
        s = self._settings()
        multi_class = check_name(self.multi_class, "multi_class", ["multinomial", "ovr"])
        backend = backend_for(X)
        X, y = backend.check_fit(self, X, y, s.solver)
        classes, index, positives = backend.encode_labels(y)
        sw = backend.sample_weight(sample_weight, X)
        weighted = sw is not None or self.class_weight is not None
        if weighted:
            totals = backend.class_totals(index, sw, len(classes))
            per_class = _class_weight_factors(self.class_weight, classes, totals)
            if per_class is not None:
                factors = backend.take(per_class, index)
                sw = factors if sw is None else sw * factors
                totals = totals * per_class
        else:
            totals = np.ones(len(classes))      # each class of y has rows, all of weight 1
        _check_two_classes(classes, totals)
        if len(classes) > 2 and multi_class == "multinomial":
            return self._fit_multinomial(backend, X, classes, index, sw, weighted, s)
        if len(positives) > 1 and is_sparse(X) and X.format == "csc":
            X = X.tocsr()               # one conversion for all the problems, not one each
        return self._fit_problems(backend, X, classes, positives, sw, weighted, s)

    def _fit_multinomial(self, backend: Backend, X: Any, classes: np.ndarray, index: Any,
                         sw: Any, weighted: bool, s: _Settings) -> "LogisticRegression":
        """One multinomial fit over all classes (gdfast.MultinomialObjective)."""
        K, d = len(classes), X.shape[1]
        same = (hasattr(self, "classes_") and np.array_equal(self.classes_, classes)
                and getattr(self, "_model_", None) == "multinomial")
        w0 = None
        if s.warm_start and same and np.shape(self.coef_) == (K, d):
            w0 = _multinomial_start(self.coef_, self.intercept_, s)
        res, cov, obj = self._solve(backend, X, index, sw, w0, s,
                                    "LogisticRegression (multinomial)", n_classes=K)
        coef, intercept = obj.coef_intercept(res.w)
        self.coef_stderr_, self.intercept_stderr_ = obj.coef_intercept_stderr(cov)
        self.classes_ = classes
        self.coef_ = coef
        self.intercept_ = intercept
        self.n_iter_ = np.array([res.n_iter])
        self.status_ = np.array([res.status])
        self.cost_ = np.array([res.cost])
        self.history_ = [res.history]
        self.dual_gap_ = np.array([np.nan])
        self._fit_info_ = self._fit_info(obj, s, weighted)
        self._model_ = "multinomial"
        return self

    def _fit_problems(self, backend: Backend, X: Any, classes: np.ndarray, positives: list[Any],
                      sw: Any, weighted: bool, s: _Settings) -> "LogisticRegression":
        """One binary fit per entry of positives (True/1 where the row is of the positive class)."""
        binary = len(classes) == 2
        same_classes = (hasattr(self, "classes_") and len(self.classes_) == len(classes)
                        and np.array_equal(self.classes_, classes))
        w0s = self._warm_start_points(len(positives), X.shape[1], s, same_classes)
        fits, info, gaps = [], None, []
        for k, (pos, w0) in enumerate(zip(positives, w0s)):
            what = "LogisticRegression" if binary else f"LogisticRegression (class {classes[k]!r} vs rest)"
            res, se, obj = self._solve(backend, X, pos.astype(np.float64), sw, w0, s, what)
            if info is None:
                info = self._fit_info(obj, s, weighted)
            fits.append((res, se))          # not obj: each holds (or pins on a cluster) its data
            gaps.append(log_loss_duality_gap(obj, res.w)[0]
                        if s.alpha * s.l1_ratio > 0 and isinstance(obj, Objective) else np.nan)
            del obj
        d = X.shape[1]
        self.classes_ = classes
        self.coef_ = np.array([res.w[:d] for res, _ in fits])
        self.intercept_ = np.array([res.w[d] if s.fit_intercept else 0.0 for res, _ in fits])
        self.coef_stderr_ = np.array([se[:d] for _, se in fits])
        self.intercept_stderr_ = np.array([se[d] if s.fit_intercept else np.nan for _, se in fits])
        self.n_iter_ = np.array([res.n_iter for res, _ in fits])
        self.status_ = np.array([res.status for res, _ in fits])
        self.cost_ = np.array([res.cost for res, _ in fits])
        self.history_ = [res.history for res, _ in fits]
        self.dual_gap_ = np.array(gaps)
        assert info is not None                 # positives is never empty
        self._fit_info_ = info
        self._model_ = "binary" if binary else "ovr"
        return self

    def decision_function(self, X: Any) -> Any:
        """``X @ coef_.T + intercept_``: the log-odds of each class.

        Parameters
        ----------
        X : array-like, sparse matrix or dask array of shape (n_samples, n_features)
            The same features as in ``fit``.

        Returns
        -------
        ndarray or dask array of shape (n_samples,) or (n_samples, n_classes)
            One column for a binary problem (the log-odds of ``classes_[1]``), one per class for
            one-vs-rest; lazy when X is a dask array.
        """
        return self._decision_function(backend_for(X), X)

    def _decision_function(self, backend: Backend, X: Any) -> Any:
        check_is_fitted(self)
        X = backend.check_predict(self, X)
        if len(self.coef_) == 1:
            return backend.linear_predictor(X, self.coef_[0], self.intercept_[0])
        return backend.linear_predictor(X, self.coef_, self.intercept_)

    def predict(self, X: Any) -> Any:
        """The most probable class of each row.

        Parameters
        ----------
        X : array-like, sparse matrix or dask array of shape (n_samples, n_features)
            The same features as in ``fit``.

        Returns
        -------
        ndarray or dask array of shape (n_samples,)
            Labels from ``classes_``; lazy when X is a dask array.
        """
        backend = backend_for(X)
        scores = self._decision_function(backend, X)
        return backend.per_row(_labels, scores, self.classes_, dtype=self.classes_.dtype)

    def predict_log_proba(self, X: Any) -> Any:
        """Log-probabilities of each class, computed without overflow or ``log(0)`` for any
        score (``log sigmoid(z) = -log(1 + exp(-z))``; multinomial: ``z - logsumexp(z)``).

        Parameters
        ----------
        X : array-like, sparse matrix or dask array of shape (n_samples, n_features)
            The same features as in ``fit``.

        Returns
        -------
        ndarray or dask array of shape (n_samples, n_classes)
            Columns in the order of ``classes_``; lazy when X is a dask array.
        """
        backend = backend_for(X)
        scores = self._decision_function(backend, X)
        func = _log_softmax if getattr(self, "_model_", None) == "multinomial" else _log_proba
        return backend.per_row(func, scores, dtype=np.float64, n_columns=len(self.classes_))

    def predict_proba(self, X: Any) -> Any:
        """Probabilities of each class; rows sum to one.

        Parameters
        ----------
        X : array-like, sparse matrix or dask array of shape (n_samples, n_features)
            The same features as in ``fit``.

        Returns
        -------
        ndarray or dask array of shape (n_samples, n_classes)
            Columns in the order of ``classes_``; lazy when X is a dask array.
        """
        return np.exp(self.predict_log_proba(X))

    def summary(self, level: float = 0.95) -> Summary:
        """The coefficient table: estimate, standard error, z, p-value and confidence interval.

        Print it for the table, or use ``.to_dict()`` / ``.to_frame()`` (pandas). One block per
        class for one-vs-rest models; for the multinomial model one block per class against
        the reference class ``classes_[0]`` (K - 1 blocks) with ``alpha = 0``, one per class
        with ``alpha > 0``.

        Parameters
        ----------
        level : float, default 0.95
            Coverage of the confidence intervals.

        Returns
        -------
        gdfast.stats.Summary
        """
        check_is_fitted(self)
        info = self._fit_info_
        names = self._feature_names()
        terms, coef, se, groups = [], [], [], []
        model = getattr(self, "_model_", "binary")
        reference = model == "multinomial" and info.alpha == 0
        labels = self.classes_[1:] if len(self.classes_) == 2 else self.classes_
        for k, label in enumerate(labels):
            if reference and k == 0:
                continue                    # the reference class: fixed at 0, not estimated
            block = (["intercept"] if info.fit_intercept else []) + names
            terms += block
            coef += ([self.intercept_[k]] if info.fit_intercept else []) + list(self.coef_[k])
            se += ([self.intercept_stderr_[k]] if info.fit_intercept else []) + list(self.coef_stderr_[k])
            groups += [_plain(label)] * len(block)
        status = ", ".join(sorted(set(self.status_)))
        if model == "multinomial":
            what = (f"multinomial over {len(self.classes_)} classes, "
                    + (f"reference class {_plain(self.classes_[0])!r}" if reference else
                       "intercepts summing to zero"))
        else:
            what = (f"log-odds of class {_plain(self.classes_[1])!r}" if len(self.classes_) == 2
                    else f"one-vs-rest over {len(self.classes_)} classes")
        title = (f"LogisticRegression ({what}): {info.total_weight:g} observations, "
                 f"alpha={info.alpha:g}, solver={info.solver!r}, {status} after "
                 f"{_iterations(self.n_iter_)}")
        heading = "class {group!r} vs rest"
        if model == "multinomial":
            heading = ("class {group!r} vs " + repr(_plain(self.classes_[0])) if reference
                       else "class {group!r}")
        return Summary.from_estimates(terms, coef, se, df_resid=None, level=level, title=title,
                                      groups=None if len(self.classes_) == 2 else groups,
                                      notes=self._summary_notes(), group_heading=heading)


class LinearRegression(RegressorMixin, _LinearModel):
    __doc__ = f"""Ordinary least squares (by default) or ridge regression, fitted by gdfast.

    Minimises the (sample-weighted) mean squared error ``mean (y - X @ coef - intercept)^2`` plus
    ``alpha/2 ||coef||^2``. With the default ``alpha=0`` this is ordinary least squares, a drop-in
    for scikit-learn's ``LinearRegression``. Its solver ("auto": Newton's method while the
    Hessian has at most 500 parameters) solves the normal equations directly and refines the
    solution with compensated (double-double) residuals until it is exact to the last digits
    of double precision: every coefficient of the NIST StRD linear-regression problems to 15
    digits of the exact solution, standard errors to 12 (README, "Accuracy"). Linearly
    dependent columns get the coefficient 0 with a warning (scikit-learn returns the
    minimum-norm solution instead).

    Parameters
    ----------
{_PARAMETERS}

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
    intercept_ : float
        0.0 when ``fit_intercept=False``.
    coef_stderr_ : ndarray of shape (n_features,)
    intercept_stderr_ : float
        Standard errors ``sigma^2 (X^T X)^-1`` with ``sigma^2 = RSS / (n - n_params)``, as
        statsmodels' ``OLS`` reports them (with ``alpha=0`` and no weights; see
        :mod:`gdfast.stats` for ``alpha > 0`` and sample weights). NaN for the intercept when it
        is not fitted, and everywhere when there are no residual degrees of freedom, when the
        Hessian is singular or there are more than ``MAX_STDERR_PARAMS`` parameters (or X is
        sparse and its dense Hessian would be too large to form).
    n_iter_ : int
    status_ : str
        How the fit ended ("converged", "max_iter", "diverged", "stalled").
    cost_ : float
        The final cost.
    history_ : dict of str to ndarray
        The per-iteration history of :class:`gdfast.OptimizeResult` ("cost" always).
{_FIT_ATTRIBUTES}

    Notes
    -----
    scikit-learn's ``Ridge(alpha=a)`` on n unweighted samples is ``alpha = 2 * a / n`` here.
    A fit that does not converge emits scikit-learn's ``ConvergenceWarning``.
    """

    _loss = "squared_error"

    intercept_: float
    coef_stderr_: np.ndarray
    intercept_stderr_: float
    n_iter_: int
    status_: str
    cost_: float
    history_: dict[str, np.ndarray]

    def __init__(self, *, solver: str = "auto", alpha: float = 0.0, fit_intercept: bool = True,
                 max_iter: int | None = None, tol: float = 1e-8, learning_rate: Any = "auto",
                 batch_size: int | None = None, random_state: Any = None,
                 n_threads: int | None = None, verbose: int = 0, warm_start: bool = False) -> None:
        self.solver = solver
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.random_state = random_state
        self.n_threads = n_threads
        self.verbose = verbose
        self.warm_start = warm_start

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> "LinearRegression":
        """Fit the model.

        Parameters
        ----------
        X : array-like, scipy.sparse matrix or dask array of shape (n_samples, n_features)
            Sparse X (CSR or CSC; other formats become CSR) is never densified. A dask array
            chunked by rows is fitted on the cluster (see :mod:`gdfast.dask`): it is never
            computed on the client; y and sample_weight may then be dask arrays too.
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights; a weight of 2 is the same as the row twice.

        Returns
        -------
        self
        """
        s = self._settings()
        backend = backend_for(X)
        X, y = backend.check_fit(self, X, y, s.solver, y_numeric=True)
        sw = backend.sample_weight(sample_weight, X)
        (w0,) = self._warm_start_points(1, X.shape[1], s)
        res, se, obj = self._solve(backend, X, y, sw, w0, s, "LinearRegression")
        d = X.shape[1]
        self.coef_ = res.w[:d].copy()
        self.intercept_ = float(res.w[d]) if s.fit_intercept else 0.0
        self.coef_stderr_ = se[:d].copy()
        self.intercept_stderr_ = float(se[d]) if s.fit_intercept else float("nan")
        self.n_iter_ = res.n_iter
        self.status_ = res.status
        self.cost_ = res.cost
        self.history_ = res.history
        self._fit_info_ = self._fit_info(obj, s, sw is not None)
        return self

    def predict(self, X: Any) -> Any:
        """The fitted values ``X @ coef_ + intercept_``.

        Parameters
        ----------
        X : array-like, sparse matrix or dask array of shape (n_samples, n_features)
            The same features as in ``fit``.

        Returns
        -------
        ndarray or dask array of shape (n_samples,)
            Lazy when X is a dask array.
        """
        check_is_fitted(self)
        backend = backend_for(X)
        return backend.linear_predictor(backend.check_predict(self, X), self.coef_, self.intercept_)

    def summary(self, level: float = 0.95) -> Summary:
        """The coefficient table: estimate, standard error, t, p-value and confidence interval.

        Print it for the table, or use ``.to_dict()`` / ``.to_frame()`` (pandas).

        Parameters
        ----------
        level : float, default 0.95
            Coverage of the confidence intervals.

        Returns
        -------
        gdfast.stats.Summary
        """
        check_is_fitted(self)
        info = self._fit_info_
        names = self._feature_names()
        terms = (["intercept"] if info.fit_intercept else []) + names
        coef = ([self.intercept_] if info.fit_intercept else []) + list(self.coef_)
        se = ([self.intercept_stderr_] if info.fit_intercept else []) + list(self.coef_stderr_)
        df = info.df_resid
        title = (f"LinearRegression (least squares): {info.total_weight:g} observations, "
                 f"{df:g} residual degrees of freedom, alpha={info.alpha:g}, "
                 f"solver={info.solver!r}, {self.status_} after {_iterations([self.n_iter_])}")
        return Summary.from_estimates(terms, coef, se, df_resid=df, level=level, title=title,
                                      notes=self._summary_notes())


_GLM_DOC = """{title}

    Minimises the (sample-weighted) mean half {family} deviance of the log-link model
    ``mu = exp(X @ coef + intercept)`` plus ``alpha/2 ||coef||^2`` (``loss="{loss}"`` of
    :class:`gdfast.Objective`); ``predict`` gives the mean ``mu``.

    Parameters
    ----------
{parameters}

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
    intercept_ : float
        0.0 when ``fit_intercept=False``.
    coef_stderr_ : ndarray of shape (n_features,)
    intercept_stderr_ : float
        Standard errors from the expected (Fisher) information at the optimum, as statsmodels'
        GLM and R's ``glm`` give them (see :mod:`gdfast.stats`): {errors} NaN for the intercept
        when it is not fitted, and everywhere when the Hessian is singular or there are more
        than ``MAX_STDERR_PARAMS`` parameters.
    goodness_of_fit_ : gdfast.stats.GoodnessOfFit or None
        Deviance, null deviance, Pearson's chi^2, dispersion, log-likelihood, AIC and BIC, as
        statsmodels' GLM reports them; None for a dask array X.
    n_iter_ : int
    status_ : str
        How the fit ended ("converged", "max_iter", "diverged", "stalled").
    cost_ : float
        The final cost.
    history_ : dict of str to ndarray
        The per-iteration history of :class:`gdfast.OptimizeResult` ("cost" always).
{attributes}

    Notes
    -----
    ``alpha`` maps one to one to scikit-learn's ``{peer}(alpha=a)``: scikit-learn minimises
    ``1/(2 n) sum_i deviance_i + a/2 ||w||^2`` and gdfast the mean *half* deviance plus
    ``alpha/2 ||coef||^2``, the same function (factor 1; with sample weights both are weighted
    means). The default ``alpha=1.0`` is scikit-learn's. Differences from scikit-learn: ``tol``
    is gdfast's (stop when ``max|gradient| <= tol * max|gradient at the start|``, default
    1e-8, not scikit-learn's 1e-4 on a different criterion), and ``solver`` takes the
    :func:`gdfast.minimize` methods ("lbfgs" is one; scikit-learn's "newton-cholesky" is
    "newton" here). ``score`` is D^2, the fraction of the deviance explained, as scikit-learn's.
    A fit that does not converge emits scikit-learn's ``ConvergenceWarning``.
    """

_GLM_ALPHA = """    alpha : float, default 1.0
        Strength of the L2 penalty ``alpha/2 ||coef||^2`` added to the mean half deviance (the
        intercept is not penalised); scikit-learn's default and meaning (see the Notes).
"""
_GLM_PARAMETERS = _PARAMETERS.replace(
    """    alpha : float, default 1e-4 (LogisticRegression) or 0.0 (LinearRegression)
        Strength of the L2 penalty ``alpha/2 ||coef||^2`` added to the mean loss (the intercept
        is not penalised). LinearRegression's default 0 is ordinary least squares, as
        scikit-learn's ``LinearRegression``.""",
    _GLM_ALPHA.rstrip("\n"))


class _GLMRegressor(RegressorMixin, _LinearModel):
    """A GLM regressor: what PoissonRegressor, GammaRegressor, TweedieRegressor and
    GeneralizedLinearRegressor share. Each says its family and link in :meth:`_family`."""

    _family_name = ""

    def _family(self) -> Family:
        """The loss and link fitted (checked in fit, not __init__)."""
        return family(self._family_name, "log")

    @property
    def _loss(self) -> Loss:  # type: ignore[override]  # a class attribute elsewhere
        return self._family().loss

    @property
    def _link_name(self) -> str:
        return self._family().link

    intercept_: float
    coef_stderr_: np.ndarray
    intercept_stderr_: float
    goodness_of_fit_: GoodnessOfFit | None
    n_iter_: int
    status_: str
    cost_: float
    history_: dict[str, np.ndarray]

    def __init__(self, *, solver: str = "auto", alpha: float = 1.0, fit_intercept: bool = True,
                 max_iter: int | None = None, tol: float = 1e-8, learning_rate: Any = "auto",
                 batch_size: int | None = None, random_state: Any = None,
                 n_threads: int | None = None, verbose: int = 0, warm_start: bool = False) -> None:
        self.solver = solver
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.random_state = random_state
        self.n_threads = n_threads
        self.verbose = verbose
        self.warm_start = warm_start

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        try:
            tags.target_tags.positive_only = bool(self._family().loss.invalid_targets(
                np.array([-1.0]))[0])
        except (TypeError, ValueError):
            pass                       # an invalid family, link or power: fit will say so
        return tags

    def _settings(self) -> _Settings:
        s = super()._settings()
        if s.solver == "newton-cholesky":         # scikit-learn's name for Newton's method
            s = _Settings(**{**s.__dict__, "solver": "newton"})
        factor = self._family().alpha_factor
        if factor != 1.0:
            # half the squared error with alpha is the squared error with 2 alpha, halved
            s = _Settings(**{**s.__dict__, "alpha": factor * s.alpha})
        return s

    def _fit_info(self, obj: ObjectiveLike, s: _Settings, weighted: bool) -> _FitInfo:
        info = super()._fit_info(obj, s, weighted)
        factor = self._family().alpha_factor
        if factor != 1.0:
            info = _FitInfo(**{**info.__dict__, "alpha": s.alpha / factor})    # the user's alpha
        return info

    def fit(self, X: Any, y: Any, sample_weight: Any = None,
            offset: Any = None) -> "_GLMRegressor":
        """Fit the model.

        Parameters
        ----------
        X : array-like, scipy.sparse matrix or dask array of shape (n_samples, n_features)
            Sparse X (CSR or CSC) is never densified; a dask array chunked by rows is fitted on
            the cluster (see :mod:`gdfast.dask`).
        y : array-like of shape (n_samples,)
            Targets in the family's range (the error names ``y`` otherwise).
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative frequency weights; a weight of 2 is the same as the row twice.
        offset : array-like (or dask array) of shape (n_samples,), optional
            A fixed term added to the linear predictor, not fitted: ``log(exposure)`` for rates
            (the model is then ``mu = exposure * exp(X @ coef + intercept)``). Pass the same
            kind of offset to :meth:`predict`. Through a Pipeline or GridSearchCV it is routed
            by scikit-learn's metadata routing (``set_fit_request(offset=True)``).

        Returns
        -------
        self
        """
        s = self._settings()
        backend = backend_for(X)
        X, y = backend.check_fit(self, X, y, s.solver, y_numeric=True)
        sw = backend.sample_weight(sample_weight, X)
        (w0,) = self._warm_start_points(1, X.shape[1], s)
        name = type(self).__name__
        res, se, obj = self._solve(backend, X, y, sw, w0, s, name, offset=offset)
        d = X.shape[1]
        self.coef_ = res.w[:d].copy()
        self.intercept_ = float(res.w[d]) if s.fit_intercept else 0.0
        self.coef_stderr_ = se[:d].copy()
        self.intercept_stderr_ = float(se[d]) if s.fit_intercept else float("nan")
        self.n_iter_ = res.n_iter
        self.status_ = res.status
        self.cost_ = res.cost
        self.history_ = res.history
        self._fit_info_ = self._fit_info(obj, s, sw is not None)
        try:
            self.goodness_of_fit_ = goodness_of_fit(obj, res.w)
        except ValueError:                        # y not in memory (a dask array)
            self.goodness_of_fit_ = None
        return self

    def predict(self, X: Any, offset: Any = None) -> Any:
        """The predicted means ``exp(X @ coef_ + intercept_ + offset)`` (without ``exp`` for
        the identity link).

        Parameters
        ----------
        X : array-like, sparse matrix or dask array of shape (n_samples, n_features)
        offset : array-like (or dask array) of shape (n_samples,), optional
            Added to the linear predictor (``log(exposure)`` of these rows), as in :meth:`fit`.

        Returns
        -------
        ndarray or dask array of shape (n_samples,)
            Lazy when X is a dask array.
        """
        check_is_fitted(self)
        backend = backend_for(X)
        X = backend.check_predict(self, X)
        z = backend.add_offset(backend.linear_predictor(X, self.coef_, self.intercept_), offset, X)
        return backend.per_row(self._family().loss.inverse_link, z, dtype=np.float64)

    def score(self, X: Any, y: Any, sample_weight: Any = None, offset: Any = None) -> float:
        """D^2, the fraction of the (weighted) deviance explained: ``1 - D(y, mu) / D(y, mean
        y)``, as scikit-learn's GLM regressors score (the null model is the weighted mean of
        y, with or without an offset).

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), optional
        offset : array-like of shape (n_samples,), optional
            Added to the linear predictor, as in :meth:`predict`.

        Returns
        -------
        float
        """
        loss = self._family().loss
        mu = np.asarray(self.predict(X, offset=offset), dtype=np.float64)
        y = loss.check_y(np.asarray(y, dtype=np.float64).reshape(-1))
        sw = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        null = np.full_like(y, np.average(y, weights=sw))
        fitted, base = self._half_deviance(y, mu), self._half_deviance(y, null)
        return float(1.0 - np.average(fitted, weights=sw) / np.average(base, weights=sw))

    def _half_deviance(self, y: np.ndarray, mu: np.ndarray) -> np.ndarray:
        """Per-sample half deviance at the means mu (the loss's, through its link)."""
        loss = self._family().loss
        with np.errstate(divide="ignore"):
            out: np.ndarray = loss.reference_terms(loss.link(mu), y)[0] / loss.deviance_factor
        return out

    def summary(self, level: float = 0.95) -> Summary:
        """The coefficient table: estimate, standard error, z (or t), p-value and interval.

        Parameters
        ----------
        level : float, default 0.95
            Coverage of the confidence intervals.

        Returns
        -------
        gdfast.stats.Summary
        """
        check_is_fitted(self)
        info = self._fit_info_
        terms = (["intercept"] if info.fit_intercept else []) + self._feature_names()
        coef = ([self.intercept_] if info.fit_intercept else []) + list(self.coef_)
        se = ([self.intercept_stderr_] if info.fit_intercept else []) + list(self.coef_stderr_)
        df = info.df_resid
        dof = "" if df is None else f", {df:g} residual degrees of freedom"
        fam = self._family()
        model = fam.loss.model_name
        model = model if "link)" in model else f"{model}, {fam.link} link"
        title = (f"{type(self).__name__} ({model}): "
                 f"{info.total_weight:g} observations{dof}, alpha={info.alpha:g}, "
                 f"solver={info.solver!r}, {self.status_} after {_iterations([self.n_iter_])}")
        fit = self.goodness_of_fit_
        notes = self._summary_notes() + ([] if fit is None else fit.lines())
        return Summary.from_estimates(terms, coef, se, df_resid=df, level=level, title=title,
                                      notes=notes)


class PoissonRegressor(_GLMRegressor):
    __doc__ = _GLM_DOC.format(
        title="Poisson regression of counts or rates y >= 0 with the log link, fitted by gdfast.",
        family="Poisson", loss="poisson", parameters=_GLM_PARAMETERS,
        attributes=_FIT_ATTRIBUTES, peer="PoissonRegressor",
        errors="the dispersion is 1 (z statistics), as statsmodels' GLM.")

    _family_name = "poisson"


class GammaRegressor(_GLMRegressor):
    __doc__ = _GLM_DOC.format(
        title="Gamma regression of positive targets y > 0 with the log link, fitted by gdfast.",
        family="Gamma", loss="gamma", parameters=_GLM_PARAMETERS,
        attributes=_FIT_ATTRIBUTES, peer="GammaRegressor",
        errors=("the inverse information times the Pearson dispersion ``sum sw (y - mu)^2 / "
                "mu^2 / (W - n_params)`` (t statistics, as R's glm; statsmodels' GLM has the "
                "same errors and reads them as z). ``gdfast.stats.standard_errors(obj, w, "
                "information=\"observed\")`` gives those of the Hessian at the optimum."))

    _family_name = "gamma"


class TweedieRegressor(_GLMRegressor):
    """Tweedie regression with power p and the log or identity link, fitted by gdfast: a
    drop-in for scikit-learn's ``TweedieRegressor``.

    Minimises the (sample-weighted) mean half Tweedie deviance plus ``alpha/2 ||coef||^2``
    (the loss ``gdfast.losses.Tweedie(power)`` of :class:`gdfast.Objective`). ``power=0`` is
    the normal distribution, 1 Poisson, 1 < p < 2 compound Poisson-Gamma (y >= 0 with exact
    zeros), 2 Gamma, 3 inverse Gaussian; powers in (0, 1) are refused (``power`` named).
    ``predict`` gives the mean ``mu``.

    Parameters
    ----------
    power : float, default 0.0
        The power of the variance function ``V(mu) = mu^power``: 0 or at least 1.
    link : {"auto", "log", "identity"}, default "auto"
        "auto" is scikit-learn's rule: the identity link for ``power <= 0``, else the log link.
        The identity link is available for ``power=0`` only (the other families would need the
        mean kept positive); with it the fit is least squares on half the squared error, which
        gdfast's ``loss="squared_error"`` (the full squared error) minimises with
        ``2 * alpha``.
{parameters}

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
    intercept_ : float
        0.0 when ``fit_intercept=False``.
    coef_stderr_ : ndarray of shape (n_features,)
    intercept_stderr_ : float
        Standard errors from the expected (Fisher) information at the optimum (see
        :mod:`gdfast.stats`) times the Pearson dispersion ``sum sw (y - mu)^2 / mu^p /
        (W - n_params)`` (t statistics), as statsmodels' GLM (IRLS) and R's ``glm``; for the
        identity link (least squares) ``RSS / (W - n_params)``. NaN for the intercept when it
        is not fitted, and everywhere when the Hessian is singular or there are more than
        ``MAX_STDERR_PARAMS`` parameters.
    goodness_of_fit_ : gdfast.stats.GoodnessOfFit or None
        Deviance, null deviance, Pearson's chi^2 and dispersion as statsmodels' GLM reports
        them; the log-likelihood, AIC and BIC are NaN (no closed-form density, R's NA). None
        for a dask array X.
    n_iter_ : int
    status_ : str
        How the fit ended ("converged", "max_iter", "diverged", "stalled").
    cost_ : float
        The final cost of the objective that was minimised: the mean half deviance plus the
        penalty for the log link; for the identity link gdfast's squared-error cost, twice
        that.
    history_ : dict of str to ndarray
        The per-iteration history of :class:`gdfast.OptimizeResult` ("cost" always).
{attributes}

    Notes
    -----
    ``alpha`` maps one to one to scikit-learn's ``TweedieRegressor(alpha=a)`` (and to glum's
    ``alpha`` with ``l1_ratio=0``): scikit-learn minimises ``1/(2 n) sum_i deviance_i + a/2
    ||w||^2``, gdfast the mean *half* deviance plus ``alpha/2 ||coef||^2``, the same function.
    The parameters and defaults are scikit-learn's (``power=0.0``, ``alpha=1.0``,
    ``link="auto"``, ``fit_intercept``, ``warm_start``, ``verbose``) except: ``tol`` is
    gdfast's (stop when ``max|gradient| <= tol * max|gradient at the start|``, default 1e-8,
    not scikit-learn's 1e-4 on a different criterion); ``solver`` takes the
    :func:`gdfast.minimize` methods (default "auto"; "lbfgs" is one, scikit-learn's
    "newton-cholesky" is "newton" here); ``max_iter`` defaults to the method's own (None);
    ``link="identity"`` only with ``power=0`` (scikit-learn allows it for any power). For
    ``power=0`` with the log link and for ``power > 2`` the loss is not convex in the
    coefficients; the solvers find a local minimum (scikit-learn's too). ``score`` is D^2,
    the fraction of the deviance explained, as scikit-learn's. A fit that does not converge
    emits scikit-learn's ``ConvergenceWarning``.
    """

    def __init__(self, *, power: float = 0.0, alpha: float = 1.0, fit_intercept: bool = True,
                 link: str = "auto", solver: str = "auto", max_iter: int | None = None,
                 tol: float = 1e-8, warm_start: bool = False, verbose: int = 0,
                 learning_rate: Any = "auto", batch_size: int | None = None,
                 random_state: Any = None, n_threads: int | None = None) -> None:
        super().__init__(solver=solver, alpha=alpha, fit_intercept=fit_intercept,
                         max_iter=max_iter, tol=tol, learning_rate=learning_rate,
                         batch_size=batch_size, random_state=random_state, n_threads=n_threads,
                         verbose=verbose, warm_start=warm_start)
        self.power = power
        self.link = link

    def _family(self) -> Family:
        """The Tweedie loss of ``power`` with its link (checked in fit, not __init__)."""
        if not isinstance(self.link, str) or self.link not in ("auto", "log", "identity"):
            raise ValueError(f"link must be 'auto', 'log' or 'identity'; got {self.link!r}")
        return family("tweedie", self.link, self.power)


TweedieRegressor.__doc__ = (TweedieRegressor.__doc__ or "").replace(
    "{parameters}", _GLM_PARAMETERS).replace("{attributes}", _FIT_ATTRIBUTES)


class GeneralizedLinearRegressor(_GLMRegressor):
    """A generalised linear model of any family and link, fitted by gdfast: statsmodels' and
    R's ``glm`` in a scikit-learn estimator (glum's class of the same name is the closest peer).

    Minimises the (sample-weighted) mean half deviance of the family at the means
    ``mu = g^-1(X @ coef + intercept + offset)`` plus ``alpha/2 ||coef||^2``; ``predict`` gives
    ``mu``. The default ``alpha=0`` fits the unpenalised model, whose ``summary()`` (standard
    errors, z or t, p-values, intervals, deviance, Pearson's chi^2, dispersion, log-likelihood,
    AIC) is statsmodels' ``GLM(...).fit()`` and R's ``glm``.

    =========  ===================================  ==========================================
    family     links (the first is "auto")          y and the loss (``gdfast.losses``)
    =========  ===================================  ==========================================
    normal     identity, log                        any real; SquaredError, Tweedie(0)
    poisson    log, identity                        >= 0; Poisson, PoissonIdentity
    gamma      log, inverse, identity               > 0; Gamma, GammaInverse, GammaIdentity
    tweedie    log (identity for ``power <= 0``)    by power; Tweedie(power)
    binomial   logit, probit, cloglog               proportions in [0, 1], trials as
                                                    ``sample_weight``; Binomial, BinomialProbit,
                                                    BinomialCloglog
    =========  ===================================  ==========================================

    The log and logit links give a finite cost for any coefficients. The inverse and identity
    links of the Poisson and Gamma families define the mean for ``X @ coef + intercept > 0``
    only: the fit starts from the intercept-only model and every line search keeps each
    prediction positive (they need ``fit_intercept=True`` or a ``w0`` through ``warm_start``);
    ``predict`` on new rows returns what the linear predictor gives, even where it leaves the
    domain. "sgd" and "adam" have no line search: a step that leaves the domain gives those
    rows no gradient, and the run returns its best epoch-end iterate of finite cost.

    Parameters
    ----------
    family : {"normal", "poisson", "gamma", "tweedie", "binomial"}, default "normal"
    link : {"auto", "identity", "log", "inverse", "logit", "probit", "cloglog"}, default "auto"
        "auto": identity for "normal" (and "tweedie" with ``power <= 0``, as scikit-learn's
        ``TweedieRegressor``), logit for "binomial", log otherwise (as scikit-learn's
        ``PoissonRegressor``/``GammaRegressor`` and glum; R's and statsmodels' Gamma default is
        the canonical "inverse": pass it to match them).
    power : float, default 1.5
        The Tweedie power (0 or at least 1), used with ``family="tweedie"`` only.
    alpha : float, default 0.0
        Strength of the L2 penalty ``alpha/2 ||coef||^2`` added to the mean half deviance (the
        intercept is not penalised). 0, the default, is the classical GLM (see the Notes for
        scikit-learn's and glum's ``alpha``).
{parameters}

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
    intercept_ : float
        0.0 when ``fit_intercept=False``.
    coef_stderr_ : ndarray of shape (n_features,)
    intercept_stderr_ : float
        Standard errors from the expected (Fisher) information at the optimum times the
        dispersion (1 for Poisson and binomial, z statistics; Pearson's chi^2 over the residual
        degrees of freedom for Gamma and Tweedie, the residual variance for the normal, t
        statistics), as statsmodels' GLM (IRLS) and R's ``glm``. NaN for the intercept when it
        is not fitted, and everywhere when the Hessian is singular or there are more than
        ``MAX_STDERR_PARAMS`` parameters.
    goodness_of_fit_ : gdfast.stats.GoodnessOfFit or None
        Deviance, null deviance, Pearson's chi^2, dispersion, log-likelihood, AIC and BIC
        (NaN for the Tweedie family, as R's NA); None for a dask array X.
    n_iter_ : int
    status_ : str
        How the fit ended ("converged", "max_iter", "diverged", "stalled", "separated").
    cost_ : float
        The final cost of the objective minimised: the mean half deviance plus the penalty
        (for the normal family with the identity link, gdfast's squared-error cost: twice that).
    history_ : dict of str to ndarray
        The per-iteration history of :class:`gdfast.OptimizeResult` ("cost" always).
{attributes}

    Notes
    -----
    ``alpha`` maps one to one to scikit-learn's GLM regressors' and to glum's ``alpha`` with
    ``l1_ratio=0``: both minimise ``1/(2 n) sum_i deviance_i + a/2 ||w||^2``, which is the mean
    half deviance plus ``a/2 ||coef||^2``. The other parameters are those of
    :class:`TweedieRegressor` (``tol`` is gdfast's criterion; ``solver`` takes the
    :func:`gdfast.minimize` methods, "newton-cholesky" meaning "newton"). ``score`` is D^2, the
    fraction of the deviance explained. With ``alpha=0`` a Poisson fit whose optimum is at
    infinity ends "separated" (a :class:`gdfast.SeparationWarning`), as for the binomial with
    separable labels.
    """

    def __init__(self, *, family: str = "normal", link: str = "auto", power: float = 1.5,
                 alpha: float = 0.0, fit_intercept: bool = True, solver: str = "auto",
                 max_iter: int | None = None, tol: float = 1e-8, warm_start: bool = False,
                 verbose: int = 0, learning_rate: Any = "auto", batch_size: int | None = None,
                 random_state: Any = None, n_threads: int | None = None) -> None:
        super().__init__(solver=solver, alpha=alpha, fit_intercept=fit_intercept,
                         max_iter=max_iter, tol=tol, learning_rate=learning_rate,
                         batch_size=batch_size, random_state=random_state, n_threads=n_threads,
                         verbose=verbose, warm_start=warm_start)
        self.family = family
        self.link = link
        self.power = power

    def _family(self) -> Family:
        return family(self.family, self.link, self.power)


GeneralizedLinearRegressor.__doc__ = (GeneralizedLinearRegressor.__doc__ or "").replace(
    "{parameters}", _GLM_PARAMETERS.replace(_GLM_ALPHA, "")).replace(
    "{attributes}", _FIT_ATTRIBUTES)


def _hessian_affordable(obj: Any) -> bool:
    """Whether fit computes standard errors: at most MAX_STDERR_PARAMS parameters, and a Hessian
    the objective agrees to form (sparse X has a cap of its own)."""
    if obj.n_params > MAX_STDERR_PARAMS:
        return False
    return as_objective(obj).can_form_hessian


def _labels(scores: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """The predicted class of each row from its scores (1-D: binary log-odds)."""
    index = (scores > 0).astype(int) if scores.ndim == 1 else np.argmax(scores, axis=1)
    labels: np.ndarray = classes[index]
    return labels


def _log_proba(scores: np.ndarray) -> np.ndarray:
    """Log-probabilities from scores, stable for any score (1-D: binary log-odds)."""
    if scores.ndim == 1:
        return np.column_stack([-np.logaddexp(0.0, scores), -np.logaddexp(0.0, -scores)])
    log_sigmoid = -np.logaddexp(0.0, -scores)      # one-vs-rest, then normalised
    normalised: np.ndarray = log_sigmoid - logsumexp(log_sigmoid, axis=1, keepdims=True)
    return normalised


def _log_softmax(scores: np.ndarray) -> np.ndarray:
    """Log-probabilities of the multinomial model: ``z - logsumexp(z)``, stable for any z."""
    out: np.ndarray = scores - logsumexp(scores, axis=1, keepdims=True)
    return out


def _multinomial_start(coef: np.ndarray, intercept: np.ndarray, s: _Settings) -> np.ndarray:
    """The MultinomialObjective parameters of a previous fit's coef_ and intercept_: Theta
    shifted (the same probabilities) so that its fixed entries are 0, then its free entries."""
    d = coef.shape[1]
    theta = np.vstack([coef.T, intercept[None, :]]) if s.fit_intercept else coef.T.copy()
    w: np.ndarray
    if s.alpha == 0:                       # class 0 is the reference: its column is 0
        w = (theta - theta[:, :1])[:, 1:].ravel()
    elif s.fit_intercept:                  # only class 0's intercept is fixed
        theta[d] -= theta[d, 0]
        w = np.append(theta[:d].ravel(), theta[d, 1:])
    else:
        w = theta.ravel()
    return w


def _check_two_classes(classes: np.ndarray, class_total: np.ndarray) -> None:
    """At least two classes must carry positive weight."""
    if np.count_nonzero(class_total > 0) < 2:
        present = classes[class_total > 0]
        got = f"1 class ({_plain(present[0])!r})" if len(present) else "none"
        raise ValueError(f"y needs samples of at least 2 classes with positive weight to fit "
                         f"LogisticRegression; got {got}")


def _class_weight_factors(class_weight: Any, classes: np.ndarray,
                          totals: np.ndarray) -> np.ndarray | None:
    """The weight of each class (None: no class weights); ``totals`` are the classes' sample
    weight sums (their row counts without sample weights), used by "balanced"."""
    if class_weight is None:
        return None
    if isinstance(class_weight, str) and class_weight == "balanced":
        per_class = np.zeros(len(classes))
        np.divide(totals.sum(), len(classes) * totals, out=per_class, where=totals > 0)
    elif isinstance(class_weight, Mapping):
        unknown = [k for k in class_weight if not np.any(classes == k)]
        if unknown:
            raise ValueError(f"class_weight has labels that are not in y: {unknown}; "
                             f"the classes are {list(map(_plain, classes))}")
        per_class = np.ones(len(classes))
        for k, label in enumerate(classes):
            weight = class_weight.get(_plain(label), 1.0)
            # cast: numpy's stubs take no numbers.Real, which np.isfinite accepts
            if (isinstance(weight, bool) or not isinstance(weight, numbers.Real)
                    or not np.isfinite(cast(float, weight)) or weight < 0):
                raise ValueError(f"class_weight[{_plain(label)!r}] must be a finite number >= 0; "
                                 f"got {weight!r}")
            per_class[k] = weight
    else:
        raise ValueError(f"class_weight must be None, 'balanced' or a dict from labels to weights; "
                         f"got {class_weight!r}")
    return per_class


def _iterations(counts: Any) -> str:
    """'1 iteration', '7 iterations', '5, 6, 7 iterations' (one count per binary problem)."""
    counts = [int(c) for c in counts]
    return f"{', '.join(map(str, counts))} iteration{'' if counts == [1] else 's'}"


def _plain(label: Any) -> Any:
    """A numpy scalar label as the Python value it stands for (for messages and dict lookups)."""
    return label.item() if isinstance(label, np.generic) else label


# Last: it builds on LogisticRegression above.
from ._logistic_cv import LogisticRegressionCV  # noqa: E402
