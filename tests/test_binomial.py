"""Binomial proportions: y in [0, 1] with the number of trials as sample_weight (statsmodels'
var_weights, R's weights), the logit link, the mean half binomial deviance.

The kernels against gdfast.reference and finite differences (dense, sparse, float32, weights)
run in test_objective.py and test_sparse.py, whose loss lists include "binomial".
"""
import math

import numpy as np
import pytest
import scipy.sparse
import statsmodels.api as sm

import gdfast
from gdfast import _core, losses, reference
from problems import make_problem


def star98():
    data = sm.datasets.star98.load_pandas()
    successes = data.endog["NABOVE"].to_numpy(dtype=float)
    trials = successes + data.endog["NBELOW"].to_numpy(dtype=float)
    X = data.exog.to_numpy(dtype=float)
    return X, successes / trials, trials, successes


def test_star98_matches_statsmodels_binomial_glm():
    """statsmodels' star98 (303 school districts, 20 covariates): y = the share of pupils above
    the median, trials = pupils. statsmodels fitted with the successes/failures endog."""
    X, y, trials, successes = star98()
    data = sm.datasets.star98.load_pandas()
    theirs = sm.GLM(data.endog, sm.add_constant(data.exog), family=sm.families.Binomial()).fit(
        tol=1e-13, maxiter=200)
    obj = gdfast.Objective(X, y, loss="binomial", sample_weight=trials)
    res = gdfast.minimize(obj, tol=1e-13)
    assert res.status == "converged"
    np.testing.assert_allclose(res.w[-1], theirs.params.iloc[0], rtol=1e-8)
    np.testing.assert_allclose(res.w[:-1], theirs.params.iloc[1:], rtol=1e-8)
    se = gdfast.stats.standard_errors(obj, res.w)
    np.testing.assert_allclose(se[-1], theirs.bse.iloc[0], rtol=1e-7)
    np.testing.assert_allclose(se[:-1], theirs.bse.iloc[1:], rtol=1e-7)
    # the cost is the mean half deviance: statsmodels' deviance is twice its weighted sum
    assert 2 * trials.sum() * res.cost == pytest.approx(theirs.deviance, rel=1e-8)
    # and var_weights with the proportions is the same model
    var = sm.GLM(y, sm.add_constant(X), family=sm.families.Binomial(), var_weights=trials).fit(
        tol=1e-13, maxiter=200)
    np.testing.assert_allclose(np.r_[res.w[-1], res.w[:-1]], var.params, rtol=1e-8)


@pytest.mark.parametrize("method", ["newton", "newton-cg", "lbfgs", "auto"])
def test_every_method_on_star98(method):
    X, y, trials, _ = star98()
    Xs = (X - X.mean(0)) / X.std(0)                    # first-order methods want scaled columns
    obj = gdfast.Objective(Xs, y, loss="binomial", sample_weight=trials)
    best = gdfast.minimize(obj, method="newton", tol=0.0)
    res = gdfast.minimize(obj, method=method, max_iter=20_000)
    assert res.status == "converged"
    assert res.cost == pytest.approx(best.cost, rel=1e-9)
    sparse = gdfast.Objective(scipy.sparse.csr_matrix(Xs), y, loss="binomial",
                              sample_weight=trials)
    # star98's covariates are nearly collinear (interactions): costs agree, not every digit of w
    assert gdfast.minimize(sparse, method=method, max_iter=20_000).cost == pytest.approx(
        best.cost, rel=1e-9)


def test_proportions_equal_the_expanded_zero_one_data():
    """k successes out of m trials as y = k/m with weight m is the same fit as m rows of labels
    (k ones, m - k zeros) under the log loss."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((40, 3))
    m = rng.integers(1, 6, 40)
    k = rng.binomial(m, 1 / (1 + np.exp(-(X @ [0.5, -0.3, 0.2]))))
    rows = np.repeat(np.arange(40), m)
    labels = np.concatenate([np.r_[np.ones(ki), np.zeros(mi - ki)] for ki, mi in zip(k, m)])
    a = gdfast.minimize(gdfast.Objective(X, k / m, loss="binomial", sample_weight=m, alpha=0.01))
    b = gdfast.minimize(gdfast.Objective(X[rows], labels, loss="log_loss", alpha=0.01))
    np.testing.assert_allclose(a.w, b.w, rtol=1e-9, atol=1e-12)
    # the costs differ by the mean binomial entropy: the binomial's is a half deviance
    p = k / m
    entropy = -(np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0)
                + np.where(p < 1, (1 - p) * np.log(np.where(p < 1, 1 - p, 1)), 0))
    assert a.cost == pytest.approx(b.cost - np.sum(m * entropy) / m.sum(), rel=1e-11)


def test_fractional_targets_are_accurate_and_finite_at_any_z():
    import mpmath
    mpmath.mp.prec = 200
    code = losses.Binomial().code
    for z in (-1e308, -1e4, -745.0, -40.0, -1.0, 0.0, 1e-3, 1.0, 40.0, 745.0, 1e4, 1e308):
        for y0 in (0.0, 1e-300, 1e-12, 0.3, 0.5, 0.999999, 1.0 - 1e-16, 1.0):
            c, r, h = _core.loss_terms(code, z, y0)
            assert np.all(np.isfinite([c, r, h])), (z, y0, c, r, h)
            if abs(z) <= 745:
                # log(1 + e^z) - y z and sigmoid(z) - y, exactly (200 bits), for the double y
                Z, Y = mpmath.mpf(z), mpmath.mpf(y0)
                exact = float(mpmath.log1p(mpmath.exp(Z)) - Y * Z)
                assert c == pytest.approx(exact, rel=1e-15, abs=1e-300), (z, y0, c, exact)
                p = 1 / (1 + mpmath.exp(-Z))
                # p - y cancels when p is near y: accurate to two roundings of p (or of y)
                assert abs(r - float(p - Y)) <= 4.5e-16 * max(float(p), y0, 1e-300), (z, y0, r)
    # a confident prediction of a near-one proportion: (1 - y) z, not z - y z with its
    # cancellation (y = 0.999, z = 30: 0.03, to full precision)
    c, _, _ = _core.loss_terms(code, 30.0, 0.999)
    assert c == pytest.approx((1 - 0.999) * 30.0 + math.log1p(math.exp(-30.0)), rel=1e-15)


def test_the_log_loss_is_unchanged_for_labels():
    X, y, w = make_problem(n=300, d=4, loss="log_loss", seed=4)
    a = gdfast.Objective(X, y, loss="log_loss", sample_weight=np.linspace(1, 2, 300))
    b = gdfast.Objective(X, y, loss="binomial", sample_weight=np.linspace(1, 2, 300))
    ca, ga, Ha = a.cost_gradient_hessian(w)
    cb, gb, Hb = b.cost_gradient_hessian(w)
    assert ca == cb and np.array_equal(ga, gb) and np.array_equal(Ha, Hb)   # no entropy for labels


@pytest.mark.parametrize("bad", [-0.1, 1.5, 2.0])
def test_targets_outside_zero_one_are_refused_by_name(bad):
    X, y, _ = make_problem(n=20, d=2, loss="log_loss")
    y = y * 0.5
    y[2] = bad
    with pytest.raises(ValueError, match=r"^y must hold proportions in \[0, 1\] for loss='binomial'"):
        gdfast.Objective(X, y, loss="binomial")
    with pytest.raises(ValueError, match=r"^y must hold labels 0 and 1 for loss='log_loss'"):
        gdfast.Objective(X, np.full(20, 0.5), loss="log_loss")     # the log loss keeps labels


def test_separation_is_not_claimed_with_fractional_targets():
    """A row with 0 < y < 1 has an unbounded loss as z goes to either infinity, so the classes'
    test must not fire on it: y = 0.9 on the positive side is no certificate."""
    X = np.array([[-2.0], [-1.0], [1.0], [2.0]])
    y = np.array([0.0, 0.0, 0.9, 1.0])
    obj = gdfast.Objective(X, y, loss="binomial")
    assert not obj.separates(np.array([50.0, 0.0]))
    res = gdfast.minimize(obj, method="newton")
    assert res.status == "converged" and np.all(np.isfinite(res.w))
    binary = gdfast.Objective(X, np.array([0.0, 0.0, 1.0, 1.0]), loss="binomial")
    with pytest.warns(gdfast.SeparationWarning):
        assert gdfast.minimize(binary, method="newton").status == "separated"


def test_reference_and_loss_object():
    X, _, w = make_problem(n=200, d=3, seed=5)
    y = np.random.default_rng(6).random(200)
    obj = gdfast.Objective(X, y, loss=losses.Binomial(), sample_weight=np.arange(1.0, 201.0))
    ref = reference.Objective(X, y, loss="binomial", sample_weight=np.arange(1.0, 201.0))
    assert obj.cost(w) == pytest.approx(ref.cost(w), rel=1e-12)
    np.testing.assert_allclose(obj.gradient(w), ref.gradient(w), rtol=1e-12)
    np.testing.assert_allclose(obj.hessian(w), ref.hessian(w), rtol=1e-12)
    assert losses.get_loss("binomial") == losses.Binomial() and not losses.Binomial().is_classifier
