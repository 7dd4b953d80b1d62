"""Offsets (exposure): a fixed term added to every row's prediction, z = X w + b + offset, in
every kernel path (cost, gradient, Hessian, hessp, the cached predictions of Newton-CG's line
search, the stochastic kernels, the exact least-squares solve), the reference, Dask and the
GLM estimators."""
import itertools

import numpy as np
import pytest
import scipy.sparse
import sklearn
import statsmodels.api as sm
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import gdfast
from gdfast import losses, reference
from problems import TWEEDIES, make_problem

LOSSES = ["log_loss", "squared_error", "poisson", "gamma", *TWEEDIES]


def rel(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300)


def offset_for(n, seed=0):
    return np.log(np.random.default_rng(seed).uniform(0.3, 3.0, n))     # log exposures


def as_layout(X, layout):
    if layout == "F":
        return np.asfortranarray(X)
    if layout == "csr":
        return scipy.sparse.csr_matrix(X)
    if layout == "float32":
        return X.astype(np.float32)
    return X


@pytest.mark.parametrize("loss,layout,weighted", list(itertools.product(
    LOSSES, ["C", "F", "csr", "float32"], [False, True])))
def test_every_kernel_matches_reference(loss, layout, weighted):
    X, y, w = make_problem(n=517, d=6, loss=loss, seed=3)
    off = offset_for(517)
    sw = np.linspace(0.5, 2.0, 517) if weighted else None
    A = as_layout(X, layout)
    dense = A.toarray() if scipy.sparse.issparse(A) else A
    fast = gdfast.Objective(A, y, loss=loss, alpha=0.2, sample_weight=sw, offset=off)
    ref = reference.Objective(dense, y, loss=loss, alpha=0.2, sample_weight=sw, offset=off)
    tol = 1e-9 if layout != "float32" else (1e-5 if loss == "tweedie" and loss.param == 0 else 1e-6)
    v = np.random.default_rng(2).standard_normal(len(w))
    c, g, H = fast.cost_gradient_hessian(w)
    assert rel(c, ref.cost(w)) < tol and rel(g, ref.gradient(w)) < tol
    assert rel(H, ref.hessian(w)) < tol and rel(fast.hessp(w, v), ref.hessp(w, v)) < tol
    assert rel(fast.cost(w), ref.cost(w)) < tol
    np.testing.assert_allclose(fast.predictions(w), ref._z(w), rtol=1e-6 if layout == "float32"
                               else 1e-13, atol=1e-6 if layout == "float32" else 1e-13)
    # the test can fail: without the offset the values differ
    plain = gdfast.Objective(A, y, loss=loss, alpha=0.2, sample_weight=sw)
    assert rel(plain.gradient(w), ref.gradient(w)) > 1e-3


@pytest.mark.parametrize("loss", LOSSES)
def test_finite_differences(loss):
    X, y, w = make_problem(n=150, d=4, loss=loss, seed=5)
    obj = gdfast.Objective(X, y, loss=loss, alpha=0.1, offset=offset_for(150, 1),
                           sample_weight=np.linspace(0.5, 2, 150))
    eps = 1e-5
    E = np.eye(len(w))
    fd_grad = np.array([(obj.cost(w + eps * e) - obj.cost(w - eps * e)) / (2 * eps) for e in E])
    fd_hess = np.array([(obj.gradient(w + eps * e) - obj.gradient(w - eps * e)) / (2 * eps)
                        for e in E])
    assert rel(obj.gradient(w), fd_grad) < 1e-6
    assert rel(obj.hessian(w), fd_hess) < 1e-6


@pytest.mark.parametrize("loss", ["log_loss", "poisson", "squared_error"])
def test_a_constant_offset_is_a_shift_of_the_intercept(loss):
    X, y, w = make_problem(n=300, d=3, loss=loss, seed=7)
    shifted = gdfast.Objective(X, y, loss=loss, offset=np.full(300, 0.7))
    plain = gdfast.Objective(X, y, loss=loss)
    assert shifted.cost(w) == pytest.approx(plain.cost(w + np.r_[0, 0, 0, 0.7]), rel=1e-14)
    a = gdfast.minimize(shifted, tol=1e-12)
    b = gdfast.minimize(plain, tol=1e-12)
    np.testing.assert_allclose(a.w + np.r_[0, 0, 0, 0.7], b.w, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("loss", ["poisson", "log_loss", "gamma", TWEEDIES[1]])
@pytest.mark.parametrize("method,options", [
    ("newton", {}), ("newton-cg", {}), ("lbfgs", {}), ("auto", {}), ("gd", {}),
    ("nesterov", {"learning_rate": 0.05}),
])
def test_every_method_reaches_the_optimum(loss, method, options):
    X, y, _ = make_problem(n=400, d=5, loss=loss, seed=8)
    obj = gdfast.Objective(X, y, loss=loss, alpha=1e-2, offset=offset_for(400, 2))
    best = gdfast.minimize(obj, method="newton", tol=0.0)
    res = gdfast.minimize(obj, method=method, max_iter=20_000, **options)
    assert res.status == "converged"
    assert res.cost == pytest.approx(best.cost, rel=1e-10)
    np.testing.assert_allclose(res.w, best.w, rtol=1e-5, atol=1e-6)
    without = gdfast.minimize(gdfast.Objective(X, y, loss=loss, alpha=1e-2), method="newton")
    assert np.max(np.abs(without.w - best.w)) > 1e-3               # the offset mattered


@pytest.mark.parametrize("method", ["sgd", "adam"])
@pytest.mark.parametrize("sparse", [False, True])
def test_stochastic_kernels_use_the_offset(method, sparse):
    X, y, _ = make_problem(n=500, d=4, loss="log_loss", seed=9)
    off = offset_for(500, 3) * 2.0
    A = scipy.sparse.csr_matrix(X) if sparse else X
    obj = gdfast.Objective(A, y, loss="log_loss", alpha=1e-2, offset=off)
    best = gdfast.minimize(obj, method="newton")
    res = gdfast.minimize(obj, method=method, learning_rate=0.01 if method == "adam" else 0.1,
                          random_state=0, max_iter=200)
    assert res.cost <= best.cost * (1 + 1e-3)
    np.testing.assert_allclose(res.w, best.w, atol=0.05)
    plain = gdfast.minimize(gdfast.Objective(A, y, loss="log_loss", alpha=1e-2), method="newton")
    assert obj.cost(plain.w) > best.cost * (1 + 1e-2)               # another optimum


@pytest.mark.parametrize("sparse", [False, True])
def test_squared_error_with_offset_is_least_squares_on_y_minus_offset(sparse):
    X, y, _ = make_problem(n=300, d=4, loss="squared_error", seed=10)
    off = offset_for(300, 4)
    A = scipy.sparse.csr_matrix(X) if sparse else X
    a = gdfast.minimize(gdfast.Objective(A, y, loss="squared_error", offset=off))
    b = gdfast.minimize(gdfast.Objective(A, y - off, loss="squared_error"))
    np.testing.assert_allclose(a.w, b.w, rtol=1e-13, atol=1e-14)
    obj = gdfast.Objective(A, y, loss="squared_error", offset=off)
    se = gdfast.stats.standard_errors(obj, a.w)
    fit = sm.OLS(y - off, sm.add_constant(X)).fit()
    np.testing.assert_allclose(se[:-1], fit.bse[1:], rtol=1e-9)


@pytest.mark.parametrize("weighted", [False, True])
def test_poisson_with_exposure_matches_statsmodels(weighted):
    rng = np.random.default_rng(11)
    X = rng.standard_normal((600, 3))
    exposure = rng.uniform(0.2, 5.0, 600)
    y = rng.poisson(exposure * np.exp(X @ [0.3, -0.2, 0.1] - 0.4)).astype(float)
    sw = rng.integers(1, 4, 600).astype(float) if weighted else None
    reg = gdfast.PoissonRegressor(alpha=0.0, tol=1e-12).fit(X, y, sample_weight=sw,
                                                             offset=np.log(exposure))
    theirs = sm.GLM(y, sm.add_constant(X), family=sm.families.Poisson(), offset=np.log(exposure),
                    freq_weights=sw).fit(tol=1e-14, maxiter=200)
    np.testing.assert_allclose(np.r_[reg.intercept_, reg.coef_], theirs.params, rtol=1e-8)
    np.testing.assert_allclose(np.r_[reg.intercept_stderr_, reg.coef_stderr_], theirs.bse,
                               rtol=1e-8)
    mu = reg.predict(X, offset=np.log(exposure))
    np.testing.assert_allclose(mu, theirs.predict(sm.add_constant(X), offset=np.log(exposure)),
                               rtol=1e-8)
    np.testing.assert_allclose(reg.predict(X), mu / exposure, rtol=1e-12)    # rates
    obj = gdfast.Objective(X, y, loss="poisson", sample_weight=sw, offset=np.log(exposure))
    w = np.r_[reg.coef_, reg.intercept_]
    W = 600 if sw is None else sw.sum()
    assert 2 * W * obj.cost(w) == pytest.approx(theirs.deviance, rel=1e-8)


def test_gamma_and_tweedie_estimators_with_offset_match_statsmodels():
    rng = np.random.default_rng(12)
    X = rng.standard_normal((500, 2))
    off = rng.uniform(-1.0, 1.0, 500)
    mu = np.exp(X @ [0.2, -0.3] + 0.1 + off)
    y = rng.gamma(2.0, mu / 2.0)
    for reg, family in ((gdfast.GammaRegressor(alpha=0.0, tol=1e-12),
                         sm.families.Gamma(sm.families.links.Log())),
                        (gdfast.TweedieRegressor(power=1.5, alpha=0.0, tol=1e-12),
                         sm.families.Tweedie(var_power=1.5, link=sm.families.links.Log()))):
        reg.fit(X, y, offset=off)
        # IRLS: the expected information, gdfast's default for standard errors
        theirs = sm.GLM(y, sm.add_constant(X), family=family, offset=off).fit(
            tol=1e-14, maxiter=200)
        np.testing.assert_allclose(np.r_[reg.intercept_, reg.coef_], theirs.params, rtol=1e-8)
        np.testing.assert_allclose(np.r_[reg.intercept_stderr_, reg.coef_stderr_], theirs.bse,
                                   rtol=1e-7)


@pytest.mark.parametrize("bad,message", [
    (np.ones(99), r"^offset has length 99, expected 100"),
    (np.ones((100, 1)), r"^offset must be 1-D"),
    (np.r_[np.ones(99), np.nan], r"^offset"),
    (np.r_[np.ones(99), np.inf], r"^offset"),
    (["a"] * 100, r"^offset"),
])
def test_bad_offsets_are_refused_by_name(bad, message):
    X, y, _ = make_problem(n=100, d=2, loss="poisson", seed=13)
    for build in (gdfast.Objective, reference.Objective):
        with pytest.raises((ValueError, TypeError), match=message):
            build(X, y, loss="poisson", offset=bad)
    with pytest.raises((ValueError, TypeError), match=message):
        gdfast.PoissonRegressor().fit(X, y, offset=bad)
    reg = gdfast.PoissonRegressor().fit(X, y)
    with pytest.raises((ValueError, TypeError), match=message):
        reg.predict(X, offset=bad)


def test_the_offset_is_copied_and_never_modified():
    X, y, w = make_problem(n=100, d=2, loss="poisson", seed=14)
    off = offset_for(100)
    copy = off.copy()
    obj = gdfast.Objective(X, y, loss="poisson", offset=off)
    gdfast.minimize(obj, method="newton-cg")
    gdfast.minimize(obj, method="sgd", learning_rate=0.01, max_iter=3)
    assert np.array_equal(off, copy) and not np.shares_memory(obj.offset, off)
    off[:] = 0.0                                      # the objective keeps its own
    assert obj.cost(w) == gdfast.Objective(X, y, loss="poisson", offset=copy).cost(w)


def test_separable_classes_with_an_offset_still_end_separated():
    X = np.array([[-2.0], [-1.0], [1.0], [2.0]])
    y = np.array([0.0, 0.0, 1.0, 1.0])
    obj = gdfast.Objective(X, y, offset=np.array([3.0, -1.0, 2.0, -4.0]))
    with pytest.warns(gdfast.SeparationWarning):
        res = gdfast.minimize(obj, method="newton")
    assert res.status == "separated"


def test_offset_through_pipeline_and_grid_search_by_metadata_routing():
    X, y, _ = make_problem(n=300, d=3, loss="poisson", seed=15)
    off = offset_for(300, 5)
    direct = gdfast.PoissonRegressor(alpha=0.1).fit(StandardScaler().fit_transform(X), y,
                                                    offset=off)
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = make_pipeline(StandardScaler(),
                             gdfast.PoissonRegressor(alpha=0.1).set_fit_request(offset=True))
        pipe.fit(X, y, offset=off)
        np.testing.assert_allclose(pipe[-1].coef_, direct.coef_, rtol=1e-12)
        search = GridSearchCV(
            gdfast.PoissonRegressor().set_fit_request(offset=True).set_score_request(offset=True),
            {"alpha": [0.01, 1.0]}, cv=3)
        search.fit(X, y, offset=off)
        assert search.best_params_["alpha"] in (0.01, 1.0)
        # the scores used the offset: refitting by hand at the best alpha gives the same model
        best = gdfast.PoissonRegressor(alpha=search.best_params_["alpha"]).fit(X, y, offset=off)
        np.testing.assert_allclose(search.best_estimator_.coef_, best.coef_, rtol=1e-12)


def test_dask_objective_and_estimator_with_offset():
    import dask.array as da

    import gdfast.dask as gdd
    X, y, w = make_problem(n=400, d=4, loss="poisson", seed=16)
    off = offset_for(400, 6)
    Xd = da.from_array(X, chunks=(130, 4))
    ref = gdfast.Objective(X, y, loss="poisson", alpha=0.1, offset=off)
    for offset in (off, da.from_array(off, chunks=100)):
        obj = gdd.Objective(Xd, da.from_array(y, chunks=130), loss="poisson", alpha=0.1,
                            offset=offset)
        c, g, H = obj.cost_gradient_hessian(w)
        c0, g0, H0 = ref.cost_gradient_hessian(w)
        assert rel(c, c0) < 1e-12 and rel(g, g0) < 1e-12 and rel(H, H0) < 1e-12
        assert rel(obj.hessp(w, w), ref.hessp(w, w)) < 1e-12
    ls = gdd.Objective(Xd, y, loss="squared_error", offset=off)
    np.testing.assert_allclose(gdfast.minimize(ls).w,
                               gdfast.minimize(gdfast.Objective(X, y, loss="squared_error",
                                                                offset=off)).w, rtol=1e-12)
    reg = gdfast.PoissonRegressor(alpha=0.1).fit(Xd, y, offset=off)
    mem = gdfast.PoissonRegressor(alpha=0.1).fit(X, y, offset=off)
    np.testing.assert_allclose(reg.coef_, mem.coef_, rtol=1e-9)
    np.testing.assert_allclose(np.asarray(reg.predict(Xd, offset=off)),
                               mem.predict(X, offset=off), rtol=1e-12)
    with pytest.raises(ValueError, match="^offset"):
        gdd.Objective(Xd, y, loss="poisson", offset=np.r_[off[:-1], np.nan]).cost(w)


def test_the_loss_objects_are_unchanged_by_an_offset():
    X, y, _ = make_problem(n=50, d=2, loss="poisson", seed=17)
    obj = gdfast.Objective(X, y, loss=losses.Poisson(), offset=np.zeros(50))
    assert obj.loss == "poisson" and obj.offset is not None
    assert obj.cost(np.zeros(3)) == gdfast.Objective(X, y, loss="poisson").cost(np.zeros(3))
