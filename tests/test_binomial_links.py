"""Binomial proportions with the probit and complementary log-log links (loss="binomial_probit",
loss="binomial_cloglog"): compiled per-sample functions against 4000-bit mpmath, finite at any z,
the kernels against gdfast.reference and finite differences, and statsmodels' GLM on star98."""
import numpy as np
import pytest
import scipy.sparse
import statsmodels.api as sm

import gdfast
from gdfast import _core, losses, reference

LINKS = {"binomial_probit": sm.families.links.Probit, "binomial_cloglog": sm.families.links.CLogLog}


def exact_terms(name, z, y):
    import mpmath
    with mpmath.workprec(4000):
        Z, Y = mpmath.mpf(z), mpmath.mpf(y)
        if name == "binomial_probit":
            up, down, pdf = mpmath.ncdf(Z), mpmath.ncdf(-Z), mpmath.npdf(Z)
            m_up, m_down = pdf / up, pdf / down
            return (float(-Y * mpmath.log(up) - (1 - Y) * mpmath.log(down)),
                    float(-Y * m_up + (1 - Y) * m_down),
                    float(Y * m_up * (Z + m_up) + (1 - Y) * m_down * (m_down - Z)))
        T = mpmath.exp(Z)
        P, g = -mpmath.expm1(-T), T / mpmath.expm1(T)
        return (float(-Y * mpmath.log(P) + (1 - Y) * T), float((1 - Y) * T - Y * g),
                float((1 - Y) * T - Y * g * (1 - T / P)))


@pytest.mark.parametrize("name", list(LINKS))
def test_per_sample_terms_are_accurate_and_finite(name):
    code = losses.get_loss(name).code
    zs = [-700.0, -100.0, -37.5, -20.5, -19.9, -5.0, -1.0, -1e-3, 0.0, 1e-6, 0.3, 1.0, 3.0, 5.0]
    zs += [19.9, 20.5, 40.0] if name == "binomial_probit" else []
    for z in zs:
        for y in (0.0, 0.3, 0.5, 0.999, 1.0):
            c, r, h = _core.loss_terms(code, z, y)
            L, R, H = exact_terms(name, z, y)
            assert c == pytest.approx(L, rel=1e-13, abs=1e-300), (z, y)
            # r = -y m(z) + (1 - y) m(-z) cancels near the optimum: to an ulp of its terms
            scale = max(abs(R), 1e-3)         # absolute 1e-16 where r is near 0
            assert abs(r - R) <= 1e-13 * scale, (z, y, r, R)
            assert h == pytest.approx(H, rel=1e-12, abs=1e-300), (z, y, h, H)
            if name == "binomial_probit":
                assert 0.0 <= h <= 1.0 + 1e-15            # the curvature bound
    for z in (-1e308, -1e200, -1e4, 709.0, 710.0, 1e4, 1e200, 1e308):
        for y in (0.0, 0.5, 1.0):
            assert np.all(np.isfinite(_core.loss_terms(code, z, y))), (z, y)


@pytest.mark.parametrize("name", list(LINKS))
@pytest.mark.parametrize("layout", ["C", "F", "csr", "float32"])
def test_kernels_match_reference_and_finite_differences(name, layout):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((400, 5))
    w = rng.standard_normal(6) * 0.3
    trials = rng.integers(1, 8, 400).astype(float)
    y = rng.binomial(trials.astype(int), losses.get_loss(name).inverse_link(X @ w[:-1] + w[-1])) / trials
    A = {"C": X, "F": np.asfortranarray(X), "csr": scipy.sparse.csr_matrix(X),
         "float32": X.astype(np.float32)}[layout]
    fast = gdfast.Objective(A, y, loss=name, alpha=0.1, sample_weight=trials)
    ref = reference.Objective(X if layout != "float32" else A, y, loss=name, alpha=0.1,
                              sample_weight=trials)
    tol = 1e-6 if layout == "float32" else 1e-10
    c, g, H = fast.cost_gradient_hessian(w)
    np.testing.assert_allclose(c, ref.cost(w), rtol=tol)
    np.testing.assert_allclose(g, ref.gradient(w), rtol=tol * 10, atol=tol * 1e-2)
    np.testing.assert_allclose(H, ref.hessian(w), rtol=tol * 10, atol=tol * 1e-2)
    np.testing.assert_allclose(fast.hessp(w, w), ref.hessp(w, w), rtol=tol * 10, atol=tol * 1e-2)
    if layout == "C":
        eps = 1e-6
        fd = np.array([(fast.gradient(w + eps * e) - fast.gradient(w - eps * e)) / (2 * eps)
                       for e in np.eye(6)])
        np.testing.assert_allclose(H, fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", list(LINKS))
def test_star98_matches_statsmodels(name):
    data = sm.datasets.star98.load_pandas()
    successes = data.endog["NABOVE"].to_numpy(dtype=float)
    trials = successes + data.endog["NBELOW"].to_numpy(dtype=float)
    X = data.exog.to_numpy(dtype=float)
    theirs = sm.GLM(data.endog, sm.add_constant(data.exog),
                    family=sm.families.Binomial(LINKS[name]())).fit(tol=1e-13, maxiter=200)
    obj = gdfast.Objective(X, successes / trials, loss=name, sample_weight=trials)
    res = gdfast.minimize(obj, method="newton", tol=1e-13)
    assert res.status == "converged"
    np.testing.assert_allclose(np.r_[res.w[-1], res.w[:-1]], theirs.params, rtol=1e-8)
    assert 2 * trials.sum() * res.cost == pytest.approx(theirs.deviance, rel=1e-8)


@pytest.mark.parametrize("name", list(LINKS))
@pytest.mark.parametrize("method", ["newton", "newton-cg", "lbfgs", "gd"])
def test_every_method_reaches_the_optimum(name, method):
    rng = np.random.default_rng(5)
    X = rng.standard_normal((300, 3))
    trials = rng.integers(1, 10, 300)
    p = losses.get_loss(name).inverse_link(X @ [0.4, -0.3, 0.2] - 0.2)
    y = rng.binomial(trials, p) / trials
    obj = gdfast.Objective(X, y, loss=name, alpha=1e-3, sample_weight=trials)
    best = gdfast.minimize(obj, method="newton", tol=0.0)
    res = gdfast.minimize(obj, method=method, max_iter=20_000)
    assert res.status == "converged"
    assert res.cost == pytest.approx(best.cost, rel=1e-10)


def test_separation_and_targets():
    X = np.array([[-2.0], [-1.0], [1.0], [2.0]])
    for name in LINKS:
        with pytest.warns(gdfast.SeparationWarning):
            res = gdfast.minimize(gdfast.Objective(X, [0.0, 0.0, 1.0, 1.0], loss=name),
                                  method="newton")
        assert res.status == "separated"
        assert not gdfast.Objective(X, [0.0, 0.0, 0.9, 1.0], loss=name).separates(
            np.array([50.0, 0.0]))
        with pytest.raises(ValueError, match=rf"^y must hold proportions in \[0, 1\] for loss='{name}'"):
            gdfast.Objective(X, [0.0, 0.0, 1.5, 1.0], loss=name)
    assert losses.get_loss("binomial_probit").curvature == 1.0
    assert losses.get_loss("binomial_cloglog").curvature is None
