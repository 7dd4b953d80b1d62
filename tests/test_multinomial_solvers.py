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


def _ill_conditioned_multiclass(n, d, K, seed):
    """make_classification with d/2 informative features and K classes (the benchmark's
    kind): plain L-BFGS needs well over a hundred iterations here."""
    from sklearn.datasets import make_classification
    X, y = make_classification(n_samples=n, n_features=d, n_informative=d // 2, n_redundant=0,
                               n_classes=K, n_clusters_per_class=1, random_state=seed)
    return np.ascontiguousarray(X), y


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("alpha,fit_intercept", [(0.0, True), (1e-3, True), (1e-3, False)])
def test_row_sample_is_the_objective_of_the_chosen_rows(weighted, alpha, fit_intercept):
    X, y, theta = make_multiclass(n=1000, d=6, K=4, seed=31)
    sw = np.random.default_rng(3).uniform(0.5, 2.0, len(y)) if weighted else None
    obj = gdfast.MultinomialObjective(X, y, alpha=alpha, fit_intercept=fit_intercept,
                                      sample_weight=sw)
    w = obj.pack(theta if fit_intercept else theta[:-1])
    assert obj.row_sample(1000) is obj
    sample = obj.row_sample(100)
    rows = np.linspace(0, 999, 100).astype(np.intp)      # spread evenly, first and last included
    ref = reference.MultinomialObjective(X[rows], y[rows], n_classes=4, alpha=alpha,
                                         fit_intercept=fit_intercept,
                                         sample_weight=None if sw is None else sw[rows],
                                         reference=obj.reference)
    # the same parameters: classes, penalty and identifiability constraint kept
    assert sample.n_samples == 100 and sample.n_classes == 4
    assert sample.reference is obj.reference and sample.n_params == obj.n_params
    np.testing.assert_array_equal(sample.free, obj.free)
    assert rel(sample.hessian(w), ref.hessian(w)) < 1e-12
    assert sample.cost(w) == pytest.approx(ref.cost(w), rel=1e-13)
    assert rel(sample.gradient(w), ref.gradient(w)) < 1e-12
    assert rel(sample.hessian(w), obj.hessian(w)) > 1e-3            # an estimate
    X0, y0 = X.copy(), y.copy()
    obj.row_sample(10)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)


def test_row_sample_keeps_classes_missing_from_the_rows():
    X, y, _ = make_multiclass(n=300, d=3, K=3, seed=32)
    y = y.copy()
    y[y == 2] = 1
    y[-1] = 2                                           # class 2 only in the last row ...
    y[150] = 2
    obj = gdfast.MultinomialObjective(X, y, alpha=0.1)
    sample = obj.row_sample(2)                          # ... rows 0 and 299
    assert sample.n_classes == 3 and sample.n_params == obj.n_params
    y[-1] = 1
    sample = gdfast.MultinomialObjective(X, y, alpha=0.1).row_sample(2)
    assert sample.n_classes == 3                        # no row of class 2 chosen: K kept


def test_row_sample_is_none_when_the_chosen_rows_carry_no_weight_or_too_many_params():
    X, y, _ = make_multiclass(n=199, d=3, K=3, seed=33)
    sw = np.zeros(199)
    sw[1::2] = 1.0                                      # the rows linspace(0, 198, 100) miss
    assert gdfast.MultinomialObjective(X, y, sample_weight=sw).row_sample(100) is None
    from gdfast._multinomial_objective import MAX_HESSIAN_PARAMS
    rng = np.random.default_rng(0)
    wide = gdfast.MultinomialObjective(rng.standard_normal((20, 700)), np.arange(20) % 9,
                                       alpha=1.0)
    assert wide._D * wide.n_classes > MAX_HESSIAN_PARAMS
    assert wide.row_sample(10) is None


def test_auto_preconditions_lbfgs_on_ill_conditioned_multiclass():
    # 509 parameters (above Newton's 500) and n large enough that an estimate on 50 * 51 rows
    # costs under 2 passes: "auto" runs L-BFGS preconditioned by the sampled Hessian, in a
    # fraction of plain L-BFGS's iterations, to the same optimum
    from gdfast._sampled_hessian import SampledHessian
    from gdfast._solvers import _can_precondition
    X, y = _ill_conditioned_multiclass(45_000, 50, 10, 41)
    obj = gdfast.MultinomialObjective(X, y, alpha=1.0 / len(y))
    assert obj.n_params == 509 and choose_method(obj) == "lbfgs"
    rows, passes = SampledHessian.plan(obj)
    assert rows == 50 * 51 and passes < 2 and _can_precondition(obj)
    auto = gdfast.minimize(obj, tol=1e-8)
    plain = gdfast.minimize(obj, method="lbfgs", tol=1e-8)
    assert auto.method == "lbfgs" and auto.converged and plain.converged
    assert plain.n_iter > 100 and auto.n_iter < plain.n_iter / 4, (auto.n_iter, plain.n_iter)
    assert auto.cost == pytest.approx(plain.cost, rel=1e-10)
    assert rel(auto.w, plain.w) < 1e-4


def test_auto_keeps_plain_lbfgs_where_the_estimate_is_too_costly():
    from gdfast._solvers import _can_precondition
    X, y = _ill_conditioned_multiclass(6_000, 50, 10, 42)
    obj = gdfast.MultinomialObjective(X, y, alpha=1e-3)
    # 509 parameters: an estimate on 2,550 of 6,000 rows costs ~14 passes
    assert not _can_precondition(obj) and choose_method(obj) == "lbfgs"
    small = gdfast.MultinomialObjective(X[:, :20], y, alpha=1e-3)   # 21 * 10 - 1 = 209 params
    assert _can_precondition(small)


def test_newton_memory_cap_on_sparse_x_takes_newton_cg():
    """Sparse X above MAX_HESSIAN_PARAMS: no Hessian, no sampled preconditioner, and "auto"
    runs Newton-CG (Hessian-vector products only) to the optimum."""
    from gdfast._multinomial_objective import MAX_HESSIAN_PARAMS
    from gdfast._solvers import _can_precondition
    rng = np.random.default_rng(1)
    d, K = 700, 9
    X = scipy.sparse.random(60, d, density=0.02, random_state=1, format="csr")
    y = rng.integers(0, K, 60)
    obj = gdfast.MultinomialObjective(X, y, n_classes=K, alpha=1.0)
    assert obj.n_params > MAX_HESSIAN_PARAMS and not obj.can_form_hessian
    assert obj.row_sample(10) is None and not _can_precondition(obj)
    assert choose_method(obj) == "newton-cg"
    res = gdfast.minimize(obj, tol=1e-8)
    assert res.method == "newton-cg" and res.status == "converged"
    best = gdfast.minimize(obj, method="lbfgs", tol=1e-10)
    assert res.cost == pytest.approx(best.cost, rel=1e-10)
