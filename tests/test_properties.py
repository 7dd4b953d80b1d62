"""Property-based checks: on random shapes, dtypes, layouts, weights, thread counts and extreme
(but representable) values, every kernel equals the reference and every output is finite.

Tolerances follow the size of what is summed, not of the result: a sum of terms of both signs
can be tiny while each term is large, and then both the kernels and the reference are only
accurate relative to the terms. Each bound is 1e-9 times the magnitude of the terms (the
rounding error of double precision sums over these sizes is below 1e-13 of it); a wrong index,
stride, weight or sign gives an error of the order of the terms themselves.
"""
import warnings

import numpy as np
from hypothesis import given, settings, strategies as st

import gdfast
from gdfast import reference

RTOL = 1e-9

LAYOUTS = [
    "C", "F",
    "C-every-kth-row",        # rows contiguous, row stride k * d
    "C-column-slice",         # rows contiguous, a slice of wider rows
    "F-every-kth-column",     # columns contiguous, column stride k * n
    "F-row-slice",            # columns contiguous, a slice of longer columns
    "C-reversed-rows",        # negative row stride
    "F-reversed-columns",     # negative column stride
    "transposed",             # the transpose of a C array: Fortran order
    "both-strided",           # neither axis contiguous: copied once to C order
    "broadcast-row",          # row stride 0: every row the same, no copy
    "broadcast-column",       # column stride 0: every column the same, no copy
]
CONVERTED = ["int32", "int64", "bool", "float16", ">f8", ">f4", "uint8"]


def embed(values, layout, rng):
    """An array equal to values (n x d) laid out as asked. Memory outside the view is NaN, so a
    kernel that reads past its view gives a non-finite result."""
    n, d = values.shape
    k = int(rng.integers(2, 4))
    dtype = values.dtype
    if layout == "C":
        return np.ascontiguousarray(values)
    if layout == "F":
        return np.asfortranarray(values)
    if layout == "transposed":
        return np.ascontiguousarray(values.T).T
    if layout == "broadcast-row":
        return np.broadcast_to(values[0], (n, d))
    if layout == "broadcast-column":
        return np.broadcast_to(values[:, :1], (n, d))
    shape, order, index = {
        "C-every-kth-row": ((n * k, d), "C", np.s_[::k]),
        "C-column-slice": ((n, d + 3), "C", np.s_[:, 1:d + 1]),
        "F-every-kth-column": ((n, d * k), "F", np.s_[:, ::k]),
        "F-row-slice": ((n + 3, d), "F", np.s_[2:n + 2]),
        "C-reversed-rows": ((n, d), "C", np.s_[::-1]),
        "F-reversed-columns": ((n, d), "F", np.s_[:, ::-1]),
        "both-strided": ((2 * n, 2 * d), "C", np.s_[::2, ::2]),
    }[layout]
    base = np.full(shape, np.nan, dtype=dtype, order=order)
    view = base[index]
    view[...] = values
    return view


def no_copy_expected(X):
    item = X.itemsize
    contiguous = X.strides[1] == item or X.strides[0] == item or 1 in X.shape
    return X.dtype in (np.float32, np.float64) and X.dtype.isnative and contiguous


@st.composite
def problems(draw):
    n = draw(st.one_of(st.integers(1, 8), st.integers(250, 600)))      # around one row block
    d = draw(st.integers(1, 12))
    loss = draw(st.sampled_from(["log_loss", "squared_error"]))
    kind = draw(st.sampled_from(["float64", "float32"] * 3 + CONVERTED))
    layout = draw(st.sampled_from(LAYOUTS)) if kind in ("float64", "float32") else "C"
    fit_intercept = draw(st.booleans())
    alpha = draw(st.sampled_from([0.0, 1e-3, 1.0, 1e3]))
    # feature scales from 1e-8 to 1e8 (mixed within one X), parameter scales up to 1e12
    col_scales = draw(st.lists(st.sampled_from([1e-8, 1e-3, 1.0, 1e3, 1e8]), min_size=d, max_size=d))
    w_scale = draw(st.sampled_from([0.0, 1e-3, 1.0, 30.0, 1e4] + ([1e12] if loss == "log_loss" else [])))
    y_scale = draw(st.sampled_from([1.0, 1e6]))
    weights = draw(st.sampled_from(["none", "uniform", "with-zeros", "counts", "scalar", "tiny", "huge"]))
    n_threads = draw(st.sampled_from([None, 1, 2, 3]))
    seed = draw(st.integers(0, 2**32 - 1))

    rng = np.random.default_rng(seed)
    values = rng.standard_normal((n, d)) * np.array(col_scales)
    if kind in ("float64", "float32"):
        X = embed(values.astype(kind), layout, rng)
    elif kind == "bool":
        X = values > 0
    elif kind in ("int32", "int64", "uint8"):
        X = np.abs(np.round(values)).clip(0, 200).astype(kind)
    else:
        X = values.clip(-6e4, 6e4).astype(kind)          # float16 and non-native byte orders
    if loss == "log_loss":
        y = rng.integers(0, 2, n).astype(float)
    else:
        y = rng.standard_normal(n) * y_scale
    # w compensates the column scales half the time, so that z is both moderate and extreme
    w = rng.standard_normal(d + int(fit_intercept)) * w_scale
    if draw(st.booleans()):
        w[:d] /= np.array(col_scales)
    sw = {
        "none": None,
        "uniform": rng.uniform(0.1, 2.0, n),
        "with-zeros": np.where(np.arange(n) % 3 == 1, 0.0, rng.uniform(0.1, 2.0, n)),
        "counts": rng.integers(1, 5, n),
        "scalar": 3.0,
        "tiny": rng.uniform(0.1, 2.0, n) * 1e-100,
        "huge": rng.uniform(0.1, 2.0, n) * 1e100,
    }[weights]
    kw = dict(X=X, y=y, loss=loss, alpha=alpha, fit_intercept=fit_intercept, sample_weight=sw)
    return kw, w, n_threads


def magnitudes(ref, w, v):
    """The size of the terms each output sums (see the module docstring)."""
    Xa = np.abs(ref._Xa())
    aw = np.abs(np.asarray(w))
    zabs = Xa @ aw                                   # sum_j |x_ij w_j| (+ |b|): z's rounding scale
    loss_i, r, h = ref._terms(ref._z(w))
    if ref.loss == "log_loss":
        # |dh/dz| <= 0.1; 1e-6 * RTOL = 1e-15 covers the reference's absolute error in p - y, p(1-p)
        dr, dh, floor = h * zabs, 0.1 * zabs, 1e-6
    else:
        dr, dh, floor = 2.0 * zabs, 0.0, 0.0
    pen = np.full(ref.n_params, ref.alpha)
    if ref.fit_intercept:
        pen[-1] = 0.0
    # the reference's log loss softplus(z) - y z cancels: absolute error about eps * |z|
    cost = ref.s @ (np.abs(loss_i) + np.abs(r) * zabs + floor * (1.0 + zabs)) + 0.5 * pen @ aw**2
    grad = Xa.T @ (ref.s * (np.abs(r) + dr + floor)) + pen * aw
    hw = ref.s * (h + dh + floor)
    hess = Xa.T @ (Xa * hw[:, None]) + np.diag(pen)
    hessp = Xa.T @ (hw * (Xa @ np.abs(v))) + pen * np.abs(v)
    return cost, np.linalg.norm(grad), np.linalg.norm(hess), np.linalg.norm(hessp)


# float32 rows are summed in float within a block of at most 256 rows (see gdfast.Objective), so
# their error bound, relative to the magnitudes of the terms, is a float32 one.
RTOL_FLOAT32 = 3e-5


def close(a, b, scale, what, rtol=RTOL):
    err = np.linalg.norm(np.asarray(a, dtype=float) - b)
    assert err <= rtol * scale + 1e-300, f"{what}: error {err:.3g} > {rtol} * {scale:.3g}"


@given(problems())
def test_kernels_equal_reference_and_are_finite(case):
    kw, w, n_threads = case
    rtol = RTOL if kw["X"].dtype == np.float64 else RTOL_FLOAT32
    X_before = np.array(kw["X"], copy=True)
    fast = gdfast.Objective(**kw, n_threads=n_threads)
    ref = reference.Objective(**kw)
    if no_copy_expected(kw["X"]):
        assert np.shares_memory(fast.X, kw["X"])
    v = np.linspace(-1.0, 1.0, len(w))
    c, g, H = fast.cost_gradient_hessian(w)
    c2, g2 = fast.cost_gradient(w)
    hv = fast.hessp(w, v)
    bound = fast.curvature_bound(n_iter=5)
    for out in (c, g, H, c2, g2, hv, bound):
        assert np.all(np.isfinite(out))
    assert bound >= 0.0
    if n_threads == 1:                               # with a Hessian or without, the same sums
        assert c == c2 and np.array_equal(g, g2)
    assert np.array_equal(H, H.T)
    mc, mg, mh, mhv = magnitudes(ref, w, v)
    close(c, ref.cost(w), mc, "cost", rtol)
    close(g, ref.gradient(w), mg, "gradient", rtol)
    close(H, ref.hessian(w), mh, "Hessian", rtol)
    close(hv, ref.hessp(w, v), mhv, "Hessian-vector product", rtol)
    assert np.array_equal(kw["X"], X_before)         # X was only read


@given(problems())
def test_cached_prediction_kernels_equal_reference(case):
    """The pieces a Newton-CG solver reuses: Xa v, the loss from z, Xa^T r, Xa^T diag(h) Xa v."""
    kw, w, n_threads = case
    rtol = RTOL if kw["X"].dtype == np.float64 else RTOL_FLOAT32
    fast = gdfast.Objective(**kw, n_threads=n_threads)
    ref = reference.Objective(**kw)
    k, n, D = fast._kernel, fast.n_samples, fast.n_params
    Xa = np.abs(ref._Xa())
    z = np.empty(n)
    k.linear(w, z, n_threads)
    assert np.all(np.isfinite(z))
    close(z, ref._z(w), np.linalg.norm(Xa @ np.abs(w)), "Xa w", rtol)
    r, h = np.empty(n), np.empty(n)
    total = k.loss_from_z(z, r, h)
    loss_i, r_ref, h_ref = ref._terms(z)
    for out in (total, r, h):
        assert np.all(np.isfinite(out))
    floor = 1e-6 if ref.loss == "log_loss" else 0.0
    close(total, ref.s @ loss_i, ref.s @ (np.abs(loss_i) + floor * (1.0 + np.abs(z))), "loss from z")
    close(r, ref.s * r_ref, np.linalg.norm(ref.s * (np.abs(r_ref) + floor)), "s * loss'")
    close(h, ref.s * h_ref, np.linalg.norm(ref.s * (h_ref + floor)), "s * loss''", rtol)
    out = np.empty(D)
    k.transpose(r, out, n_threads)
    assert np.all(np.isfinite(out))
    close(out, ref._Xa().T @ r, np.linalg.norm(Xa.T @ np.abs(r)), "Xa^T r", rtol)
    v = np.linspace(1.0, -0.5, D)
    k.hessp_weighted(h, v, out, n_threads)
    assert np.all(np.isfinite(out))
    close(out, ref._Xa().T @ (h * (ref._Xa() @ v)), np.linalg.norm(Xa.T @ (h * (Xa @ np.abs(v)))),
          "Xa^T diag(h) Xa v", rtol)


@settings(max_examples=25, deadline=None)
@given(problems(), st.sampled_from(["gd", "newton"]))
def test_fits_return_finite_weights(case, method):
    """Whatever the data, a fit ends with finite weights, their cost, and a known status."""
    kw, w, n_threads = case
    obj = gdfast.Objective(**kw, n_threads=n_threads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)     # divergence/separation warnings
        res = gdfast.minimize(obj, method=method, max_iter=30)
    assert np.all(np.isfinite(res.w)) and np.isfinite(res.cost)
    assert res.status in ("converged", "max_iter", "diverged", "separated", "stopped", "stalled")
    assert res.cost <= obj.cost(np.zeros(obj.n_params)) * (1 + 1e-12) + 1e-300
    assert np.all(np.isfinite(res.history["cost"][: res.n_iter + 1]))
