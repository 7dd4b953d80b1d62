"""Standard errors and the summary table against statsmodels, on data sets that ship with
statsmodels and scikit-learn (no network)."""
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from sklearn.datasets import load_diabetes, load_iris

import gdfast
from gdfast import LinearRegression, LogisticRegression, stats

RTOL = 1e-8


def spector():
    data = sm.datasets.spector.load_pandas()
    return data.exog, data.endog


def fair():
    data = sm.datasets.fair.load_pandas()
    return data.exog, (data.endog > 0).astype(float)


def stackloss():
    data = sm.datasets.stackloss.load_pandas()
    return data.exog, data.endog


def diabetes():
    data = load_diabetes(as_frame=True)
    return data.data, data.target


def assert_matches(ours, theirs, level=0.95):
    """Every column of our summary against a statsmodels result, to RTOL."""
    table = ours.summary(level=level).to_frame()
    names = ["const" if t == "intercept" else t for t in table.index]
    np.testing.assert_allclose(table["coef"], theirs.params[names], rtol=RTOL)
    np.testing.assert_allclose(table["std_err"], theirs.bse[names], rtol=RTOL)
    stat = "z" if "z" in table else "t"
    np.testing.assert_allclose(table[stat], theirs.tvalues[names], rtol=RTOL)
    np.testing.assert_allclose(table["p_value"], theirs.pvalues[names], rtol=RTOL)
    interval = theirs.conf_int(alpha=1 - level).loc[names]
    np.testing.assert_allclose(table["ci_low"], interval[0], rtol=RTOL)
    np.testing.assert_allclose(table["ci_high"], interval[1], rtol=RTOL)


@pytest.mark.parametrize("load", [spector, fair])
def test_logistic_standard_errors_match_statsmodels_logit(load):
    X, y = load()
    theirs = sm.Logit(y, sm.add_constant(X)).fit(method="newton", tol=1e-14, maxiter=100, disp=0)
    ours = LogisticRegression(alpha=0.0, tol=1e-12).fit(X, y)
    assert ours.summary().statistic_name == "z"
    np.testing.assert_allclose(ours.coef_stderr_[0], theirs.bse[X.columns], rtol=RTOL)
    np.testing.assert_allclose(ours.intercept_stderr_[0], theirs.bse["const"], rtol=RTOL)
    assert_matches(ours, theirs)
    assert_matches(ours, theirs, level=0.9)


@pytest.mark.parametrize("load", [stackloss, diabetes])
def test_least_squares_standard_errors_match_statsmodels_ols(load):
    X, y = load()
    theirs = sm.OLS(y, sm.add_constant(X)).fit()
    ours = LinearRegression(alpha=0.0, tol=1e-12).fit(X, y)
    summary = ours.summary()
    assert summary.statistic_name == "t" and summary.df_resid == theirs.df_resid
    np.testing.assert_allclose(ours.coef_stderr_, theirs.bse[X.columns], rtol=RTOL)
    np.testing.assert_allclose(ours.intercept_stderr_, theirs.bse["const"], rtol=RTOL)
    assert_matches(ours, theirs)
    assert_matches(ours, theirs, level=0.99)


def test_without_intercept_matches_statsmodels():
    X, y = spector()
    theirs = sm.Logit(y, X).fit(method="newton", tol=1e-14, maxiter=100, disp=0)
    ours = LogisticRegression(alpha=0.0, tol=1e-12, fit_intercept=False).fit(X, y)
    assert np.isnan(ours.intercept_stderr_[0]) and ours.intercept_[0] == 0.0
    assert "intercept" not in ours.summary().terms
    assert_matches(ours, theirs)
    X, y = stackloss()
    theirs = sm.OLS(y, X).fit()
    ours = LinearRegression(alpha=0.0, fit_intercept=False).fit(X, y)
    assert_matches(ours, theirs)


def test_frequency_weights_are_repeated_rows():
    X, y = spector()
    counts = np.random.default_rng(1).integers(1, 4, size=len(y))
    theirs = sm.Logit(np.repeat(y, counts), sm.add_constant(X).loc[X.index.repeat(counts)]).fit(
        method="newton", tol=1e-14, maxiter=100, disp=0)
    ours = LogisticRegression(alpha=0.0, tol=1e-12).fit(X, y, sample_weight=counts)
    assert_matches(ours, theirs)
    assert f"frequency weights: {counts.sum()} observations" in str(ours.summary())

    X, y = stackloss()
    counts = np.random.default_rng(2).integers(1, 4, size=len(y))
    theirs = sm.OLS(np.repeat(y, counts), sm.add_constant(X).loc[X.index.repeat(counts)]).fit()
    ours = LinearRegression(alpha=0.0, tol=1e-12).fit(X, y, sample_weight=counts)
    assert_matches(ours, theirs)


@pytest.mark.parametrize("loss", ["log_loss", "squared_error"])
def test_penalised_errors_are_the_inverse_penalised_hessian(loss):
    X, y = spector()
    X = np.asarray(X)
    y = np.asarray(y)
    alpha = 0.05
    Estimator = LogisticRegression if loss == "log_loss" else LinearRegression
    est = Estimator(alpha=alpha, tol=1e-12).fit(X, y)
    coef = np.ravel(est.coef_)
    intercept = float(np.ravel(est.intercept_)[0])
    Xa = np.column_stack([X, np.ones(len(y))])
    z = Xa @ np.append(coef, intercept)
    penalty = len(y) * alpha * np.diag([1.0, 1.0, 1.0, 0.0])
    if loss == "log_loss":
        p = 1 / (1 + np.exp(-z))
        cov = np.linalg.inv(Xa.T @ (Xa * (p * (1 - p))[:, None]) + penalty)
    else:
        # Least squares: cost*n = RSS + n*alpha/2 ||coef||^2, whose half-Hessian is X^T X + n*alpha/2.
        sigma2 = np.sum((y - z) ** 2) / (len(y) - 4)
        cov = sigma2 * np.linalg.inv(Xa.T @ Xa + penalty / 2)
    se = np.sqrt(np.diag(cov))
    np.testing.assert_allclose(np.ravel(est.coef_stderr_), se[:3], rtol=1e-9)
    np.testing.assert_allclose(np.ravel(est.intercept_stderr_), se[3], rtol=1e-9)
    assert "alpha = 0.05 > 0" in str(est.summary())


def test_summary_as_text_dict_and_frame():
    X, y = spector()
    summary = LogisticRegression(alpha=0.0).fit(X, y).summary()
    text = str(summary)
    assert repr(summary) == text
    lines = text.splitlines()
    assert lines[0].startswith("LogisticRegression (log-odds of class 1.0): 32 observations")
    header = lines[2].split()
    assert header == ["coef", "std", "err", "z", "P>|z|", "[0.025", "0.975]"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[4:8]}
    assert list(rows) == ["intercept", "GPA", "TUCE", "PSI"]
    assert rows["GPA"][:2] == ["2.8261", "1.2629"]       # statsmodels: 2.8261, 1.263
    as_dict = summary.to_dict()
    assert list(as_dict) == ["term", "coef", "std_err", "z", "p_value", "ci_low", "ci_high"]
    assert as_dict["term"] == ["intercept", "GPA", "TUCE", "PSI"]
    frame = summary.to_frame()
    assert isinstance(frame, pd.DataFrame) and frame.shape == (4, 6)
    assert frame.loc["GPA", "coef"] == as_dict["coef"][1]
    with pytest.raises(ValueError, match="level must be strictly between 0 and 1"):
        LinearRegression().fit(X, y).summary(level=95)


def test_summary_to_frame_without_pandas_says_so(monkeypatch):
    import sys
    X, y = stackloss()
    summary = LinearRegression().fit(X, y).summary()
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match="to_frame needs pandas.*to_dict"):
        summary.to_frame()
    assert summary.to_dict()["term"][0] == "intercept"


def test_one_vs_rest_summary_has_a_block_per_class():
    iris = load_iris(as_frame=True)
    clf = LogisticRegression(alpha=1e-2, multi_class="ovr").fit(iris.data,
                                                                iris.target_names[iris.target])
    summary = clf.summary()
    assert summary.groups == ["setosa"] * 5 + ["versicolor"] * 5 + ["virginica"] * 5
    frame = summary.to_frame()
    assert frame.index.names == ["class", "term"]
    assert frame.loc[("virginica", "petal width (cm)"), "std_err"] == clf.coef_stderr_[2, 3]
    text = str(summary)
    assert text.count("vs rest") == 3 and "class 'versicolor' vs rest" in text


def test_singular_hessian_gives_nan_with_a_warning():
    X, y = stackloss()
    X = X.assign(zero=0.0)
    with pytest.warns(stats.SingularHessianWarning, match=r"singular.*coef\[3\]"):
        reg = LinearRegression(alpha=0.0).fit(X, y)
    # the zero column's coefficient is 0 and its error undefined; the others are the errors of
    # the model without it, as R's lm reports them
    assert reg.coef_[3] == 0.0 and np.isnan(reg.coef_stderr_[3])
    plain = LinearRegression(alpha=0.0).fit(X.drop(columns="zero"), y)
    np.testing.assert_allclose(reg.coef_stderr_[:3], plain.coef_stderr_, rtol=1e-10)
    assert reg.intercept_stderr_ == pytest.approx(plain.intercept_stderr_, rel=1e-10)
    assert "nan" in str(reg.summary())


def test_no_residual_degrees_of_freedom_gives_nan():
    reg = LinearRegression().fit([[0.0, 1.0], [1.0, 0.5]], [1.0, 2.0])
    assert np.all(np.isnan(reg.coef_stderr_)) and reg.summary().df_resid == -1


def test_stats_functions_on_an_objective():
    X, y = diabetes()
    obj = gdfast.Objective(X, y, loss="squared_error")
    w = gdfast.minimize(obj, tol=1e-12).w
    cov = stats.covariance(obj, w)
    theirs = sm.OLS(y, sm.add_constant(X, prepend=False)).fit()
    np.testing.assert_allclose(cov, theirs.cov_params(), rtol=1e-7, atol=1e-12 * np.abs(cov).max())
    np.testing.assert_allclose(stats.standard_errors(obj, w), theirs.bse, rtol=RTOL)
    assert stats.residual_df(obj) == theirs.df_resid
    assert stats.total_weight(obj) == 442
