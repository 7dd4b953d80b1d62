"""gdfast.LogisticRegression with more than two classes: the multinomial model against
scikit-learn's LogisticRegression and statsmodels' MNLogit, and its estimator behaviour."""
import warnings

import numpy as np
import pytest
import scipy.sparse
import statsmodels.api as sm
from sklearn.datasets import load_iris, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression as SkLogisticRegression

import gdfast
from gdfast import LogisticRegression


def rel(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300)


@pytest.fixture(scope="module")
def iris():
    data = load_iris()
    X = (data.data - data.data.mean(0)) / data.data.std(0)
    return X, data.target_names[data.target]


@pytest.fixture(scope="module")
def anes96():
    data = sm.datasets.anes96.load_pandas()
    X, y = data.exog, data.endog.astype(int)
    mn = sm.MNLogit(y, sm.add_constant(X, prepend=False)).fit(
        method="newton", tol=1e-14, maxiter=100, disp=0)
    return X, y, mn


@pytest.mark.parametrize("C", [0.1, 1.0, 100.0])
def test_matches_scikit_learn_multinomial(C):
    X, y = make_classification(n_samples=600, n_features=6, n_informative=4, n_classes=4,
                               n_clusters_per_class=1, random_state=0)
    n = len(y)
    ours = LogisticRegression(alpha=1.0 / (C * n), tol=1e-12).fit(X, y)
    theirs = SkLogisticRegression(C=C, tol=1e-14, max_iter=100_000).fit(X, y)
    assert ours.coef_.shape == theirs.coef_.shape == (4, 6)
    assert list(ours.status_) == ["converged"]
    # scikit-learn's lbfgs stops near 1e-7 of the optimum (its own stopping rule); gdfast's
    # cost there is no lower than at gdfast's optimum
    assert rel(ours.coef_, theirs.coef_) < 1e-5
    assert rel(ours.intercept_, theirs.intercept_) < 1e-5
    assert abs(ours.intercept_.sum()) < 1e-10
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-6)
    obj = gdfast.MultinomialObjective(X, y, alpha=1.0 / (C * n))
    theta = np.vstack([theirs.coef_.T, theirs.intercept_ - theirs.intercept_[0]])
    assert ours.cost_[0] <= obj.cost(obj.pack(theta)) + 1e-14


def test_probabilities_sum_to_one_and_agree(iris):
    X, y = iris
    clf = LogisticRegression(alpha=1e-2).fit(X, y)
    assert clf.coef_.shape == (3, 4) and clf.intercept_.shape == (3,)
    assert clf.n_iter_.shape == clf.status_.shape == clf.cost_.shape == (1,)
    assert len(clf.history_) == 1
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-14)
    scores = clf.decision_function(X)
    softmax = np.exp(scores - scores.max(1, keepdims=True))
    softmax /= softmax.sum(1, keepdims=True)
    np.testing.assert_allclose(proba, softmax, rtol=1e-12)
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba), rtol=1e-12)
    assert np.array_equal(clf.predict(X), clf.classes_[np.argmax(scores, axis=1)])
    assert clf.score(X, y) > 0.9
    # one-vs-rest gives other probabilities on the same data
    ovr = LogisticRegression(alpha=1e-2, multi_class="ovr").fit(X, y)
    assert ovr.n_iter_.shape == (3,) and not np.allclose(ovr.predict_proba(X), proba, atol=1e-3)


def test_log_proba_is_finite_for_huge_scores():
    X = np.array([[-1.0], [0.0], [1.0]] * 5)
    y = np.array([0, 1, 2] * 5)
    clf = LogisticRegression(alpha=1e-3).fit(X, y)
    logp = clf.predict_log_proba(np.array([[1e6], [-1e6]]))
    assert np.isfinite(logp).all() and np.allclose(np.exp(logp).sum(1), 1.0)


def test_matches_statsmodels_mnlogit_on_anes96(anes96):
    X, y, mn = anes96
    clf = LogisticRegression(alpha=0.0, tol=1e-12).fit(X, y)
    assert list(clf.status_) == ["converged"]
    params, bse = mn.params.to_numpy(), mn.bse.to_numpy()     # (6 + 1, 6): const last
    assert np.all(clf.coef_[0] == 0) and clf.intercept_[0] == 0
    assert np.isnan(clf.coef_stderr_[0]).all() and np.isnan(clf.intercept_stderr_[0])
    assert rel(clf.coef_[1:].T, params[:-1]) < 1e-8
    assert rel(clf.intercept_[1:], params[-1]) < 1e-8
    assert rel(clf.coef_stderr_[1:].T, bse[:-1]) < 1e-8
    assert rel(clf.intercept_stderr_[1:], bse[-1]) < 1e-8
    assert rel(-clf.cost_[0] * len(y), mn.llf) < 1e-12
    summary = clf.summary()
    table = summary.to_frame()
    assert summary.groups == sum([[k] * 6 for k in range(1, 7)], [])     # K - 1 blocks
    assert rel(table["p_value"].to_numpy().reshape(6, 6),
               np.vstack([mn.pvalues.to_numpy()[-1:], mn.pvalues.to_numpy()[:-1]]).T) < 1e-7
    text = str(summary)
    assert "reference class 0" in text and "class 3 vs 0" in text and "vs rest" not in text


def test_penalised_summary_has_a_block_per_class(iris):
    X, y = iris
    clf = LogisticRegression(alpha=1e-2).fit(X, y)
    summary = clf.summary()
    assert summary.groups == ["setosa"] * 5 + ["versicolor"] * 5 + ["virginica"] * 5
    text = str(summary)
    assert "intercepts summing to zero" in text and "class 'virginica'\n" in text
    assert np.isfinite(clf.coef_stderr_).all() and np.isfinite(clf.intercept_stderr_).all()
    # the centred intercepts' errors are those of b - mean(b) under the fit's covariance
    obj = gdfast.MultinomialObjective(X, np.unique(y, return_inverse=True)[1], alpha=1e-2)
    res = gdfast.minimize(obj, tol=1e-12)
    cov = gdfast.stats.covariance(obj, res.w)
    A = np.zeros((3, obj.n_params))
    A[1, -2], A[2, -1] = 1.0, 1.0
    A -= A.mean(axis=0)
    assert rel(clf.intercept_stderr_, np.sqrt(np.diag(A @ cov @ A.T))) < 1e-6


def test_two_classes_keep_the_binary_model(iris):
    X, y = iris
    keep = y != "setosa"
    a = LogisticRegression(alpha=1e-2).fit(X[keep], y[keep])
    b = LogisticRegression(alpha=1e-2, multi_class="ovr").fit(X[keep], y[keep])
    assert a.coef_.shape == (1, 4) and np.array_equal(a.coef_, b.coef_)


def test_multi_class_is_checked(iris):
    X, y = iris
    with pytest.raises(ValueError, match="^multi_class"):
        LogisticRegression(multi_class="softmax").fit(X, y)


def test_sparse_and_float32_fit_the_same_model(iris):
    X, y = iris
    Xs = np.where(np.abs(X) < 0.5, 0.0, X)
    dense = LogisticRegression(alpha=1e-2, tol=1e-12).fit(Xs, y)
    for A in (scipy.sparse.csr_matrix(Xs), scipy.sparse.csc_array(Xs)):
        sparse = LogisticRegression(alpha=1e-2, tol=1e-12).fit(A, y)
        assert rel(sparse.coef_, dense.coef_) < 1e-9
        assert rel(sparse.coef_stderr_, dense.coef_stderr_) < 1e-9
        assert rel(sparse.predict_proba(A), dense.predict_proba(Xs)) < 1e-9
    single = LogisticRegression(alpha=1e-2, tol=1e-12).fit(Xs.astype(np.float32), y)
    assert rel(single.coef_, dense.coef_) < 1e-5


def test_class_weight_is_a_sample_weight(iris):
    X, y = iris
    by_class = LogisticRegression(alpha=1e-2, class_weight={"setosa": 3.0}, tol=1e-12).fit(X, y)
    by_sample = LogisticRegression(alpha=1e-2, tol=1e-12).fit(
        X, y, sample_weight=np.where(y == "setosa", 3.0, 1.0))
    plain = LogisticRegression(alpha=1e-2, tol=1e-12).fit(X, y)
    assert rel(by_class.coef_, by_sample.coef_) < 1e-10
    assert rel(by_class.coef_, plain.coef_) > 1e-3


@pytest.mark.parametrize("alpha", [0.0, 1e-2])
def test_warm_start_resumes_at_the_optimum(iris, alpha):
    X, y = iris
    X = X[:, :2]                       # overlapping classes: an optimum also with alpha = 0
    clf = LogisticRegression(alpha=alpha, tol=1e-10, warm_start=True).fit(X, y)
    first = clf.coef_.copy()
    clf.fit(X, y)
    assert clf.n_iter_[0] <= 1 and rel(clf.coef_, first) < 1e-8


def test_separable_classes_warn():
    rng = np.random.default_rng(4)
    y = np.repeat([0, 1, 2], 30)
    X = rng.standard_normal((90, 2)) * 0.3 + np.array([[0, 0], [5, 0], [0, 5]])[y]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gdfast.SeparationWarning)
        with pytest.warns(ConvergenceWarning, match="separated.*use alpha > 0"):
            clf = LogisticRegression(alpha=0.0).fit(X, y)
    assert list(clf.status_) == ["separated"]
