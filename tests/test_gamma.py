"""The Gamma loss: half the Gamma deviance with the log link, through every layer.

The kernels against gdfast.reference and finite differences (dense, sparse, float32, weights)
are in test_objective.py and test_sparse.py, which run every loss; the Dask objective in
test_dask.py. Here: what is particular to the Gamma loss.
"""
import pickle

import numpy as np
import pytest
import scipy.sparse
import sklearn.linear_model
import sklearn.metrics
import statsmodels.api as sm

import gdfast
from gdfast import _core, losses, reference
from problems import make_problem


def gamma_problem(n=400, d=5, seed=0):
    X, y, w = make_problem(n=n, d=d, loss="gamma", seed=seed)
    return X, y, w


def test_cost_is_the_mean_half_gamma_deviance():
    X, y, w = gamma_problem()
    obj = gdfast.Objective(X, y, loss="gamma")
    mu = np.exp(X @ w[:-1] + w[-1])
    assert obj.cost(w) == pytest.approx(sklearn.metrics.mean_gamma_deviance(y, mu) / 2, rel=1e-12)
    sw = np.linspace(0.5, 3.0, len(y))
    weighted = gdfast.Objective(X, y, loss="gamma", sample_weight=sw)
    assert weighted.cost(w) == pytest.approx(
        sklearn.metrics.mean_gamma_deviance(y, mu, sample_weight=sw) / 2, rel=1e-12)


def test_a_perfect_fit_costs_zero_and_any_finite_z_stays_finite():
    X, _, w = gamma_problem(n=50, d=3)
    y = np.exp(X @ w[:-1] + w[-1])                   # predicted exactly
    obj = gdfast.Objective(X, y, loss="gamma")
    assert abs(obj.cost(w)) <= 1e-14 * float(np.mean(np.abs(np.log(y)) + 1))
    assert np.max(np.abs(obj.gradient(w))) <= 1e-13
    code = losses.Gamma().code
    for z in (-1e308, -2000.0, -1416.5, -800.0, -700.0, 0.0, 700.0, 2000.0, 1e308):
        for y0 in (0.0, 1e-300, 1.0, 1e300):
            terms = _core.loss_terms(code, z, y0)
            assert np.all(np.isfinite(terms)), (z, y0, terms)
    # where y e^-z is a double, the compiled terms are the textbook ones
    for z, y0 in ((-800.0, 1e-300), (-700.0, 1.0), (3.0, 2.5), (700.0, 1e300)):
        c, r, h = _core.loss_terms(code, z, y0)
        t = np.exp(np.log(y0) - z)                   # numpy: y e^-z without the overflow
        np.testing.assert_allclose([c, r, h], [t + z, 1 - t, t], rtol=1e-13)
    for z in (-700.0, 700.0):
        c, g, H = gdfast.Objective(np.ones((2, 1)), [0.5, 3.0], loss="gamma",
                                   fit_intercept=False).cost_gradient_hessian(np.array([z]))
        assert np.isfinite(c) and np.all(np.isfinite(g)) and np.all(np.isfinite(H))


@pytest.mark.parametrize("bad", [0.0, -1.0])
def test_non_positive_targets_are_refused_by_name(bad):
    X, y, _ = gamma_problem(n=20)
    y[3] = bad
    with pytest.raises(ValueError, match=r"^y must hold positive numbers .* loss='gamma'"):
        gdfast.Objective(X, y, loss="gamma")


@pytest.mark.parametrize("method,options", [
    ("newton", {}), ("newton-cg", {}), ("lbfgs", {}), ("auto", {}),
    ("gd", {}),                                   # "auto" is a backtracking line search here
    ("gd", {"learning_rate": "backtracking"}),
    ("nesterov", {"learning_rate": 0.05}),
])
def test_every_method_reaches_the_optimum(method, options):
    X, y, _ = gamma_problem(seed=3)
    obj = gdfast.Objective(X, y, loss="gamma", alpha=1e-2)
    best = gdfast.minimize(obj, method="newton", tol=0.0)
    res = gdfast.minimize(obj, method=method, **options)
    assert res.status == "converged"
    assert res.cost == pytest.approx(best.cost, rel=1e-10)
    np.testing.assert_allclose(res.w, best.w, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("method", ["sgd", "adam"])
def test_stochastic_methods_approach_the_optimum(method):
    X, y, _ = gamma_problem(seed=4)
    obj = gdfast.Objective(X, y, loss="gamma", alpha=1e-2)
    best = gdfast.minimize(obj, method="newton")
    res = gdfast.minimize(obj, method=method, learning_rate=0.01, random_state=0, max_iter=100)
    assert res.cost <= best.cost * (1 + 1e-3)
    sparse = gdfast.Objective(scipy.sparse.csr_matrix(X), y, loss="gamma", alpha=1e-2)
    assert gdfast.minimize(sparse).cost == pytest.approx(best.cost, rel=1e-12)


@pytest.mark.parametrize("method", ["nesterov", "sgd"])
def test_auto_learning_rate_without_a_curvature_bound_is_refused_by_name(method):
    X, y, _ = gamma_problem(n=50)
    obj = gdfast.Objective(X, y, loss="gamma")
    assert obj.curvature_bound() == np.inf
    with pytest.raises(ValueError, match="^learning_rate='auto' needs a bound on the curvature"):
        gdfast.minimize(obj, method=method)


def test_alpha_maps_one_to_one_to_scikit_learn():
    X, y, _ = gamma_problem(n=600, d=6, seed=5)
    ours = gdfast.minimize(gdfast.Objective(X, y, loss="gamma", alpha=0.05))
    theirs = sklearn.linear_model.GammaRegressor(alpha=0.05, tol=1e-12, max_iter=10_000).fit(X, y)
    np.testing.assert_allclose(ours.w[:-1], theirs.coef_, rtol=1e-6, atol=1e-8)
    assert ours.w[-1] == pytest.approx(theirs.intercept_, rel=1e-6)


@pytest.mark.parametrize("information", ["expected", "observed"])
@pytest.mark.parametrize("weighted", [False, True])
def test_standard_errors_and_dispersion_match_statsmodels_glm(weighted, information):
    X, y, _ = gamma_problem(n=500, d=4, seed=6)
    sw = np.random.default_rng(1).integers(1, 4, len(y)).astype(float) if weighted else None
    obj = gdfast.Objective(X, y, loss="gamma", sample_weight=sw)
    res = gdfast.minimize(obj, tol=1e-12)
    # by default gdfast's errors come from the expected information, as statsmodels' IRLS
    # default (and R's glm) gives them; "observed" (the Hessian at the optimum) is what
    # statsmodels' fit(method="newton") gives: they differ for the Gamma's (non-canonical) log
    theirs = sm.GLM(y, sm.add_constant(X), family=sm.families.Gamma(sm.families.links.Log()),
                    freq_weights=sw).fit(**({} if information == "expected" else {"method": "newton"}),
                                         tol=1e-14, maxiter=200)
    np.testing.assert_allclose(res.w[-1], theirs.params[0], rtol=1e-8)
    np.testing.assert_allclose(res.w[:-1], theirs.params[1:], rtol=1e-8)
    W = len(y) if sw is None else sw.sum()
    assert gdfast.stats.residual_df(obj) == pytest.approx(W - obj.n_params)
    assert obj.pearson_chi2(res.w) == pytest.approx(theirs.pearson_chi2, rel=1e-8)
    se = gdfast.stats.standard_errors(obj, res.w, information)
    np.testing.assert_allclose(se[:-1], theirs.bse[1:], rtol=1e-7)
    np.testing.assert_allclose(se[-1], theirs.bse[0], rtol=1e-7)
    other = gdfast.stats.standard_errors(obj, res.w, "observed" if information == "expected"
                                         else "expected")
    assert not np.allclose(other, se, rtol=1e-4)       # the two informations differ here


def test_the_squared_error_has_no_pearson_terms():
    X, y, _ = make_problem(n=50, d=3, loss="squared_error")
    assert gdfast.Objective(X, y, loss="squared_error").pearson_chi2(np.zeros(4)) is None


def test_the_loss_instance_survives_pickle_and_equality():
    loss = losses.Gamma()
    assert loss == "gamma" and loss == losses.get_loss("gamma") and loss != "poisson"
    assert pickle.loads(pickle.dumps(loss)) == loss
    X, y, _ = gamma_problem(n=60)
    obj = gdfast.Objective(X, y, loss=loss)
    assert obj.loss is loss and repr(obj).count("loss='gamma'") == 1
    ref = reference.Objective(X, y, loss=loss)
    w = np.full(obj.n_params, 0.1)
    assert obj.cost(w) == pytest.approx(ref.cost(w), rel=1e-13)


def test_cli_fits_and_saves_gamma(capsys, tmp_path):
    import json

    from gdfast import cli
    X, y, _ = gamma_problem(n=200, d=2, seed=9)
    data = tmp_path / "sizes.csv"
    data.write_text("a,b,size\n" + "".join(f"{float(a)!r},{float(b)!r},{float(c)!r}\n"
                                           for (a, b), c in zip(X, y)))
    model = tmp_path / "model.json"
    status = cli.main(["fit", str(data), "--target", "size", "--loss", "gamma", "--alpha", "0",
                       "--save", str(model)])
    assert status == 0 and "Gamma regression, size" in capsys.readouterr().out
    doc = json.loads(model.read_text())
    theirs = sm.GLM(y, sm.add_constant(X), family=sm.families.Gamma(sm.families.links.Log())
                    ).fit(tol=1e-14, maxiter=200)       # IRLS: the expected information
    np.testing.assert_allclose(doc["coef"], theirs.params[1:], rtol=1e-8)
    np.testing.assert_allclose(doc["coef_stderr"], theirs.bse[1:], rtol=1e-7)
    assert doc["loss"] == "gamma" and doc["df_resid"] == 197
