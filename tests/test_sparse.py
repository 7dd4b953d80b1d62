"""Sparse X (scipy.sparse CSR/CSC, matrices and arrays): the same numbers as dense X, never densified."""
import itertools
import sys
import tracemalloc

import numpy as np
import pytest
import scipy.optimize
import scipy.sparse as sp

import gdfast
from gdfast import _dispatch, _solvers, _sparse, _sparse_input, losses
from problems import TWEEDIES, tweedie_targets

LOSSES = ["log_loss", "squared_error", "poisson", "gamma", "binomial", *TWEEDIES]
TOL = 1e-12          # sparse against dense, float64 arithmetic on both sides

# (constructor, index dtype): CSR and CSC, matrix and array, int32 and int64 indices
LAYOUTS = {
    "csr_matrix-int32": (sp.csr_matrix, np.int32),
    "csr_array-int64": (sp.csr_array, np.int64),
    "csc_matrix-int64": (sp.csc_matrix, np.int64),
    "csc_array-int32": (sp.csc_array, np.int32),
}


def rel(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300)


def random_sparse(n, d, density, seed=0, dtype=np.float64):
    """Random CSR with some empty rows and empty columns (row 1, column 2 and a few more)."""
    rng = np.random.default_rng(seed)
    A = sp.random(n, d, density=density, random_state=rng, format="csr", dtype=np.float64,
                  data_rvs=rng.standard_normal)
    keep_rows = np.ones(n)
    keep_rows[1::7] = 0
    keep_cols = np.ones(d)
    keep_cols[2::5] = 0
    A = sp.csr_matrix(sp.diags(keep_rows) @ A @ sp.diags(keep_cols))
    A.eliminate_zeros()
    A = A.astype(dtype)
    dense = A.toarray()
    assert (dense[1] == 0).all() and (dense[:, 2] == 0).all()
    return A


def labels(X, loss, seed=0):
    rng = np.random.default_rng(seed)
    z = X @ rng.standard_normal(X.shape[1]) + 0.3
    if loss == "log_loss":
        return (rng.random(X.shape[0]) < 1 / (1 + np.exp(-z))).astype(np.float64)
    if loss == "poisson":
        return rng.poisson(np.exp(0.5 * z)).astype(np.float64)
    if loss == "gamma":
        return rng.gamma(2.0, np.exp(0.5 * z) / 2.0)
    if loss == "binomial":
        trials = rng.integers(1, 10, X.shape[0])
        return rng.binomial(trials, 1 / (1 + np.exp(-z))) / trials
    if loss == "tweedie":
        return tweedie_targets(rng, np.exp(0.5 * z), losses.get_loss(loss).param)
    return z + rng.standard_normal(X.shape[0])


def as_layout(A, layout):
    """A (CSR) in the given container, with the given index dtype."""
    cls, idx = LAYOUTS[layout]
    B = cls(A)
    B.indices = B.indices.astype(idx)
    B.indptr = B.indptr.astype(idx)
    return B


def messy_csr(A, seed=0):
    """The same matrix as CSR with shuffled column order in each row, entries split into
    duplicates and an explicit zero stored: not in canonical format."""
    rng = np.random.default_rng(seed)
    A = sp.csr_matrix(A)
    data, indices, indptr = [], [], [0]
    for i in range(A.shape[0]):
        cols = A.indices[A.indptr[i]:A.indptr[i + 1]]
        vals = A.data[A.indptr[i]:A.indptr[i + 1]]
        row_c, row_v = list(cols), list(vals)
        for k in range(len(cols)):
            if rng.random() < 0.3:                     # split x into 0.25 x + 0.75 x
                row_v[k] = 0.25 * vals[k]
                row_c.append(cols[k])
                row_v.append(0.75 * vals[k])
        if i % 5 == 0:
            row_c.append(0)                            # an explicit zero
            row_v.append(0.0)
        order = rng.permutation(len(row_c))
        indices.extend(np.array(row_c, dtype=np.int64)[order])
        data.extend(np.array(row_v)[order])
        indptr.append(len(indices))
    M = sp.csr_matrix((np.array(data, dtype=A.dtype), np.array(indices, dtype=np.int32),
                       np.array(indptr, dtype=np.int32)), shape=A.shape)
    assert not M.has_canonical_format
    return M


def compare(sparse_obj, dense_obj, seed=0, tol=TOL):
    """Every Objective method and every kernel method of the two objectives agree."""
    rng = np.random.default_rng(seed)
    D = dense_obj.n_params
    w = rng.standard_normal(D) / np.sqrt(D)
    v = rng.standard_normal(D)
    c, g, H = sparse_obj.cost_gradient_hessian(w)
    c0, g0, H0 = dense_obj.cost_gradient_hessian(w)
    assert rel(c, c0) < tol and rel(g, g0) < tol and rel(H, H0) < tol
    assert np.array_equal(H, H.T)
    assert rel(sparse_obj.cost(w), c0) < tol
    assert rel(sparse_obj.gradient(w), g0) < tol
    assert rel(sparse_obj.hessian(w), H0) < tol
    assert rel(sparse_obj.hessp(w, v), dense_obj.hessp(w, v)) < tol
    bound, bound0 = sparse_obj.curvature_bound(), dense_obj.curvature_bound()
    assert bound == bound0 == np.inf if dense_obj.loss.curvature is None else rel(bound, bound0) < 1e-10
    ks, kd = sparse_obj._kernel, dense_obj._kernel
    n = dense_obj.n_samples
    z, z0 = np.empty(n), np.empty(n)
    ks.linear(w, z)
    kd.linear(w, z0)
    assert rel(z, z0) < tol
    r, h, r0, h0 = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    assert rel(ks.loss_from_z(z, r, h), kd.loss_from_z(z0, r0, h0)) < tol
    assert rel(r, r0) < tol and rel(h, h0) < tol
    out, out0 = np.empty(D), np.empty(D)
    ks.transpose(r, out)
    kd.transpose(r0, out0)
    assert rel(out, out0) < tol
    ks.hessp_weighted(h, v, out)
    kd.hessp_weighted(h0, v, out0)
    assert rel(out, out0) < tol
    # the weighted diagonal (the Jacobi preconditioner of Newton-CG), against its definition
    Xa = dense_obj.X.astype(np.float64)
    if dense_obj.fit_intercept:
        Xa = np.hstack([Xa, np.ones((n, 1))])
    ks.diag_weighted(h, out)
    assert rel(out, (Xa * Xa).T @ h) < tol
    out0[:] = 0
    sys.modules[type(ks).__module__].diag_weighted(ks, h, out0)   # the module-level form
    assert np.array_equal(out, out0)


CASES = list(itertools.product(LOSSES, [np.float64, np.float32], [True, False], [False, True],
                               LAYOUTS))


@pytest.mark.parametrize("loss,dtype,fit_intercept,weighted,layout", CASES)
def test_sparse_equals_dense(loss, dtype, fit_intercept, weighted, layout):
    A = random_sparse(301, 23, 0.15, seed=1, dtype=dtype)
    y = labels(A.toarray(), loss, seed=2)
    sw = np.random.default_rng(3).uniform(0.1, 3.0, 301) if weighted else None
    X = as_layout(A, layout)
    kw = dict(loss=loss, alpha=0.3, fit_intercept=fit_intercept, sample_weight=sw)
    fast = gdfast.Objective(X, y, **kw)
    assert fast.is_sparse and fast.X.format == "csr" and fast.X.dtype == dtype
    # float32 data is read exactly and every sum is in double: it matches float64 dense to 1e-12
    dense = gdfast.Objective(A.toarray().astype(np.float64), y, **kw)
    assert not dense.is_sparse
    compare(fast, dense)


@pytest.mark.parametrize("isa", _dispatch.available())
@pytest.mark.parametrize("loss", LOSSES)
def test_every_instruction_set_variant(isa, loss):
    A = random_sparse(257, 9, 0.3, seed=4)
    y = labels(A.toarray(), loss, seed=5)
    fast = gdfast.Objective(A, y, loss=loss, alpha=0.1)
    fast._kernel = fast._build_kernel(_dispatch.load(isa))
    assert type(fast._kernel).__module__ == _sparse_input.sparse_module(_dispatch.load(isa)).__name__
    compare(fast, gdfast.Objective(A.toarray(), y, loss=loss, alpha=0.1))


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("index", [np.int32, np.int64])
def test_unsorted_indices_duplicates_and_explicit_zeros(loss, index):
    A = random_sparse(203, 17, 0.25, seed=6)
    M = messy_csr(A, seed=7)
    M.indices = M.indices.astype(index)
    M.indptr = M.indptr.astype(index)
    np.testing.assert_allclose(M.toarray(), A.toarray(), rtol=1e-15, atol=0)
    y = labels(A.toarray(), loss, seed=8)
    for X in (M, sp.csc_array(M)):                   # CSC built from it keeps the duplicates
        fast = gdfast.Objective(X, y, loss=loss, alpha=0.2, sample_weight=np.linspace(1, 2, 203))
        compare(fast, gdfast.Objective(M.toarray(), y, loss=loss, alpha=0.2,
                                       sample_weight=np.linspace(1, 2, 203)))


def test_empty_matrix_and_single_entries():
    y = np.array([0.0, 1.0, 1.0])
    for X in (sp.csr_matrix((3, 4)), sp.csr_array(([2.0], ([1], [3])), shape=(3, 4))):
        fast = gdfast.Objective(X, y, alpha=0.5)
        compare(fast, gdfast.Objective(X.toarray(), y, alpha=0.5))


@pytest.mark.parametrize("loss", LOSSES)
def test_thread_counts_agree_and_repeat_bitwise(loss):
    """Enough rows for several chunks; private Hessians per chunk (D <= 1024)."""
    A = random_sparse(30_000, 40, 0.1, seed=9)
    y = labels(A.toarray(), loss, seed=10)
    dense = gdfast.Objective(A.toarray(), y, loss=loss, alpha=0.01, n_threads=1)
    w = np.random.default_rng(11).standard_normal(41) * 0.2
    results = []
    for t in (1, 2, 3):
        obj = gdfast.Objective(A, y, loss=loss, alpha=0.01, n_threads=t)
        results.append(obj.cost_gradient_hessian(w) + (obj.hessp(w, w),))
        compare(obj, dense)
    for c, g, H, hv in results[1:]:
        assert rel(c, results[0][0]) < 1e-13 and rel(g, results[0][1]) < 1e-13
        assert rel(H, results[0][2]) < 1e-13 and rel(hv, results[0][3]) < 1e-13
    again = gdfast.Objective(A, y, loss=loss, alpha=0.01, n_threads=3).cost_gradient_hessian(w)
    assert again[0] == results[2][0] and np.array_equal(again[1], results[2][1])
    assert np.array_equal(again[2], results[2][2])


def test_many_columns_hessian_built_by_one_thread():
    A = random_sparse(400, 1100, 0.01, seed=12)
    y = labels(A.toarray(), "log_loss", seed=13)
    fast = gdfast.Objective(A, y, alpha=0.1, n_threads=2)
    compare(fast, gdfast.Objective(A.toarray(), y, alpha=0.1))


def test_read_only_arrays_and_no_copy_for_csr():
    A = random_sparse(120, 8, 0.3, seed=14)
    y = labels(A.toarray(), "log_loss", seed=15)
    for dtype in (np.float64, np.float32):
        X = A.astype(dtype)
        for a in (X.data, X.indices, X.indptr):
            a.flags.writeable = False
        fast = gdfast.Objective(X, y, alpha=0.1)
        assert fast.X is X                            # CSR of float32/float64: used as it is
        compare(fast, gdfast.Objective(X.toarray().astype(np.float64), y, alpha=0.1))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_inputs_never_modified(layout):
    A = random_sparse(150, 12, 0.3, seed=16)
    for X in (as_layout(A, layout), as_layout(messy_csr(A, seed=17), layout)):
        arrays = (X.data, X.indices, X.indptr)
        copies = [a.copy() for a in arrays]
        y = labels(A.toarray(), "log_loss", seed=18)
        obj = gdfast.Objective(X, y, alpha=0.1, sample_weight=np.linspace(1, 2, 150))
        obj.cost_gradient_hessian(np.ones(13))
        obj.hessp(np.ones(13), np.ones(13))
        gdfast.minimize(obj, method="newton")
        gdfast.minimize(obj, method="gd", max_iter=5)
        assert X.data is arrays[0] and X.indices is arrays[1] and X.indptr is arrays[2]
        for a, b in zip(arrays, copies):
            assert a.dtype == b.dtype and np.array_equal(a, b)


def test_other_formats_and_dtypes_are_converted_once():
    A = random_sparse(60, 7, 0.4, seed=19)
    y = labels(A.toarray(), "squared_error", seed=20)
    dense = gdfast.Objective(A.toarray(), y, loss="squared_error", alpha=0.1)
    for X in (A.tocoo(), sp.lil_matrix(A), sp.coo_array(A), sp.dok_matrix(A)):
        obj = gdfast.Objective(X, y, loss="squared_error", alpha=0.1)
        assert obj.is_sparse and obj.X.format == "csr"
        compare(obj, dense)
    B = sp.csr_matrix((A != 0).astype(np.int8))       # integer (binary) data becomes float64
    obj = gdfast.Objective(B, y, loss="squared_error")
    assert obj.X.dtype == np.float64 and B.dtype == np.int8
    compare(obj, gdfast.Objective(B.toarray(), y, loss="squared_error"))


@pytest.mark.parametrize("loss", LOSSES)
def test_solvers_give_the_dense_answer(loss):
    A = random_sparse(500, 30, 0.2, seed=21)
    y = labels(A.toarray(), loss, seed=22)
    for method in ("newton", "gd"):
        res = gdfast.minimize(gdfast.Objective(sp.csc_matrix(A), y, loss=loss, alpha=0.05),
                              method=method, tol=1e-10)
        ref = gdfast.minimize(gdfast.Objective(A.toarray(), y, loss=loss, alpha=0.05),
                              method=method, tol=1e-10)
        assert res.converged and ref.converged
        np.testing.assert_allclose(res.w, ref.w, rtol=1e-9, atol=1e-12)
        if method == "gd" and loss == "tweedie" and loss.param == 0.0:
            # ~1700 backtracking steps on a loss that is not convex in z: rounding (the sums'
            # order differs between CSR and dense) moves some accepted steps, not the optimum
            assert abs(res.n_iter - ref.n_iter) <= 0.15 * ref.n_iter
        else:
            assert res.n_iter == ref.n_iter


def test_hessian_refused_when_too_large_for_a_dense_matrix(monkeypatch):
    # The real limit is 5792 parameters (a 256 MiB Hessian); a small one keeps the test light.
    assert _sparse_input.MAX_HESSIAN_PARAMS ** 2 * 8 <= _sparse.MAX_HESSIAN_BYTES
    monkeypatch.setattr(_sparse_input, "MAX_HESSIAN_PARAMS", 40)
    A = random_sparse(200, 40, 0.1, seed=26)
    y = labels(A.toarray(), "log_loss", seed=27)
    obj = gdfast.Objective(A, y, alpha=0.1)                  # 41 parameters with the intercept
    w = np.zeros(obj.n_params)
    for call in (obj.hessian, obj.cost_gradient_hessian):
        with pytest.raises(ValueError, match=r"41 x 41.*newton-cg.*lbfgs.*hessp"):
            call(w)
    assert obj.hessp(w, np.ones(41)).shape == (41,)
    with pytest.raises(ValueError, match="Hessian"):
        gdfast.minimize(obj, method="newton")
    # "auto" picks a Hessian-free method and reaches Newton's answer on the dense twin
    res = gdfast.minimize(obj, tol=1e-9)
    ref = gdfast.minimize(gdfast.Objective(A.toarray(), y, alpha=0.1), method="newton", tol=1e-12)
    assert res.converged and res.method != "newton"
    np.testing.assert_allclose(res.w, ref.w, rtol=1e-7, atol=1e-9)
    # one parameter fewer: formed, and "auto" is Newton
    small = gdfast.Objective(A, y, alpha=0.1, fit_intercept=False)
    assert small.hessian(np.zeros(40)).shape == (40, 40)
    assert gdfast.minimize(small).method == "newton"


def test_bad_sparse_input_names_the_argument():
    A = random_sparse(20, 5, 0.4, seed=23)
    y = labels(A.toarray(), "log_loss", seed=24)
    bad = A.copy()
    bad.data[3] = np.nan
    with pytest.raises(ValueError, match="X contains NaN or infinity"):
        gdfast.Objective(bad, y)
    bad.data[3] = np.inf
    with pytest.raises(ValueError, match="X contains NaN or infinity"):
        gdfast.Objective(sp.csc_array(bad), y)
    with pytest.raises(ValueError, match="X: complex"):
        gdfast.Objective(A.astype(np.complex128), y)
    with pytest.raises(ValueError, match="X has no rows"):
        gdfast.Objective(sp.csr_matrix((0, 5)), np.zeros(0))
    with pytest.raises(ValueError, match="X has no columns"):
        gdfast.Objective(sp.csr_matrix((20, 0)), y)
    with pytest.raises(ValueError, match="X must be 2-D"):
        gdfast.Objective(sp.coo_array(np.ones(5)), np.ones(5))
    with pytest.raises(ValueError, match="y has length"):
        gdfast.Objective(A, y[:-1])
    C = sp.csc_matrix(A)
    for M, n_minor in ((A, 5), (C, 20)):
        for what in ("outside", "decreases"):
            broken = M.copy()
            if what == "outside":
                broken.indices[4] = n_minor              # one past the last row or column
            else:
                broken.indptr[2] = broken.indptr[3] + 1
            with pytest.raises(ValueError, match=f"X is not a valid {M.format.upper()} matrix.*{what}"):
                gdfast.Objective(broken, y)
            assert np.array_equal(M.toarray(), A.toarray())   # the copy was broken, not M


def test_huge_sparse_problem_fits_in_little_memory():
    """1e6 x 1e6 with 1e5 stored entries: 8 TB dense, a few MB sparse. Hessian-vector products
    (the curvature bound of gd, scipy's trust-region Newton-CG) and gradients only."""
    n = d = 1_000_000
    rng = np.random.default_rng(25)
    rows, cols = rng.integers(0, n, 100_000), rng.integers(0, d, 100_000)
    X = sp.csr_array((np.ones(100_000), (rows, cols)), shape=(n, d))
    y = (rng.random(n) < 0.3).astype(np.float64)
    tracemalloc.start()
    try:
        obj = gdfast.Objective(X, y, alpha=0.05)
        with pytest.raises(ValueError, match="TiB"):
            obj.hessian(np.zeros(obj.n_params))
        results = [gdfast.minimize(obj, method="gd", tol=1e-4, max_iter=500)]
        # Hessian-free methods of gdfast.minimize (newton-cg, lbfgs) join when they exist here
        results += [gdfast.minimize(obj, method=m, tol=1e-4)
                    for m in ("newton-cg", "lbfgs") if m in _solvers.METHODS]
        trust = scipy.optimize.minimize(obj.cost_gradient, np.zeros(obj.n_params), jac=True,
                                        hessp=obj.hessp, method="trust-ncg",
                                        options={"gtol": 1e-8})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert all(r.converged for r in results) and trust.success
    # well within a few dozen vectors of length 1e6 (8 MB each); dense X would be 8e12 bytes
    assert peak < 300e6, peak
    g0 = np.max(np.abs(obj.gradient(np.zeros(obj.n_params))))
    for w in [r.w for r in results] + [trust.x]:
        assert np.max(np.abs(obj.gradient(w))) <= 1e-4 * g0
    assert abs(results[0].cost - trust.fun) <= 1e-6 * trust.fun


def test_descent_run_modes_for_the_solvers():
    """descent_run (the solvers' first-order loop, same signature as the dense kernels'):
    the fixed step repeats gd_run's iterates; backtracking and Nesterov reach Newton's optimum."""
    A = random_sparse(400, 25, 0.2, seed=28)
    y = labels(A.toarray(), "log_loss", seed=29)
    obj = gdfast.Objective(A, y, alpha=0.05)
    kernel, module, D = obj._kernel, sys.modules[type(obj._kernel).__module__], obj.n_params
    w_opt = gdfast.minimize(obj, method="newton", tol=1e-12).w
    lr = 1.0 / obj.curvature_bound()
    g0 = np.max(np.abs(obj.gradient(np.zeros(D))))
    fixed = gdfast.minimize(obj, method="gd", learning_rate=lr, max_iter=30, tol=0.0)
    for mode in (module.DESCENT_FIXED, module.DESCENT_BACKTRACKING, module.DESCENT_NESTEROV):
        w, aux, best = np.zeros(D), np.zeros(4 * D), np.zeros(D)
        steps = 31 if mode == module.DESCENT_FIXED else 3000
        costs, gnorms, taken = np.empty(steps), np.empty(steps), np.empty(steps)
        state = np.array([0.0, g0, 0.0, 0.0, 0.0])
        done = 0
        while done < steps:       # in chunks, as the solvers drive it (state carries over)
            k, code = module.descent_run(kernel, mode, w, aux, lr, min(10, steps - done), costs,
                                         gnorms, taken, done, state, best, 1e-9,
                                         done + 10 >= steps)
            done += k
            if code != 0:
                break
        if mode == module.DESCENT_FIXED:
            np.testing.assert_allclose(costs[:31], fixed.history["cost"], rtol=1e-14)
            np.testing.assert_allclose(w, fixed.w, rtol=1e-13)
        else:
            assert code == 1, mode
            np.testing.assert_allclose(w, w_opt, rtol=1e-6, atol=1e-8)
        if mode == module.DESCENT_BACKTRACKING:
            # non-increasing, up to the rounding of a cost summed over rows (the line search's slack)
            assert np.all(np.diff(costs[:done]) <= 1e3 * np.finfo(float).eps * costs[0])


def test_auto_takes_newton_cg_for_sparse_data_too_large_for_newton():
    A = random_sparse(300, 700, 0.01, seed=41)
    y = labels(A.toarray(), "log_loss", seed=42)
    obj = gdfast.Objective(A, y, alpha=1e-2)
    res = gdfast.minimize(obj)
    assert res.method == "newton-cg" and res.converged
    best = gdfast.minimize(gdfast.Objective(A.toarray(), y, alpha=1e-2), method="newton-cg", tol=1e-12)
    assert res.cost == pytest.approx(best.cost, rel=1e-12)
