"""gdfast.minimize on the multinomial model: every method that applies reaches the optimum that
plain numpy Newton (gdfast.reference) finds, "auto" chooses by size, separation is reported."""
import numpy as np
import pytest
import scipy.sparse

import gdfast
from gdfast import reference
from gdfast._solvers import choose_method

from test_multinomial import make_multiclass


def rel(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300)


@pytest.fixture(scope="module")
def problem():
    return make_multiclass(n=400, d=4, K=3, seed=21, scale=2.0)


def _reference_optimum(X, y, alpha):
    ref = reference.MultinomialObjective(X, y, alpha=alpha)
    w, costs = reference.newton(ref, max_iter=60, tol=1e-13)
    return w, costs[-1]


@pytest.mark.parametrize("alpha", [0.0, 0.05])
@pytest.mark.parametrize("method", ["auto", "lbfgs", "newton", "newton-cg", "nesterov", "gd"])
def test_methods_reach_the_reference_optimum(problem, method, alpha):
    X, y, _ = problem
    w_ref, c_ref = _reference_optimum(X, y, alpha)
    obj = gdfast.MultinomialObjective(X, y, alpha=alpha)
    first_order = method in ("gd", "nesterov")
    res = gdfast.minimize(obj, method=method, tol=1e-6 if first_order else 1e-10,
                          max_iter=200_000 if first_order else None)
    assert res.status == "converged", res.message
    assert rel(res.cost, c_ref) < (1e-9 if first_order else 1e-13)
    assert rel(res.w, w_ref) < (1e-3 if first_order else 1e-7)


def test_sparse_input_fits_the_same_model(problem):
    X, y, _ = problem
    Xs = X.copy()
    Xs[np.abs(Xs) < 0.3] = 0
    dense = gdfast.minimize(gdfast.MultinomialObjective(Xs, y, alpha=0.01), tol=1e-10)
    for method in ("auto", "newton-cg", "lbfgs"):
        res = gdfast.minimize(gdfast.MultinomialObjective(scipy.sparse.csr_matrix(Xs), y,
                                                          alpha=0.01), method=method, tol=1e-10)
        assert res.status == "converged"
        assert rel(res.w, dense.w) < 1e-7


def test_auto_chooses_by_size():
    X, y, _ = make_multiclass(n=400, d=4, K=3)
    assert choose_method(gdfast.MultinomialObjective(X, y)) == "newton"
    # n * n_params^2 = 2000 * 499^2 = 5e8 > 2e8: too costly a Hessian for "auto"
    X, y, _ = make_multiclass(n=2000, d=49, K=10)
    obj = gdfast.MultinomialObjective(X, y, alpha=1e-3)
    assert obj.n_params == 499 and choose_method(obj) == "lbfgs"
    X[np.abs(X) < 1.0] = 0
    assert choose_method(gdfast.MultinomialObjective(scipy.sparse.csr_matrix(X), y,
                                                     alpha=1e-3)) == "newton-cg"


def test_newton_memory_cap_hands_over_to_lbfgs():
    """Above MAX_HESSIAN_PARAMS the Hessian is refused with a message, and "auto" never asks."""
    from gdfast._multinomial_objective import MAX_HESSIAN_PARAMS
    rng = np.random.default_rng(0)
    d, K = 700, 9                                   # 701 * 9 = 6309 entries of Theta
    X = rng.standard_normal((30, d))
    y = np.arange(30) % K
    obj = gdfast.MultinomialObjective(X, y, alpha=1.0)
    assert obj.n_params > MAX_HESSIAN_PARAMS and not obj.can_form_hessian
    with pytest.raises(ValueError, match="^w: the Hessian of .* use hessp"):
        obj.hessian(np.zeros(obj.n_params))
    assert choose_method(obj) == "lbfgs"
    assert gdfast.minimize(obj, tol=1e-6).status == "converged"


def test_separable_classes_are_reported():
    rng = np.random.default_rng(4)
    y = np.repeat([0, 1, 2], 30)
    X = rng.standard_normal((90, 2)) * 0.3 + np.array([[0, 0], [5, 0], [0, 5]])[y]
    obj = gdfast.MultinomialObjective(X, y)
    for method in ("newton", "lbfgs"):
        with pytest.warns(gdfast.SeparationWarning, match="separable"):
            res = gdfast.minimize(obj, method=method)
        assert res.status == "separated" and np.isfinite(res.w).all()
        assert obj.separates(res.w)
    # a penalty gives an optimum: no separation
    res = gdfast.minimize(gdfast.MultinomialObjective(X, y, alpha=1e-2))
    assert res.status == "converged"


def test_stochastic_methods_refuse_with_advice(problem):
    X, y, _ = problem
    obj = gdfast.MultinomialObjective(X, y, alpha=0.1)
    for method in ("sgd", "adam"):
        with pytest.raises(ValueError, match="method='sgd' and 'adam' run over the one-output"):
            gdfast.minimize(obj, method=method)
