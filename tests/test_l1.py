"""L1 and elastic-net penalties: the penalty, the prox, the stationarity measure, and the
solvers that handle them (KKT conditions at every returned solution, agreement with
scikit-learn)."""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import minimize_scalar
from sklearn.linear_model import ElasticNet as SkElasticNet
from sklearn.linear_model import Lasso as SkLasso
from sklearn.linear_model import LogisticRegression as SkLogisticRegression

import gdfast
from gdfast._penalty import ElasticNet

from problems import make_problem

L1_METHODS = ["proximal", "cd"]
LOSSES = ["squared_error", "log_loss", "poisson", "gamma"]


def kkt_violation(obj, w):
    """The largest violation of the KKT conditions at w, computed here from the gradient of the
    smooth part (independently of Objective.stationarity)."""
    g = obj.gradient(w)
    d = obj.n_features
    pf = np.ones(d) if obj.penalty_factor is None else obj.penalty_factor
    lam = obj.alpha * obj.l1_ratio * pf
    coef = w[:d]
    viol = np.where(coef == 0, np.maximum(np.abs(g[:d]) - lam, 0.0),
                    np.abs(g[:d] + lam * np.sign(coef)))
    if obj.fit_intercept:
        viol = np.append(viol, abs(g[d]))
    return float(np.max(viol))


def l1_problem(loss, dtype=np.float64, sparse=False, factors=False, n=150, d=12, seed=0):
    X, y, _ = make_problem(n=n, d=d, loss=loss, dtype=dtype, seed=seed)
    if sparse:
        X = X * (np.random.default_rng(seed + 1).random(X.shape) < 0.4)
        X = sp.csr_matrix(X)
    pf = None
    if factors:
        pf = np.linspace(0.0, 2.0, d)        # includes 0: the first coefficient is free of L1
    g0 = gdfast.Objective(X, y, loss=loss).gradient(np.zeros(d + 1))
    alpha = 0.3 * float(np.max(np.abs(g0[:d])))      # some coefficients zero, some not
    return gdfast.Objective(X, y, loss=loss, alpha=alpha, l1_ratio=0.8, penalty_factor=pf)


# -- the penalty ------------------------------------------------------------------------------

def test_cost_includes_the_l1_part():
    X, y, _ = make_problem(loss="squared_error")
    pf = np.arange(7, dtype=float)
    obj = gdfast.Objective(X, y, loss="squared_error", alpha=0.4, l1_ratio=0.25, penalty_factor=pf)
    ridge = gdfast.Objective(X, y, loss="squared_error", alpha=0.3)
    w = np.random.default_rng(3).standard_normal(8)
    expected = ridge.cost(w) + 0.4 * 0.25 * float(pf @ np.abs(w[:7]))
    assert obj.cost(w) == pytest.approx(expected, rel=1e-13)
    assert obj.cost_gradient(w)[0] == pytest.approx(expected, rel=1e-13)
    np.testing.assert_allclose(obj.gradient(w), ridge.gradient(w), rtol=1e-13)
    np.testing.assert_allclose(obj.hessian(w), ridge.hessian(w), rtol=1e-13)


def test_copies_keep_the_penalty():
    X, y, _ = make_problem(n=300, loss="gamma")
    pf = np.linspace(0, 1, 7)
    obj = gdfast.Objective(X, y, loss="gamma", alpha=0.2, l1_ratio=0.5, penalty_factor=pf)
    sub = obj.row_sample(50)
    assert sub.l1_ratio == 0.5 and np.array_equal(sub.penalty_factor, pf) and sub.alpha == 0.2
    w = np.full(8, 0.1)
    plain = gdfast.Objective(X, y, loss="gamma", alpha=0.1)
    np.testing.assert_allclose(obj.expected_hessian(w), plain.expected_hessian(w), rtol=1e-12)


@pytest.mark.parametrize("l1_ratio", [0.0, 0.3, 1.0])
def test_prox_against_scalar_minimisation(l1_ratio):
    rng = np.random.default_rng(1)
    d = 9
    pf = np.r_[0.0, rng.random(d - 1) * 2]
    pen = ElasticNet(0.7, l1_ratio, pf)
    w = np.r_[rng.standard_normal(d) * 0.6, 5.0]       # the last entry: an intercept
    step = 0.8
    out = pen.prox(w, step, d)
    for j in range(d):
        lam1, lam2 = 0.7 * l1_ratio * pf[j], 0.7 * (1 - l1_ratio)

        def f(v, j=j, lam1=lam1, lam2=lam2):
            return lam1 * abs(v) + 0.5 * lam2 * v * v + (v - w[j]) ** 2 / (2 * step)
        ref = minimize_scalar(f, bounds=(-5, 5), method="bounded",
                              options={"xatol": 1e-12}).x
        assert out[j] == pytest.approx(ref, abs=1e-8)
    assert out[d] == w[d]                                # the intercept is never penalised
    assert w[d] == 5.0                                   # the input is not modified


def test_stationarity_is_zero_exactly_at_kkt_points():
    X, y, _ = make_problem(loss="squared_error")
    g0 = gdfast.Objective(X, y, loss="squared_error").gradient(np.zeros(8))
    obj = gdfast.Objective(X, y, loss="squared_error", alpha=1.1 * np.max(np.abs(g0[:7])),
                           l1_ratio=1.0)
    # w = 0 with alpha above every |gradient_j|: optimal in the coefficients, not the intercept
    assert obj.stationarity(np.zeros(8)) == pytest.approx(abs(g0[7]))
    w = np.r_[np.zeros(7), 0.3]
    assert obj.stationarity(w) == pytest.approx(kkt_violation(obj, w), rel=1e-14)
    w = np.random.default_rng(0).standard_normal(8)
    assert obj.stationarity(w) == pytest.approx(kkt_violation(obj, w), rel=1e-14)


@pytest.mark.parametrize("kwargs, match", [
    ({"l1_ratio": 1.5}, "l1_ratio"), ({"l1_ratio": -0.1}, "l1_ratio"),
    ({"l1_ratio": "lasso"}, "l1_ratio"), ({"penalty_factor": [1.0, 2.0]}, "penalty_factor"),
    ({"penalty_factor": -np.ones(7)}, "penalty_factor"),
    ({"penalty_factor": np.r_[np.nan, np.ones(6)]}, "penalty_factor"),
])
def test_bad_penalty_arguments(kwargs, match):
    X, y, _ = make_problem()
    with pytest.raises((ValueError, TypeError), match=match):
        gdfast.Objective(X, y, alpha=0.1, **kwargs)


def test_penalty_factor_is_copied():
    X, y, _ = make_problem()
    pf = np.ones(7)
    obj = gdfast.Objective(X, y, alpha=0.1, l1_ratio=1.0, penalty_factor=pf)
    pf[0] = 100.0
    assert obj.penalty_factor[0] == 1.0


@pytest.mark.parametrize("method", ["gd", "nesterov", "lbfgs", "newton", "newton-cg", "sgd"])
def test_smooth_methods_refuse_an_l1_part(method):
    X, y, _ = make_problem()
    obj = gdfast.Objective(X, y, alpha=0.1, l1_ratio=0.5)
    with pytest.raises(ValueError, match="L1 part"):
        gdfast.minimize(obj, method=method)
    # no L1 part: they run
    assert gdfast.minimize(gdfast.Objective(X, y, alpha=0.1, l1_ratio=0.0), method=method).n_iter > 0


# -- the solvers: KKT at every solution ------------------------------------------------------

@pytest.mark.parametrize("method", L1_METHODS)
@pytest.mark.parametrize("factors", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("loss", LOSSES)
def test_kkt_at_the_solution(loss, sparse, dtype, factors, method):
    obj = l1_problem(loss, dtype, sparse, factors)
    # float32 data: predictions are summed in float32, so the gradient is known to about 1e-5
    # of its size at 0 (G): tol 1e-4 there
    G = float(np.max(np.abs(obj.gradient(np.zeros(obj.n_params)))))
    tol = 1e-10 if dtype == np.float64 else 1e-4
    res = gdfast.minimize(obj, method=method, tol=tol, max_iter=100_000)
    assert res.status == "converged", res.message
    viol = kkt_violation(obj, res.w)
    limit = 1e-7 * obj.alpha if dtype == np.float64 else 1e-4 * G
    assert viol <= limit
    nz = np.count_nonzero(res.w[:obj.n_features])
    assert 0 < nz < obj.n_features                 # a sparse solution, not a trivial one
    if factors:
        assert res.w[0] != 0.0                     # factor 0: no L1 pull on the first coef
    assert res.cost == pytest.approx(obj.cost(res.w), rel=1e-12)


@pytest.mark.parametrize("method", L1_METHODS)
def test_all_zero_above_alpha_max(method):
    X, y, _ = make_problem(loss="squared_error")
    # with the intercept fitted, alpha_max = max|gradient_j| at the intercept-only optimum
    w0 = np.r_[np.zeros(7), y.mean()]
    g = gdfast.Objective(X, y, loss="squared_error").gradient(w0)
    alpha_max = float(np.max(np.abs(g[:7])))
    above = gdfast.Objective(X, y, loss="squared_error", alpha=alpha_max * (1 + 1e-9), l1_ratio=1.0)
    res = gdfast.minimize(above, method=method, tol=1e-12)
    assert not np.any(res.w[:7])
    assert res.w[7] == pytest.approx(y.mean(), rel=1e-9)
    below = gdfast.Objective(X, y, loss="squared_error", alpha=alpha_max * 0.99, l1_ratio=1.0)
    assert np.count_nonzero(gdfast.minimize(below, method=method, tol=1e-12).w[:7]) == 1


# -- agreement with scikit-learn -------------------------------------------------------------

def sklearn_lasso_problem(seed=0):
    rng = np.random.default_rng(seed)
    n, d = 120, 15
    X = rng.standard_normal((n, d))
    y = X[:, :4] @ np.array([1.5, -2.0, 0.7, 0.4]) + 0.5 * rng.standard_normal(n) + 3.0
    return X, y


@pytest.mark.parametrize("method", L1_METHODS)
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_agrees_with_sklearn_elastic_net(method, l1_ratio):
    X, y = sklearn_lasso_problem()
    a = 0.08
    sk = (SkLasso(alpha=a, tol=1e-14, max_iter=1_000_000) if l1_ratio == 1.0 else
          SkElasticNet(alpha=a, l1_ratio=l1_ratio, tol=1e-14, max_iter=1_000_000)).fit(X, y)
    # scikit-learn: 1/(2n) ||y - Xw||^2 + a (l1_ratio |w|_1 + (1 - l1_ratio)/2 ||w||^2), half
    # of gdfast's cost with alpha = 2a
    obj = gdfast.Objective(X, y, loss="squared_error", alpha=2 * a, l1_ratio=l1_ratio)
    res = gdfast.minimize(obj, method=method, tol=1e-12, max_iter=100_000)
    ref = obj.cost(np.r_[sk.coef_, sk.intercept_])
    assert abs(res.cost - ref) <= 1e-9 * ref
    assert np.array_equal(res.w[:-1] != 0, sk.coef_ != 0)


@pytest.mark.parametrize("method", L1_METHODS)
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_agrees_with_sklearn_l1_logistic(method, fit_intercept):
    X, y, _ = make_problem(n=150, d=10, loss="log_loss", seed=4)
    C = 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if fit_intercept:
            sk = SkLogisticRegression(C=C, l1_ratio=1.0, solver="saga", tol=1e-12,
                                      max_iter=1_000_000).fit(X, y)
        else:
            sk = SkLogisticRegression(C=C, l1_ratio=1.0, solver="liblinear", tol=1e-12,
                                      fit_intercept=False, max_iter=1_000_000).fit(X, y)
    # scikit-learn: C sum(loss) + |w|_1, which is C n times gdfast's cost with alpha = 1/(C n)
    obj = gdfast.Objective(X, y, alpha=1.0 / (C * len(y)), l1_ratio=1.0,
                           fit_intercept=fit_intercept)
    res = gdfast.minimize(obj, method=method, tol=1e-12, max_iter=100_000)
    w_sk = np.r_[sk.coef_.ravel(), sk.intercept_] if fit_intercept else sk.coef_.ravel()
    ref = obj.cost(w_sk)
    assert res.cost <= ref * (1 + 1e-9)
    assert abs(res.cost - ref) <= 1e-9 * ref
    assert np.array_equal(res.w[:10] != 0, np.abs(w_sk[:10]) > 1e-10)


def test_auto_picks_cd_for_small_l1_problems():
    X, y, _ = make_problem()
    res = gdfast.minimize(gdfast.Objective(X, y, alpha=0.05, l1_ratio=1.0), tol=1e-10)
    assert res.method == "cd" and res.converged


@pytest.mark.parametrize("selection", ["cyclic", "random"])
def test_cd_positive_matches_sklearn(selection):
    X, y = sklearn_lasso_problem(2)
    a = 0.05
    sk = SkLasso(alpha=a, positive=True, tol=1e-14, max_iter=1_000_000).fit(X, y)
    obj = gdfast.Objective(X, y, loss="squared_error", alpha=2 * a, l1_ratio=1.0)
    res = gdfast.minimize(obj, method="cd", tol=1e-12, positive=True, selection=selection,
                          random_state=0)
    assert res.converged
    assert np.all(res.w[:-1] >= 0) and np.any(res.w[:-1] == 0)
    ref = obj.cost(np.r_[sk.coef_, sk.intercept_])
    assert abs(res.cost - ref) <= 1e-9 * ref
    assert np.array_equal(res.w[:-1] != 0, sk.coef_ != 0)


def test_cd_bad_options():
    X, y, _ = make_problem()
    obj = gdfast.Objective(X, y, alpha=0.05, l1_ratio=1.0)
    with pytest.raises(ValueError, match="selection"):
        gdfast.minimize(obj, method="cd", selection="greedy")
    with pytest.raises(TypeError, match="positive"):
        gdfast.minimize(obj, method="cd", positive=1)


@pytest.mark.parametrize("layout", ["C", "F", "float32", "csr", "weighted_offset"])
@pytest.mark.parametrize("shape", [(40, 120), (80, 600)])
def test_cd_residual_updates_for_wide_squared_error(layout, shape):
    n, d = shape
    rng = np.random.default_rng(7)
    X = rng.standard_normal((n, d))
    y = X[:, :6] @ rng.standard_normal(6) + 0.1 * rng.standard_normal(n)
    sw = offset = None
    if layout == "F":
        X = np.asfortranarray(X)
    elif layout == "float32":
        X = X.astype(np.float32)
    elif layout == "csr":
        X = sp.csr_matrix(X * (rng.random(X.shape) < 0.3))
    elif layout == "weighted_offset":
        sw, offset = rng.random(n) * 2, rng.standard_normal(n) * 0.1
    plain = gdfast.Objective(X, y, loss="squared_error", sample_weight=sw, offset=offset)
    g0 = plain.gradient(np.zeros(d + 1))
    obj = gdfast.Objective(X, y, loss="squared_error", alpha=0.2 * np.max(np.abs(g0[:d])),
                           l1_ratio=0.9, sample_weight=sw, offset=offset)
    tol = 1e-10 if layout != "float32" else 1e-4
    res = gdfast.minimize(obj, tol=tol)
    assert res.method == "cd" and res.converged
    assert "sweeps" in res.history
    limit = 1e-7 * obj.alpha if layout != "float32" else 1e-4 * np.max(np.abs(g0))
    assert kkt_violation(obj, res.w) <= limit
    assert 0 < np.count_nonzero(res.w[:d]) < d
    ref = gdfast.minimize(obj, method="proximal", tol=tol, max_iter=100_000)
    assert res.cost <= ref.cost + 1e-9 * abs(ref.cost) + (0 if layout != "float32" else 1e-5)


def test_cd_residual_updates_positive_matches_sklearn():
    rng = np.random.default_rng(8)
    X = rng.standard_normal((40, 100))
    y = X[:, :5] @ np.abs(rng.standard_normal(5)) + 0.1 * rng.standard_normal(40)
    sk = SkLasso(alpha=0.05, positive=True, tol=1e-14, max_iter=10 ** 6).fit(X, y)
    obj = gdfast.Objective(X, y, loss="squared_error", alpha=0.1, l1_ratio=1.0)
    res = gdfast.minimize(obj, method="cd", tol=1e-12, positive=True)
    ref = obj.cost(np.r_[sk.coef_, sk.intercept_])
    assert abs(res.cost - ref) <= 1e-9 * ref
    assert np.array_equal(res.w[:-1] != 0, sk.coef_ != 0)
