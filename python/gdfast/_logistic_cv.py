"""LogisticRegressionCV: gdfast's LogisticRegression with alpha (and l1_ratio) chosen by k-fold
cross-validation over a warm-started grid."""
from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from ._validation import check_bool, check_scalar
from .estimators import LogisticRegression, _labels, _log_proba, _log_softmax

__all__ = ["LogisticRegressionCV"]


class _FoldFit(LogisticRegression):
    """LogisticRegression without the standard errors (a fold's fits need only coefficients)."""

    _standard_errors = False


class LogisticRegressionCV(ClassifierMixin, BaseEstimator):
    """:class:`LogisticRegression` with alpha (and l1_ratio) chosen by k-fold cross-validation,
    in gdfast's convention: a drop-in for scikit-learn's ``LogisticRegressionCV`` with alphas in
    place of Cs (``Cs`` is accepted as an alias).

    Each fold fits every l1_ratio over the grid of alphas from the strongest penalty down, each
    fit warm-started from the previous one, and scores the held-out rows (``scoring``; accuracy
    by default, as scikit-learn). The (alpha, l1_ratio) of the best mean score is refitted on
    all the data (``refit=True``) or, as scikit-learn does with ``refit=False``, the folds'
    coefficients at each fold's own best alpha are averaged. More than two classes: one multinomial model, as
    :class:`LogisticRegression`.

    Parameters
    ----------
    alphas : int or array-like, default 10
        gdfast's alpha (``alpha/2 ||coef||^2`` on the mean log loss): an array is the grid
        itself, the same alphas in every fold. An int k is scikit-learn's default grid
        ``Cs = logspace(-4, 4, k)`` (as ``Cs=k``). Ignored when ``Cs`` is given.
    Cs : int or array-like, optional
        scikit-learn's C instead (an int k: ``logspace(-4, 4, k)``): each fit takes
        ``alpha = 1 / (C W)``, W the sum of the sample weights of its own rows (their number
        without weights), so that every fold solves scikit-learn's problem for that C.
    l1_ratios : array-like, optional
        Elastic-net mixing values in [0, 1] (gdfast's convention); None: the L2 penalty only.
    cv : int or cross-validation generator, default 5
        scikit-learn's ``cv`` (stratified k-fold for an int, as scikit-learn).
    scoring : str or callable, optional
        scikit-learn's scoring; None: accuracy.
    refit : bool, default True
    n_jobs : int, optional
        Folds fitted at once, in threads (the kernels release the GIL).
    solver, fit_intercept, max_iter, tol, class_weight, multi_class, random_state, n_threads
        As :class:`LogisticRegression`.
    verbose : int, default 0
        Accepted for compatibility.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    alphas_ : ndarray of shape (n_alphas,)
        The grid as alphas of the fit on all the data, strongest penalty first.
    Cs_ : ndarray of shape (n_alphas,)
        The same grid as scikit-learn's C (``1 / (alpha W)``, W of all the data).
    l1_ratios_ : ndarray of shape (n_l1_ratios,)
    scores_ : dict of class label to ndarray
        Of shape (n_folds, n_alphas), or (n_folds, n_alphas, n_l1_ratios) when ``l1_ratios`` is
        given, as scikit-learn's (the same array for every class of a multinomial model).
    alpha_, C_, l1_ratio_ : ndarray of shape (n_classes,) or (1,)
        The chosen values (one per class as scikit-learn reports them; all equal).
    coef_, intercept_, n_iter_
        Of the final model.
    n_features_in_ : int
    """

    def __init__(self, *, alphas: Any = 10, Cs: Any = None, l1_ratios: Any = None,
                 fit_intercept: bool = True, cv: Any = None, scoring: Any = None,
                 solver: str = "auto", tol: float = 1e-8, max_iter: int | None = None,
                 class_weight: Any = None, n_jobs: int | None = None, verbose: int = 0,
                 refit: bool = True, multi_class: str = "multinomial", random_state: Any = None,
                 n_threads: int | None = None) -> None:
        self.alphas = alphas
        self.Cs = Cs
        self.l1_ratios = l1_ratios
        self.fit_intercept = fit_intercept
        self.cv = cv
        self.scoring = scoring
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.class_weight = class_weight
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.refit = refit
        self.multi_class = multi_class
        self.random_state = random_state
        self.n_threads = n_threads

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def _grid(self) -> tuple[np.ndarray, bool]:
        """The grid, strongest penalty first, and whether it holds C values (then each fit's
        alpha is ``1 / (C W)`` with the W of its own rows, as scikit-learn's C) or alphas."""
        if self.Cs is not None:
            return np.sort(_count_or_values(self.Cs, "Cs")), True
        if isinstance(self.alphas, (int, np.integer)) and not isinstance(self.alphas, bool):
            return _count_or_values(self.alphas, "alphas"), True
        grid = np.asarray(self.alphas, dtype=np.float64).ravel()
        if grid.size == 0 or not np.all(np.isfinite(grid)) or np.any(grid < 0):
            raise ValueError(f"alphas must be a positive int or a non-empty list of finite "
                             f"numbers >= 0; got {self.alphas!r}")
        return np.sort(grid)[::-1], False

    def _model(self, alpha: float, l1_ratio: float, cls: type = LogisticRegression) -> Any:
        return cls(alpha=alpha, l1_ratio=l1_ratio, solver=self.solver,
                   fit_intercept=self.fit_intercept, tol=self.tol, max_iter=self.max_iter,
                   class_weight=self.class_weight, multi_class=self.multi_class,
                   random_state=self.random_state, n_threads=self.n_threads)

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> "LogisticRegressionCV":
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
        from sklearn.metrics import check_scoring
        from sklearn.model_selection import check_cv

        refit = check_bool(self.refit, "refit")
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"],
                             dtype=[np.float64, np.float32])
        if hasattr(X, "tocsr"):
            X = X.tocsr()                       # rows are taken per fold
        sw = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        if sw is not None and sw.shape != (X.shape[0],):
            raise ValueError(f"sample_weight must have shape ({X.shape[0]},); got {sw.shape}")
        ratios = (np.zeros(1) if self.l1_ratios is None
                  else np.array([check_scalar(r, "l1_ratios", low=0.0, high=1.0)
                                 for r in np.atleast_1d(np.asarray(self.l1_ratios, dtype=object))]))
        if ratios.size == 0:
            raise ValueError("l1_ratios must hold at least one value in [0, 1]")
        if sw is not None and not np.sum(sw) > 0:
            raise ValueError("sample_weight: every weight is zero; at least one must be positive")
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(f"y must have at least two classes; got {len(self.classes_)} class")
        grid, as_C = self._grid()

        def alpha_of(value: float, rows: Any) -> float:
            if not as_C:
                return value
            return 1.0 / (value * float(len(rows) if sw is None else np.sum(sw[rows])))
        folds = list(check_cv(self.cv, y, classifier=True).split(X, y))
        scorer = check_scoring(self._model(1.0, 0.0), scoring=self.scoring)

        def fold(train: np.ndarray, test: np.ndarray, r: float
                 ) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
            model = self._model(1.0, float(r), _FoldFit).set_params(warm_start=True)
            scores, params = np.empty(len(grid)), []
            for k, value in enumerate(grid):
                model.set_params(alpha=alpha_of(float(value), train))
                model.fit(X[train], y[train], **({} if sw is None else
                                                 {"sample_weight": sw[train]}))
                scores[k] = scorer(model, X[test], y[test], **({} if sw is None else
                                                               {"sample_weight": sw[test]}))
                params.append((np.array(model.coef_), np.array(model.intercept_)))
            return scores, params

        jobs = [(f, j) for f in range(len(folds)) for j in range(ratios.size)]
        results = Parallel(n_jobs=self.n_jobs, prefer="threads")(
            delayed(fold)(*folds[f], ratios[j]) for f, j in jobs)
        scores = np.empty((len(folds), len(grid), ratios.size))
        for (f, j), (s, _) in zip(jobs, results):
            scores[f, :, j] = s
        mean = scores.mean(axis=0)
        k, j = (int(v) for v in np.unravel_index(int(np.argmax(mean)), mean.shape))
        every = np.arange(X.shape[0])
        alphas = np.array([alpha_of(float(v), every) for v in grid])
        alpha, l1_ratio = float(alphas[k]), float(ratios[j])
        if refit:
            final = self._model(alpha, l1_ratio).fit(X, y, sample_weight=sw)
            self.coef_, self.intercept_ = final.coef_, final.intercept_
            self.n_iter_ = final.n_iter_
            self.estimator_ = final
        else:
            # as scikit-learn: each fold's own best alpha (at the chosen l1_ratio), and the
            # mean of those folds' coefficients, alphas and Cs
            best = {f: int(np.argmax(scores[f, :, j])) for f in range(len(folds))}
            chosen = [p[best[f]] for (f, jj), (_, p) in zip(jobs, results) if jj == j]
            self.coef_ = np.mean([c for c, _ in chosen], axis=0)
            self.intercept_ = np.mean([b for _, b in chosen], axis=0)
            self.n_iter_ = np.zeros(1, dtype=int)
            k = -1
        total = float(X.shape[0] if sw is None else np.sum(sw))
        self.alphas_ = alphas
        self.Cs_ = grid if as_C else 1.0 / (alphas * total)
        self.l1_ratios_ = ratios
        per_class = len(self.classes_) if len(self.classes_) > 2 else 1
        if k >= 0:
            self.alpha_ = np.full(per_class, alpha)
            self.C_ = np.full(per_class, float(self.Cs_[k]))
        else:
            picks = list(best.values())
            self.alpha_ = np.full(per_class, float(np.mean(alphas[picks])))
            self.C_ = np.full(per_class, float(np.mean(self.Cs_[picks])))
        self.l1_ratio_ = np.full(per_class, l1_ratio)
        table = scores if self.l1_ratios is not None else scores[:, :, 0]
        labels = self.classes_ if len(self.classes_) > 2 else self.classes_[1:]
        self.scores_ = {label: table for label in labels}
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """Raw scores ``X @ coef_.T + intercept_`` (shape (n_samples,) for two classes).

        Parameters
        ----------
        X : array-like or scipy.sparse matrix of shape (n_samples, n_features)

        Returns
        -------
        ndarray
        """
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse=["csr", "csc"], dtype=[np.float64, np.float32],
                          reset=False)
        z: np.ndarray = np.asarray(X @ np.asarray(self.coef_, dtype=np.float64).T) + self.intercept_
        return z.ravel() if z.ndim == 2 and z.shape[1] == 1 else z

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (softmax of the scores; the sigmoid for two classes).

        Parameters
        ----------
        X : array-like or scipy.sparse matrix of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        out: np.ndarray = np.exp(self.predict_log_proba(X))
        return out

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Logarithms of :meth:`predict_proba`, computed stably.

        Parameters
        ----------
        X : array-like or scipy.sparse matrix of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        z = self.decision_function(X)
        if z.ndim == 2 and self.multi_class == "multinomial":
            return _log_softmax(z)
        return _log_proba(z)

    def predict(self, X: Any) -> np.ndarray:
        """The class of the highest score.

        Parameters
        ----------
        X : array-like or scipy.sparse matrix of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        return _labels(self.decision_function(X), self.classes_)


def _count_or_values(value: Any, name: str) -> np.ndarray:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return np.logspace(-4, 4, check_scalar(value, name, low=1, integer=True))
    out = np.asarray(value, dtype=np.float64).ravel()
    if out.size == 0 or not np.all(np.isfinite(out)) or np.any(out <= 0):
        raise ValueError(f"{name} must be a positive int or a non-empty list of positive "
                         f"numbers; got {value!r}")
    return out
