"""gdfast.PoissonRegressor and gdfast.GammaRegressor as scikit-learn estimators."""
import warnings

import numpy as np
import pytest
import scipy.sparse
import sklearn.linear_model
import statsmodels.api as sm
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import check_estimator

import gdfast
from gdfast import GammaRegressor, PoissonRegressor
from problems import make_problem

SKIPPED_BY_SKLEARN = {"check_array_api_input"}
CASES = [(PoissonRegressor, "poisson", sklearn.linear_model.PoissonRegressor,
          sm.families.Poisson),
         (GammaRegressor, "gamma", sklearn.linear_model.GammaRegressor, sm.families.Gamma)]
IDS = ["PoissonRegressor", "GammaRegressor"]


@pytest.mark.parametrize("estimator", [PoissonRegressor(), GammaRegressor()], ids=IDS)
def test_passes_check_estimator(estimator):
    results = check_estimator(estimator, on_fail=None)
    assert len(results) > 50
    problems = [(r["check_name"], r["status"], repr(r["exception"])) for r in results
                if r["status"] != "passed"
                and not (r["status"] == "skipped" and r["check_name"] in SKIPPED_BY_SKLEARN)]
    assert problems == []
    tags = estimator.__sklearn_tags__()
    assert tags.input_tags.sparse and tags.target_tags.positive_only


@pytest.mark.parametrize("ours,loss,theirs,_", CASES, ids=IDS)
@pytest.mark.parametrize("alpha", [1.0, 0.05])
@pytest.mark.parametrize("weighted", [False, True])
def test_alpha_maps_one_to_one_to_scikit_learn(ours, loss, theirs, _, alpha, weighted):
    X, y, _w = make_problem(n=600, d=5, loss=loss, seed=11)
    sw = np.random.default_rng(2).uniform(0.5, 2.0, len(y)) if weighted else None
    a = ours(alpha=alpha).fit(X, y, sample_weight=sw)
    b = theirs(alpha=alpha, tol=1e-12, max_iter=10_000).fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-6, atol=1e-9)
    assert a.intercept_ == pytest.approx(b.intercept_, rel=1e-6, abs=1e-9)
    np.testing.assert_allclose(a.predict(X), b.predict(X), rtol=1e-6)
    assert a.score(X, y, sw) == pytest.approx(b.score(X, y, sw), rel=1e-6)
    # the cost is the mean half deviance plus alpha/2 ||coef||^2, scikit-learn's objective
    obj = gdfast.Objective(X, y, loss=loss, alpha=alpha, sample_weight=sw)
    assert a.cost_ == pytest.approx(obj.cost(np.append(a.coef_, a.intercept_)), rel=1e-12)


@pytest.mark.parametrize("ours,loss,_,family", CASES, ids=IDS)
def test_standard_errors_and_summary_match_statsmodels(ours, loss, _, family):
    X, y, _w = make_problem(n=500, d=3, loss=loss, seed=12)
    reg = ours(alpha=0.0, tol=1e-12).fit(X, y)
    # statsmodels' default fit (IRLS): errors from the expected information, as gdfast's
    theirs = sm.GLM(y, sm.add_constant(X), family=family(sm.families.links.Log())).fit(
        tol=1e-14, maxiter=200)
    np.testing.assert_allclose(np.r_[reg.intercept_, reg.coef_], theirs.params, rtol=1e-8)
    np.testing.assert_allclose(np.r_[reg.intercept_stderr_, reg.coef_stderr_], theirs.bse,
                               rtol=1e-7)
    table = reg.summary()
    np.testing.assert_allclose(table.statistic, theirs.tvalues, rtol=1e-7)
    if loss == "poisson":       # statsmodels' GLM reads z always; gdfast t for an estimated scale
        np.testing.assert_allclose(table.p_value, theirs.pvalues, rtol=1e-6, atol=1e-300)
    assert table.statistic_name == ("z" if loss == "poisson" else "t")
    assert type(reg).__name__ in str(table) and "log link" in str(table)
    if loss == "gamma":
        assert table.df_resid == len(y) - 4
        assert reg.coef_stderr_ == pytest.approx(theirs.bse[1:], rel=1e-7)


@pytest.mark.parametrize("ours,loss,_,__", CASES, ids=IDS)
def test_sparse_and_float32_equal_dense(ours, loss, _, __):
    X, y, _w = make_problem(n=300, d=4, loss=loss, seed=13)
    dense = ours(alpha=0.1).fit(X, y)
    sparse = ours(alpha=0.1).fit(scipy.sparse.csr_matrix(X), y)
    np.testing.assert_allclose(sparse.coef_, dense.coef_, rtol=1e-10)
    X32 = X.astype(np.float32)
    single = ours(alpha=0.1).fit(X32, y)
    rounded = ours(alpha=0.1).fit(X32.astype(np.float64), y)
    np.testing.assert_allclose(single.coef_, rounded.coef_, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("ours,loss,_,__", CASES, ids=IDS)
def test_targets_outside_the_family_are_refused_by_name(ours, loss, _, __):
    X, y, _w = make_problem(n=50, d=2, loss=loss, seed=14)
    y[0] = -1.0
    with pytest.raises(ValueError, match=f"^y must hold .* loss='{loss}'"):
        ours().fit(X, y)


def test_newton_cholesky_is_newton_and_clone_keeps_parameters():
    X, y, _w = make_problem(n=200, d=3, loss="poisson", seed=15)
    a = PoissonRegressor(solver="newton-cholesky").fit(X, y)
    b = PoissonRegressor(solver="newton").fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    assert clone(GammaRegressor(alpha=0.3)).get_params()["alpha"] == 0.3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        GammaRegressor(solver="lbfgs").fit(X, np.exp(X[:, 0]))


# ---------------------------------------------------------------------------------------------
# TweedieRegressor
# ---------------------------------------------------------------------------------------------

def tweedie_data(power, n=600, d=5, seed=21):
    from problems import tweedie_targets
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w = rng.standard_normal(d + 1) * 0.4 / np.sqrt(d)
    return X, tweedie_targets(rng, np.exp(X @ w[:-1] + w[-1]), power)


@pytest.mark.parametrize("estimator", [gdfast.TweedieRegressor(),
                                       gdfast.TweedieRegressor(power=1.5)],
                         ids=["power=0 (identity link)", "power=1.5 (log link)"])
def test_tweedie_passes_check_estimator(estimator):
    results = check_estimator(estimator, on_fail=None)
    assert len(results) > 50
    problems = [(r["check_name"], r["status"], repr(r["exception"])) for r in results
                if r["status"] != "passed"
                and not (r["status"] == "skipped" and r["check_name"] in SKIPPED_BY_SKLEARN)]
    assert problems == []
    tags = estimator.__sklearn_tags__()
    assert tags.input_tags.sparse and tags.target_tags.positive_only == (estimator.power > 0)


@pytest.mark.parametrize("power,link", [(0.0, "auto"), (0.0, "log"), (1.0, "auto"),
                                        (1.5, "auto"), (2.0, "log"), (3.0, "auto")])
@pytest.mark.parametrize("alpha", [1.0, 0.05])
@pytest.mark.parametrize("weighted", [False, True])
def test_tweedie_coefficients_match_scikit_learn(power, link, alpha, weighted):
    X, y = tweedie_data(power)
    sw = np.random.default_rng(2).uniform(0.5, 2.0, len(y)) if weighted else None
    ours = gdfast.TweedieRegressor(power=power, link=link, alpha=alpha, tol=1e-12)
    ours.fit(X, y, sample_weight=sw)
    theirs = sklearn.linear_model.TweedieRegressor(power=power, link=link, alpha=alpha,
                                                   solver="newton-cholesky", tol=1e-14,
                                                   max_iter=1000)
    with warnings.catch_warnings():
        # for p > 2 scikit-learn's Newton meets negative pointwise Hessians and hands over to
        # lbfgs, which stops with max|gradient| near 1e-9: its coefficients are that far off
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs.fit(X, y, sample_weight=sw)
    rtol = 1e-5 if power > 2 else 1e-7
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=rtol, atol=1e-9 if power <= 2 else 1e-7)
    assert ours.intercept_ == pytest.approx(theirs.intercept_, rel=rtol, abs=1e-9)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=rtol)
    assert ours.score(X, y, sw) == pytest.approx(theirs.score(X, y, sw), rel=rtol)
    assert ours.status_ == "converged"
    if link == "auto" and power == 0.0:      # least squares: gdfast's squared error with 2 alpha
        obj = gdfast.Objective(X, y, loss="squared_error", alpha=2 * alpha, sample_weight=sw)
        assert "identity link" in str(ours.summary()) and f"alpha={alpha:g}" in str(ours.summary())
    else:
        obj = gdfast.Objective(X, y, loss=gdfast.losses.Tweedie(power), alpha=alpha,
                               sample_weight=sw)
        assert "log link" in str(ours.summary())
    w_ours, w_theirs = np.append(ours.coef_, ours.intercept_), np.append(theirs.coef_,
                                                                          theirs.intercept_)
    assert ours.cost_ == pytest.approx(obj.cost(w_ours), rel=1e-12)
    # gdfast's optimum is at least as tight as scikit-learn's
    assert np.abs(obj.gradient(w_ours)).max() <= max(np.abs(obj.gradient(w_theirs)).max(), 1e-12)


def test_tweedie_standard_errors_match_statsmodels():
    X, y = tweedie_data(1.5, n=500, d=3, seed=22)
    reg = gdfast.TweedieRegressor(power=1.5, alpha=0.0, tol=1e-12).fit(X, y)
    theirs = sm.GLM(y, sm.add_constant(X), family=sm.families.Tweedie(
        var_power=1.5, link=sm.families.links.Log())).fit(tol=1e-14,
                                                          maxiter=200)
    np.testing.assert_allclose(np.r_[reg.intercept_, reg.coef_], theirs.params, rtol=1e-8)
    np.testing.assert_allclose(np.r_[reg.intercept_stderr_, reg.coef_stderr_], theirs.bse,
                               rtol=1e-7)
    assert reg.summary().statistic_name == "t" and reg.summary().df_resid == len(y) - 4
    ols = gdfast.TweedieRegressor(alpha=0.0).fit(X, y)          # power 0: least squares
    fit = sm.OLS(y, sm.add_constant(X)).fit()
    np.testing.assert_allclose(np.r_[ols.intercept_, ols.coef_], fit.params, rtol=1e-9)
    np.testing.assert_allclose(np.r_[ols.intercept_stderr_, ols.coef_stderr_], fit.bse,
                               rtol=1e-8)


def test_tweedie_sparse_and_float32_equal_dense():
    X, y = tweedie_data(1.5, n=300, d=4, seed=23)
    dense = gdfast.TweedieRegressor(power=1.5, alpha=0.1).fit(X, y)
    sparse = gdfast.TweedieRegressor(power=1.5, alpha=0.1).fit(scipy.sparse.csr_matrix(X), y)
    np.testing.assert_allclose(sparse.coef_, dense.coef_, rtol=1e-10)
    X32 = X.astype(np.float32)
    single = gdfast.TweedieRegressor(power=1.5, alpha=0.1).fit(X32, y)
    rounded = gdfast.TweedieRegressor(power=1.5, alpha=0.1).fit(X32.astype(np.float64), y)
    np.testing.assert_allclose(single.coef_, rounded.coef_, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("params,message", [
    ({"power": 0.5}, "^power must be 0 or at least 1"),
    ({"power": -1.0}, "^power must be 0 or at least 1"),
    ({"link": "logit"}, "^link must be 'auto', 'log' or 'identity'"),
    ({"power": 1.5, "link": "identity"}, "^link='identity' is available for power=0 only"),
])
def test_tweedie_bad_parameters_are_refused_by_name_in_fit(params, message):
    X, y = tweedie_data(1.5, n=40, d=2)
    reg = gdfast.TweedieRegressor(**params)           # accepted by __init__, as scikit-learn
    with pytest.raises(ValueError, match=message):
        reg.fit(X, y)


def test_tweedie_targets_outside_the_family_are_refused_by_name():
    X, y = tweedie_data(1.5, n=40, d=2)
    y[0] = -1.0
    with pytest.raises(ValueError, match="^y must hold non-negative numbers for loss='tweedie'"):
        gdfast.TweedieRegressor(power=1.5).fit(X, y)
    gdfast.TweedieRegressor(power=0.0).fit(X, y)     # the normal takes any y
