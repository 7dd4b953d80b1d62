"""gdfast.Objective against gdfast.reference, finite differences and scikit-learn's metrics."""
import itertools
import math

import numpy as np
import pytest
from sklearn.metrics import log_loss, mean_squared_error

import gdfast
from gdfast import _dispatch, reference

from problems import TWEEDIES, make_problem

LOSSES = ["log_loss", "squared_error", "poisson", "gamma", "binomial", *TWEEDIES]
DTYPES = [np.float64, np.float32]


def rel(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300)


def tol_for(dtype, loss=None):
    """float64 matches the reference to 1e-9; float32 rows are summed in float within a block.
    The float rounding of z enters the gradient times loss'': for the normal with the log link
    (Tweedie p = 0, loss'' = 2 mu^2 - y mu) the rows of large mu weigh it up to 1e-5."""
    if dtype == np.float64:
        return 1e-9
    return 1e-5 if loss == "tweedie" and loss.param == 0.0 else 1e-6


def pair(X, y, **kw):
    return gdfast.Objective(X, y, **kw), reference.Objective(X, y, **kw)


def w_for(obj, w_full):
    return w_full if obj.fit_intercept else w_full[:-1]


CASES = list(itertools.product(LOSSES, DTYPES, ["C", "F"], [True, False], [0.0, 0.3], [False, True]))


def test_dispatch_picks_a_supported_variant():
    assert _dispatch.isa in _dispatch.available() and "baseline" in _dispatch.available()
    with pytest.raises(ValueError, match="GDFAST_ISA"):
        _dispatch.load("sse9")


@pytest.mark.parametrize("isa", _dispatch.available())
@pytest.mark.parametrize("loss,dtype,order,fit_intercept,alpha,weighted", CASES)
def test_every_method_matches_reference(loss, dtype, order, fit_intercept, alpha, weighted, isa):
    """Every instruction-set variant built here and runnable on this CPU, against the reference."""
    X, y, w = make_problem(n=613, d=11, loss=loss, dtype=dtype, order=order, seed=3)
    sw = np.random.default_rng(1).uniform(0.1, 3.0, len(y)) if weighted else None
    fast, ref = pair(X, y, loss=loss, alpha=alpha, fit_intercept=fit_intercept, sample_weight=sw)
    fast._kernel = fast._build_kernel(_dispatch.load(isa))
    w = w_for(fast, w)
    tol = tol_for(dtype, loss)
    v = np.random.default_rng(2).standard_normal(len(w))
    assert rel(fast.cost(w), ref.cost(w)) < tol
    assert rel(fast.gradient(w), ref.gradient(w)) < tol
    c, g = fast.cost_gradient(w)
    assert rel(c, ref.cost(w)) < tol and rel(g, ref.gradient(w)) < tol
    c, g, H = fast.cost_gradient_hessian(w)
    assert rel(c, ref.cost(w)) < tol and rel(g, ref.gradient(w)) < tol
    assert rel(H, ref.hessian(w)) < tol
    assert np.array_equal(H, H.T)
    assert rel(fast.hessian(w), ref.hessian(w)) < tol
    assert rel(fast.hessp(w, v), ref.hessp(w, v)) < tol


@pytest.mark.parametrize("loss,fit_intercept", list(itertools.product(LOSSES, [True, False])))
def test_finite_differences(loss, fit_intercept):
    X, y, w = make_problem(n=150, d=4, loss=loss, seed=5)
    obj = gdfast.Objective(X, y, loss=loss, alpha=0.1, fit_intercept=fit_intercept,
                           sample_weight=np.linspace(0.5, 2, 150))
    w = w_for(obj, w)
    eps = 1e-5
    E = np.eye(len(w))
    fd_grad = np.array([(obj.cost(w + eps * e) - obj.cost(w - eps * e)) / (2 * eps) for e in E])
    fd_hess = np.array([(obj.gradient(w + eps * e) - obj.gradient(w - eps * e)) / (2 * eps) for e in E])
    assert rel(obj.gradient(w), fd_grad) < 1e-6
    assert rel(obj.hessian(w), fd_hess) < 1e-6
    v = np.arange(1.0, len(w) + 1)
    fd_hessp = (obj.gradient(w + eps * v) - obj.gradient(w - eps * v)) / (2 * eps)
    assert rel(obj.hessp(w, v), fd_hessp) < 1e-6


@pytest.mark.parametrize("n,d", [(1, 1), (1, 5), (5, 1), (2, 3), (257, 1), (300, 9), (1000, 17)])
@pytest.mark.parametrize("loss", LOSSES)
def test_small_and_odd_shapes(n, d, loss):
    for order in "CF":
        X, y, w = make_problem(n=n, d=d, loss=loss, order=order, seed=n + d)
        fast, ref = pair(X, y, loss=loss, alpha=0.05)
        assert rel(fast.cost(w), ref.cost(w)) < 1e-9
        assert rel(fast.gradient(w), ref.gradient(w)) < 1e-9
        assert rel(fast.hessian(w), ref.hessian(w)) < 1e-9


@pytest.mark.parametrize("loss", LOSSES)
def test_strided_slices_and_read_only(loss):
    X, y, w = make_problem(n=400, d=12, loss=loss, seed=9)
    views = {"every other row": (X[::2], y[::2], w),
             "every other column": (X[:, ::2], y, np.r_[w[:-1][::2], w[-1]]),
             "fortran every other row": (np.asfortranarray(X)[::2], y[::2], w),
             "reversed rows": (X[::-1], y[::-1], w)}
    for name, (Xv, yv, wv) in views.items():
        Xv = Xv.copy() if name == "never" else Xv
        Xv.flags.writeable = False if Xv.base is None else Xv.flags.writeable
        fast, ref = pair(Xv, yv, loss=loss)
        assert rel(fast.cost_gradient(wv)[1], ref.gradient(wv)) < 1e-9, name
    Xr = X.copy()
    Xr.flags.writeable = False
    fast = gdfast.Objective(Xr, y, loss=loss)
    assert np.shares_memory(fast.X, Xr)
    assert rel(fast.gradient(w), reference.Objective(X, y, loss=loss).gradient(w)) < 1e-9


def test_no_copy_for_c_and_fortran_order():
    X, y, _ = make_problem(n=50, d=4)
    for A in (X, np.asfortranarray(X), X[::3], np.asfortranarray(X)[:, 1:3]):
        assert np.shares_memory(gdfast.Objective(A, y[: A.shape[0]]).X, A)


@pytest.mark.parametrize("dtype", DTYPES)
def test_extreme_z_is_exact_and_finite(dtype):
    X = np.array([[1.0], [1.0], [-1.0], [-1.0]], dtype=dtype)
    y = np.array([1.0, 0.0, 1.0, 0.0])
    obj = gdfast.Objective(X, y, loss="log_loss")
    for big in (30.0, 1e3, 1e4, 1e300):
        w = np.array([big, 0.0])
        c, g, H = obj.cost_gradient_hessian(w)
        # rows 0 and 3 are right with margin big (loss ~ exp(-big)); rows 1 and 2 wrong (loss ~ big)
        expected = (2 * np.logaddexp(0, -big) + 2 * np.logaddexp(0, big)) / 4
        assert np.isfinite(c) and np.all(np.isfinite(g)) and np.all(np.isfinite(H))
        assert c == pytest.approx(expected, rel=1e-15)
        q = np.exp(-big) / (1 + np.exp(-big))       # sigmoid(-big)
        assert g[0] == pytest.approx(0.5 - q, rel=1e-15)
        assert abs(g[1]) <= 1e-16                   # the residuals cancel exactly in exact arithmetic
    # A confident correct prediction has a tiny but exact loss and gradient.
    one = gdfast.Objective(np.array([[1.0]]), np.array([1.0]), fit_intercept=False)
    c, g = one.cost_gradient(np.array([40.0]))
    assert c == pytest.approx(np.exp(-40.0), rel=1e-12)
    assert g[0] == pytest.approx(-np.exp(-40.0), rel=1e-12)


def test_weight_two_equals_duplicated_row():
    X, y, w = make_problem(n=30, d=3, seed=4)
    sw = np.ones(30)
    sw[7] = 2.0
    weighted = gdfast.Objective(X, y, sample_weight=sw, alpha=0.2)
    dup = gdfast.Objective(np.vstack([X, X[7:8]]), np.r_[y, y[7]], alpha=0.2)
    assert rel(weighted.cost(w), dup.cost(w)) < 1e-13
    assert rel(weighted.gradient(w), dup.gradient(w)) < 1e-13
    assert rel(weighted.hessian(w), dup.hessian(w)) < 1e-13


@pytest.mark.parametrize("loss", LOSSES)
def test_inputs_never_modified(loss):
    X, y, w = make_problem(n=100, d=5, loss=loss)
    sw = np.linspace(1, 2, 100)
    v = np.ones(6)
    copies = [a.copy() for a in (X, y, w, sw, v)]
    obj = gdfast.Objective(X, y, loss=loss, sample_weight=sw, alpha=0.1)
    obj.cost_gradient_hessian(w)
    obj.hessp(w, v)
    gdfast.minimize(obj, method="newton", w0=w)
    gdfast.minimize(obj, method="gd", w0=w, max_iter=5)
    for a, b in zip((X, y, w, sw, v), copies):
        assert np.array_equal(a, b)


def test_cost_equals_sklearn_metrics():
    X, y, w = make_problem(n=500, d=6, loss="log_loss", seed=11)
    z = X @ w[:-1] + w[-1]
    obj = gdfast.Objective(X, y, loss="log_loss")
    assert obj.cost(w) == pytest.approx(log_loss(y, 1 / (1 + np.exp(-z))), rel=1e-12)
    X, y, w = make_problem(n=500, d=6, loss="squared_error", seed=11)
    obj = gdfast.Objective(X, y, loss="squared_error")
    assert obj.cost(w) == pytest.approx(mean_squared_error(y, X @ w[:-1] + w[-1]), rel=1e-12)
    sw = np.linspace(0.1, 1, 500)
    obj = gdfast.Objective(X, y, loss="squared_error", sample_weight=sw)
    assert obj.cost(w) == pytest.approx(
        mean_squared_error(y, X @ w[:-1] + w[-1], sample_weight=sw), rel=1e-12)


@pytest.mark.parametrize("loss", LOSSES)
def test_float32_close_to_float64(loss):
    X, y, w = make_problem(n=5000, d=20, loss=loss, seed=2)
    g64 = gdfast.Objective(X, y, loss=loss).gradient(w)
    obj32 = gdfast.Objective(X.astype(np.float32), y, loss=loss)
    assert obj32.X.dtype == np.float32
    # X's own rounding enters the gradient times loss'' (see tol_for): 2 mu^2 - y mu for p = 0
    assert rel(obj32.gradient(w), g64) < (1e-4 if tol_for(np.float32, loss) > 1e-6 else 1e-5)


@pytest.mark.parametrize("loss", LOSSES)
def test_thread_counts_agree(loss):
    X, y, w = make_problem(n=5000, d=13, loss=loss, seed=8)
    results = [gdfast.Objective(X, y, loss=loss, n_threads=t).cost_gradient_hessian(w) for t in (1, 2, 3)]
    for c, g, H in results[1:]:
        assert rel(c, results[0][0]) < 1e-13 and rel(g, results[0][1]) < 1e-13
        assert rel(H, results[0][2]) < 1e-13
    first = gdfast.Objective(X, y, loss=loss, n_threads=2).cost_gradient(w)
    again = gdfast.Objective(X, y, loss=loss, n_threads=2).cost_gradient(w)
    assert again[0] == first[0] and np.array_equal(again[1], first[1])


def test_curvature_bound_matches_eigenvalue():
    X, y, _ = make_problem(n=400, d=6, seed=1)
    Xa = np.hstack([X, np.ones((400, 1))])
    lam = np.linalg.eigvalsh(Xa.T @ Xa / 400).max()
    # Power iteration approaches the largest eigenvalue from below.
    log_bound = gdfast.Objective(X, y, alpha=0.5).curvature_bound()
    assert 0.97 * (lam / 4 + 0.5) <= log_bound <= (lam / 4 + 0.5) * (1 + 1e-12)
    sq_bound = gdfast.Objective(X, y, loss="squared_error").curvature_bound()
    assert 0.95 * 2 * lam <= sq_bound <= 2 * lam * (1 + 1e-12)


@pytest.mark.parametrize("dtype,order", list(itertools.product(DTYPES, "CF")))
def test_cached_prediction_kernels(dtype, order):
    """The pieces newton-cg reuses: Xa v, loss from z, Xa^T r, and Xa^T diag(h) Xa v."""
    X, y, w = make_problem(n=700, d=9, dtype=dtype, order=order, seed=12)
    sw = np.random.default_rng(0).uniform(0.5, 2, 700)
    fast, ref = pair(X, y, alpha=0.3, sample_weight=sw)
    k = fast._kernel
    tol = 1e-12 if dtype == np.float64 else 1e-6
    v = np.random.default_rng(1).standard_normal(10)
    z = np.empty(700)
    k.linear(w, z)
    assert rel(z, ref._z(w)) < tol
    r, h, out = np.empty(700), np.empty(700), np.empty(10)
    pen = np.r_[w[:-1], 0.0] * 0.3
    assert rel(k.loss_from_z(z, r, h) + 0.15 * w[:-1] @ w[:-1], ref.cost(w)) < tol
    k.transpose(r, out)
    assert rel(out + pen, ref.gradient(w)) < tol
    k.hessp_weighted(h, v, out)
    assert rel(out + 0.3 * np.r_[v[:-1], 0.0], ref.hessp(w, v)) < tol


@pytest.mark.parametrize("isa", _dispatch.available())
def test_hessian_at_every_width_against_reference(isa):
    """The Hessian's register-tiled block loop (tiles of 4 columns by 1-3 vectors of rows, masked
    at the edges) and its dsyrk fallback above GRAM_MAX_D, at widths around every tile edge and
    at row counts that end a batch early or late."""
    for d, n in [(1, 5), (2, 300), (3, 301), (4, 1000), (5, 999), (7, 64), (8, 2050), (9, 333),
                 (15, 700), (16, 1500), (17, 811), (23, 401), (24, 257), (25, 1203), (33, 655),
                 (100, 913), (256, 300), (300, 310)]:
        X, y, w = make_problem(n=n, d=d, loss="log_loss", seed=d)
        for fit_intercept in (True, False):
            fast, ref = pair(X, y, loss="log_loss", alpha=0.01, fit_intercept=fit_intercept)
            fast._kernel = fast._build_kernel(_dispatch.load(isa))
            wv = w_for(fast, w)
            H = fast.hessian(wv)
            assert rel(H, ref.hessian(wv)) < 1e-12, (d, n, fit_intercept)
            assert np.array_equal(H, H.T)


@pytest.mark.parametrize("isa", _dispatch.available())
def test_stream_sum_probe_sums_every_element_once(isa):
    """The benchmark's bandwidth probe must read all of the array, once, on any thread count."""
    a = np.random.default_rng(4).standard_normal(100_003)
    for n_threads in (None, 1, 2, 3):
        got = _dispatch.load(isa).stream_sum(a, n_threads)
        assert abs(got - math.fsum(a)) <= 1e-12 * np.abs(a).sum()
    assert _dispatch.load(isa).stream_sum(a[:0]) == 0.0
    assert _dispatch.load(isa).stream_sum(a[:5], 8) == pytest.approx(math.fsum(a[:5]), rel=1e-15)
