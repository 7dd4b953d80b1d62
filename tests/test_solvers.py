"""gdfast.minimize: gradient descent and Newton against the reference loops and each other."""
import warnings

import numpy as np
import pytest

import gdfast
from gdfast import reference

from problems import make_problem


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


@pytest.mark.parametrize("loss", ["log_loss", "squared_error"])
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
    with warnings.catch_warnings():
        warnings.simplefilter("error")
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
