"""The Poisson loss: half the Poisson deviance with the log link, through every layer.

The kernels against gdfast.reference and finite differences (dense, sparse, float32, weights)
are in test_objective.py and test_sparse.py, which run every loss; the Dask objective in
test_dask.py. Here: what is particular to Poisson.
"""
import json
import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse
import sklearn.base
import sklearn.linear_model
import sklearn.metrics
import statsmodels.api as sm

import gdfast
from gdfast import cli, losses, reference
from problems import make_problem


def poisson_problem(n=400, d=5, seed=0):
    X, y, w = make_problem(n=n, d=d, loss="poisson", seed=seed)
    return X, y, w


def test_cost_is_the_mean_half_poisson_deviance():
    X, y, w = poisson_problem()
    obj = gdfast.Objective(X, y, loss="poisson")
    mu = np.exp(X @ w[:-1] + w[-1])
    assert obj.cost(w) == pytest.approx(sklearn.metrics.mean_poisson_deviance(y, mu) / 2, rel=1e-12)
    sw = np.linspace(0.5, 3.0, len(y))
    weighted = gdfast.Objective(X, y, loss="poisson", sample_weight=sw)
    assert weighted.cost(w) == pytest.approx(
        sklearn.metrics.mean_poisson_deviance(y, mu, sample_weight=sw) / 2, rel=1e-12)


def test_a_perfect_fit_costs_zero_and_huge_z_stays_finite():
    X, _, w = poisson_problem(n=50, d=3)
    y = np.exp(X @ w[:-1] + w[-1])                   # real-valued rates, predicted exactly
    obj = gdfast.Objective(X, y, loss="poisson")
    assert abs(obj.cost(w)) <= 1e-14 * float(np.mean(y))
    assert np.max(np.abs(obj.gradient(w))) <= 1e-13 * float(np.mean(y))
    for z in (-1e4, -700.0, 700.0):
        c, g, H = gdfast.Objective(np.ones((2, 1)), [0.0, 3.0], loss="poisson",
                                   fit_intercept=False).cost_gradient_hessian(np.array([z]))
        assert np.isfinite(c) and np.all(np.isfinite(g)) and np.all(np.isfinite(H))
    c, r, h = gdfast._core.loss_terms(losses.Poisson().code, -800.0, 0.0)
    assert (c, r, h) == (0.0, 0.0, 0.0)


def test_negative_counts_are_refused_by_name():
    X, y, _ = poisson_problem(n=20)
    y[3] = -1.0
    with pytest.raises(ValueError, match=r"^y must hold non-negative numbers .* loss='poisson'"):
        gdfast.Objective(X, y, loss="poisson")


@pytest.mark.parametrize("method,options", [
    ("newton", {}), ("newton-cg", {}), ("lbfgs", {}), ("auto", {}),
    ("gd", {}),                                   # "auto" is a backtracking line search here
    ("gd", {"learning_rate": "backtracking"}),
    ("nesterov", {"learning_rate": 0.05}),
])
def test_every_method_reaches_the_optimum(method, options):
    X, y, _ = poisson_problem(seed=3)
    obj = gdfast.Objective(X, y, loss="poisson", alpha=1e-2)
    best = gdfast.minimize(obj, method="newton", tol=0.0)
    res = gdfast.minimize(obj, method=method, **options)
    assert res.status == "converged"
    assert res.cost == pytest.approx(best.cost, rel=1e-10)
    np.testing.assert_allclose(res.w, best.w, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("method", ["sgd", "adam"])
def test_stochastic_methods_approach_the_optimum(method):
    X, y, _ = poisson_problem(seed=4)
    obj = gdfast.Objective(X, y, loss="poisson", alpha=1e-2)
    best = gdfast.minimize(obj, method="newton")
    res = gdfast.minimize(obj, method=method, learning_rate=0.01, random_state=0, max_iter=100)
    assert res.cost <= best.cost * (1 + 1e-3)
    sparse = gdfast.Objective(scipy.sparse.csr_matrix(X), y, loss="poisson", alpha=1e-2)
    assert gdfast.minimize(sparse).cost == pytest.approx(best.cost, rel=1e-12)


@pytest.mark.parametrize("method", ["nesterov", "sgd"])
def test_auto_learning_rate_without_a_curvature_bound_is_refused_by_name(method):
    X, y, _ = poisson_problem(n=50)
    obj = gdfast.Objective(X, y, loss="poisson")
    assert obj.curvature_bound() == np.inf
    with pytest.raises(ValueError, match="^learning_rate='auto' needs a bound on the curvature"):
        gdfast.minimize(obj, method=method)


def test_alpha_maps_one_to_one_to_scikit_learn():
    X, y, _ = poisson_problem(n=600, d=6, seed=5)
    ours = gdfast.minimize(gdfast.Objective(X, y, loss="poisson", alpha=0.05))
    theirs = sklearn.linear_model.PoissonRegressor(alpha=0.05, tol=1e-12, max_iter=10_000).fit(X, y)
    np.testing.assert_allclose(ours.w[:-1], theirs.coef_, rtol=1e-6, atol=1e-8)
    assert ours.w[-1] == pytest.approx(theirs.intercept_, rel=1e-6)


def test_standard_errors_match_statsmodels_glm():
    X, y, _ = poisson_problem(n=500, d=4, seed=6)
    obj = gdfast.Objective(X, y, loss="poisson")
    res = gdfast.minimize(obj)
    theirs = sm.GLM(y, sm.add_constant(X), family=sm.families.Poisson()).fit(tol=1e-14)
    np.testing.assert_allclose(res.w[-1], theirs.params[0], rtol=1e-8)
    np.testing.assert_allclose(res.w[:-1], theirs.params[1:], rtol=1e-8)
    se = gdfast.stats.standard_errors(obj, res.w)
    np.testing.assert_allclose(se[:-1], theirs.bse[1:], rtol=1e-7)
    assert gdfast.stats.residual_df(obj) is None          # z statistics: dispersion fixed at 1


@pytest.mark.parametrize("method", ["newton", "newton-cg", "lbfgs", "auto"])
def test_an_optimum_at_infinity_ends_separated(method):
    """A feature that is non-zero on zero counts only: lowering its coefficient lowers their
    means towards 0 and moves no other prediction, so the cost falls without end."""
    X, y, _ = poisson_problem(n=300, d=3, seed=7)
    assert (y == 0).sum() > 10
    X = np.c_[X, np.where(y == 0, np.random.default_rng(0).uniform(0.5, 1.5, len(y)), 0.0)]
    obj = gdfast.Objective(X, y, loss="poisson")
    with pytest.warns(gdfast.SeparationWarning, match="alpha > 0"):
        res = gdfast.minimize(obj, method=method)
    assert res.status == "separated" and np.all(np.isfinite(res.w)) and res.w[3] < -10
    penalised = gdfast.minimize(gdfast.Objective(X, y, loss="poisson", alpha=1e-3), method=method)
    assert penalised.status == "converged"


def test_no_separation_is_claimed_for_a_finite_optimum():
    """A zero count far out on a feature gets a tiny fitted mean at the (finite) optimum: the
    data test must not mistake it for an optimum at infinity."""
    X, y, _ = poisson_problem(n=300, d=2, seed=8)
    X[0], y[0] = [40.0, -40.0], 0.0
    for data in (X, scipy.sparse.csr_matrix(X)):
        obj = gdfast.Objective(data, y, loss="poisson")
        with warnings.catch_warnings():
            warnings.simplefilter("error", gdfast.SeparationWarning)
            res = gdfast.minimize(obj, method="newton")
        assert res.status == "converged"
        assert obj.predictions(res.w)[0] < -5             # the far row's mean is tiny indeed


def test_the_loss_instance_survives_clone_pickle_and_equality():
    loss = losses.Poisson()
    assert loss == "poisson" and loss == losses.get_loss("poisson") and loss != "log_loss"
    assert pickle.loads(pickle.dumps(loss)) == loss
    X, y, _ = poisson_problem(n=60)
    obj = gdfast.Objective(X, y, loss=loss)
    assert obj.loss is loss and repr(obj).count("loss='poisson'") == 1
    ref = reference.Objective(X, y, loss=loss)
    w = np.full(obj.n_params, 0.1)
    assert obj.cost(w) == pytest.approx(ref.cost(w), rel=1e-13)
    assert sklearn.base.clone(loss, safe=False) == loss      # how an estimator's param is cloned
    with pytest.raises(TypeError, match="^loss must be"):
        gdfast.Objective(X, y, loss=losses.Poisson)          # the class, not an instance


def test_cli_fits_saves_and_predicts_poisson(capsys, tmp_path):
    X, y, _ = poisson_problem(n=200, d=2, seed=9)
    data = tmp_path / "counts.csv"
    rows = "".join(f"{float(a)!r},{float(b)!r},{c:g}\n" for (a, b), c in zip(X, y))
    data.write_text("a,b,count\n" + rows)
    model = tmp_path / "model.json"
    status = cli.main(["fit", str(data), "--target", "count", "--loss", "poisson", "--alpha", "0",
                       "--save", str(model)])
    out = capsys.readouterr().out
    assert status == 0 and "Poisson regression, count" in out
    doc = json.loads(model.read_text())
    theirs = sm.GLM(y, sm.add_constant(X), family=sm.families.Poisson()).fit(tol=1e-14)
    np.testing.assert_allclose(doc["coef"], theirs.params[1:], rtol=1e-8)
    np.testing.assert_allclose(doc["coef_stderr"], theirs.bse[1:], rtol=1e-7)
    assert doc["loss"] == "poisson" and doc["df_resid"] is None
    assert cli.main(["predict", str(model), str(data), "--output", str(tmp_path / "p.csv")]) == 0
    rows = (tmp_path / "p.csv").read_text().splitlines()
    predicted = np.array([float(r.split(",")[-1]) for r in rows[1:]])
    np.testing.assert_allclose(predicted, theirs.predict(sm.add_constant(X)), rtol=1e-8)
