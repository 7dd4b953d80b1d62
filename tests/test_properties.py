"""Property-based checks: the kernels equal the reference on random shapes, layouts and values."""
import numpy as np
from hypothesis import given, strategies as st

import gdfast
from gdfast import reference


@st.composite
def problems(draw):
    n = draw(st.integers(1, 600))
    d = draw(st.integers(1, 12))
    loss = draw(st.sampled_from(["log_loss", "squared_error"]))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    order = draw(st.sampled_from(["C", "F"]))
    fit_intercept = draw(st.booleans())
    alpha = draw(st.sampled_from([0.0, 1e-3, 1.0]))
    scale = draw(st.sampled_from([1e-3, 1.0, 30.0, 1e4]))
    weighted = draw(st.booleans())
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    X = np.asarray(rng.standard_normal((n, d)), dtype=dtype, order=order)
    y = rng.integers(0, 2, n).astype(float) if loss == "log_loss" else rng.standard_normal(n)
    w = rng.standard_normal(d + int(fit_intercept)) * scale
    sw = rng.uniform(0, 2, n) + (np.arange(n) == 0) if weighted else None
    return dict(X=X, y=y, loss=loss, alpha=alpha, fit_intercept=fit_intercept, sample_weight=sw), w


@given(problems())
def test_kernels_equal_reference_and_are_finite(case):
    kw, w = case
    fast, ref = gdfast.Objective(**kw), reference.Objective(**kw)
    c, g, H = fast.cost_gradient_hessian(w)
    v = np.linspace(-1, 1, len(w))
    hv = fast.hessp(w, v)
    for out in (c, g, H, hv):
        assert np.all(np.isfinite(out))
    if kw["X"].dtype == np.float64:
        tol, floor = 1e-9, 1e-3
    else:
        # float32 rows are summed in float: z carries an error of about d * 6e-8 * |x| |w|, which
        # the loss's derivatives pass on. Allow 1e-6 of that scale (d <= 12 here), not of the
        # result, which can be far smaller when residuals cancel.
        xw = (1.0 + np.abs(kw["X"]).max()) * (1.0 + np.abs(w).sum())
        tol, floor = 1e-6, xw * (1.0 + np.abs(kw["X"]).max()) * (1.0 + np.abs(kw["y"]).max())
    scale = max(1.0, abs(ref.cost(w)), floor)
    assert abs(c - ref.cost(w)) <= tol * scale
    gref = ref.gradient(w)
    assert np.linalg.norm(g - gref) <= tol * max(np.linalg.norm(gref), floor)
    Href = ref.hessian(w)
    assert np.linalg.norm(H - Href) <= tol * max(np.linalg.norm(Href), floor)
    hvref = ref.hessp(w, v)
    assert np.linalg.norm(hv - hvref) <= tol * max(np.linalg.norm(hvref), floor)
