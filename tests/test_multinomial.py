"""gdfast.MultinomialObjective: the compiled K-class passes against gdfast.reference, finite
differences, the binary model and themselves across layouts, dtypes and thread counts."""
import itertools

import numpy as np
import pytest
import scipy.sparse

import gdfast
from gdfast import _dispatch, reference


def rel(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300)


def make_multiclass(n=613, d=11, K=4, dtype=np.float64, order="C", seed=3, scale=1.0):
    """X, class indices drawn from the softmax model, and a realistic Theta (z ~ N(0, scale))."""
    rng = np.random.default_rng(seed)
    X = np.asarray(rng.standard_normal((n, d)), dtype=dtype, order=order)
    theta = rng.standard_normal((d + 1, K)) * scale / np.sqrt(d)
    Z = X.astype(np.float64) @ theta[:d] + theta[d]
    P = np.exp(Z - Z.max(1, keepdims=True))
    P /= P.sum(1, keepdims=True)
    y = np.array([rng.choice(K, p=p) for p in P])
    return X, y, theta


def pair(X, y, **kw):
    return gdfast.MultinomialObjective(X, y, **kw), reference.MultinomialObjective(X, y, **kw)


CASES = list(itertools.product([np.float64, np.float32], ["C", "F"], [True, False], [0.0, 0.3],
                               [False, True], [None, True, False]))


@pytest.mark.parametrize("isa", _dispatch.available())
@pytest.mark.parametrize("dtype,order,fit_intercept,alpha,weighted,ref", CASES)
def test_every_method_matches_reference(dtype, order, fit_intercept, alpha, weighted, ref, isa):
    X, y, theta = make_multiclass(dtype=dtype, order=order)
    sw = np.random.default_rng(1).uniform(0.1, 3.0, len(y)) if weighted else None
    fast, slow = pair(X, y, alpha=alpha, fit_intercept=fit_intercept, sample_weight=sw,
                      reference=ref)
    fast._kernel = fast._build_kernel(_dispatch.load_multinomial(isa))
    assert fast.n_params == slow.n_params
    w = fast.pack(theta if fit_intercept else theta[:-1])
    v = np.random.default_rng(2).standard_normal(len(w))
    # float32 X is read as it is and multiplied in double: the same numbers as the reference's
    # float64 copy, so one tolerance serves both dtypes
    tol = 1e-12
    assert rel(fast.cost(w), slow.cost(w)) < tol
    c, g = fast.cost_gradient(w)
    c_ref, g_ref = slow.cost_gradient(w)
    assert rel(c, c_ref) < tol and rel(g, g_ref) < tol
    assert rel(fast.gradient(w), g_ref) < tol
    c, g, H = fast.cost_gradient_hessian(w)
    H_ref = slow.hessian(w)
    assert rel(c, c_ref) < tol and rel(g, g_ref) < tol and rel(H, H_ref) < tol
    assert np.array_equal(H, H.T)
    assert rel(fast.hessian(w), H_ref) < tol
    assert rel(fast.hessp(w, v), H_ref @ v) < tol


@pytest.mark.parametrize("ref", [True, False])
def test_finite_differences(ref):
    X, y, theta = make_multiclass(n=300, d=5, K=3, seed=7)
    obj = gdfast.MultinomialObjective(X, y, alpha=0.2, reference=ref)
    w = obj.pack(theta)
    eps = 1e-6
    E = np.eye(obj.n_params)
    fd_g = np.array([(obj.cost(w + eps * e) - obj.cost(w - eps * e)) / (2 * eps) for e in E])
    fd_H = np.array([(obj.gradient(w + eps * e) - obj.gradient(w - eps * e)) / (2 * eps)
                     for e in E])
    assert rel(obj.gradient(w), fd_g) < 1e-7
    assert rel(obj.hessian(w), fd_H) < 1e-7
    v = np.random.default_rng(0).standard_normal(obj.n_params)
    fd_Hv = (obj.gradient(w + eps * v) - obj.gradient(w - eps * v)) / (2 * eps)
    assert rel(obj.hessp(w, v), fd_Hv) < 1e-7


def test_parameter_layout_is_documented_order():
    """w = Theta.ravel()[free]: coefficients first (feature-major, classes contiguous), then
    the free intercepts; reference=True drops class 0's column, False only its intercept."""
    X, y, theta = make_multiclass(n=50, d=3, K=4)
    ref = gdfast.MultinomialObjective(X, y, reference=True)
    assert ref.n_params == 4 * 3 and ref.n_free_coef == 3 * 3
    assert np.array_equal(ref.pack(theta), theta[:, 1:].ravel())
    sym = gdfast.MultinomialObjective(X, y, alpha=1.0)
    assert not sym.reference and sym.n_params == 3 * 4 + 3 and sym.n_free_coef == 12
    assert np.array_equal(sym.pack(theta), np.concatenate([theta[:3].ravel(), theta[3, 1:]]))
    t = sym.theta(sym.pack(theta))
    assert t[3, 0] == 0 and np.array_equal(t[:3], theta[:3])
    coef, intercept = sym.coef_intercept(sym.pack(theta))
    assert coef.shape == (4, 3) and abs(intercept.sum()) < 1e-12
    # the intercepts' shift leaves every probability as it was
    def softmax(z):
        e = np.exp(z - z.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)
    z1 = X @ coef.T + intercept
    z0 = X @ t[:3] + t[3]
    assert not np.allclose(z1, z0) and np.allclose(softmax(z1), softmax(z0), rtol=1e-13)


def test_predictions_are_X_theta():
    X, y, theta = make_multiclass(n=97, d=6, K=5, order="F")
    obj = gdfast.MultinomialObjective(X, y, reference=False, alpha=1.0)
    w = obj.pack(theta)
    full = obj.theta(w)
    assert rel(obj.predictions(w), X @ full[:6] + full[6]) < 1e-14


def test_two_classes_is_the_binary_model():
    """K = 2 with class 0 as reference is logistic regression of class 1: same cost, gradient,
    Hessian as gdfast.Objective(loss='log_loss')."""
    X, y, theta = make_multiclass(n=400, d=6, K=2, seed=11)
    sw = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    multi = gdfast.MultinomialObjective(X, y, sample_weight=sw)
    binary = gdfast.Objective(X, y.astype(float), loss="log_loss", sample_weight=sw)
    w = multi.pack(theta)
    assert multi.n_params == binary.n_params
    assert rel(multi.cost(w), binary.cost(w)) < 1e-13
    assert rel(multi.gradient(w), binary.gradient(w)) < 1e-12
    assert rel(multi.hessian(w), binary.hessian(w)) < 1e-12


def _sparse_twin(X, dtype, index):
    S = scipy.sparse.csr_matrix(X.astype(dtype))
    S.indices = S.indices.astype(index)
    S.indptr = S.indptr.astype(index)
    return S


@pytest.mark.parametrize("dtype,index,fit_intercept", list(itertools.product(
    [np.float64, np.float32], [np.int32, np.int64], [True, False])))
def test_csr_matches_dense(dtype, index, fit_intercept):
    X, y, theta = make_multiclass(n=700, d=9, K=3, dtype=dtype, seed=5)
    X[np.abs(X) < 0.8] = 0                               # about 60% zeros
    sw = np.random.default_rng(3).uniform(0.1, 2.0, len(y))
    dense = gdfast.MultinomialObjective(X, y, alpha=0.1, sample_weight=sw,
                                        fit_intercept=fit_intercept)
    sparse = gdfast.MultinomialObjective(_sparse_twin(X, dtype, index), y, alpha=0.1,
                                         sample_weight=sw, fit_intercept=fit_intercept)
    assert sparse.is_sparse and sparse.X.dtype == dtype
    w = dense.pack(theta if fit_intercept else theta[:-1])
    v = np.random.default_rng(4).standard_normal(len(w))
    c, g, H = sparse.cost_gradient_hessian(w)
    c0, g0, H0 = dense.cost_gradient_hessian(w)
    assert rel(c, c0) < 1e-13 and rel(g, g0) < 1e-13 and rel(H, H0) < 1e-13
    assert rel(sparse.hessp(w, v), dense.hessp(w, v)) < 1e-13
    assert rel(sparse.predictions(w), dense.predictions(w)) < 1e-14


def test_csr_unsorted_and_duplicate_entries():
    """Duplicates count as their sum and the order of a row's entries does not matter."""
    rng = np.random.default_rng(8)
    n, d, K = 60, 5, 3
    rows = rng.integers(0, n, 400)
    cols = rng.integers(0, d, 400)
    vals = rng.standard_normal(400)
    coo = scipy.sparse.coo_matrix((vals, (rows, cols)), shape=(n, d))
    dense_X = coo.toarray()                              # duplicates summed
    data, indices, indptr = [], [], [0]
    for i in range(n):                                   # CSR with duplicates, reversed order
        sel = np.flatnonzero(rows == i)[::-1]
        data += list(vals[sel])
        indices += list(cols[sel])
        indptr.append(len(data))
    S = scipy.sparse.csr_matrix((np.array(data), np.array(indices, dtype=np.int32),
                                 np.array(indptr, dtype=np.int32)), shape=(n, d))
    y = rng.integers(0, K, n)
    w = rng.standard_normal((d + 1) * (K - 1))
    a = gdfast.MultinomialObjective(S, y, n_classes=K)
    b = gdfast.MultinomialObjective(dense_X, y, n_classes=K)
    c, g, H = a.cost_gradient_hessian(w)
    c0, g0, H0 = b.cost_gradient_hessian(w)
    assert rel(c, c0) < 1e-13 and rel(g, g0) < 1e-12 and rel(H, H0) < 1e-12


@pytest.mark.parametrize("sparse", [False, True])
def test_threads_deterministic_and_close(sparse):
    """The same thread count gives the same bits; 1 and 2 threads agree to 1e-12 (enough rows
    for two parts)."""
    X, y, theta = make_multiclass(n=9000, d=8, K=5, seed=2)
    if sparse:
        X[np.abs(X) < 0.5] = 0
        X = scipy.sparse.csr_matrix(X)
    one = gdfast.MultinomialObjective(X, y, alpha=1e-3, n_threads=1)
    two = gdfast.MultinomialObjective(X, y, alpha=1e-3, n_threads=2)
    w = one.pack(theta)
    v = np.random.default_rng(0).standard_normal(len(w))
    c1, g1, H1 = one.cost_gradient_hessian(w)
    c2, g2, H2 = two.cost_gradient_hessian(w)
    assert rel(c1, c2) < 1e-12 and rel(g1, g2) < 1e-12 and rel(H1, H2) < 1e-12
    assert rel(one.hessp(w, v), two.hessp(w, v)) < 1e-12
    again = two.cost_gradient_hessian(w)
    assert again[0] == c2 and np.array_equal(again[1], g2) and np.array_equal(again[2], H2)
    assert np.array_equal(two.hessp(w, v), two.hessp(w, v))


def test_stable_for_huge_predictions():
    """Finite for any finite z, and exact for confident predictions (no log(1 + tiny) = 0)."""
    X = np.array([[1.0], [-1.0], [2.0]])
    y = np.array([1, 0, 2])
    obj = gdfast.MultinomialObjective(X, y, n_classes=3, fit_intercept=False, reference=False,
                                      alpha=1e-3)
    theta = np.array([[-1e3, 1e3, 2e3]])                  # z up to 4e3
    w = obj.pack(theta)
    c, g, H = obj.cost_gradient_hessian(w)
    assert np.isfinite(c) and np.isfinite(g).all() and np.isfinite(H).all()
    z = X @ theta
    lse = z.max(1) + np.log(np.exp(z - z.max(1, keepdims=True)).sum(1))
    expected = np.mean(lse - z[np.arange(3), y]) + 0.5e-3 * (theta ** 2).sum()
    assert rel(c, expected) < 1e-14
    # a confident correct prediction: loss = log1p(exp(-40) + exp(-80)), not 0
    obj = gdfast.MultinomialObjective(np.array([[1.0]]), np.array([0]), n_classes=3,
                                      fit_intercept=False, reference=False, alpha=0.0)
    c = obj.cost(obj.pack(np.array([[40.0, 0.0, -40.0]])))
    assert rel(c, np.log1p(np.exp(-40.0) + np.exp(-80.0))) < 1e-14 and c > 0


def test_hessian_nonsingular_under_each_constraint():
    X, y, theta = make_multiclass(n=500, d=4, K=4, seed=9)
    for alpha, expected_ref in [(0.0, True), (0.5, False)]:
        obj = gdfast.MultinomialObjective(X, y, alpha=alpha)
        assert obj.reference is expected_ref
        H = obj.hessian(obj.pack(theta))
        assert np.linalg.eigvalsh(H).min() > 1e-4 * np.linalg.eigvalsh(H).max()
    # without a constraint the symmetric parametrisation at alpha = 0 is singular: what the
    # constraint prevents (alpha = 0 with reference=False keeps W's shift direction)
    obj = gdfast.MultinomialObjective(X, y, alpha=0.0, reference=False)
    assert np.linalg.eigvalsh(obj.hessian(obj.pack(theta))).min() < 1e-10


def test_float32_kept_and_inputs_unchanged():
    X, y, theta = make_multiclass(dtype=np.float32)
    sw = np.random.default_rng(0).uniform(0.5, 1.5, len(y))
    copies = X.copy(), y.copy(), sw.copy()
    obj = gdfast.MultinomialObjective(X, y, sample_weight=sw, alpha=0.1)
    assert obj.X is X and obj.X.dtype == np.float32
    w = obj.pack(theta)
    w_copy = w.copy()
    obj.cost_gradient_hessian(w)
    obj.hessp(w, w)
    assert np.array_equal(X, copies[0]) and np.array_equal(y, copies[1])
    assert np.array_equal(sw, copies[2]) and np.array_equal(w, w_copy)


def test_bad_input_names_the_argument():
    X = np.random.default_rng(0).standard_normal((10, 2))
    y = np.arange(10) % 3
    with pytest.raises(ValueError, match="^y must hold class indices"):
        gdfast.MultinomialObjective(X, y - 1)
    with pytest.raises(ValueError, match="^y must hold class indices"):
        gdfast.MultinomialObjective(X, y + 0.5)
    with pytest.raises(ValueError, match="^y contains NaN"):
        gdfast.MultinomialObjective(X, np.where(y == 0, np.nan, y))
    with pytest.raises(ValueError, match="^y has length 9"):
        gdfast.MultinomialObjective(X, y[:9])
    with pytest.raises(TypeError, match="^y must hold class indices"):
        gdfast.MultinomialObjective(X, y.astype(str))
    with pytest.raises(ValueError, match="^y holds class 2, outside"):
        gdfast.MultinomialObjective(X, y, n_classes=2)
    with pytest.raises(ValueError, match="^y: the multinomial model needs at least 2"):
        gdfast.MultinomialObjective(X, np.zeros(10))
    with pytest.raises(ValueError, match="^n_classes"):
        gdfast.MultinomialObjective(X, y, n_classes=1)
    with pytest.raises(ValueError, match="^X contains NaN"):
        gdfast.MultinomialObjective(np.where(X > 1, np.nan, X), y)
    with pytest.raises(ValueError, match="^alpha"):
        gdfast.MultinomialObjective(X, y, alpha=-1.0)
    obj = gdfast.MultinomialObjective(X, y)
    with pytest.raises(ValueError, match="^w"):
        obj.cost(np.zeros(obj.n_params + 1))
    with pytest.raises(ValueError, match="^v"):
        obj.hessp(np.zeros(obj.n_params), np.zeros(3))
    with pytest.raises(ValueError, match="^theta must have shape"):
        obj.pack(np.zeros((2, 3)))


@pytest.mark.parametrize("K", [2, 7, 8, 9, 16, 17])
@pytest.mark.parametrize("sparse", [False, True])
def test_every_class_count_around_the_padding(K, sparse):
    """The passes pad K to a multiple of 8: counts on both sides of it, with predictions all
    negative (the padding's exp must not leak into the sums)."""
    X, y, theta = make_multiclass(n=300, d=6, K=K, seed=K)
    theta[-1] -= 5.0                                    # every z around -5
    if sparse:
        X[np.abs(X) < 0.6] = 0
        X = scipy.sparse.csr_matrix(X)
    fast = gdfast.MultinomialObjective(X, y, n_classes=K, alpha=0.1)
    slow = reference.MultinomialObjective(X.toarray() if sparse else X, y, n_classes=K, alpha=0.1)
    w = fast.pack(theta)
    v = np.random.default_rng(0).standard_normal(len(w))
    c, g, H = fast.cost_gradient_hessian(w)
    c0, g0 = slow.cost_gradient(w)
    assert rel(c, c0) < 1e-12 and rel(g, g0) < 1e-12 and rel(H, slow.hessian(w)) < 1e-12
    assert rel(fast.hessp(w, v), slow.hessp(w, v)) < 1e-12
    full = fast.theta(w)
    Xd = X.toarray() if sparse else X
    assert rel(fast.predictions(w), Xd @ full[:-1] + full[-1]) < 1e-13


@pytest.mark.parametrize("isa", _dispatch.available())
@pytest.mark.parametrize("K", [3, 6, 9, 10, 12, 13])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_class_counts_across_padding_and_hessian_batches(K, dtype, isa):
    """K padded to 4, 8, 12 and 16 columns (the register tiles' chunks of eight and four), and
    more rows than one batch of the BLAS Hessian (several batches per part, a short last
    one), rows of weight 0 included: every pass equals the reference."""
    X, y, theta = make_multiclass(n=1103, d=7, K=K, dtype=dtype, seed=K)
    sw = np.random.default_rng(K).uniform(0.0, 2.0, len(y))
    sw[::5] = 0.0
    fast, slow = pair(X, y, n_classes=K, alpha=0.1, sample_weight=sw)
    fast._kernel = fast._build_kernel(_dispatch.load_multinomial(isa))
    w = fast.pack(theta)
    v = np.random.default_rng(1).standard_normal(len(w))
    c, g, H = fast.cost_gradient_hessian(w)
    assert rel(c, slow.cost(w)) < 1e-12 and rel(g, slow.gradient(w)) < 1e-12
    assert rel(H, slow.hessian(w)) < 1e-12 and np.array_equal(H, H.T)
    assert rel(fast.hessp(w, v), slow.hessp(w, v)) < 1e-12
    full = fast.theta(w)                          # theta with b_0 = 0 (the constraint)
    assert rel(fast.predictions(w), X.astype(np.float64) @ full[:-1] + full[-1]) < 1e-13


@pytest.mark.parametrize("isa", _dispatch.available())
def test_kernels_log1p_agrees_with_libm_to_a_few_ulp(isa):
    """The branch-free log1p of the softmax pass (log1p of the other classes' exponentials,
    0 .. K - 1), over every scale from subnormal to huge."""
    rng = np.random.default_rng(0)
    x = np.concatenate([np.logspace(-320, 300, 200_000), rng.uniform(0, 20, 200_000),
                        [0.0, 2.0 ** -53, np.sqrt(2) - 1, 1.0, 2.0, 1e308]])
    out = np.empty_like(x)
    _dispatch.load_multinomial(isa).log1p_nonneg(x, out)
    ref = np.log1p(x)
    ulps = np.abs(out - ref) / np.spacing(np.maximum(np.abs(ref), np.finfo(float).tiny))
    assert ulps.max() <= 4
