"""gdfast.path and gdfast.alpha_max: the exact alpha_max, warm-started solutions that meet the
KKT conditions at every alpha, and scikit-learn's path."""
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import enet_path

import gdfast

from problems import make_problem
from test_l1 import kkt_violation

LOSSES = ["squared_error", "log_loss", "poisson", "gamma"]


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_alpha_max_is_exact(loss, l1_ratio, fit_intercept):
    X, y, _ = make_problem(n=200, d=8, loss=loss, seed=3)
    obj = gdfast.Objective(X, y, loss=loss, l1_ratio=l1_ratio, fit_intercept=fit_intercept)
    top = gdfast.alpha_max(obj)
    # at alpha_max itself one coefficient is on the edge (|gradient_j| = alpha l1_ratio), and a
    # solve from w = 0 may leave it at a rounding error from 0; the path, which starts from the
    # intercept-only fit, gives exactly 0 there
    at = gdfast.path(obj, alphas=[top], tol=1e-12)
    assert not np.any(at.coef[0])
    assert kkt_violation(obj.with_alpha(top), at.w[0]) <= 1e-9 * top
    above = gdfast.minimize(obj.with_alpha(top * (1 + 1e-9)), method="cd", tol=1e-12)
    assert not np.any(above.w[:8])
    below = gdfast.minimize(obj.with_alpha(top * (1 - 1e-4)), method="cd", tol=1e-12)
    assert np.count_nonzero(below.w[:8]) == 1


def test_alpha_max_matches_sklearn():
    X, y, _ = make_problem(n=150, d=10, loss="squared_error", seed=4)
    alphas, _, _ = enet_path(X - X.mean(0), y - y.mean(), l1_ratio=0.7, alphas=5)
    obj = gdfast.Objective(X, y, loss="squared_error", l1_ratio=0.7)
    # scikit-learn's alpha is half of gdfast's for the squared error
    assert gdfast.alpha_max(obj) == pytest.approx(2 * alphas[0], rel=1e-12)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("loss", LOSSES)
def test_path_meets_kkt_at_every_alpha(loss, sparse):
    X, y, _ = make_problem(n=150, d=10, loss=loss, seed=5)
    if sparse:
        X = sp.csr_matrix(X * (np.random.default_rng(0).random(X.shape) < 0.5))
    obj = gdfast.Objective(X, y, loss=loss, l1_ratio=0.9)
    p = gdfast.path(obj, n_alphas=12, eps=1e-2, tol=1e-10)
    assert p.alphas[0] == p.alpha_max and p.alphas[-1] == pytest.approx(1e-2 * p.alpha_max)
    assert np.all(np.diff(p.alphas) < 0)
    assert not np.any(p.coef[0]) and p.n_nonzero[-1] > 0
    for a, w, r in zip(p.alphas, p.w, p.results):
        assert r.converged
        assert kkt_violation(obj.with_alpha(a), w) <= 1e-7 * a


def test_path_agrees_with_sklearn_enet_path():
    X, y, _ = make_problem(n=120, d=8, loss="squared_error", seed=6)
    Xc, yc = X - X.mean(0), y - y.mean()
    alphas, coefs, _ = enet_path(Xc, yc, l1_ratio=1.0, alphas=10, eps=1e-2, tol=1e-14,
                                 max_iter=10 ** 6)
    obj = gdfast.Objective(X, y, loss="squared_error", l1_ratio=1.0)
    p = gdfast.path(obj, alphas=2 * alphas, tol=1e-12)
    np.testing.assert_allclose(p.coef, coefs.T, atol=1e-8)


def test_path_bad_arguments():
    X, y, _ = make_problem()
    obj = gdfast.Objective(X, y, l1_ratio=1.0)
    with pytest.raises(ValueError, match="eps"):
        gdfast.path(obj, eps=0.0)
    with pytest.raises(ValueError, match="alphas"):
        gdfast.path(obj, alphas=[-1.0])
    with pytest.raises(ValueError, match="alphas must be given"):
        gdfast.path(gdfast.Objective(X, y, l1_ratio=0.0))
    with pytest.raises(TypeError, match="obj"):
        gdfast.path("not an objective")


def test_squared_error_path_forms_the_gram_matrix_once(monkeypatch):
    X, y, _ = make_problem(n=150, d=10, loss="squared_error", seed=7)
    calls = []
    original = gdfast.Objective.hessian

    def counted(self, w):
        calls.append(1)
        return original(self, w)
    monkeypatch.setattr(gdfast.Objective, "hessian", counted)
    monkeypatch.setattr(gdfast.Objective, "cost_gradient_hessian",
                        lambda self, w: pytest.fail("a Hessian pass per alpha"))
    obj = gdfast.Objective(X, y, loss="squared_error", l1_ratio=0.5)
    p = gdfast.path(obj, n_alphas=8, tol=1e-10)
    assert len(calls) == 1
    for a, w in zip(p.alphas, p.w):
        assert kkt_violation(obj.with_alpha(a), w) <= 1e-7 * a


@pytest.mark.parametrize("loss", ["squared_error", "log_loss", "poisson"])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_alpha_max_with_unpenalised_features_is_exact(loss, l1_ratio):
    X, y, _ = make_problem(n=200, d=8, loss=loss, seed=4)
    pf = np.r_[0.0, 0.0, np.linspace(0.5, 2.0, 6)]       # the first two free of the L1 part
    obj = gdfast.Objective(X, y, loss=loss, l1_ratio=l1_ratio, penalty_factor=pf)
    top = gdfast.alpha_max(obj)
    assert 0 < top < np.inf
    at = gdfast.minimize(obj.with_alpha(top * (1 + 1e-9)), method="cd", tol=1e-12)
    assert not np.any(at.w[2:8]) and np.all(at.w[:2] != 0)
    assert kkt_violation(obj.with_alpha(top * (1 + 1e-9)), at.w) <= 1e-9 * top
    below = gdfast.minimize(obj.with_alpha(top * (1 - 1e-3)), method="cd", tol=1e-12)
    assert np.count_nonzero(below.w[2:8]) == 1
    p = gdfast.path(obj, n_alphas=5)
    # the path starts from the solution at alpha_max: its penalised coefficients exactly 0
    assert p.alpha_max == top and not np.any(p.coef[0][2:])
    every = gdfast.Objective(X, y, loss=loss, l1_ratio=l1_ratio, penalty_factor=np.zeros(8))
    assert gdfast.alpha_max(every) == 0.0
