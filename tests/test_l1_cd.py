"""Proximal Newton by coordinate descent without the Hessian (method="cd" for the losses that
are not quadratic): the new path is the one taken, its solutions satisfy the KKT conditions
and agree with the old path (the Hessian formed) and scikit-learn's saga, for every layout of X."""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression as SkLogisticRegression

import gdfast
from gdfast import _cd, _coordinate
from gdfast._objective import Objective

from test_l1 import kkt_violation


def wide_logistic(n=100, d=3000, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(dtype)
    y = (X[:, :5].astype(np.float64) @ rng.standard_normal(5) + 0.5 * rng.standard_normal(n)
         > 0).astype(np.float64)
    return X, y


def no_hessian(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the Hessian was formed")
    monkeypatch.setattr(Objective, "hessian", refuse)
    monkeypatch.setattr(Objective, "cost_gradient_hessian", refuse)


def test_wide_logistic_never_forms_the_hessian_and_matches_saga(monkeypatch):
    X, y = wide_logistic()
    C = 0.1                                     # a few non-zeros out of 3000
    obj = gdfast.Objective(X, y, alpha=1.0 / (C * len(y)), l1_ratio=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk = SkLogisticRegression(C=C, l1_ratio=1.0, solver="saga", tol=1e-12,
                                  max_iter=200_000).fit(X, y)
    no_hessian(monkeypatch)
    res = gdfast.minimize(obj, method="cd", tol=1e-12)
    assert res.method == "cd" and res.converged
    assert max(res.history["working"]) < obj.n_features / 10   # a working set, not all features
    w_sk = np.r_[sk.coef_.ravel(), sk.intercept_]
    ref = obj.cost(w_sk)
    assert res.cost <= ref * (1 + 1e-9)
    assert abs(res.cost - ref) <= 1e-9 * ref
    assert np.array_equal(res.w[:-1] != 0, np.abs(w_sk[:-1]) > 1e-10)
    assert kkt_violation(obj, res.w) <= 1e-7 * obj.alpha


@pytest.mark.parametrize("layout", ["C", "C_strided", "F", "float32", "csr", "weighted_offset",
                                    "positive"])
@pytest.mark.parametrize("loss", ["log_loss", "poisson"])
@pytest.mark.parametrize("residual_only", [False, True])
def test_layouts_agree_with_the_hessian_path(monkeypatch, layout, loss, residual_only):
    rng = np.random.default_rng(3)
    n, d = 120, 400
    X = rng.standard_normal((n, d)) * 0.5
    eta = X[:, :4] @ np.array([1.0, -0.8, 0.6, 0.5])
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float) if loss == "log_loss" \
        else rng.poisson(np.exp(0.5 * eta)).astype(float)
    sw = offset = None
    positive = layout == "positive"
    if layout == "F":
        X = np.asfortranarray(X)
    elif layout == "C_strided":      # C-ordered columns read with a stride, not gathered
        monkeypatch.setattr(_cd, "GATHER_MAX_ENTRIES", 0)
    elif layout == "float32":
        X = X.astype(np.float32)
    elif layout == "csr":
        X = sp.csr_matrix(X * (rng.random(X.shape) < 0.3))
    elif layout == "weighted_offset":
        sw, offset = rng.random(n) * 2, rng.standard_normal(n) * 0.1
    X_before = X.copy()
    g0 = gdfast.Objective(X, y, loss=loss, sample_weight=sw, offset=offset).gradient(
        np.zeros(d + 1))
    obj = gdfast.Objective(X, y, loss=loss, alpha=0.3 * float(np.max(np.abs(g0[:d]))),
                           l1_ratio=0.9, sample_weight=sw, offset=offset)
    if residual_only:       # no covariance form over the working set: residual updates only
        monkeypatch.setattr(_coordinate, "_WORKING_GRAM_MAX", 0)
    w0 = np.zeros(d + 1)
    tol = 1e-4 if layout == "float32" else 1e-10
    with monkeypatch.context() as m:      # the reference: the old path, the Hessian formed
        m.setattr(Objective, "coordinate_passes", lambda self, w: None)
        ref = gdfast.minimize(obj, method="cd", tol=tol, positive=positive)
    no_hessian(monkeypatch)
    res = gdfast.minimize(obj, method="cd", w0=w0, tol=tol, positive=positive)
    assert res.converged, res.message
    assert np.array_equal(w0, np.zeros(d + 1))                 # inputs unchanged
    assert (X != X_before).nnz == 0 if sp.issparse(X) else np.array_equal(X, X_before)
    assert 0 < np.count_nonzero(res.w[:d]) < d
    if positive:
        assert np.all(res.w[:d] >= 0)
    else:
        G = float(np.max(np.abs(g0)))
        limit = 1e-4 * G if layout == "float32" else 1e-7 * obj.alpha
        assert kkt_violation(obj, res.w) <= limit
    slack = 1e-5 * abs(ref.cost) if layout == "float32" else 1e-9 * abs(ref.cost)
    assert res.cost <= ref.cost + slack
    assert res.cost == pytest.approx(obj.cost(res.w), rel=1e-12)


def test_a_path_warm_starts_the_working_set():
    X, y = wide_logistic(n=150, d=500, seed=1)
    obj = gdfast.Objective(X, y, alpha=1.0, l1_ratio=1.0)
    path = gdfast.path(obj, n_alphas=8, eps=0.05, method="cd", tol=1e-10)
    for alpha, w, res in zip(path.alphas, path.w, path.results):
        assert res.method == "cd" and res.converged
        assert kkt_violation(obj.with_alpha(alpha), w) <= 1e-7 * alpha


def test_cd_newton_model_checks_its_arguments():
    n, d = 5, 3
    X = np.ones((n, d))
    z = np.zeros(n)
    w, l2, lam = np.zeros(d + 1), np.zeros(d + 1), np.ones(d)
    with pytest.raises(ValueError, match="matching sizes"):
        _cd.cd_newton_model(X, z, np.zeros(n + 1), w, z.copy(), l2, lam,
                            np.arange(d + 1, dtype=np.intp), False, 1e-8, 10)
    with pytest.raises(ValueError, match="out of range"):
        _cd.cd_newton_model(X, z, z, w, z.copy(), l2, lam, np.array([7], dtype=np.intp),
                            False, 1e-8, 10)
    with pytest.raises(ValueError, match="column per entry"):
        _cd.cd_newton_model(np.ones((n, d + 1)), z, z, w, z.copy(), l2, lam,
                            np.arange(d, dtype=np.intp), False, 1e-8, 10)


def test_auto_takes_cd_for_every_loss_of_objective_at_any_size():
    from gdfast._solvers import choose_method
    X, y = wide_logistic(n=60, d=2500)
    assert choose_method(gdfast.Objective(X, y, alpha=0.05, l1_ratio=1.0)) == "cd"
    assert choose_method(gdfast.Objective(sp.csr_matrix(X), y, alpha=0.05, l1_ratio=0.5)) == "cd"
    assert choose_method(gdfast.Objective(X, y + 1, loss="poisson", alpha=0.05,
                                          l1_ratio=1.0)) == "cd"
    assert choose_method(gdfast.Objective(X, y, alpha=0.05)) != "cd"     # no L1 part
