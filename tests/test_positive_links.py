"""The links that keep the mean positive only where z > 0: the Gamma's inverse (canonical) link
and the identity links of the Poisson and Gamma families (loss="gamma_inverse",
"poisson_identity", "gamma_identity"); and GeneralizedLinearRegressor(family, link) over every
family and link. Compiled per-sample terms against the reference and finite differences, +inf
outside the domain, the intercept-only start, every method kept inside the domain, statsmodels'
GLM on scotland and randhie, dense = CSR = Dask = float32."""
import warnings

import numpy as np
import pytest
import scipy.sparse
import sklearn.linear_model
import statsmodels.api as sm
from sklearn.utils.estimator_checks import check_estimator

import gdfast
from gdfast import _core, losses, reference, stats

NAMES = ["gamma_inverse", "poisson_identity", "gamma_identity"]
SM_LINKS = {"gamma_inverse": (sm.families.Gamma, sm.families.links.InversePower),
            "poisson_identity": (sm.families.Poisson, sm.families.links.Identity),
            "gamma_identity": (sm.families.Gamma, sm.families.links.Identity)}
SKIPPED_BY_SKLEARN = {"check_array_api_input"}


def rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def make_problem(name, n=500, d=4, seed=0):
    """Data of the family with means well inside z > 0 (weights, an offset and a start)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w = np.r_[rng.uniform(-0.1, 0.1, d), 1.0]
    z = X @ w[:-1] + w[-1]
    mu = losses.get_loss(name).inverse_link(z)
    y = rng.poisson(mu).astype(float) if name.startswith("poisson") else rng.gamma(3.0, mu / 3.0)
    return X, y, w


@pytest.mark.parametrize("name", NAMES)
def test_per_sample_terms_match_the_reference_and_are_infinite_outside(name):
    loss = losses.get_loss(name)
    assert loss.restricted_domain and not losses.get_loss("gamma").restricted_domain
    for z in (1e-100, 1e-8, 0.01, 0.5, 1.0, 3.0, 100.0, 1e100):
        for y in ((0.0, 1.0, 7.0) if name == "poisson_identity" else (1e-3, 1.0, 7.0)):
            c, r, h = _core.loss_terms(loss.code, z, y)
            L, R, H = (float(t[0]) for t in loss.reference_terms(np.array([z]), np.array([y])))
            offset = loss.cost_offset(np.array([y]), None, 1.0)
            assert c + offset == pytest.approx(L, rel=1e-12, abs=1e-12), (z, y)
            assert r == pytest.approx(R, rel=1e-12, abs=1e-300), (z, y)
            assert h == pytest.approx(H, rel=1e-12, abs=1e-300), (z, y)
    for z in (0.0, -1e-300, -1.0, -1e308):
        c, r, h = _core.loss_terms(loss.code, z, 1.0)
        assert c == np.inf and r == 0.0 and h == 0.0
        assert bool(loss.outside_domain(np.array([z]))[0])
    assert loss.link(loss.inverse_link(np.array([0.7])))[0] == pytest.approx(0.7, rel=1e-15)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("layout", ["C", "F", "csr", "float32"])
def test_kernels_match_reference_and_finite_differences(name, layout):
    X, y, w = make_problem(name, seed=1)
    rng = np.random.default_rng(2)
    sw = rng.integers(1, 4, len(y)).astype(float)
    off = rng.uniform(0.0, 0.2, len(y))
    A = {"C": X, "F": np.asfortranarray(X), "csr": scipy.sparse.csr_matrix(X),
         "float32": X.astype(np.float32)}[layout]
    fast = gdfast.Objective(A, y, loss=name, alpha=0.1, sample_weight=sw, offset=off)
    ref = reference.Objective(X if layout != "float32" else A, y, loss=name, alpha=0.1,
                              sample_weight=sw, offset=off)
    tol = 1e-6 if layout == "float32" else 1e-11
    c, g, H = fast.cost_gradient_hessian(w)
    assert rel(c, ref.cost(w)) < tol
    assert rel(g, ref.gradient(w)) < tol and rel(H, ref.hessian(w)) < tol
    assert rel(fast.hessp(w, w), ref.hessp(w, w)) < tol
    if layout == "C":
        eps = 1e-6
        fd = np.array([(fast.gradient(w + eps * e) - fast.gradient(w - eps * e)) / (2 * eps)
                       for e in np.eye(len(w))])
        assert rel(H, fd) < 1e-6
        fd_g = np.array([(fast.cost(w + eps * e) - fast.cost(w - eps * e)) / (2 * eps)
                         for e in np.eye(len(w))])
        assert rel(g, fd_g) < 1e-6


@pytest.mark.parametrize("name", NAMES)
def test_the_default_start_is_the_intercept_only_point_inside_the_domain(name):
    X, y, _ = make_problem(name, seed=3)
    sw = np.random.default_rng(4).integers(1, 4, len(y)).astype(float)
    obj = gdfast.Objective(X, y, loss=name, sample_weight=sw)
    start = obj.start_point()
    loss = losses.get_loss(name)
    assert np.all(start[:-1] == 0)
    assert start[-1] == pytest.approx(float(loss.link(np.average(y, weights=sw))), rel=1e-14)
    # with an offset every z = offset + intercept stays at or above link(mean y)
    off = np.linspace(-3.0, 2.0, len(y))
    z = gdfast.Objective(X, y, loss=name, offset=off).start_point()[-1] + off
    assert z.min() == pytest.approx(float(loss.link(np.mean(y))), rel=1e-12) and np.all(z > 0)
    # losses defined at z = 0 keep w = 0
    log_link = "poisson" if name == "poisson_identity" else "gamma"
    assert not np.any(gdfast.Objective(X, y, loss=log_link).start_point())


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("method", ["auto", "newton", "newton-cg", "lbfgs", "gd"])
def test_every_method_reaches_the_optimum_with_every_iterate_inside(name, method):
    X, y, _ = make_problem(name, n=800, seed=5)
    # a row far out makes full Newton steps from the start leave the domain
    X = np.vstack([X, [[6.0, -6.0, 6.0, -6.0]]])
    y = np.r_[y, 0.0 if name == "poisson_identity" else 0.05]
    obj = gdfast.Objective(X, y, loss=name, alpha=1e-3)
    best = gdfast.minimize(obj, method="newton", tol=1e-13)
    lowest = []

    def inside(state):
        lowest.append(float(np.min(X @ state.w[:-1] + state.w[-1])))

    res = gdfast.minimize(obj, method=method, callback=inside, tol=1e-10)
    assert res.status == "converged"
    assert min(lowest) > 0
    assert rel(res.cost, best.cost) < 1e-10
    assert np.abs(obj.gradient(best.w)).max() < 1e-10


@pytest.mark.parametrize("name", NAMES)
def test_outside_the_domain_is_an_error_naming_the_start_and_the_link(name):
    X, y, _ = make_problem(name, seed=6)
    obj = gdfast.Objective(X, y, loss=name)
    outside = np.r_[np.zeros(X.shape[1]), -1.0]
    link = losses.get_loss(name).link_name
    with pytest.raises(ValueError, match=f"^w0: the {link} link gives no mean"):
        gdfast.minimize(obj, w0=outside)
    with pytest.raises(ValueError, match=f"^w: the {link} link gives no mean"):
        obj.cost(outside)
    with pytest.raises(ValueError, match="^w0: .* no default start"):
        gdfast.minimize(gdfast.Objective(X, y, loss=name, fit_intercept=False))
    # without an intercept a w0 inside the domain is enough
    Xp = np.abs(X) + 0.1
    yp = losses.get_loss(name).inverse_link(Xp @ np.full(X.shape[1], 0.3))
    res = gdfast.minimize(gdfast.Objective(Xp, yp, loss=name, fit_intercept=False),
                          w0=np.full(X.shape[1], 0.5), tol=1e-10)
    assert res.status == "converged" and rel(res.w, np.full(X.shape[1], 0.3)) < 1e-7
    if name == "poisson_identity":
        with pytest.raises(ValueError, match="^y: the weighted mean"):
            gdfast.minimize(gdfast.Objective(X, np.zeros_like(y), loss=name))


def _statsmodels_fit(X, y, name):
    family, link = SM_LINKS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")              # statsmodels' DomainWarning for the links
        model = sm.GLM(y, sm.add_constant(X, prepend=False), family=family(link()))
        irls = model.fit(tol=1e-14, maxiter=500)
        # IRLS stops on the change of the deviance; Newton from there reaches the optimum, and
        # one IRLS step from the optimum gives the expected-information errors there
        opt = model.fit(method="newton", start_params=irls.params, tol=1e-14, maxiter=100)
        return model.fit(start_params=opt.params, tol=1e-14, maxiter=500)


@pytest.mark.parametrize("name,data", [("gamma_inverse", "scotland"),
                                       ("gamma_identity", "scotland"),
                                       ("poisson_identity", "randhie")])
def test_goodness_of_fit_and_errors_match_statsmodels(name, data):
    d = getattr(sm.datasets, data).load_pandas()
    X, y = d.exog.to_numpy(float), d.endog.to_numpy(float)
    theirs = _statsmodels_fit(X, y, name)
    obj = gdfast.Objective(X, y, loss=name)
    res = gdfast.minimize(obj, method="newton", tol=1e-13)
    assert res.status == "converged"
    assert rel(res.w, theirs.params) < 1e-8
    assert rel(stats.standard_errors(obj, res.w), theirs.bse) < 1e-8
    fit = stats.goodness_of_fit(obj, res.w)
    for ours, attr in [("deviance", "deviance"), ("null_deviance", "null_deviance"),
                       ("pearson_chi2", "pearson_chi2"), ("scale", "scale"),
                       ("log_likelihood", "llf"), ("aic", "aic")]:
        assert rel(getattr(fit, ours), getattr(theirs, attr)) < 1e-8, ours
    # the canonical link's observed information is the expected one
    if name == "gamma_inverse":
        assert rel(stats.standard_errors(obj, res.w, information="observed"), theirs.bse) < 1e-8


@pytest.mark.parametrize("name", NAMES)
def test_sparse_float32_and_dask_equal_dense(name):
    import dask.array as da

    import gdfast.dask as gdd
    X, y, _ = make_problem(name, n=600, seed=7)
    off = np.random.default_rng(8).uniform(-0.1, 0.1, len(y))
    dense = gdfast.minimize(gdfast.Objective(X, y, loss=name, alpha=0.01, offset=off))
    csr = gdfast.minimize(gdfast.Objective(scipy.sparse.csr_matrix(X), y, loss=name, alpha=0.01,
                                           offset=off))
    assert rel(csr.w, dense.w) < 1e-9
    f32 = gdfast.minimize(gdfast.Objective(X.astype(np.float32), y, loss=name, alpha=0.01,
                                           offset=off))
    exact32 = gdfast.minimize(gdfast.Objective(X.astype(np.float32).astype(float), y, loss=name,
                                               alpha=0.01, offset=off))
    assert rel(f32.w, exact32.w) < 1e-5
    dobj = gdd.Objective(da.from_array(X, chunks=(170, 4)), da.from_array(y, chunks=170),
                         loss=name, alpha=0.01, offset=da.from_array(off, chunks=170))
    assert rel(dobj.start_point(), gdfast.Objective(X, y, loss=name, offset=off).start_point()) \
        < 1e-14
    assert rel(gdfast.minimize(dobj).w, dense.w) < 1e-9


# -- GeneralizedLinearRegressor ------------------------------------------------------------------

TABLE = [("normal", "auto", "squared_error"), ("normal", "identity", "squared_error"),
         ("normal", "log", "tweedie"), ("poisson", "auto", "poisson"),
         ("poisson", "identity", "poisson_identity"), ("gamma", "auto", "gamma"),
         ("gamma", "inverse", "gamma_inverse"), ("gamma", "identity", "gamma_identity"),
         ("tweedie", "auto", "tweedie"), ("binomial", "auto", "binomial"),
         ("binomial", "probit", "binomial_probit"), ("binomial", "cloglog", "binomial_cloglog")]


@pytest.mark.parametrize("family,link,loss", TABLE)
def test_each_family_and_link_fits_its_loss(family, link, loss):
    rng = np.random.default_rng(9)
    X = rng.standard_normal((300, 3))
    z = X @ [0.2, -0.1, 0.15]
    trials = None
    if family == "binomial":
        trials = rng.integers(1, 6, 300).astype(float)
        y = rng.binomial(trials.astype(int), 1 / (1 + np.exp(-z))) / trials
    elif family == "normal":
        y = 2.0 + z + rng.standard_normal(300) * 0.3
    elif link in ("identity", "inverse"):
        y = rng.gamma(3.0, 1.0 / (1.0 + 0.2 * z) / 3.0) if link == "inverse" else \
            rng.poisson(3.0 + z).astype(float) if family == "poisson" else \
            rng.gamma(3.0, (3.0 + z) / 3.0)
    else:
        y = rng.poisson(np.exp(z)).astype(float) + (0.5 if family == "gamma" else 0.0)
    est = gdfast.GeneralizedLinearRegressor(family=family, link=link, alpha=0.01)
    est.fit(X, y, sample_weight=trials)
    assert est.status_ == "converged"
    assert est._family().loss.name == loss
    power = 1.5 if family == "tweedie" else 0.0
    obj = gdfast.Objective(X, y, loss=losses.Tweedie(power) if loss == "tweedie" else loss,
                           alpha=0.02 if loss == "squared_error" else 0.01, sample_weight=trials)
    best = gdfast.minimize(obj, method="newton", tol=1e-13)
    assert rel(np.r_[est.coef_, est.intercept_], best.w) < 1e-7
    mu = est.predict(X)
    assert rel(mu, obj.loss.inverse_link(X @ est.coef_ + est.intercept_)) < 1e-15
    assert 0 < est.score(X, y, sample_weight=trials) < 1
    title = str(est.summary()).splitlines()[0]
    assert est._family().loss.model_name in title and "link" in title


def test_it_equals_the_named_regressors_and_statsmodels_summary():
    d = sm.datasets.scotland.load_pandas()
    X, y = d.exog.to_numpy(float), d.endog.to_numpy(float)
    ours = gdfast.GeneralizedLinearRegressor(family="gamma", link="inverse").fit(X, y)
    theirs = _statsmodels_fit(X, y, "gamma_inverse")
    assert rel(np.r_[ours.coef_, ours.intercept_], theirs.params) < 1e-8
    assert rel(np.r_[ours.coef_stderr_, ours.intercept_stderr_], theirs.bse) < 1e-8
    assert rel(ours.goodness_of_fit_.deviance, theirs.deviance) < 1e-8
    table = ours.summary()
    assert "inverse link" in str(table) and "P>|t|" in str(table)
    for family, named in [("poisson", gdfast.PoissonRegressor), ("gamma", gdfast.GammaRegressor)]:
        yy = np.round(y) if family == "poisson" else y
        a = gdfast.GeneralizedLinearRegressor(family=family, alpha=0.3).fit(X / 100, yy)
        b = named(alpha=0.3).fit(X / 100, yy)
        assert rel(a.coef_, b.coef_) < 1e-12 and a.intercept_ == pytest.approx(b.intercept_)
        peer = getattr(sklearn.linear_model, named.__name__)(
            alpha=0.3, tol=1e-12, solver="newton-cholesky", max_iter=1000).fit(X / 100, yy)
        assert rel(a.coef_, peer.coef_) < 1e-6           # scikit-learn's alpha, one to one
    t = gdfast.GeneralizedLinearRegressor(family="tweedie", power=0, alpha=0.3).fit(X, y)
    assert rel(t.coef_, gdfast.TweedieRegressor(power=0, alpha=0.3).fit(X, y).coef_) < 1e-10


def test_bad_families_links_and_powers_are_refused_by_name():
    X, y = np.random.default_rng(0).standard_normal((20, 2)), np.ones(20)
    G = gdfast.GeneralizedLinearRegressor
    with pytest.raises(ValueError, match="^family must be one of"):
        G(family="gaussian").fit(X, y)
    with pytest.raises(ValueError, match="^link must be one of"):
        G(link="sqrt").fit(X, y)
    with pytest.raises(ValueError, match="^link='inverse' is not available for family='poisson'; "
                                         "its links are 'log', 'identity'"):
        G(family="poisson", link="inverse").fit(X, y)
    with pytest.raises(ValueError, match="power"):
        G(family="tweedie", power=0.5).fit(X, y)
    with pytest.raises(ValueError, match="^link='identity' is available for power=0 only"):
        G(family="tweedie", power=1.5, link="identity").fit(X, y)
    with pytest.raises(ValueError, match="^y must hold positive numbers"):
        G(family="gamma", link="inverse").fit(X, np.r_[y[:-1], 0.0])


def test_passes_check_estimator_at_its_defaults():
    results = check_estimator(gdfast.GeneralizedLinearRegressor(), on_fail=None)
    assert len(results) > 50
    assert [(r["check_name"], r["status"]) for r in results if r["status"] != "passed"
            and not (r["status"] == "skipped" and r["check_name"] in SKIPPED_BY_SKLEARN)] == []


@pytest.mark.parametrize("family,link", [("poisson", "auto"), ("poisson", "identity"),
                                         ("gamma", "inverse"), ("gamma", "identity"),
                                         ("tweedie", "auto")])
def test_passes_check_estimator_for_the_other_families(family, link):
    # alpha > 0: the checks fit 15 rows on 30 columns, where an unpenalised GLM has no unique
    # fit (the normal family's exact solve picks one; the others' would depend on the path)
    est = gdfast.GeneralizedLinearRegressor(family=family, link=link, alpha=1.0)
    results = check_estimator(est, on_fail=None)
    assert [(r["check_name"], r["status"]) for r in results if r["status"] != "passed"
            and not (r["status"] == "skipped" and r["check_name"] in SKIPPED_BY_SKLEARN)] == []
    assert est.__sklearn_tags__().target_tags.positive_only


def test_the_estimator_on_sparse_and_dask_input_equals_dense():
    import dask.array as da
    d = sm.datasets.scotland.load_pandas()
    X, y = d.exog.to_numpy(float), d.endog.to_numpy(float)
    off = np.random.default_rng(13).uniform(-0.002, 0.002, len(y))

    def fit(A, yy, oo):
        return gdfast.GeneralizedLinearRegressor(family="gamma", link="inverse").fit(
            A, yy, offset=oo)
    dense = fit(X, y, off)
    for other in (fit(scipy.sparse.csr_matrix(X), y, off),
                  fit(da.from_array(X, chunks=(10, 7)), da.from_array(y, chunks=10),
                      da.from_array(off, chunks=10))):
        assert rel(np.r_[other.coef_, other.intercept_], np.r_[dense.coef_, dense.intercept_]) \
            < 1e-11
    assert rel(np.asarray(other.predict(da.from_array(X, chunks=(10, 7)),
                                        offset=da.from_array(off, chunks=10))),
               dense.predict(X, offset=off)) < 1e-11
