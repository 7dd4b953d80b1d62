"""gdfast.PoissonRegressor and gdfast.GammaRegressor as scikit-learn estimators."""
import warnings

import numpy as np
import pytest
import scipy.sparse
import sklearn.linear_model
import statsmodels.api as sm
from sklearn.base import clone
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
