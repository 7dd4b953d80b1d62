"""gdfast.minimize: every method against reference loops, Newton's optimum, statsmodels and each other.

The kernels run on one thread here (threads are tested in test_objective.py): these tests are
about iterations and results, and thousands of tiny multi-threaded passes are slow on a shared
machine.
"""
import math
import warnings
from fractions import Fraction

import numpy as np
import pytest
import statsmodels.api as sm
from sklearn.datasets import load_diabetes
from threadpoolctl import threadpool_limits

import gdfast
from gdfast import RankDeficientWarning
from gdfast import _core, reference
from gdfast._solvers import METHODS, choose_method
from gdfast.datasets import load_breast_cancer

from problems import make_problem


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    with threadpool_limits(limits=1, user_api="openmp"):
        yield


@pytest.mark.parametrize("loss", ["log_loss", "squared_error"])
def test_gd_iterates_equal_reference_loop(loss):
    X, y, _ = make_problem(n=300, d=6, loss=loss, seed=1)
    obj = gdfast.Objective(X, y, loss=loss, alpha=0.01)
    lr = 0.5 / obj.curvature_bound()
    res = gdfast.minimize(obj, method="gd", learning_rate=lr, max_iter=50, tol=0.0)
    w_ref, costs_ref = reference.gradient_descent(reference.Objective(X, y, loss=loss, alpha=0.01),
                                                  lr, max_iter=50)
    assert res.n_iter == 50 and res.status == "max_iter"
    np.testing.assert_allclose(res.history["cost"], costs_ref, rtol=1e-12)
    np.testing.assert_allclose(res.w, w_ref, rtol=1e-10)
    assert res.cost == pytest.approx(obj.cost(res.w), rel=1e-14)


@pytest.mark.parametrize("loss", ["log_loss", "squared_error", "poisson", "gamma"])
def test_gd_and_newton_reach_the_same_minimum(loss):
    X, y, _ = make_problem(n=500, d=5, loss=loss, seed=2)
    obj = gdfast.Objective(X, y, loss=loss, alpha=0.05)
    newton = gdfast.minimize(obj, method="newton", tol=1e-12)
    gd = gdfast.minimize(obj, method="gd", tol=1e-9)
    w_ref, _ = reference.newton(reference.Objective(X, y, loss=loss, alpha=0.05), tol=1e-12)
    assert newton.converged and gd.converged
    assert newton.n_iter <= 10
    np.testing.assert_allclose(newton.w, w_ref, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(gd.w, newton.w, rtol=1e-6, atol=1e-8)
    assert np.max(np.abs(obj.gradient(newton.w))) < 1e-10
    assert newton.x is newton.w and newton.fun == newton.cost and newton.success


def test_too_large_learning_rate_diverges_cleanly():
    X, y, _ = make_problem(n=200, d=4, loss="squared_error", seed=3)
    obj = gdfast.Objective(X, y, loss="squared_error")
    lr = 10.0 / obj.curvature_bound()
    with pytest.warns(gdfast.DivergenceWarning, match="learning_rate"):
        res = gdfast.minimize(obj, method="gd", learning_rate=lr, max_iter=1000)
    assert res.status == "diverged" and not res.converged
    assert np.all(np.isfinite(res.w)) and np.isfinite(res.cost)
    assert res.cost == pytest.approx(obj.cost(res.w))
    assert res.cost <= res.history["cost"][0]


def test_auto_learning_rate_is_monotone():
    X, y, _ = make_problem(n=400, d=8, seed=4)
    res = gdfast.minimize(gdfast.Objective(X * 1e3, y, alpha=1e-3), method="gd", max_iter=300, tol=0)
    assert np.all(np.diff(res.history["cost"]) <= 1e-15)


def test_callback_sees_iterations_and_can_stop():
    X, y, _ = make_problem(n=100, d=3, seed=5)
    obj = gdfast.Objective(X, y)
    for method in ("gd", "newton"):
        seen = []
        res = gdfast.minimize(obj, method=method, callback=lambda s: seen.append(s.cost) or len(seen) >= 2)
        assert res.status == "stopped" and len(seen) == 2 and not res.converged
        assert all(np.isfinite(seen))


def test_warm_start_from_the_optimum_converges_at_once():
    X, y, _ = make_problem(n=300, d=4, seed=6)
    obj = gdfast.Objective(X, y, alpha=0.1)
    w = gdfast.minimize(obj, method="newton", tol=1e-12).w
    res = gdfast.minimize(obj, method="newton", w0=w, tol=1e-3)
    assert res.converged and res.n_iter == 0


def test_newton_survives_a_singular_hessian():
    X, y, _ = make_problem(n=200, d=3, loss="squared_error", seed=7)
    X = np.hstack([X, X[:, :1], np.zeros((200, 1))])      # a duplicate and a constant column
    obj = gdfast.Objective(X, y, loss="squared_error")
    with pytest.warns(RankDeficientWarning, match=r"coef\[3\], coef\[4\]"):
        res = gdfast.minimize(obj, method="newton")
    assert res.converged
    assert np.max(np.abs(obj.gradient(res.w))) < 1e-8
    lstsq = np.linalg.lstsq(np.hstack([X, np.ones((200, 1))]), y, rcond=None)[0]
    assert res.cost == pytest.approx(obj.cost(lstsq), rel=1e-10)


def test_bad_solver_arguments():
    X, y, _ = make_problem(n=20, d=2)
    obj = gdfast.Objective(X, y)
    with pytest.raises(ValueError, match="method"):
        gdfast.minimize(obj, method="steepest")
    with pytest.raises(ValueError, match="learning_rate"):
        gdfast.minimize(obj, method="gd", learning_rate=-1.0)
    with pytest.raises(ValueError, match="max_iter"):
        gdfast.minimize(obj, max_iter=0)
    with pytest.raises(ValueError, match="tol"):
        gdfast.minimize(obj, tol=-1.0)
    with pytest.raises(ValueError, match="w0"):
        gdfast.minimize(obj, w0=np.zeros(5))


# ---------------------------------------------------------------------------------------------
# Shared problems
# ---------------------------------------------------------------------------------------------

ALL_METHODS = sorted(METHODS)                     # every method but "auto"
STEP_METHODS = ["gd", "nesterov", "sgd", "adam"]  # the user picks the step


def _breast_cancer():
    X, y, _ = load_breast_cancer()
    return (X - X.mean(axis=0)) / X.std(axis=0), y


@pytest.fixture(scope="module")
def problems():
    """The issue's two problems (the random one at 2e4 rows) with Newton's optimum of each."""
    X, y = _breast_cancer()
    Xr, yr, _ = make_problem(n=20_000, d=50, seed=0, scale=3.0)
    out = {}
    for name, obj in [("breast_cancer", gdfast.Objective(X, y, alpha=1e-2)),
                      ("random", gdfast.Objective(Xr, yr, alpha=1e-2))]:
        best = gdfast.minimize(obj, method="newton", tol=1e-14)
        assert best.converged
        out[name] = (obj, best)
    return out


def _relative_gap(res, best):
    return (res.cost - best.cost) / best.cost


# ---------------------------------------------------------------------------------------------
# The budgets: each method reaches Newton's optimum
# ---------------------------------------------------------------------------------------------

# (method, options, max_iter, relative cost gap to reach)
BUDGETS = [
    ("gd", dict(tol=1e-7), 10_000, 1e-8),
    ("gd", dict(learning_rate="backtracking", tol=1e-7), 10_000, 1e-8),
    ("nesterov", dict(tol=1e-7), 1_000, 1e-8),
    ("newton", dict(tol=1e-10), 20, 1e-10),
    ("newton-cg", dict(tol=1e-10), 30, 1e-10),
    ("lbfgs", dict(tol=1e-10), 500, 1e-10),
]
# Stochastic settings per problem: with 569 rows an epoch is only 36 batches, and a 1/t
# schedule with a step near 1/mu is what gets to 1e-4 in 50 epochs; with 2e4 rows the default
# "adaptive" schedule does better.
STOCHASTIC = {
    "breast_cancer": [("sgd", dict(batch_size=16, learning_rate=3.0, schedule="invscaling", power_t=1.0)),
                      ("adam", dict(batch_size=16, learning_rate=0.1, schedule="invscaling", power_t=1.0))],
    "random": [("sgd", dict(batch_size=16)),
               ("adam", dict(batch_size=16, learning_rate=0.01))],
}


@pytest.mark.parametrize("name", ["breast_cancer", "random"])
@pytest.mark.parametrize("method, options, max_iter, gap", BUDGETS,
                         ids=[f"{m}-{o.get('learning_rate', '')}" for m, o, _, _ in BUDGETS])
def test_deterministic_methods_reach_newtons_optimum_within_budget(problems, name, method, options,
                                                                   max_iter, gap):
    obj, best = problems[name]
    res = gdfast.minimize(obj, method=method, max_iter=max_iter, **options)
    assert res.status == "converged", res.message
    assert res.n_iter <= max_iter
    assert abs(_relative_gap(res, best)) <= gap
    assert res.cost == pytest.approx(obj.cost(res.w), rel=1e-12)


@pytest.mark.parametrize("name", ["breast_cancer", "random"])
@pytest.mark.parametrize("which", [0, 1], ids=["sgd", "adam"])
def test_stochastic_methods_reach_1e4_within_50_epochs(problems, name, which):
    obj, best = problems[name]
    method, options = STOCHASTIC[name][which]
    assert options["batch_size"] <= 256
    res = gdfast.minimize(obj, method=method, max_iter=50, random_state=0, **options)
    assert res.n_iter <= 50 and res.status in ("converged", "max_iter")
    assert 0 <= _relative_gap(res, best) <= 1e-4
    assert len(res.history["cost"]) == res.n_iter + 1
    assert res.cost == pytest.approx(obj.cost(res.w), rel=1e-12)


@pytest.mark.parametrize("factor", [1e3, 1e-3])
def test_auto_learning_rate_needs_no_tuning_in_other_units(problems, factor):
    """X * c with alpha * c^2 is the same problem (coef / c, same cost) in other units."""
    obj, best = problems["breast_cancer"]
    scaled = gdfast.Objective(obj.X * factor, obj.y, alpha=obj.alpha * factor**2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                # no DivergenceWarning, nothing else
        res = gdfast.minimize(scaled, method="gd", learning_rate="auto", max_iter=2000, tol=0.0)
    assert res.status == "max_iter"
    costs = res.history["cost"]
    assert np.all(np.isfinite(costs)) and np.all(np.isfinite(res.w))
    assert np.all(np.diff(costs) <= 4 * np.finfo(float).eps * costs[:-1])   # monotone
    assert costs[-1] < costs[0]
    # "auto" (the default method) reaches the optimum there within twice its unscaled count
    plain = gdfast.minimize(obj)
    other = gdfast.minimize(scaled)
    assert plain.converged and other.converged
    assert other.n_iter <= 2 * plain.n_iter
    assert other.cost == pytest.approx(best.cost, rel=1e-10)
    np.testing.assert_allclose(other.w[:-1] * factor, best.w[:-1], rtol=1e-6)


# ---------------------------------------------------------------------------------------------
# Newton against statsmodels on real data, and against an exact solution
# ---------------------------------------------------------------------------------------------

def _spector():
    d = sm.datasets.spector.load_pandas()
    return d.exog.to_numpy(float), d.endog.to_numpy(float), "log_loss"


def _fair():
    d = sm.datasets.fair.load_pandas()                # 6366 rows; y = 1 if any affair
    return d.exog.to_numpy(float), (d.endog.to_numpy() > 0).astype(float), "log_loss"


def _diabetes():
    X, y = load_diabetes(return_X_y=True)
    return X, y, "squared_error"


def _longley():
    d = sm.datasets.longley.load_pandas()             # cond(X) ~ 5e9: a classic hard OLS case
    return d.exog.to_numpy(float), d.endog.to_numpy(float), "squared_error"


@pytest.mark.parametrize("load", [_spector, _fair, _diabetes, _longley],
                         ids=["spector-logit", "fair-logit", "diabetes-ols", "longley-ols"])
def test_newton_agrees_with_statsmodels_to_10_digits(load):
    X, y, loss = load()
    Xa = np.column_stack([X, np.ones(len(y))])        # gdfast puts the intercept last
    if loss == "log_loss":
        ref = sm.Logit(y, Xa).fit(method="newton", tol=1e-12, maxiter=100, disp=0).params
    else:
        ref = sm.OLS(y, Xa).fit().params              # pinv: no tolerance
    res = gdfast.minimize(gdfast.Objective(X, y, loss=loss), method="newton", tol=0.0)
    assert res.converged, res.message
    np.testing.assert_allclose(res.w, ref, rtol=1e-10, atol=0)


def _exact_least_squares(A, b):
    """The least-squares solution in exact rational arithmetic (normal equations, elimination)."""
    A = [[Fraction(v) for v in row] for row in A]
    b = [Fraction(v) for v in b]
    p = len(A[0])
    M = [[sum(r[i] * r[j] for r in A) for j in range(p)] for i in range(p)]
    v = [sum(r[i] * bi for r, bi in zip(A, b)) for i in range(p)]
    for i in range(p):
        for j in range(i + 1, p):
            f = M[j][i] / M[i][i]
            M[j] = [mj - f * mi for mj, mi in zip(M[j], M[i])]
            v[j] -= f * v[i]
    x = [Fraction(0)] * p
    for i in reversed(range(p)):
        x[i] = (v[i] - sum(M[i][k] * x[k] for k in range(i + 1, p))) / M[i][i]
    return np.array([float(xi) for xi in x])


def test_newton_reaches_the_exact_longley_solution():
    X, y, _ = _longley()
    exact = _exact_least_squares(np.column_stack([X, np.ones(len(y))]), y)
    # the certified NIST StRD value of the intercept, as a check on the oracle itself
    assert exact[-1] == pytest.approx(-3482258.63459582, rel=1e-14)
    res = gdfast.minimize(gdfast.Objective(X, y, loss="squared_error"), method="newton", tol=0.0)
    np.testing.assert_allclose(res.w, exact, rtol=1e-10, atol=0)


# ---------------------------------------------------------------------------------------------
# Hard data: feature scales, collinear and constant columns
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("loss", ["log_loss", "squared_error", "poisson", "gamma"])
@pytest.mark.parametrize("method", ["newton", "newton-cg", "auto"])
def test_feature_scales_from_1e_minus_8_to_1e8(loss, method):
    X, y, _ = make_problem(n=500, d=9, loss=loss, seed=3)
    scales = np.logspace(-8, 8, 9)
    plain = gdfast.minimize(gdfast.Objective(X, y, loss=loss), method="newton", tol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = gdfast.minimize(gdfast.Objective(X * scales, y, loss=loss), method=method, tol=1e-12)
    assert res.converged, res.message
    assert res.cost == pytest.approx(plain.cost, rel=1e-12)
    np.testing.assert_allclose(res.w[:-1] * scales, plain.w[:-1], rtol=1e-7)


@pytest.mark.parametrize("loss", ["log_loss", "squared_error", "poisson", "gamma"])
@pytest.mark.parametrize("method", ["newton", "newton-cg", "lbfgs"])
def test_collinear_and_constant_columns_give_a_minimiser(loss, method):
    X, y, _ = make_problem(n=300, d=4, loss=loss, seed=8)
    # a multiple of a column, a constant column (collinear with the intercept) and a zero column
    Xc = np.hstack([X, 3.0 * X[:, :1], np.full((300, 1), 2.0), np.zeros((300, 1))])
    best = gdfast.minimize(gdfast.Objective(X, y, loss=loss), method="newton", tol=1e-13)
    obj = gdfast.Objective(Xc, y, loss=loss)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        if method == "newton" and loss == "squared_error":   # the exact solve names them
            warnings.simplefilter("ignore", RankDeficientWarning)
        res = gdfast.minimize(obj, method=method, tol=1e-10)
    assert res.converged, res.message
    assert np.all(np.isfinite(res.w))
    assert res.cost == pytest.approx(best.cost, rel=1e-10)     # the same fitted values


# ---------------------------------------------------------------------------------------------
# Separable classes, divergence, callbacks, warm starts
# ---------------------------------------------------------------------------------------------

def _separable():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 3))
    return X, (X @ np.array([1.0, -2.0, 0.5]) + 0.3 > 0).astype(float)


@pytest.mark.parametrize("method", ["gd", "nesterov", "newton", "newton-cg", "lbfgs", "auto"])
def test_separable_classes_are_reported(method):
    X, y = _separable()
    obj = gdfast.Objective(X, y)
    with pytest.warns(gdfast.SeparationWarning, match="alpha > 0") as record:
        res = gdfast.minimize(obj, method=method)
    assert record[0].filename == __file__              # the warning points at the caller
    assert res.status == "separated" and not res.converged
    assert "separable" in res.message and "alpha > 0" in res.message
    assert np.all(np.isfinite(res.w)) and res.cost == pytest.approx(obj.cost(res.w), rel=1e-12)
    z = X @ res.w[:-1] + res.w[-1]
    assert np.all((2 * y - 1) * z > 0)                 # the returned w separates the classes
    # the same data with a penalty has a minimiser
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fixed = gdfast.minimize(gdfast.Objective(X, y, alpha=1e-3), method=method)
    assert fixed.status == "converged"


@pytest.mark.parametrize("method", ["newton", "lbfgs", "gd"])
def test_overlapping_classes_without_penalty_are_not_called_separable(method):
    X, y, _ = make_problem(n=300, d=3, seed=9)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = gdfast.minimize(gdfast.Objective(X, y), method=method)
    assert res.status == "converged"


@pytest.mark.parametrize("method", STEP_METHODS)
@pytest.mark.parametrize("loss", ["log_loss", "squared_error"])
def test_a_step_too_large_diverges_cleanly(method, loss):
    X, y, _ = make_problem(n=400, d=5, loss=loss, seed=10)
    obj = gdfast.Objective(X, y, loss=loss)
    lr = 1e3 if method == "adam" else 50.0 / obj.curvature_bound()
    start = obj.cost(np.zeros(obj.n_params))
    seeded = {"random_state": 0} if method in ("sgd", "adam") else {}
    with pytest.warns(gdfast.DivergenceWarning, match="learning_rate") as record:
        res = gdfast.minimize(obj, method=method, learning_rate=lr, max_iter=1000, **seeded)
    assert record[0].filename == __file__
    assert "smaller" in str(record[0].message)         # it says what to do
    assert res.status == "diverged" and not res.converged
    assert np.all(np.isfinite(res.w)) and math.isfinite(res.cost)
    assert res.cost == pytest.approx(obj.cost(res.w), rel=1e-12)
    assert res.cost <= start


@pytest.mark.parametrize("method", ALL_METHODS)
def test_callback_stops_every_method(method):
    X, y, _ = make_problem(n=300, d=4, seed=11)
    obj = gdfast.Objective(X, y, alpha=1e-3)
    seen = []

    def callback(state):
        seen.append(state)
        return len(seen) == 2

    res = gdfast.minimize(obj, method=method, callback=callback, tol=0.0)
    assert res.status == "stopped" and not res.converged and "callback" in res.message
    assert [s.n_iter for s in seen] == [1, 2] and res.n_iter == 2
    np.testing.assert_array_equal(res.w, seen[-1].w)
    assert res.cost == pytest.approx(seen[-1].cost, rel=1e-12)
    assert res.cost == pytest.approx(obj.cost(res.w), rel=1e-12)
    assert seen[-1].grad_norm == pytest.approx(np.max(np.abs(obj.gradient(res.w))), rel=1e-9)
    assert seen[0].w is not seen[1].w and seen[-1].w is not res.w    # callers get copies


@pytest.mark.parametrize("method", ALL_METHODS)
def test_history_and_result_are_consistent(method):
    X, y, _ = make_problem(n=300, d=4, seed=12)
    obj = gdfast.Objective(X, y, alpha=1e-2)
    seeded = {"random_state": 0} if method in ("sgd", "adam") else {}
    res = gdfast.minimize(obj, method=method, max_iter=30, **seeded)
    assert res.method == method and res.status in ("converged", "max_iter")
    for key in ("cost", "grad_norm", "step"):
        assert res.history[key].dtype == np.float64
        assert len(res.history[key]) == res.n_iter + 1
    steps = res.history["step"]
    assert np.all(steps[:-1] > 0) and steps[-1] == 0          # no step from the last point
    assert res.history["cost"][0] == pytest.approx(obj.cost(np.zeros(obj.n_params)), rel=1e-12)
    assert res.history["grad_norm"][0] == pytest.approx(
        np.max(np.abs(obj.gradient(np.zeros(obj.n_params)))), rel=1e-12)
    assert res.cost == pytest.approx(obj.cost(res.w), rel=1e-12)
    assert res.cost <= res.history["cost"][0]


@pytest.mark.parametrize("method", ["newton", "newton-cg", "lbfgs", "gd", "nesterov"])
def test_warm_start_from_the_optimum(method):
    X, y, _ = make_problem(n=300, d=4, seed=13)
    obj = gdfast.Objective(X, y, alpha=0.1)
    w = gdfast.minimize(obj, method="newton", tol=1e-13).w
    res = gdfast.minimize(obj, method=method, w0=w, tol=1e-6)
    assert res.converged and res.n_iter == 0
    np.testing.assert_array_equal(res.w, w)


def test_auto_picks_newton_for_a_cheap_hessian_and_lbfgs_otherwise():
    X, y, _ = make_problem(n=40, d=600, seed=14)
    obj = gdfast.Objective(X, y, alpha=1e-2)
    assert choose_method(obj) == "lbfgs"
    assert choose_method(gdfast.Objective(X[:, :100], y)) == "newton"
    res = gdfast.minimize(obj)
    assert res.method == "lbfgs" and res.converged
    assert np.max(np.abs(obj.gradient(res.w))) <= 1e-8 * np.max(np.abs(obj.gradient(np.zeros(601))))


@pytest.mark.parametrize("d,finish", [(5, "newton"), (600, "newton-cg")])
def test_auto_hands_over_to_a_newton_method_when_lbfgs_stalls(monkeypatch, d, finish):
    from gdfast import _solvers
    monkeypatch.setattr(_solvers, "AUTO_NEWTON_MAX_WORK", 0)     # never Newton first
    monkeypatch.setattr(_solvers, "AUTO_LBFGS_BUDGET", 2)        # L-BFGS "stalls" after 2 steps
    X, y, _ = make_problem(n=60, d=d, seed=15)
    obj = gdfast.Objective(X, y, alpha=1e-2)
    res = gdfast.minimize(obj)
    assert res.method == f"lbfgs+{finish}" and res.converged
    assert len(res.history["cost"]) >= 3 and res.n_iter > 2
    best = gdfast.minimize(obj, method="newton" if d < 100 else "newton-cg", tol=1e-12)
    assert res.cost == pytest.approx(best.cost, rel=1e-12)


def _ill_conditioned_logistic(n, d, seed):
    """make_classification with d/2 informative (correlated) features: L-BFGS from the
    identity needs several times Newton's iterations here."""
    from sklearn.datasets import make_classification
    X, y = make_classification(n_samples=n, n_features=d, n_informative=d // 2, random_state=seed)
    return X, y.astype(float)


@pytest.mark.parametrize("weighted", [False, True])
def test_row_sample_is_the_objective_of_the_chosen_rows(weighted):
    X, y = _ill_conditioned_logistic(1000, 8, 21)
    sw = np.random.default_rng(3).uniform(0.5, 2.0, len(y)) if weighted else None
    obj = gdfast.Objective(X, y, alpha=1e-3, sample_weight=sw)
    w = np.random.default_rng(4).normal(size=obj.n_params) / 4
    assert obj.row_sample(1000) is obj
    sample = obj.row_sample(100)
    rows = np.linspace(0, 999, 100).astype(np.intp)      # spread evenly, first and last included
    ref = reference.Objective(X[rows], y[rows], alpha=1e-3,
                              sample_weight=None if sw is None else sw[rows])
    np.testing.assert_allclose(sample.hessian(w), ref.hessian(w), rtol=1e-12, atol=1e-15)
    assert sample.cost(w) == pytest.approx(ref.cost(w), rel=1e-13)
    assert not np.allclose(sample.hessian(w), obj.hessian(w), rtol=1e-3)   # an estimate
    X0, y0 = X.copy(), y.copy()
    obj.row_sample(10)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)


def test_row_sample_is_none_when_the_chosen_rows_carry_no_weight():
    X, y = _ill_conditioned_logistic(200, 4, 22)
    sw = np.zeros(200)
    sw[1::2] = 1.0                                      # the rows linspace(0, 198, 100) miss
    obj = gdfast.Objective(X[:199], y[:199], sample_weight=sw[:199])
    assert obj.row_sample(100) is None


def test_auto_preconditions_lbfgs_on_ill_conditioned_data():
    # n * n_params^2 above AUTO_NEWTON_MAX_WORK: "auto" runs L-BFGS, preconditioned by the
    # Hessian on a few rows; it converges in a fraction of plain L-BFGS's iterations, to
    # Newton's optimum, and the rate watch has no reason to hand over
    X, y = _ill_conditioned_logistic(60_000, 60, 23)
    obj = gdfast.Objective(X, y, alpha=1e-4)
    assert choose_method(obj) == "lbfgs"
    auto = gdfast.minimize(obj, tol=1e-8)
    plain = gdfast.minimize(obj, method="lbfgs", tol=1e-8)
    best = gdfast.minimize(obj, method="newton", tol=1e-12)
    assert auto.method == "lbfgs" and auto.converged and plain.converged
    assert auto.n_iter <= 20 and 2 * auto.n_iter < plain.n_iter
    np.testing.assert_allclose(auto.w, best.w, rtol=1e-5, atol=1e-7)


def test_auto_runs_plain_lbfgs_when_the_estimate_is_singular():
    # no penalty and a repeated column: the row Hessian is singular, Cholesky fails, and
    # "auto" goes on without a preconditioner
    X, y = _ill_conditioned_logistic(60_000, 80, 24)
    X = np.hstack([X, X[:, :1]])
    obj = gdfast.Objective(X, y, alpha=0.0)
    from gdfast._sampled_hessian import SampledHessian
    assert SampledHessian.create(obj, np.zeros(obj.n_params)) is None
    res = gdfast.minimize(obj, tol=1e-6)
    assert res.method.startswith("lbfgs") and np.all(np.isfinite(res.w))
    assert np.max(np.abs(obj.gradient(res.w))) <= 1e-6 * np.max(np.abs(obj.gradient(np.zeros(obj.n_params))))


# ---------------------------------------------------------------------------------------------
# The compiled loops against plain numpy loops
# ---------------------------------------------------------------------------------------------

def _nesterov_reference(obj, lr, n):
    """x+ = y - lr g(y); restart if g(y).(x+ - x) > 0; y+ = x+ + k/(k+3) (x+ - x)."""
    x = y = np.zeros(obj.n_params)
    k, costs = 0, []
    for _ in range(n):
        c, g = obj.cost_gradient(y)
        costs.append(c)
        x_new = y - lr * g
        if g @ (x_new - x) > 0:
            k = 0
        y = x_new + k / (k + 3.0) * (x_new - x)
        x, k = x_new, k + 1
    return np.array(costs)


def _backtracking_reference(obj, t0, n):
    """Armijo with c1 = 1/2: trial steps 1.25 t_prev, halved until accepted."""
    w, t, costs = np.zeros(obj.n_params), t0 / 1.25, []
    c, g = obj.cost_gradient(w)
    for _ in range(n):
        costs.append(c)
        t *= 1.25
        while True:
            c_new, g_new = obj.cost_gradient(w - t * g)
            if c_new <= c - 0.5 * t * (g @ g):
                break
            t *= 0.5
        w, c, g = w - t * g, c_new, g_new
    return np.array(costs)


@pytest.mark.parametrize("loss", ["log_loss", "squared_error"])
def test_nesterov_and_backtracking_loops_equal_numpy_loops(loss):
    from gdfast._first_order import _first_step
    X, y, _ = make_problem(n=300, d=6, loss=loss, seed=15)
    obj = gdfast.Objective(X, y, loss=loss, alpha=1e-3)
    ref_obj = reference.Objective(X, y, loss=loss, alpha=1e-3)
    lr = 1.0 / obj.curvature_bound()
    res = gdfast.minimize(obj, method="nesterov", learning_rate=lr, max_iter=60, tol=0.0)
    np.testing.assert_allclose(res.history["cost"], _nesterov_reference(ref_obj, lr, 61), rtol=1e-10)
    res = gdfast.minimize(obj, method="gd", learning_rate="backtracking", max_iter=40, tol=0.0)
    np.testing.assert_allclose(res.history["cost"],
                               _backtracking_reference(ref_obj, _first_step(obj), 41), rtol=1e-10)


def _stochastic_reference(obj, method, lr, batch_size, epochs, seed, momentum=0.0, average=None,
                          beta1=0.9, beta2=0.999, eps=1e-8):
    """Mini-batch SGD (heavy ball) or Adam in numpy, with the driver's shuffles."""
    X = obj.X.astype(np.float64)
    n, d = X.shape
    rng = np.random.default_rng(seed)
    w, v, m, avg = (np.zeros(d + 1) for _ in range(4))
    t = n_avg = 0
    for epoch in range(1, epochs + 1):
        perm = rng.permutation(n)
        for start in range(0, n, batch_size):
            rows = perm[start:start + batch_size]
            z = X[rows] @ w[:-1] + w[-1]
            p = 1.0 / (1.0 + np.exp(-z))
            r = p - obj.y[rows] if obj.loss == "log_loss" else 2.0 * (z - obj.y[rows])
            g = np.append(X[rows].T @ r, r.sum()) / len(rows)
            g[:-1] += obj.alpha * w[:-1]
            t += 1
            if method == "sgd":
                v = momentum * v - lr * g
                w = w + v
            else:
                v = beta1 * v + (1 - beta1) * g
                m = beta2 * m + (1 - beta2) * g * g
                w = w - lr * (v / (1 - beta1**t)) / (np.sqrt(m / (1 - beta2**t)) + eps)
            if average is not None and epoch > average:
                n_avg += 1
                avg = avg + (w - avg) / n_avg
    return avg if average is not None else w


@pytest.mark.parametrize("method, options", [
    ("sgd", dict(momentum=0.0)), ("sgd", dict(momentum=0.8, average=1)),
    ("adam", dict()), ("adam", dict(beta1=0.5, beta2=0.9, eps=1e-6)),
])
@pytest.mark.parametrize("loss", ["log_loss", "squared_error"])
def test_stochastic_epochs_equal_a_numpy_loop(method, options, loss):
    X, y, _ = make_problem(n=203, d=5, loss=loss, seed=16)     # 203 rows: the last batch is short
    obj = gdfast.Objective(X, y, loss=loss, alpha=1e-2)
    lr = 0.01 if method == "adam" else 0.05
    res = gdfast.minimize(obj, method=method, learning_rate=lr, batch_size=10, max_iter=3,
                          schedule="constant", random_state=7, tol=0.0, **options)
    # the result is the best epoch end; with these small steps the cost falls every epoch
    assert np.all(np.diff(res.history["cost"]) < 0)
    expected = _stochastic_reference(obj, method, lr, 10, 3, 7, **options)
    np.testing.assert_allclose(res.w, expected, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("method", ["sgd", "adam"])
def test_stochastic_layouts_dtypes_and_seeds(method):
    X, y, _ = make_problem(n=500, d=6, seed=17)
    base = gdfast.minimize(gdfast.Objective(X, y, alpha=1e-2), method=method, max_iter=5,
                           random_state=3)
    again = gdfast.minimize(gdfast.Objective(X, y, alpha=1e-2), method=method, max_iter=5,
                            random_state=3)
    np.testing.assert_array_equal(base.w, again.w)
    other_seed = gdfast.minimize(gdfast.Objective(X, y, alpha=1e-2), method=method, max_iter=5,
                                 random_state=4)
    assert not np.array_equal(base.w, other_seed.w)
    frozen = np.asfortranarray(X)
    frozen.setflags(write=False)
    fortran = gdfast.minimize(gdfast.Objective(frozen, y, alpha=1e-2), method=method, max_iter=5,
                              random_state=3)
    np.testing.assert_allclose(fortran.w, base.w, rtol=1e-12, atol=1e-15)
    single = gdfast.minimize(gdfast.Objective(X.astype(np.float32), y, alpha=1e-2), method=method,
                             max_iter=5, random_state=3)
    np.testing.assert_allclose(single.w, base.w, rtol=1e-4, atol=1e-6)


def test_sample_weights_in_stochastic_methods_match_repeated_rows():
    """A weight of 2 is the same as the row twice: both reach the same optimum."""
    X, y, _ = make_problem(n=300, d=4, seed=18)
    weights = np.where(np.arange(300) % 3 == 0, 2.0, 1.0)
    Xr, yr = np.repeat(X, weights.astype(int), axis=0), np.repeat(y, weights.astype(int))
    weighted = gdfast.Objective(X, y, alpha=1e-2, sample_weight=weights)
    repeated = gdfast.Objective(Xr, yr, alpha=1e-2)
    best = gdfast.minimize(repeated, method="newton", tol=1e-12)
    res = gdfast.minimize(weighted, method="sgd", batch_size=8, max_iter=50, random_state=0)
    assert _relative_gap(res, best) <= 1e-3
    assert res.cost == pytest.approx(repeated.cost(res.w), rel=1e-12)


def test_diag_weighted_kernel():
    X, y, _ = make_problem(n=300, d=5, seed=19, order="F", dtype=np.float32)
    obj = gdfast.Objective(X, y)
    hw = np.random.default_rng(0).random(300)
    out = np.empty(6)
    obj._kernel.diag_weighted(hw, out)
    Xa = np.column_stack([X.astype(np.float64), np.ones(300)])
    np.testing.assert_allclose(out, (Xa**2).T @ hw, rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# Arguments
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method, kwargs, error, match", [
    ("steepest", {}, ValueError, "'lbfgs'"),
    ("gd", dict(learning_rate="fast"), ValueError, "learning_rate"),
    ("gd", dict(learning_rate=0.0), ValueError, "learning_rate"),
    ("nesterov", dict(learning_rate="backtracking"), ValueError, "learning_rate"),
    ("newton", dict(learning_rate=0.1), ValueError, "learning_rate"),
    ("auto", dict(learning_rate=0.1), ValueError, "method='auto'"),
    ("newton", dict(batch_size=3), TypeError, "batch_size"),
    ("auto", dict(memory=3), TypeError, "memory"),
    ("gd", dict(momentum=0.5), TypeError, "learning_rate"),   # lists gd's options
    ("sgd", dict(batch_size=0), ValueError, "batch_size"),
    ("sgd", dict(batch_size=2.5), TypeError, "batch_size"),
    ("sgd", dict(schedule="cosine"), ValueError, "schedule"),
    ("sgd", dict(momentum=1.0), ValueError, "momentum"),
    ("sgd", dict(power_t=-1.0), ValueError, "power_t"),
    ("sgd", dict(average=-1), ValueError, "average"),
    ("sgd", dict(random_state="seed"), TypeError, "random_state"),
    ("adam", dict(beta1=1.0), ValueError, "beta1"),
    ("adam", dict(beta2=-0.1), ValueError, "beta2"),
    ("adam", dict(eps=0.0), ValueError, "eps"),
    ("lbfgs", dict(memory=0), ValueError, "memory"),
    ("newton-cg", dict(max_cg_iter=0), ValueError, "max_cg_iter"),
    ("lbfgs", dict(callback=3), TypeError, "callback"),
    ("lbfgs", dict(tol=float("nan")), ValueError, "tol"),
])
def test_bad_arguments_name_the_argument(method, kwargs, error, match):
    X, y, _ = make_problem(n=20, d=2)
    with pytest.raises(error, match=match):
        gdfast.minimize(gdfast.Objective(X, y), method=method, **kwargs)


@pytest.mark.parametrize("method", ["gd", "nesterov", "sgd", "adam", "auto"])
@pytest.mark.parametrize("loss", ["log_loss", "squared_error"])
def test_all_zero_features_without_penalty_or_intercept(method, loss):
    """Xa = 0 and alpha = 0: the cost is flat, the curvature bound is 0, and the automatic step
    must not divide by it (hypothesis found X = [[0]])."""
    obj = gdfast.Objective(np.zeros((3, 2)), np.array([1.0, 0.0, 1.0]), loss=loss, alpha=0.0,
                           fit_intercept=False)
    assert obj.curvature_bound() == 0.0
    res = gdfast.minimize(obj, method=method, max_iter=5)
    assert np.array_equal(res.x, np.zeros(2))
    assert np.isfinite(res.fun)


def test_newton_builds_the_constant_hessian_of_a_quadratic_loss_once():
    """The squared error's Hessian does not depend on w: Newton forms it once, then refines with
    gradients only; the log loss's changes, and Newton forms it at every iteration."""
    calls = []

    class Counting(gdfast.Objective):
        def cost_gradient_hessian(self, w):
            calls.append(self.loss.name)
            return super().cost_gradient_hessian(w)

    for loss in ("squared_error", "log_loss"):
        X, y, _ = make_problem(n=300, d=6, loss=loss, seed=21)
        res = gdfast.minimize(Counting(X, y, loss=loss, alpha=1e-3), method="newton")
        best = gdfast.minimize(gdfast.Objective(X, y, loss=loss, alpha=1e-3), method="lbfgs", tol=1e-12)
        assert res.converged and res.cost == pytest.approx(best.cost, rel=1e-12)
        assert (calls.count(loss) == 1) == (loss == "squared_error")
        assert res.n_iter >= 1 and calls.count("log_loss") in (0, res.n_iter + 1)


def test_auto_hands_over_to_newton_when_the_lbfgs_rate_makes_newton_cheaper(monkeypatch):
    from gdfast import _solvers
    monkeypatch.setattr(_solvers, "AUTO_NEWTON_MAX_WORK", 0)     # start with L-BFGS
    # without its preconditioner (which converges here before the rate is judged): the rate
    # watch is the safety net for data where the row-sampled Hessian is a poor estimate
    monkeypatch.setattr(_solvers.SampledHessian, "create", lambda obj, w: None)
    rng = np.random.default_rng(16)
    X = rng.normal(size=(3000, 8)) @ np.diag(np.logspace(0, 3, 8))   # ill-conditioned columns
    y = (X @ (rng.normal(size=8) / np.logspace(0, 3, 8)) + rng.logistic(size=3000) > 0)
    obj = gdfast.Objective(X, y.astype(float), alpha=1e-6)
    res = gdfast.minimize(obj)
    assert res.method == "lbfgs+newton" and "rate" in res.message and res.converged
    best = gdfast.minimize(obj, method="newton", tol=1e-12)
    assert res.cost == pytest.approx(best.cost, rel=1e-12)
    # well-conditioned data: L-BFGS converges fast and keeps the run
    Xw, yw, _ = make_problem(n=3000, d=8, seed=17)
    assert gdfast.minimize(gdfast.Objective(Xw, yw, alpha=1e-2)).method == "lbfgs"
