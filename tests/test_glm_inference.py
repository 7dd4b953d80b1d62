"""GLM inference against statsmodels' GLM on data sets that ship with statsmodels: deviance,
null deviance, Pearson's chi^2, dispersion, log-likelihood, AIC, BIC and standard errors (issue:
statsmodels-grade inference)."""
from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm

import gdfast
from gdfast import _protocols, reference, stats

ATTRIBUTES = [("deviance", "deviance"), ("null_deviance", "null_deviance"),
              ("pearson_chi2", "pearson_chi2"), ("scale", "scale"),
              ("log_likelihood", "llf"), ("aic", "aic"), ("bic", "bic_llf"),
              ("df_resid", "df_resid"), ("df_model", "df_model")]


def _randhie():
    d = sm.datasets.randhie.load_pandas()              # doctor visits: Poisson counts
    return d.exog.to_numpy(float), d.endog.to_numpy(float)


def _scotland():
    d = sm.datasets.scotland.load_pandas()             # "yes" vote shares: Gamma
    return d.exog.to_numpy(float), d.endog.to_numpy(float)


def _spector():
    d = sm.datasets.spector.load_pandas()              # grade improved: binary
    return d.exog.to_numpy(float), d.endog.to_numpy(float)


def _longley():
    d = sm.datasets.longley.load_pandas()              # employment: normal
    return d.exog.to_numpy(float), d.endog.to_numpy(float)


CASES = {
    "poisson-randhie": (_randhie, "poisson", lambda: sm.families.Poisson()),
    "gamma-scotland": (_scotland, "gamma", lambda: sm.families.Gamma(sm.families.links.Log())),
    "binomial-spector": (_spector, "log_loss", lambda: sm.families.Binomial()),
    "normal-longley": (_longley, "squared_error", lambda: sm.families.Gaussian()),
}


def _fits(case, weighted):
    load, loss, family = CASES[case]
    X, y = load()
    sw = np.random.default_rng(5).integers(1, 4, len(y)).astype(float) if weighted else None
    obj = gdfast.Objective(X, y, loss=loss, sample_weight=sw)
    res = gdfast.minimize(obj, method="newton", tol=1e-13)
    # statsmodels' default fit (IRLS) at a tight tolerance; the intercept last, as gdfast's
    theirs = sm.GLM(y, sm.add_constant(X, prepend=False), family=family(),
                    freq_weights=sw).fit(tol=1e-14, maxiter=500)
    return obj, res, theirs


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("case", list(CASES))
def test_goodness_of_fit_and_errors_match_statsmodels_glm(case, weighted):
    obj, res, theirs = _fits(case, weighted)
    assert res.converged
    np.testing.assert_allclose(res.w, theirs.params, rtol=1e-8, atol=1e-10)
    fit = stats.goodness_of_fit(obj, res.w)
    for ours_name, their_name in ATTRIBUTES:
        assert getattr(fit, ours_name) == pytest.approx(getattr(theirs, their_name), rel=1e-8), \
            ours_name
    assert fit.n_obs == pytest.approx(theirs.model.wnobs, rel=1e-15)
    np.testing.assert_allclose(stats.standard_errors(obj, res.w), theirs.bse, rtol=1e-8)


def test_observed_information_matches_statsmodels_newton_on_scotland():
    X, y = _scotland()
    obj = gdfast.Objective(X, y, loss="gamma")
    res = gdfast.minimize(obj, method="newton", tol=1e-13)
    theirs = sm.GLM(y, sm.add_constant(X, prepend=False),
                    family=sm.families.Gamma(sm.families.links.Log())).fit(
        method="newton", tol=1e-14, maxiter=500)
    np.testing.assert_allclose(stats.standard_errors(obj, res.w, information="observed"),
                               theirs.bse, rtol=1e-8)


def test_information_is_checked():
    X, y = _scotland()
    obj = gdfast.Objective(X, y, loss="gamma")
    with pytest.raises(ValueError, match="information must be 'expected' or 'observed'"):
        stats.covariance(obj, np.zeros(obj.n_params), information="fisher")


def test_expected_hessian_replaces_y_by_the_fitted_means():
    X, y = _scotland()
    obj = gdfast.Objective(X, y, loss="gamma", alpha=0.1)
    w = np.full(obj.n_params, 0.01)
    mu = np.exp(obj.predictions(w))
    by_hand = reference.Objective(X, mu, loss="gamma", alpha=0.1).hessian(w)
    np.testing.assert_allclose(obj.expected_hessian(w), by_hand, rtol=1e-12)
    # for a canonical link it is the Hessian itself
    Xp, yp = _randhie()
    pois = gdfast.Objective(Xp, yp, loss="poisson")
    wp = np.zeros(pois.n_params)
    np.testing.assert_array_equal(pois.expected_hessian(wp), pois.hessian(wp))


def test_goodness_of_fit_refuses_an_objective_without_y_in_memory():
    X, y = _scotland()
    obj = gdfast.Objective(X, y, loss="gamma")

    class NoTargets(_protocols.ObjectiveBase):
        """The contract's attributes, no data (as a custom or remote objective)."""
        loss, penalty = obj.loss, obj.penalty
        n_params, n_samples, n_features = obj.n_params, obj.n_samples, obj.n_features
        fit_intercept, sample_weight, weight_sum = True, None, float(len(y))
        cost = gradient = cost_gradient = hessian = cost_gradient_hessian = hessp = None
        curvature_bound = None

    with pytest.raises(ValueError, match="y in memory"):
        stats.goodness_of_fit(NoTargets(), np.zeros(obj.n_params))


@pytest.mark.parametrize("case,estimator", [("poisson-randhie", "PoissonRegressor"),
                                            ("gamma-scotland", "GammaRegressor")])
def test_estimators_carry_the_goodness_of_fit_and_print_it(case, estimator):
    obj, res, theirs = _fits(case, False)
    X, y = CASES[case][0]()
    reg = getattr(gdfast, estimator)(alpha=0.0, tol=1e-12).fit(X, y)
    fit = reg.goodness_of_fit_
    assert fit.deviance == pytest.approx(theirs.deviance, rel=1e-8)
    assert fit.aic == pytest.approx(theirs.aic, rel=1e-8)
    np.testing.assert_allclose(reg.coef_stderr_, theirs.bse[:-1], rtol=1e-7)
    text = str(reg.summary())
    assert f"Deviance {theirs.deviance:.6g}" in text and f"AIC {theirs.aic:.6g}" in text


@pytest.mark.parametrize("loss,link", [("binomial", "Logit"), ("binomial_probit", "Probit"),
                                       ("binomial_cloglog", "CLogLog")])
def test_binomial_proportions_goodness_of_fit_and_errors_match_statsmodels(loss, link):
    d = sm.datasets.star98.load_pandas()
    succ, fail = d.endog.iloc[:, 0].to_numpy(float), d.endog.iloc[:, 1].to_numpy(float)
    trials = succ + fail
    X = d.exog.to_numpy(float)
    X = (X - X.mean(0)) / X.std(0)
    obj = gdfast.Objective(X, succ / trials, loss=loss, sample_weight=trials)
    res = gdfast.minimize(obj, method="newton", tol=1e-13)
    theirs = sm.GLM(succ / trials, sm.add_constant(X, prepend=False),
                    family=sm.families.Binomial(getattr(sm.families.links, link)()),
                    var_weights=trials).fit(tol=1e-14, maxiter=500)
    fit = stats.goodness_of_fit(obj, res.w)
    for name in ("deviance", "null_deviance", "pearson_chi2"):
        assert getattr(fit, name) == pytest.approx(getattr(theirs, name), rel=1e-8), name
    # probit and cloglog are not canonical: these are the expected information's errors
    np.testing.assert_allclose(stats.standard_errors(obj, res.w), theirs.bse, rtol=1e-8)
    # the log-likelihood is the binomial one of (successes, trials), as statsmodels gives it
    # for a two-column endog (and R's glm); its var_weights form drops the binomial coefficients
    counts = sm.GLM(np.c_[succ, fail], sm.add_constant(X, prepend=False),
                    family=sm.families.Binomial(getattr(sm.families.links, link)())
                    ).fit(tol=1e-14, maxiter=500)
    assert fit.log_likelihood == pytest.approx(counts.llf, rel=1e-10)
    assert fit.aic == pytest.approx(counts.aic, rel=1e-10)


@pytest.mark.parametrize("loss,family,fit_intercept", [
    ("poisson", lambda: sm.families.Poisson(), True),
    ("poisson", lambda: sm.families.Poisson(), False),
    ("gamma", lambda: sm.families.Gamma(sm.families.links.Log()), True),
    ("gamma_inverse", lambda: sm.families.Gamma(), True)])
def test_null_deviance_with_an_offset_is_the_intercept_only_fit_with_it(loss, family,
                                                                        fit_intercept):
    X, y = _randhie() if loss == "poisson" else _scotland()
    rng = np.random.default_rng(12)
    off = (np.log(rng.uniform(0.5, 2.0, len(y))) if loss == "poisson"
           else rng.uniform(-0.01, 0.01, len(y)))
    sw = rng.integers(1, 4, len(y)).astype(float)
    obj = gdfast.Objective(X, y, loss=loss, offset=off, fit_intercept=fit_intercept,
                           sample_weight=sw)
    res = gdfast.minimize(obj, method="newton", tol=1e-13)
    exog = sm.add_constant(X, prepend=False) if fit_intercept else X
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                # DomainWarning for the inverse link
        theirs = sm.GLM(y, exog, family=family(), offset=off, freq_weights=sw).fit(tol=1e-14)
    fit = stats.goodness_of_fit(obj, res.w)
    assert fit.null_deviance == pytest.approx(theirs.null_deviance, rel=1e-10)
    assert fit.deviance == pytest.approx(theirs.deviance, rel=1e-8)


def test_tweedie_goodness_of_fit_matches_statsmodels_without_a_likelihood():
    rng = np.random.default_rng(14)
    X = rng.standard_normal((500, 3))
    mu = np.exp(X @ [0.2, 0.1, -0.1])
    y = np.where(rng.random(500) < 0.3, 0.0, rng.gamma(2.0, mu / 2.0))
    reg = gdfast.TweedieRegressor(power=1.5, alpha=0.0).fit(X, y)
    theirs = sm.GLM(y, sm.add_constant(X, prepend=False),
                    family=sm.families.Tweedie(var_power=1.5)).fit(tol=1e-14)
    fit = reg.goodness_of_fit_
    for name in ("deviance", "null_deviance", "pearson_chi2", "scale"):
        assert getattr(fit, name) == pytest.approx(getattr(theirs, name), rel=1e-8), name
    np.testing.assert_allclose(np.r_[reg.coef_stderr_, reg.intercept_stderr_], theirs.bse,
                               rtol=1e-8)
    assert np.isnan(fit.log_likelihood) and np.isnan(fit.aic) and np.isnan(fit.bic)
    assert "not available" in str(reg.summary())
