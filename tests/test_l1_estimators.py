"""gdfast.Lasso, gdfast.ElasticNet and LogisticRegression(l1_ratio=...) as scikit-learn
estimators: check_estimator, and the same solutions as scikit-learn's."""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn.linear_model as sklm
from sklearn.utils.estimator_checks import check_estimator

import gdfast
from gdfast._lasso import duality_gap

from problems import make_problem

SKIPPED_BY_SKLEARN = {"check_array_api_input"}


def regression_data(seed=0, n=150, d=12):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = X[:, :4] @ np.array([1.5, -2.0, 0.7, 0.4]) + 0.5 * rng.standard_normal(n) + 1.0
    return X, y


def sk_cost(X, y, coef, intercept, alpha, l1_ratio, sw=None):
    """scikit-learn's elastic-net objective, written out here."""
    s = np.full(len(y), 1.0 / len(y)) if sw is None else sw / sw.sum()
    r = y - X @ coef - intercept
    return (0.5 * s @ (r * r) + alpha * l1_ratio * np.abs(coef).sum()
            + 0.5 * alpha * (1 - l1_ratio) * coef @ coef)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")
@pytest.mark.parametrize("estimator", [gdfast.Lasso(), gdfast.ElasticNet(),
                                       gdfast.Lasso(alpha=0.01, positive=True),
                                       gdfast.LogisticRegression(alpha=0.01, l1_ratio=0.5)],
                         ids=["Lasso", "ElasticNet", "Lasso-positive", "LogisticRegression-l1"])
def test_passes_check_estimator(estimator):
    results = check_estimator(estimator, on_fail=None)
    assert len(results) > 50
    problems = [(r["check_name"], r["status"], repr(r["exception"])) for r in results
                if r["status"] != "passed"
                and not (r["status"] == "skipped" and r["check_name"] in SKIPPED_BY_SKLEARN)]
    assert problems == []


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5, 0.1])
@pytest.mark.parametrize("alpha", [0.3, 0.02])
@pytest.mark.parametrize("kind", ["dense", "csr", "float32", "weighted", "no_intercept"])
def test_same_solution_as_sklearn(l1_ratio, alpha, kind):
    X, y = regression_data()
    sw = None
    fit_intercept = kind != "no_intercept"
    if kind == "csr":
        X = sp.csr_matrix(X * (np.random.default_rng(1).random(X.shape) < 0.5))
    if kind == "float32":
        X = X.astype(np.float32)
    if kind == "weighted":
        sw = np.random.default_rng(2).random(len(y)) * 2
    ours = (gdfast.Lasso(alpha=alpha, tol=1e-12, fit_intercept=fit_intercept) if l1_ratio == 1
            else gdfast.ElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-12,
                                   fit_intercept=fit_intercept)).fit(X, y, sample_weight=sw)
    theirs = (sklm.Lasso(alpha=alpha, tol=1e-14, max_iter=1_000_000, fit_intercept=fit_intercept)
              if l1_ratio == 1 else
              sklm.ElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-14, max_iter=1_000_000,
                              fit_intercept=fit_intercept)).fit(X, y, sample_weight=sw)
    Xd = X.toarray() if sp.issparse(X) else np.asarray(X, dtype=np.float64)
    ref = sk_cost(Xd, y, theirs.coef_, theirs.intercept_, alpha, l1_ratio, sw)
    got = sk_cost(Xd, y, ours.coef_, ours.intercept_, alpha, l1_ratio, sw)
    rel = 1e-9 if kind != "float32" else 1e-6         # float32: predictions summed in float32
    assert abs(got - ref) <= rel * ref
    assert np.array_equal(ours.coef_ != 0, theirs.coef_ != 0)
    assert ours.dual_gap_ <= (1e-10 if kind != "float32" else 1e-5) * ref
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-5, atol=1e-5)


def test_default_tol_is_on_the_duality_gap():
    X, y = regression_data(3)
    m = gdfast.Lasso(alpha=0.05).fit(X, y)                  # tol 1e-4, scikit-learn's default
    obj = gdfast.Objective(X, y, loss="squared_error", alpha=0.1, l1_ratio=1.0)
    gap, primal, scale = duality_gap(obj, m.coef_)
    assert m.dual_gap_ == pytest.approx(gap)
    assert gap <= 1e-4 * scale
    # the gap bounds the distance of the cost from the optimum
    best = gdfast.Lasso(alpha=0.05, tol=1e-14).fit(X, y)
    assert sk_cost(X, y, m.coef_, m.intercept_, 0.05, 1.0) - \
        sk_cost(X, y, best.coef_, best.intercept_, 0.05, 1.0) <= gap + 1e-15


def test_duality_gap_is_zero_only_at_the_optimum():
    X, y = regression_data(4)
    obj = gdfast.Objective(X, y, loss="squared_error", alpha=0.2, l1_ratio=0.7)
    res = gdfast.minimize(obj, method="cd", tol=1e-13)
    assert duality_gap(obj, res.w[:-1])[0] <= 1e-13
    assert duality_gap(obj, res.w[:-1] * 0.9)[0] > 1e-4


def test_positive_and_warm_start():
    X, y = regression_data(5)
    theirs = sklm.Lasso(alpha=0.05, positive=True, tol=1e-14, max_iter=10 ** 6).fit(X, y)
    ours = gdfast.Lasso(alpha=0.05, positive=True, tol=1e-12).fit(X, y)
    assert np.all(ours.coef_ >= 0)
    assert np.array_equal(ours.coef_ != 0, theirs.coef_ != 0)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, atol=1e-7)
    m = gdfast.Lasso(alpha=0.05, warm_start=True, tol=1e-12).fit(X, y)
    first = m.coef_.copy()
    m.set_params(alpha=0.04).fit(X, y)
    fresh = gdfast.Lasso(alpha=0.04, tol=1e-12).fit(X, y)
    np.testing.assert_allclose(m.coef_, fresh.coef_, atol=1e-8)
    assert not np.allclose(first, m.coef_)


@pytest.mark.parametrize("params, match", [
    ({"alpha": -1.0}, "alpha"), ({"l1_ratio": 2.0}, "l1_ratio"), ({"selection": "best"}, "selection"),
    ({"precompute": np.eye(12)}, "precompute"), ({"positive": True, "solver": "proximal"}, "positive"),
    ({"solver": "lbfgs"}, "solver"), ({"tol": -1.0}, "tol"),
])
def test_bad_parameters(params, match):
    X, y = regression_data()
    with pytest.raises((ValueError, TypeError), match=match):
        gdfast.ElasticNet(**params).fit(X, y)


def test_inputs_are_not_modified():
    X, y = regression_data()
    X0, y0 = X.copy(), y.copy()
    gdfast.ElasticNet(alpha=0.1).fit(X, y)
    assert np.array_equal(X, X0) and np.array_equal(y, y0)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_l1_logistic_regression_matches_sklearn(fit_intercept):
    X, y, _ = make_problem(n=160, d=9, loss="log_loss", seed=6)
    C = 0.3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = sklm.LogisticRegression(C=C, l1_ratio=1.0, solver="saga", tol=1e-12,
                                         max_iter=10 ** 6, fit_intercept=fit_intercept).fit(X, y)
    ours = gdfast.LogisticRegression(alpha=1 / (C * len(y)), l1_ratio=1.0, tol=1e-12,
                                     fit_intercept=fit_intercept).fit(X, y)
    obj = gdfast.Objective(X, y, alpha=1 / (C * len(y)), l1_ratio=1.0, fit_intercept=fit_intercept)
    pack = (lambda m: np.r_[m.coef_.ravel(), m.intercept_]) if fit_intercept else \
        (lambda m: m.coef_.ravel())
    ref, got = obj.cost(pack(theirs)), obj.cost(pack(ours))
    assert abs(got - ref) <= 1e-9 * ref
    assert np.array_equal(ours.coef_ != 0, np.abs(theirs.coef_) > 1e-10)
    assert np.any(ours.coef_ == 0)


def test_l1_standard_errors_are_nan_and_summary_says_why():
    X, y, _ = make_problem(n=160, d=9, loss="log_loss", seed=6)
    m = gdfast.LogisticRegression(alpha=0.02, l1_ratio=0.5).fit(X, y)
    assert np.all(np.isnan(m.coef_stderr_)) and np.all(np.isnan(m.intercept_stderr_))
    assert "not classical" in str(m.summary())
    ridge = gdfast.LogisticRegression(alpha=0.02, l1_ratio=0.0).fit(X, y)
    assert np.all(np.isfinite(ridge.coef_stderr_))


@pytest.mark.parametrize("method", ["proximal", "cd"])
def test_l1_multinomial_meets_kkt(method):
    X, y, _ = make_problem(n=120, d=5, loss="squared_error", seed=8)
    labels = np.digitize(y, np.quantile(y, [1 / 3, 2 / 3]))
    obj = gdfast.MultinomialObjective(X, labels, alpha=0.05, l1_ratio=1.0)
    res = gdfast.minimize(obj, method=method, tol=1e-10, max_iter=100_000)
    assert res.converged
    g = obj.gradient(res.w)
    k = obj.n_free_coef
    coef, lam = res.w[:k], 0.05
    zero = coef == 0
    assert zero.any() and not zero.all()
    assert np.all(np.abs(g[:k][zero]) <= lam * (1 + 1e-9))
    assert np.max(np.abs(g[:k][~zero] + lam * np.sign(coef[~zero]))) <= 1e-7 * lam
    assert np.max(np.abs(g[k:])) <= 1e-7 * lam
    m = gdfast.LogisticRegression(alpha=0.05, l1_ratio=1.0, tol=1e-10).fit(X, labels)
    assert m.coef_.shape == (3, 5) and np.any(m.coef_ == 0)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")
@pytest.mark.parametrize("estimator", [gdfast.LassoCV(alphas=10), gdfast.ElasticNetCV(alphas=10)],
                         ids=["LassoCV", "ElasticNetCV"])
def test_cv_passes_check_estimator(estimator):
    results = check_estimator(estimator, on_fail=None)
    assert len(results) > 50
    problems = [(r["check_name"], r["status"], repr(r["exception"])) for r in results
                if r["status"] != "passed"
                and not (r["status"] == "skipped" and r["check_name"] in SKIPPED_BY_SKLEARN)]
    assert problems == []


@pytest.mark.parametrize("weighted", [False, True])
def test_lasso_cv_matches_sklearn(weighted):
    X, y = regression_data(9, n=200, d=30)
    sw = np.random.default_rng(3).random(len(y)) + 0.5 if weighted else None
    ours = gdfast.LassoCV(cv=5, alphas=30, tol=1e-10).fit(X, y, sample_weight=sw)
    theirs = sklm.LassoCV(cv=5, alphas=30, tol=1e-12, max_iter=10 ** 6).fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(ours.alphas_, theirs.alphas_, rtol=1e-12)
    np.testing.assert_allclose(ours.mse_path_, theirs.mse_path_, rtol=1e-8)
    assert ours.alpha_ == pytest.approx(theirs.alpha_, rel=1e-12)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, atol=1e-8)


def test_elastic_net_cv_chooses_l1_ratio_as_sklearn():
    X, y = regression_data(10, n=160, d=20)
    ours = gdfast.ElasticNetCV(l1_ratio=[0.2, 0.6, 1.0], cv=4, alphas=15, tol=1e-10,
                               n_jobs=2).fit(X, y)
    theirs = sklm.ElasticNetCV(l1_ratio=[0.2, 0.6, 1.0], cv=4, alphas=15, tol=1e-12,
                               max_iter=10 ** 6).fit(X, y)
    assert ours.alphas_.shape == theirs.alphas_.shape == (3, 15)
    assert ours.mse_path_.shape == theirs.mse_path_.shape == (3, 15, 4)
    np.testing.assert_allclose(ours.mse_path_, theirs.mse_path_, rtol=1e-8)
    assert ours.l1_ratio_ == theirs.l1_ratio_
    assert ours.alpha_ == pytest.approx(theirs.alpha_, rel=1e-12)


def test_cv_bad_parameters():
    X, y = regression_data()
    with pytest.raises(ValueError, match="l1_ratio"):
        gdfast.ElasticNetCV(l1_ratio=[0.0, 0.5]).fit(X, y)
    with pytest.raises(ValueError, match="alphas"):
        gdfast.LassoCV(alphas=[-1.0]).fit(X, y)
    with pytest.raises(ValueError, match="eps"):
        gdfast.LassoCV(eps=2.0).fit(X, y)


@pytest.mark.parametrize("name,kw", [("Lasso", {}), ("ElasticNet", {"l1_ratio": 0.3})])
@pytest.mark.parametrize("sparse", [False, True])
def test_standardize_penalises_the_standardised_coefficients(name, kw, sparse):
    import scipy.sparse
    from sklearn.preprocessing import StandardScaler
    rng = np.random.default_rng(21)
    X = rng.standard_normal((300, 6)) * [1, 10, 0.1, 3, 1, 5] + [0, 5, 0, 0, 1, 0]
    y = X @ [1, 0.1, 10, 0, 0, 0.2] + rng.standard_normal(300)
    sw = rng.integers(1, 3, 300).astype(float)
    A = scipy.sparse.csr_matrix(X) if sparse else X
    X_before = X.copy()
    ours = getattr(gdfast, name)(alpha=0.1, standardize=True, tol=1e-12, **kw).fit(
        A, y, sample_weight=sw)
    assert np.array_equal(X, X_before)
    scaler = StandardScaler().fit(X, sample_weight=sw)
    peer = getattr(sklm, name)(alpha=0.1, tol=1e-14, max_iter=100_000, **kw).fit(
        scaler.transform(X), y, sample_weight=sw)
    np.testing.assert_allclose(ours.coef_, peer.coef_ / scaler.scale_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(ours.predict(A), peer.predict(scaler.transform(X)), rtol=1e-9)
    plain = getattr(gdfast, name)(alpha=0.1, tol=1e-12, **kw).fit(A, y, sample_weight=sw)
    assert np.count_nonzero(plain.coef_) != np.count_nonzero(ours.coef_) or \
        not np.allclose(plain.coef_, ours.coef_)


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_logistic_duality_gap_bounds_the_suboptimality_and_vanishes_at_the_optimum(l1_ratio):
    from gdfast._duality import log_loss_duality_gap
    from sklearn.datasets import make_classification
    X, y = make_classification(500, 10, random_state=0)
    sw = np.random.default_rng(3).integers(1, 4, 500).astype(float)
    obj = gdfast.Objective(X, y, loss="log_loss", alpha=0.02, l1_ratio=l1_ratio,
                           sample_weight=sw, penalty_factor=np.linspace(0.5, 2.0, 10))
    best = gdfast.minimize(obj, tol=1e-12)
    gap, primal = log_loss_duality_gap(obj, best.w)
    assert gap <= 1e-11 and primal == pytest.approx(best.cost, rel=1e-12)
    for shrink in (0.0, 0.5, 0.9, 0.99):
        gap, primal = log_loss_duality_gap(obj, shrink * best.w)
        assert gap >= primal - best.cost - 1e-14 > 0
    reg = gdfast.LogisticRegression(alpha=0.02, l1_ratio=l1_ratio).fit(X, y)
    assert reg.dual_gap_.shape == (1,) and 0 <= reg.dual_gap_[0] <= 1e-9
    assert np.isnan(gdfast.LogisticRegression(alpha=0.02).fit(X, y).dual_gap_[0])
    with pytest.raises(ValueError, match="^obj"):
        log_loss_duality_gap(gdfast.Objective(X, y, loss="squared_error"), best.w)
