"""The Tweedie loss: half the Tweedie deviance with the log link, for every power, through every
layer.

The kernels against gdfast.reference and finite differences (dense, sparse, float32, weights,
every instruction-set variant) are in test_objective.py and test_sparse.py, and the Dask
objective in test_dask.py, which run the powers of problems.TWEEDIES (0, 1.5 and 3). Here: what
is particular to the Tweedie loss and its parameter.
"""
import math
import pickle

import numpy as np
import pytest
import scipy.sparse
import sklearn.linear_model
import sklearn.metrics
import statsmodels.api as sm

import gdfast
from gdfast import _core, losses, reference
from problems import make_problem, tweedie_targets

POWERS = [0.0, 1.0, 1.2, 1.5, 1.9, 2.0, 2.5, 3.0, 4.5]


def tweedie_problem(power, n=400, d=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w = rng.standard_normal(d + 1) * 0.5 / np.sqrt(d)
    y = tweedie_targets(rng, np.exp(X @ w[:-1] + w[-1]), power)
    return X, y, w


@pytest.mark.parametrize("power", POWERS)
def test_cost_is_half_the_mean_tweedie_deviance_of_scikit_learn(power):
    X, y, w = tweedie_problem(power)
    obj = gdfast.Objective(X, y, loss=losses.Tweedie(power))
    mu = np.exp(X @ w[:-1] + w[-1])
    expected = sklearn.metrics.mean_tweedie_deviance(y, mu, power=power) / 2
    assert obj.cost(w) == pytest.approx(expected, rel=1e-11)
    sw = np.linspace(0.5, 3.0, len(y))
    weighted = gdfast.Objective(X, y, loss=losses.Tweedie(power), sample_weight=sw)
    assert weighted.cost(w) == pytest.approx(
        sklearn.metrics.mean_tweedie_deviance(y, mu, sample_weight=sw, power=power) / 2,
        rel=1e-11)
    assert obj.cost(w + 0.3) > obj.cost(w) * (1 + 1e-3) or power == 0.0  # the test can fail


@pytest.mark.parametrize("power", POWERS)
def test_a_perfect_fit_costs_zero(power):
    X, _, w = tweedie_problem(power, n=50, d=3)
    y = np.exp(X @ w[:-1] + w[-1])                   # predicted exactly
    obj = gdfast.Objective(X, y, loss=losses.Tweedie(power))
    assert abs(obj.cost(w)) <= 1e-13
    assert np.max(np.abs(obj.gradient(w))) <= 1e-13


@pytest.mark.parametrize("power", [1.0, 2.0])
def test_powers_one_and_two_are_poisson_and_gamma(power):
    other = losses.Poisson() if power == 1.0 else losses.Gamma()
    tweedie = losses.Tweedie(power)
    assert tweedie.code == other.code and tweedie.code != losses.Tweedie(1.5).code
    X, y, w = make_problem(n=300, d=4, loss=other.name, seed=2)
    a = gdfast.Objective(X, y, loss=tweedie, alpha=0.1, sample_weight=np.linspace(1, 2, 300))
    b = gdfast.Objective(X, y, loss=other, alpha=0.1, sample_weight=np.linspace(1, 2, 300))
    c1, g1, H1 = a.cost_gradient_hessian(w)
    c2, g2, H2 = b.cost_gradient_hessian(w)
    assert c1 == c2 and np.array_equal(g1, g2) and np.array_equal(H1, H2)
    # and the general function tends to them as p approaches 1 or 2 (its rounding grows as
    # eps / |p - 1|: 1e-6 away the cost still agrees to about 1e-9)
    near = gdfast.Objective(X, y, loss=losses.Tweedie(power + 1e-6), alpha=0.1,
                            sample_weight=np.linspace(1, 2, 300))
    assert near.cost(w) == pytest.approx(c1, rel=1e-5)
    np.testing.assert_allclose(near.gradient(w), g1, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("power", [0.0, 1.2, 1.5, 2.5, 3.0, 10.0])
def test_any_finite_z_stays_finite_with_the_right_signs(power):
    code = losses.Tweedie(power).code
    ys = [0.0, 1e-300, 0.7, 1.0, 1e300] + ([-2.0, -1e300] if power == 0.0 else [])
    for z in (-1e308, -1e4, -1416.0, -800.0, -700.0, -3.0, 0.0, 2.5, 700.0, 800.0, 1e4, 1e308):
        for y0 in ys:
            if (power >= 2.0 and y0 <= 0) or (power > 0 and y0 < 0):
                continue
            c, r, h = _core.loss_terms(code, z, y0, power)
            assert np.all(np.isfinite([c, r, h])), (z, y0, c, r, h)
            # d loss/dz = mu^(2-p) - y mu^(1-p) = mu^(1-p) (mu - y): the sign of mu - y,
            # also where both terms are far beyond a double
            mu_minus_y = 1.0 if z > 700 else (-1.0 if z < -700 and y0 > 0 else
                                              math.exp(z) - y0)
            if mu_minus_y != 0 and abs(z) >= 700:
                assert np.sign(r) in (0.0, np.sign(mu_minus_y)), (z, y0, r)
            if abs(z) >= 700 and y0 > 0:
                # the half deviance is never negative: the z-terms do not fall below minus the
                # y-only constant (a clamp that lost the dominant term would give -cap)
                with np.errstate(over="ignore"):
                    const = float(losses.Tweedie(power)._constant(np.array([y0]))[0])
                assert c + const >= -1e-12 * max(1.0, abs(const)), (z, y0, c)
    # where every term is a double, the compiled terms are the textbook ones
    for z in (-30.0, -3.0, 0.0, 2.5, 30.0):
        for y0 in [v for v in ys if v >= 0 and not (power >= 2 and v == 0) and v < 1e300]:
            c, r, h = _core.loss_terms(code, z, y0, power)
            a, b = math.exp((2 - power) * z), y0 * math.exp((1 - power) * z)
            expected = [a / (2 - power) - b / (1 - power), a - b, (2 - power) * a - (1 - power) * b]
            np.testing.assert_allclose([c, r, h], expected, rtol=1e-12, atol=1e-300)
    for z in (-700.0, 700.0):
        c, g, H = gdfast.Objective(np.ones((2, 1)), [0.5, 3.0], loss=losses.Tweedie(power),
                                   fit_intercept=False).cost_gradient_hessian(np.array([z]))
        assert np.isfinite(c) and np.all(np.isfinite(g)) and np.all(np.isfinite(H))


@pytest.mark.parametrize("power", [0.0, 3.0])
@pytest.mark.parametrize("layout", ["C", "F", "csr"])
def test_hessian_with_negative_row_weights(power, layout):
    """p = 0 and p > 2 are not convex in z: rows with loss'' < 0 enter the Hessian with their
    sign (the dense kernels add them apart from the sqrt(h)-scaled batch)."""
    X, y, w = tweedie_problem(power, n=700, d=6, seed=4)
    w = w + np.r_[np.zeros(6), 1.0 if power == 3.0 else -1.0]   # many rows of each sign
    loss = losses.Tweedie(power)
    h = loss.reference_terms(X @ w[:-1] + w[-1], y)[2]
    assert (h < 0).sum() > 50 and (h > 0).sum() > 50
    A = (np.asfortranarray(X) if layout == "F" else scipy.sparse.csr_matrix(X) if layout == "csr"
         else X)
    sw = np.linspace(0.5, 2.0, 700)
    for fit_intercept in (True, False):
        wv = w if fit_intercept else w[:-1]
        fast = gdfast.Objective(A, y, loss=loss, alpha=0.01, sample_weight=sw,
                                fit_intercept=fit_intercept)
        ref = reference.Objective(X, y, loss=loss, alpha=0.01, sample_weight=sw,
                                  fit_intercept=fit_intercept)
        H = fast.hessian(wv)
        np.testing.assert_allclose(H, ref.hessian(wv), rtol=1e-11, atol=1e-13)
        assert np.array_equal(H, H.T) and np.linalg.eigvalsh(H).min() < np.linalg.eigvalsh(
            ref.hessian(wv)).max()
        eps = 1e-6
        fd = np.array([(fast.gradient(wv + eps * e) - fast.gradient(wv - eps * e)) / (2 * eps)
                       for e in np.eye(len(wv))])
        np.testing.assert_allclose(H, fd, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("power", [0.5, -1.0, 0.999, math.nan, math.inf, -math.inf])
def test_powers_without_a_distribution_are_refused_by_name(power):
    with pytest.raises(ValueError, match=r"^power must be 0 or at least 1"):
        losses.Tweedie(power)


@pytest.mark.parametrize("power", ["1.5", None, True, [1.5]])
def test_a_power_that_is_no_number_is_a_type_error(power):
    with pytest.raises(TypeError, match=r"^power must be a real number"):
        losses.Tweedie(power)


@pytest.mark.parametrize("power,bad,what", [(1.5, -1.0, "non-negative"), (1.0, -0.5, "non-negative"),
                                            (2.5, 0.0, "positive"), (2.0, 0.0, "positive"),
                                            (3.0, -1.0, "positive")])
def test_targets_outside_the_family_are_refused_by_name(power, bad, what):
    X, y, _ = tweedie_problem(power, n=20)
    y[3] = bad
    with pytest.raises(ValueError, match=rf"^y must hold {what} numbers for loss='tweedie'"):
        gdfast.Objective(X, y, loss=losses.Tweedie(power))
    y[3] = -5.0
    gdfast.Objective(X, y, loss=losses.Tweedie(0.0))      # the normal takes any real y


def test_exact_zeros_are_allowed_between_one_and_two():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((400, 3))
    y = tweedie_targets(rng, 0.3 * np.exp(0.3 * X[:, 0]), 1.5)
    assert (y == 0).sum() > 30 and (y > 0).sum() > 30
    obj = gdfast.Objective(X, y, loss=losses.Tweedie(1.5), alpha=1e-3)
    res = gdfast.minimize(obj)
    assert res.status == "converged"


@pytest.mark.parametrize("power", [0.0, 1.5, 3.0])
@pytest.mark.parametrize("method,options", [
    ("newton", {}), ("newton-cg", {}), ("lbfgs", {}), ("auto", {}),
    ("gd", {}),                                   # "auto" is a backtracking line search here
    ("nesterov", {"learning_rate": 0.02}),
])
def test_every_method_reaches_the_optimum(power, method, options):
    X, y, _ = tweedie_problem(power, seed=3)
    obj = gdfast.Objective(X, y, loss=losses.Tweedie(power), alpha=1e-2)
    best = gdfast.minimize(obj, method="newton", tol=0.0)
    res = gdfast.minimize(obj, method=method, max_iter=20_000, **options)
    assert res.status == "converged"
    assert res.cost == pytest.approx(best.cost, rel=1e-10)
    np.testing.assert_allclose(res.w, best.w, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("method", ["sgd", "adam"])
def test_stochastic_methods_approach_the_optimum(method):
    X, y, _ = tweedie_problem(1.5, seed=4)
    obj = gdfast.Objective(X, y, loss=losses.Tweedie(1.5), alpha=1e-2)
    best = gdfast.minimize(obj, method="newton")
    res = gdfast.minimize(obj, method=method, learning_rate=0.01, random_state=0, max_iter=100)
    assert res.cost <= best.cost * (1 + 1e-3)
    sparse = gdfast.Objective(scipy.sparse.csr_matrix(X), y, loss=losses.Tweedie(1.5), alpha=1e-2)
    res = gdfast.minimize(sparse, method=method, learning_rate=0.01, random_state=0, max_iter=100)
    assert res.cost <= best.cost * (1 + 1e-3)
    # the power reaches the stochastic kernels: another power's optimum is another point
    other = gdfast.Objective(X, y, loss=losses.Tweedie(1.2), alpha=1e-2)
    assert other.cost(res.w) > gdfast.minimize(other, method="newton").cost * (1 + 1e-3) or \
        obj.cost(res.w) <= best.cost * (1 + 1e-3)


@pytest.mark.parametrize("power", [0.0, 1.5, 3.0])
def test_alpha_maps_one_to_one_to_scikit_learn(power):
    X, y, _ = tweedie_problem(power, n=600, d=6, seed=5)
    ours = gdfast.minimize(gdfast.Objective(X, y, loss=losses.Tweedie(power), alpha=0.05),
                           tol=1e-12)
    theirs = sklearn.linear_model.TweedieRegressor(power=power, link="log", alpha=0.05,
                                                   tol=1e-12, max_iter=10_000).fit(X, y)
    np.testing.assert_allclose(ours.w[:-1], theirs.coef_, rtol=1e-6, atol=1e-8)
    assert ours.w[-1] == pytest.approx(theirs.intercept_, rel=1e-6)


def test_coefficients_deviance_and_dispersion_match_statsmodels_tweedie():
    """Tweedie p = 1.5 on tests' compound Poisson-Gamma data (problems.tweedie_targets, 500
    rows, 4 features, seed 6, mean of y about 1.1). statsmodels' Tweedie log-likelihood has no
    closed form: gdfast reports none."""
    X, y, _ = tweedie_problem(1.5, n=500, d=4, seed=6)
    obj = gdfast.Objective(X, y, loss=losses.Tweedie(1.5))
    res = gdfast.minimize(obj, tol=1e-12)
    theirs = sm.GLM(y, sm.add_constant(X), family=sm.families.Tweedie(
        var_power=1.5, link=sm.families.links.Log())).fit(method="newton", tol=1e-14, maxiter=200)
    np.testing.assert_allclose(res.w[-1], theirs.params[0], rtol=1e-8)
    np.testing.assert_allclose(res.w[:-1], theirs.params[1:], rtol=1e-8)
    assert 2 * len(y) * res.cost == pytest.approx(theirs.deviance, rel=1e-8)
    chi2 = obj.pearson_chi2(res.w)
    assert chi2 == pytest.approx(theirs.pearson_chi2, rel=1e-8)
    assert chi2 / gdfast.stats.residual_df(obj) == pytest.approx(theirs.scale, rel=1e-8)


def test_the_loss_object_carries_its_power():
    a, b = losses.Tweedie(1.5), losses.Tweedie(power=1.5)
    assert a == b and hash(a) == hash(b) and a != losses.Tweedie(1.2) and a == "tweedie"
    assert repr(a) == "Tweedie(power=1.5)" and a.power == a.param == 1.5
    assert pickle.loads(pickle.dumps(a)) == a and pickle.loads(pickle.dumps(a)).param == 1.5
    assert losses.get_loss("tweedie") == losses.Tweedie(1.5)       # the default power
    assert losses.get_loss(a) is a
    X, y, _ = tweedie_problem(1.5, n=60)
    obj = gdfast.Objective(X, y, loss=a)
    assert obj.loss is a and repr(obj).count("loss='tweedie'") == 1
    w = np.full(obj.n_params, 0.1)
    assert obj.cost(w) == pytest.approx(reference.Objective(X, y, loss=a).cost(w), rel=1e-13)
    assert obj.cost(w) != gdfast.Objective(X, y, loss=losses.Tweedie(1.2)).cost(w)


def test_cli_fits_tweedie_with_its_power_and_the_model_file_keeps_it(capsys, tmp_path):
    import json

    from gdfast import cli
    X, y, _ = tweedie_problem(1.5, n=200, d=2, seed=9)
    data = tmp_path / "claims.csv"
    data.write_text("a,b,claims\n" + "".join(f"{float(a)!r},{float(b)!r},{float(c)!r}\n"
                                             for (a, b), c in zip(X, y)))
    model = tmp_path / "model.json"
    status = cli.main(["fit", str(data), "--target", "claims", "--loss", "tweedie", "--power",
                       "1.3", "--save", str(model)])
    assert status == 0 and "Tweedie regression (power 1.3), claims" in capsys.readouterr().out
    doc = json.loads(model.read_text())
    assert doc["loss"] == "tweedie" and doc["loss_param"] == 1.3
    theirs = sm.GLM(y, sm.add_constant(X), family=sm.families.Tweedie(
        var_power=1.3, link=sm.families.links.Log())).fit(tol=1e-14, maxiter=200)
    np.testing.assert_allclose(doc["coef"], theirs.params[1:], rtol=1e-8)
    np.testing.assert_allclose(doc["coef_stderr"], theirs.bse[1:], rtol=1e-7)
    assert cli.main(["predict", str(model), str(data)]) == 0
    assert "Tweedie regression (power 1.3)" in str(gdfast._modelfile.summary(doc))
    assert cli.main(["fit", str(data), "--target", "claims", "--loss", "poisson",
                     "--power", "1.3"]) != 0
    assert "--power applies to --loss tweedie only" in capsys.readouterr().err
