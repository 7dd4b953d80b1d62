"""Reliability (issue 18): no "converged" without an optimum, no NaN from finite data, every
argument checked, every message naming its argument.

Each test here failed on the code before issue 18 (checked by running this file against it);
the property test drives every minimize method from random starts, huge finite ones included.
"""
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import gdfast
from gdfast._solvers import METHODS

ALL_METHODS = ["auto", *METHODS]


def normal_problem(n=20, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    z = X @ np.array([1.0, -2.0, 0.5]) + 0.3
    return X, z, rng


def _problems():
    X, z, rng = normal_problem()
    labels = (rng.random(len(z)) < 1 / (1 + np.exp(-z))).astype(float)
    values = z + rng.standard_normal(len(z))
    counts = rng.poisson(np.exp(z / 3)).astype(float)
    return {
        "log_loss, alpha=0.1": gdfast.Objective(X, labels, loss="log_loss", alpha=0.1),
        "log_loss, alpha=0": gdfast.Objective(X, labels, loss="log_loss"),
        "squared_error, alpha=0": gdfast.Objective(X, values, loss="squared_error"),
        "squared_error, alpha=0.1": gdfast.Objective(X, values, loss="squared_error", alpha=0.1),
        "poisson, alpha=0.1": gdfast.Objective(X, counts, loss="poisson", alpha=0.1),
    }


PROBLEMS = _problems()
OPTIMA = {name: gdfast.minimize(obj, method="newton", tol=1e-14) for name, obj in PROBLEMS.items()}
FLOOR_WORDS = ("limit of double precision", "no decrease of the cost is possible",
               "no step along the gradient lowers the cost")


def check_run(name, method, w0, max_iter=300, **options):
    """Run minimize from w0 and check what it may report (see test_every_method_from_any_start)."""
    obj, optimum = PROBLEMS[name], OPTIMA[name]
    assert optimum.status == "converged"
    steps = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            res = gdfast.minimize(obj, method=method, w0=w0, max_iter=max_iter,
                                  callback=lambda state: steps.append(state.n_iter), **options)
        except ValueError as e:
            # a clear error, before the run: it names the argument, and no step was taken
            assert not steps, f"{method} raised after {len(steps)} steps: {e}"
            assert str(e).startswith(("w0:", "X:", "y:", "learning_rate=", "learning_rate ")), e
            return None
    tol = 1e-4 if method in ("sgd", "adam") else 1e-8
    assert np.all(np.isfinite(res.w)) and math.isfinite(res.cost), res
    assert res.cost == pytest.approx(obj.cost(res.w), rel=1e-9, abs=1e-12), res
    if res.status == "diverged":            # the best finite iterate: no worse than the start
        assert res.cost <= res.history["cost"][0]
    if res.status == "converged":
        g0 = np.max(np.abs(obj.gradient(np.zeros(obj.n_params))))
        G = g0 if g0 > 0 else np.max(np.abs(obj.gradient(w0)))
        grad = np.max(np.abs(obj.gradient(res.w)))
        assert grad <= tol * G or any(words in res.message for words in FLOOR_WORDS), res
        # and it is the optimum: a convex cost within its stopping rule of the minimum
        gap = res.cost - optimum.cost
        assert gap <= 1e-6 * abs(optimum.cost) + 1e-12, (res, optimum.cost)
    return res


def starts(n_params):
    """Starts from 0 to 1e300 in size, coordinate by coordinate (signs and sizes mixed)."""
    coordinate = st.one_of(st.just(0.0), st.builds(lambda s, e: s * 10.0 ** e,
                                                   st.sampled_from([-1.0, 1.0]),
                                                   st.floats(-3, 300)))
    return st.lists(coordinate, min_size=n_params, max_size=n_params).map(np.array)


@settings(max_examples=120, deadline=None)
@given(name=st.sampled_from(sorted(PROBLEMS)), method=st.sampled_from(ALL_METHODS),
       w0=starts(4))
def test_every_method_from_any_start(name, method, w0):
    """Property: from any finite start, every method either refuses it at once with an error
    that names the argument, or returns finite weights whose cost is the reported cost; and
    "converged" means the stopping rule holds at the result (or the rounding floor) and the
    result is the optimum."""
    check_run(name, method, w0)


@pytest.mark.parametrize("method", ALL_METHODS)
def test_every_method_from_moderate_starts_converges(method):
    """The property's other side: from ordinary starts the methods do converge (so the property
    is not met by giving up)."""
    rng = np.random.default_rng(5)
    # Adam's default step (1e-3 in the units of w) needs thousands of epochs of 20 rows
    options = (dict(learning_rate=0.01, batch_size=20, max_iter=1000) if method == "adam"
               else dict(max_iter=None))
    for name in ("log_loss, alpha=0.1", "squared_error, alpha=0"):
        res = check_run(name, method, rng.standard_normal(4), **options)
        assert res is not None and res.status == "converged", (name, res)


# ---- 1. no "converged" without an optimum --------------------------------------------------

def issue_objective():
    """The issue's case: 20 x 3 normal X, the log loss, alpha = 0.1."""
    X, z, rng = normal_problem()
    return gdfast.Objective(X, (rng.random(20) < 0.5).astype(float), loss="log_loss", alpha=0.1)


@pytest.mark.parametrize("method", ALL_METHODS)
def test_a_start_whose_cost_is_not_finite_is_refused_naming_w0(method):
    """Before: lbfgs and newton "converged" there with cost inf, gd and sgd "diverged" with
    w = w0 and cost inf, nesterov and adam returned cost inf."""
    steps = []
    with pytest.raises(ValueError, match=r"^w0: the cost overflows double precision at this w0: "
                                         r"the penalty .* Use a smaller w0"):
        gdfast.minimize(issue_objective(), method=method, w0=np.full(4, 1e300),
                        callback=steps.append)
    assert steps == []


def test_an_objective_that_answers_inf_at_the_start_is_refused():
    """An objective of the contract that does not raise on overflow is refused as well."""
    inner = issue_objective()

    class Answers:
        n_params, n_samples, n_features = inner.n_params, inner.n_samples, inner.n_features
        loss, alpha, fit_intercept, sample_weight, n_threads = "log_loss", 0.1, True, None, 1

        def cost(self, w):
            return self.cost_gradient(w)[0]

        def gradient(self, w):
            return self.cost_gradient(w)[1]

        def cost_gradient(self, w):
            return (np.inf, np.full(4, np.inf)) if np.max(np.abs(w)) > 1e10 else \
                inner.cost_gradient(w)

        def hessian(self, w):
            return inner.hessian(w)

        def cost_gradient_hessian(self, w):
            return (*self.cost_gradient(w), inner.hessian(w))

        def hessp(self, w, v):
            return inner.hessp(w, v)

        def curvature_bound(self):
            return inner.curvature_bound()

    for method in ("newton", "lbfgs", "gd", "newton-cg"):
        with pytest.raises(ValueError, match=r"^w0: the cost at the start is inf"):
            gdfast.minimize(Answers(), method=method, w0=np.full(4, 1e20))
        assert gdfast.minimize(Answers(), method=method).status == "converged"


@pytest.mark.parametrize("method", ALL_METHODS)
@pytest.mark.parametrize("name, size", [("log_loss, alpha=0.1", 1e10),
                                        ("log_loss, alpha=0.1", 1e3),
                                        ("squared_error, alpha=0", 1e10),
                                        ("squared_error, alpha=0", 1e50)])
def test_converged_from_a_far_start_is_the_optimum(method, name, size):
    """Before: from 1e10 lbfgs, newton, gd, nesterov and sgd "converged" at a cost of 4e9 (the
    target was relative to the huge gradient at the start); from 1e3 newton "converged: no
    decrease possible" at a cost of 1.5e5; newton-cg "converged" from 1e10 and 1e50 on a
    gradient computed from predictions whose rounding error had outgrown them."""
    w0 = np.full(4, size)
    w0[1] = -size
    res = check_run(name, method, w0, max_iter=None)
    assert res is not None                   # a finite start is never refused here


def test_newton_far_from_the_optimum_steps_along_the_gradient():
    """Where loss'' vanishes the Newton step is useless; a gradient step still lowers the cost
    (before: "converged: no decrease of the cost is possible" at the start)."""
    w0 = np.array([1e3, -1e3, 1e3, 1e3])
    res = check_run("log_loss, alpha=0.1", "newton", w0, max_iter=None)
    assert res.n_iter > 1 and res.cost < 1e-3 * PROBLEMS["log_loss, alpha=0.1"].cost(w0)


@pytest.mark.parametrize("scale", [1e9, 1e20])
def test_lbfgs_cuts_a_first_step_that_is_orders_of_magnitude_too_long(scale):
    """One column in large units: the first trial step of a fresh memory is ~scale too long.
    Before: "converged: no decrease of the cost is possible" after one iteration, at a cost
    far above what gd reaches on the same problem."""
    X, z, rng = normal_problem(n=200)
    y = (z + rng.standard_normal(200) > 0).astype(float)
    obj = gdfast.Objective(X * [scale, 1, 1], y)
    res = gdfast.minimize(obj, method="lbfgs")
    gd = gdfast.minimize(obj, method="gd")
    assert res.status == "converged" and "no decrease" not in res.message
    assert res.cost <= gd.cost * (1 + 1e-9)


def test_a_line_search_that_finds_nothing_is_stalled_not_converged():
    """A column in units of 1e50: no trial step is short enough. Before: "converged: no
    decrease of the cost is possible in double precision" with the gradient untouched."""
    X, z, rng = normal_problem(n=200)
    obj = gdfast.Objective(X * [1e50, 1, 1], z + rng.standard_normal(200), loss="squared_error")
    res = gdfast.minimize(obj, method="lbfgs")
    assert res.status == "stalled" and not res.converged
    assert "standardise the columns of X" in res.message
    assert np.all(np.isfinite(res.w)) and res.cost == obj.cost(res.w)
    from sklearn.exceptions import ConvergenceWarning
    with pytest.warns(ConvergenceWarning, match="stalled.*Standardise the features"):
        gdfast.LinearRegression(solver="lbfgs", alpha=0.0).fit(X * [1e50, 1, 1], obj.y)


def test_diverged_returns_the_best_finite_iterate():
    obj = issue_objective()
    w0 = np.array([0.5, -0.5, 0.2, 0.1])
    for method, options in (("gd", dict(learning_rate=1e4)), ("nesterov", dict(learning_rate=1e4)),
                            ("sgd", dict(learning_rate=1e4, random_state=0))):
        with pytest.warns(gdfast.DivergenceWarning):
            res = gdfast.minimize(obj, method=method, w0=w0, **options)
        assert res.status == "diverged" and np.all(np.isfinite(res.w))
        finite = res.history["cost"][np.isfinite(res.history["cost"])]
        assert res.cost == obj.cost(res.w) == np.min(finite) <= obj.cost(w0)


# ---- 2. no NaN from finite data ------------------------------------------------------------

def _objectives(X, y, loss, **kw):
    """The same problem as a dense, a sparse (CSR) and a Dask objective."""
    import dask.array as da
    import scipy.sparse as sp
    import gdfast.dask as gdd
    X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
    return {"dense": gdfast.Objective(X, y, loss=loss, **kw),
            "sparse": gdfast.Objective(sp.csr_matrix(X), y, loss=loss, **kw),
            "dask": gdd.Objective(da.from_array(X, chunks=2), da.from_array(y, chunks=2),
                                  loss=loss, **kw)}


METHODS_AT_W = {
    "cost": lambda o, w: o.cost(w), "gradient": lambda o, w: o.gradient(w),
    "cost_gradient": lambda o, w: o.cost_gradient(w), "hessian": lambda o, w: o.hessian(w),
    "cost_gradient_hessian": lambda o, w: o.cost_gradient_hessian(w),
    "hessp": lambda o, w: o.hessp(w, np.ones_like(w)),
}


@pytest.fixture
def synchronous_dask():
    import dask
    with dask.config.set(scheduler="synchronous"):
        yield


@pytest.mark.parametrize("kind", ["dense", "sparse", "dask"])
def test_overflowing_predictions_raise_one_error_in_every_method(kind, synchronous_dask):
    """The issue's case: X = 1e308 everywhere, w = 1. Before: cost NaN, gradient
    [inf, inf, 0.4], Hessian all zeros, hessp all NaN."""
    obj = _objectives(np.full((5, 2), 1e308), [0, 1, 0, 1, 1], "log_loss")[kind]
    for name, method in METHODS_AT_W.items():
        with pytest.raises(ValueError, match=r"^X: the cost overflows double precision at this "
                                             r"w: the raw predictions X @ coef \+ intercept "
                                             r"overflow \(max\|X\| = 1e\+308, max\|w\| = 1\)\. "
                                             r"Scale X") as info:
            method(obj, np.ones(3))
        assert info.type.__mro__[1] is ValueError, name
    if kind != "dask":
        with pytest.raises(ValueError, match=r"^X: X @ coef \+ intercept overflows"):
            obj.predictions(np.ones(3))


@pytest.mark.parametrize("kind", ["dense", "sparse", "dask"])
def test_squared_error_near_1e200_raises_naming_what_to_scale(kind, synchronous_dask):
    """Before: inf, silently."""
    rng = np.random.default_rng(0)
    big_X = _objectives(np.full((5, 2), 1e200) * [[1], [-1], [1], [1], [-1]], np.arange(5.0),
                        "squared_error")[kind]
    with pytest.raises(ValueError, match=r"^X: the cost overflows.*max\|X\| = 1e\+200.*Scale X"):
        big_X.cost(np.ones(3))
    # what does not overflow is still answered, exactly; the Hessian (X^T X / n) refuses
    c, g = big_X.cost_gradient(np.zeros(3))
    assert c == 6.0 and g[-1] == -4.0
    with pytest.raises(ValueError, match=r"^X: the Hessian overflows.*max\|X\| = 1e\+200"):
        big_X.hessian(np.zeros(3))
    big_y = _objectives(rng.standard_normal((5, 2)), np.full(5, 1e200), "squared_error")[kind]
    with pytest.raises(ValueError, match=r"^y: the cost overflows.*\|y\| = 1e\+200.*Scale y"):
        big_y.cost(np.zeros(3))


@pytest.mark.parametrize("kind", ["dense", "sparse", "dask"])
def test_huge_w_or_v_are_named(kind, synchronous_dask):
    X, z, rng = normal_problem(n=6)
    obj = _objectives(X, (z > 0), "log_loss", alpha=0.1)[kind]
    for name, method in METHODS_AT_W.items():
        with pytest.raises(ValueError, match=r"^w: the cost overflows.*the penalty alpha/2 "
                                             r"\|\|coef\|\|\^2 overflows \(alpha = 0.1, "
                                             r"max\|coef\| = 1e\+300\)"):
            method(obj, np.array([1e300, 0.0, 0.0, 0.0]))
    with pytest.raises(ValueError, match=r"^v: the Hessian-vector product overflows"):
        obj.hessp(np.zeros(4), np.full(4, 1e308))


@pytest.mark.parametrize("kind", ["dense", "dask"])
def test_a_curvature_bound_that_overflows_names_X(kind, synchronous_dask):
    """Before: inf or NaN, and gd's learning_rate="auto" became 0 (no step) or 1 (diverged)."""
    obj = _objectives(np.full((6, 2), 1e200) * [[1], [-1], [1], [1], [-1], [2]],
                      [0, 1, 0, 1, 1, 0], "log_loss")[kind]
    with pytest.raises(ValueError, match=r"^X: the curvature bound .* overflows double "
                                         r"precision: .*max\|X\| = 2e\+200"):
        obj.curvature_bound()
    for method in ("gd", "nesterov") + (("sgd",) if kind == "dense" else ()):
        with pytest.raises(ValueError, match=r"^X: the curvature bound"):
            gdfast.minimize(obj, method=method)


def test_trial_points_beyond_double_precision_are_rejected_not_errors(synchronous_dask):
    """A line search or a C loop that steps into overflow sees an infinite cost (and backs
    off or ends "diverged"); it does not fail with the error of the public methods."""
    from gdfast._overflow import trial_cost
    for kind, obj in _objectives(np.full((5, 2), 1e154), [0, 1, 0, 1, 1], "log_loss").items():
        w = np.full(3, 1e155)
        assert trial_cost(obj, w) == np.inf and trial_cost(obj, np.full(3, np.inf)) == np.inf
        g = np.empty(3)
        assert not np.isfinite(obj.cost_grad_into(w, g)), kind
    obj = _objectives(np.ones((5, 2)), [0, 1, 0, 1, 1], "log_loss", alpha=0.1)["dask"]
    with pytest.warns(gdfast.DivergenceWarning):
        res = gdfast.minimize(obj, method="gd", learning_rate=1e200, max_iter=5)
    assert res.status == "diverged" and np.all(np.isfinite(res.w))


# ---- 3. every estimator parameter checked in fit, whatever the solver ----------------------

ESTIMATORS = [(gdfast.LogisticRegression, lambda z: (z > 0).astype(int)),
              (gdfast.LinearRegression, lambda z: z)]


@pytest.mark.parametrize("Estimator, target", ESTIMATORS)
@pytest.mark.parametrize("solver", ["auto", "newton", "lbfgs", "gd", "sgd"])
@pytest.mark.parametrize("bad, error", [("x", TypeError), (1.5, TypeError), (True, TypeError),
                                        (-1, ValueError), (2**32, ValueError)])
def test_random_state_is_checked_whatever_the_solver(Estimator, target, solver, bad, error):
    """Before: "x" and 1.5 fitted without complaint with auto, newton and lbfgs."""
    X, z, _ = normal_problem()
    est = Estimator(solver=solver, random_state=bad)             # no error yet (scikit-learn)
    with pytest.raises(error, match=r"^random_state must be None, an integer from 0 to "
                                    r"2\*\*32 - 1 or a numpy RandomState; got"):
        est.fit(X, target(z))


@pytest.mark.parametrize("Estimator, target", ESTIMATORS)
def test_good_random_states_still_fit(Estimator, target):
    X, z, _ = normal_problem()
    for seed in (None, 0, 2**32 - 1, np.random.RandomState(3), np.int64(7)):
        for solver in ("newton", "sgd"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                Estimator(solver=solver, random_state=seed).fit(X, target(z))


# ---- 4. every message starts with the argument's name --------------------------------------

def test_minimize_random_state_messages_name_it():
    """Before: numpy's "expected non-negative integer"."""
    obj = issue_objective()
    for method in ("sgd", "adam"):
        with pytest.raises(ValueError, match=r"^random_state must be None, a non-negative "
                                             r"integer or a numpy Generator; got -1$"):
            gdfast.minimize(obj, method=method, random_state=-1)
        with pytest.raises(TypeError, match=r"^random_state must be .*; got 'x'$"):
            gdfast.minimize(obj, method=method, random_state="x")


def test_estimator_sgd_random_state_message_names_it():
    """Before: numpy's "'x' cannot be used to seed a numpy.random.RandomState instance"."""
    X, z, _ = normal_problem()
    with pytest.raises(TypeError, match=r"^random_state must be"):
        gdfast.LogisticRegression(solver="sgd", random_state="x").fit(X, z > 0)


@pytest.mark.parametrize("Estimator, target", ESTIMATORS)
def test_estimator_data_errors_name_the_argument(Estimator, target):
    """Before: scikit-learn's "Found input variables with inconsistent numbers of samples:
    [20, 19]", "Expected 2D array, got 1D array instead", "Input X contains NaN"..."""
    X, z, _ = normal_problem()
    y = target(z)
    cases = [
        (lambda: Estimator().fit(X, y[:-1]), r"^y has length 19, expected 20 \(one target per row of X\)$"),
        (lambda: Estimator().fit(X[:-1], y), r"^y has length 20, expected 19"),
        (lambda: Estimator().fit(X[:, 0], y), r"^X: Expected 2D array, got 1D array"),
        (lambda: Estimator().fit(np.where(X > 1, np.nan, X), y), r"^X contains NaN"),
        (lambda: Estimator().fit([["a", "b", "c"]] * 20, y), r"^X: could not convert string"),
        (lambda: Estimator().fit(np.zeros((0, 3)), []), r"^X: Found array with 0 sample"),
        (lambda: Estimator().fit(X, y).predict(X[:, :2]), r"^X has 2 features"),
        (lambda: Estimator().fit(X, y).predict(np.full((2, 3), np.inf)), r"^X contains infinity"),
    ]
    if Estimator is gdfast.LinearRegression:
        cases.append((lambda: Estimator().fit(X, np.where(z > 0, np.nan, 1.0)), r"^y contains NaN"))
    for fit, match in cases:
        with pytest.raises((TypeError, ValueError), match=match):
            fit()


# ---- 5. the command line -------------------------------------------------------------------

def _cli(capsys, *argv):
    from gdfast import cli
    status = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_cli_refuses_a_repeated_column_name(capsys, tmp_path):
    """Before: "a,a,y" was fitted with two columns called a, without a word."""
    path = tmp_path / "dup.csv"
    path.write_text("a,a,y\n1,2,3\n2,3,5\n3,1,2\n4,4,1\n")
    status, out, err = _cli(capsys, "fit", path, "--target", "y")
    assert status == 2 and out == ""
    assert err.strip() == (f"gdfast fit: error: {path}: column 'a' appears twice in the header "
                           "(columns 1 and 2); give every column its own name")
    model = tmp_path / "m.json"
    path.write_text("a,b,y\n1,2,3\n2,3,5\n3,1,2\n4,4,1\n")
    assert _cli(capsys, "fit", path, "--target", "y", "--save", model)[0] == 0
    other = tmp_path / "other.csv"
    other.write_text("a,b,b\n1,2,3\n")
    status, _, err = _cli(capsys, "predict", model, other)
    assert status == 2 and "column 'b' appears twice" in err


def test_cli_warns_when_no_residual_degrees_of_freedom_are_left(capsys, tmp_path):
    """Before: one data row printed "nan" standard errors without a word."""
    path = tmp_path / "one.csv"
    path.write_text("a,y\n1,3\n")
    status, out, err = _cli(capsys, "fit", path, "--target", "y")
    assert status == 0 and "nan" in out
    assert ("gdfast fit: warning: no residual degrees of freedom: 1 row and 2 parameters leave "
            "none to estimate the noise variance from, so the standard errors, statistics and "
            "p-values are undefined (nan); add rows or drop features") in err.splitlines()
    path.write_text("a,y\n1,3\n2,5\n4,4\n")             # one degree of freedom: no warning
    status, out, err = _cli(capsys, "fit", path, "--target", "y")
    assert status == 0 and err == ""
