"""sgd and adam on sparse X: the iterates of the dense path on X densified, without densifying.

On CSR, plain SGD runs lazily (the penalty's decay as a scale factor on the coefficients, the
iterate average as a running sum), momentum and Adam update every coordinate; both must give the
dense path's numbers to rounding, for every option, dtype and index type, and for matrices with
unsorted indices, duplicate entries (which count as their sum) and explicit zeros.
"""
import itertools
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

import gdfast
from gdfast import _stochastic
from gdfast._sgd import _auto_sgd_step, _loss_code, _sample_factors
from test_sparse import labels, messy_csr, random_sparse

RTOL = 1e-10             # iterates: sparse against dense, the same shuffles
ATOL = 1e-14

# (name, method, options): every update rule, schedule and averaging mode
RUNS = [
    ("sgd-plain", "sgd", dict(learning_rate=0.1, schedule="constant")),
    ("sgd-auto-adaptive", "sgd", dict()),
    ("sgd-average", "sgd", dict(learning_rate=0.2, schedule="constant", average=True)),
    ("sgd-invscaling-average2", "sgd", dict(learning_rate=0.3, schedule="invscaling", power_t=0.7,
                                            average=2)),
    ("sgd-momentum", "sgd", dict(learning_rate=0.05, momentum=0.6)),
    ("sgd-momentum-average1", "sgd", dict(momentum=0.5, average=1, schedule="invscaling")),
    ("adam", "adam", dict(learning_rate=0.05)),
    ("adam-options", "adam", dict(beta1=0.5, beta2=0.9, eps=1e-6, learning_rate=0.02,
                                  average=1, schedule="invscaling")),
]
RUN_IDS = [r[0] for r in RUNS]

# (data dtype, index dtype, stored form of X)
LAYOUTS = {
    "f64-i32-canonical": (np.float64, np.int32, "canonical"),
    "f32-i64-canonical": (np.float32, np.int64, "canonical"),
    "f64-i64-messy": (np.float64, np.int64, "messy"),
    "f32-i32-messy": (np.float32, np.int32, "messy"),
}


def make_csr(n, d, density, dtype, index, form, seed):
    """(CSR X as asked, X densified in float64, X densified in its own dtype).

    The float64 densification sums duplicates exactly, as the kernels do (each stored entry
    enters a double sum); toarray() in float32 rounds the sum of a split float32 entry, so the
    float32 densification is exact only for canonical X.
    """
    A = random_sparse(n, d, density, seed=seed, dtype=dtype)
    X = messy_csr(A, seed=seed + 1) if form == "messy" else sp.csr_matrix(A)
    X.indices = X.indices.astype(index)
    X.indptr = X.indptr.astype(index)
    assert X.dtype == dtype and X.has_canonical_format == (form == "canonical")
    return X, sp.csr_matrix(X, dtype=np.float64).toarray(), X.toarray()


def run(X, y, method, objective, seed=3, **options):
    obj = gdfast.Objective(X, y, **objective)
    assert obj.is_sparse == sp.issparse(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gdfast.DivergenceWarning)
        return gdfast.minimize(obj, method=method, random_state=seed, **options)


def both(X, dense, y, method, seed=3, objective=None, **options):
    """minimize on the sparse and on the dense objective, with the same shuffles."""
    kw = objective or {}
    return run(X, y, method, kw, seed, **options), run(dense, y, method, kw, seed, **options)


def assert_same_result(a, b, rtol=RTOL):
    assert a.method == b.method
    assert a.status == b.status, (a.message, b.message)
    assert a.n_iter == b.n_iter
    assert a.converged == b.converged
    assert set(a.history) == set(b.history)
    for key in a.history:
        np.testing.assert_allclose(a.history[key], b.history[key], rtol=rtol, atol=0, err_msg=key)
    np.testing.assert_allclose(a.w, b.w, rtol=rtol, atol=ATOL)
    np.testing.assert_allclose(a.cost, b.cost, rtol=rtol)


CASES = list(itertools.product(RUNS, ["log_loss", "squared_error"], [True, False],
                               [False, True], LAYOUTS))


@pytest.mark.parametrize("case,loss,fit_intercept,weighted,layout", CASES,
                         ids=[f"{r[0]}-{lo}-{'icpt' if f else 'noicpt'}-{'sw' if w else 'unit'}-{la}"
                              for r, lo, f, w, la in CASES])
def test_sparse_iterates_equal_dense(case, loss, fit_intercept, weighted, layout):
    _, method, options = case
    dtype, index, form = LAYOUTS[layout]
    X, dense, dense_own = make_csr(211, 19, 0.2, dtype, index, form, seed=11)  # a short last batch
    y = labels(dense, loss, seed=12)
    sw = np.random.default_rng(13).uniform(0.2, 3.0, 211) if weighted else None
    kw = dict(loss=loss, alpha=0.05, fit_intercept=fit_intercept, sample_weight=sw)
    a, b = both(X, dense, y, method, objective=kw, batch_size=8, max_iter=6, tol=0.0, **options)
    assert_same_result(a, b)
    cost_free = "learning_rate" in options and options.get("schedule") in ("constant", "invscaling")
    if dtype == np.float32 and form == "canonical" and cost_free:
        # The dense float32 path steps in double like the CSR one: the same w. Its cost kernel
        # (and so the curvature bound of learning_rate="auto" and the adaptive schedule's
        # decisions) sums float32 products in float within a block, 1e-10 to 1e-8 from double.
        c = run(dense_own, y, method, kw, batch_size=8, max_iter=6, tol=0.0, **options)
        assert (c.status, c.n_iter) == (a.status, a.n_iter)
        np.testing.assert_allclose(a.w, c.w, rtol=RTOL, atol=ATOL)
    # the run went somewhere: equal iterates are not equal zeros
    assert b.status == "max_iter" and b.history["cost"][-1] < 0.97 * b.history["cost"][0]
    assert np.abs(b.w).max() > 0.05


@pytest.mark.parametrize("method, options", [
    ("sgd", dict(learning_rate=0.2, schedule="constant")),
    ("sgd", dict(learning_rate=0.2, schedule="constant", average=True)),
    ("adam", dict(learning_rate=0.05, average=True)),
])
def test_another_seed_gives_other_iterates(method, options):
    """The comparisons above can fail: the shuffles matter at this tolerance."""
    X, dense, _ = make_csr(211, 19, 0.2, np.float64, np.int32, "canonical", seed=11)
    y = labels(dense, "log_loss", seed=12)
    a = gdfast.minimize(gdfast.Objective(X, y, alpha=0.05), method=method, random_state=3,
                        batch_size=8, max_iter=3, tol=0.0, **options)
    b = gdfast.minimize(gdfast.Objective(dense, y, alpha=0.05), method=method, random_state=4,
                        batch_size=8, max_iter=3, tol=0.0, **options)
    assert not np.allclose(a.w, b.w, rtol=1e-6, atol=0)


@pytest.mark.parametrize("loss", ["log_loss", "squared_error"])
@pytest.mark.parametrize("average", [False, True, 2])
@pytest.mark.parametrize("lr_alpha", [0.1, 0.6, 1.0, 1.5])
def test_strong_decay_rescales_many_times(loss, average, lr_alpha):
    """lr * alpha up to 1.5: the lazy scale factor falls below its floor every few batches
    (1 - lr alpha = 0.9, 0.4), is exactly 0 (the decay wipes out the coefficients) or negative;
    each case must still give the dense iterates, including when the run diverges."""
    X, dense, _ = make_csr(203, 23, 0.2, np.float64, np.int64, "messy", seed=21)
    y = labels(dense, loss, seed=22)
    lr = 0.1 if loss == "squared_error" else 0.5
    kw = dict(loss=loss, alpha=lr_alpha / lr)
    a, b = both(X, dense, y, "sgd", objective=kw, learning_rate=lr, schedule="constant",
                batch_size=3, max_iter=5, tol=0.0, average=average)
    assert_same_result(a, b)


def test_divergence_is_reported_alike():
    X, dense, _ = make_csr(150, 12, 0.3, np.float64, np.int32, "messy", seed=31)
    y = labels(dense, "squared_error", seed=32)
    for method, lr in (("sgd", 50.0), ("adam", 1e3)):
        a, b = both(X, dense, y, method, objective=dict(loss="squared_error", alpha=1e-3),
                    learning_rate=lr, schedule="constant", batch_size=4)
        assert a.status == "diverged"
        assert_same_result(a, b)


def test_wide_matrix_most_coefficients_untouched_by_a_batch():
    """2000 columns, about 6 stored entries a row: most coefficients only decay in a batch."""
    X, dense, _ = make_csr(300, 2000, 0.003, np.float64, np.int32, "canonical", seed=41)
    y = labels(dense, "log_loss", seed=42)
    for options in (dict(learning_rate=0.5, schedule="constant", average=True),
                    dict(learning_rate=0.5, momentum=0.3), dict()):
        a, b = both(X, dense, y, "sgd", objective=dict(alpha=0.02), batch_size=5, max_iter=4,
                    tol=0.0, **options)
        assert_same_result(a, b)
    a, b = both(X, dense, y, "adam", objective=dict(alpha=0.02), batch_size=5, max_iter=4,
                tol=0.0, learning_rate=0.01)
    assert_same_result(a, b)


def test_every_layout_of_the_same_matrix_gives_the_same_run():
    """float32/float64 data, int32/int64 indices, canonical or messy: one matrix, one answer."""
    A = random_sparse(180, 15, 0.25, seed=51).astype(np.float32)
    y = labels(A.toarray().astype(np.float64), "log_loss", seed=52)
    options = dict(method="sgd", learning_rate=0.3, average=True, batch_size=7, random_state=5,
                   max_iter=4)
    ref = gdfast.minimize(gdfast.Objective(A.toarray().astype(np.float64), y, alpha=0.01), **options)
    for form, index, dtype in itertools.product(["canonical", "messy"], [np.int32, np.int64],
                                                [np.float32, np.float64]):
        X = sp.csr_array(A, dtype=dtype)
        if form == "messy":
            # splits x into 0.25 x + 0.75 x: exact in float64, whose sum the kernels take
            X = sp.csr_array(messy_csr(sp.csr_matrix(A, dtype=np.float64), seed=53))
        X.indices, X.indptr = X.indices.astype(index), X.indptr.astype(index)
        res = gdfast.minimize(gdfast.Objective(X, y, alpha=0.01), **options)
        assert_same_result(res, ref)


def test_csc_and_other_formats_run_on_their_csr_copy():
    X, dense, _ = make_csr(120, 10, 0.3, np.float64, np.int32, "canonical", seed=61)
    y = labels(dense, "squared_error", seed=62)
    ref = gdfast.minimize(gdfast.Objective(dense, y, loss="squared_error", alpha=0.1),
                          method="sgd", random_state=1, max_iter=5)
    for M in (sp.csc_matrix(X), sp.coo_array(X)):
        res = gdfast.minimize(gdfast.Objective(M, y, loss="squared_error", alpha=0.1),
                              method="sgd", random_state=1, max_iter=5)
        assert_same_result(res, ref)


def test_automatic_step_sums_duplicates_before_squaring():
    """Row norms for learning_rate="auto": the largest row stores column 0 twice (1 + 1 = 2,
    norm^2 4, not 1 + 1); empty rows count as 0."""
    data = np.array([1.0, 1.0, 0.5, 0.3, 0.4])
    indices = np.array([0, 0, 1, 2, 0], dtype=np.int32)
    indptr = np.array([0, 2, 2, 4, 5, 5], dtype=np.int32)   # rows 1 and 4 empty
    X = sp.csr_matrix((data, indices, indptr), shape=(5, 3))
    assert not X.has_canonical_format
    y = np.array([0.0, 1.0, 1.0, 0.0, 1.0])
    for fit_intercept, sw in itertools.product([True, False], [None, np.array([1, 2, 3, 4, 5.0])]):
        kw = dict(alpha=0.1, fit_intercept=fit_intercept, sample_weight=sw)
        obj, ref = gdfast.Objective(X, y, **kw), gdfast.Objective(X.toarray(), y, **kw)
        assert obj.X.toarray()[0, 0] == 2.0
        for batch in (1, 2, 5):
            step = _auto_sgd_step(obj, batch, _sample_factors(obj))
            assert step == pytest.approx(_auto_sgd_step(ref, batch, _sample_factors(ref)), rel=1e-12)
        # batch of 1: the step is 1 / L_max, L_max from the largest |x_i|^2 = 4 (row 0)
        if sw is None and not fit_intercept:
            assert _auto_sgd_step(obj, 1, None) == pytest.approx(1.0 / (0.25 * 4.0 + 0.1), rel=1e-15)
    assert np.array_equal(X.data, data) and np.array_equal(X.indices, indices)


def test_automatic_step_many_blocks_and_messy_rows():
    X, dense, _ = make_csr(9000, 30, 0.05, np.float32, np.int64, "messy", seed=71)  # 3 row blocks
    y = labels(dense, "log_loss", seed=72)
    sw = np.random.default_rng(73).uniform(0.5, 2.0, 9000)
    obj = gdfast.Objective(X, y, alpha=0.01, sample_weight=sw)
    ref = gdfast.Objective(dense, y, alpha=0.01, sample_weight=sw)
    for batch in (1, 32, 9000):
        assert _auto_sgd_step(obj, batch, _sample_factors(obj)) == pytest.approx(
            _auto_sgd_step(ref, batch, _sample_factors(ref)), rel=1e-12)


@pytest.mark.parametrize("method", ["sgd", "adam"])
def test_inputs_never_modified(method):
    X, dense, _ = make_csr(100, 9, 0.3, np.float32, np.int32, "messy", seed=81)
    arrays = (X.data, X.indices, X.indptr)
    copies = [a.copy() for a in arrays]
    for a in arrays:
        a.flags.writeable = False                 # read-only buffers work, too
    y = labels(dense, "log_loss", seed=82)
    obj = gdfast.Objective(X, y, alpha=0.1, sample_weight=np.linspace(1, 2, 100))
    assert obj.X is X
    for options in (dict(), dict(average=True), dict(momentum=0.5) if method == "sgd" else {}):
        gdfast.minimize(obj, method=method, max_iter=3, random_state=0, **options)
    assert X.data is arrays[0] and X.indices is arrays[1] and X.indptr is arrays[2]
    for a, b in zip(arrays, copies):
        assert a.dtype == b.dtype and np.array_equal(a, b)


def test_estimators_fit_sparse_with_sgd_and_adam():
    X, dense, _ = make_csr(300, 12, 0.2, np.float64, np.int32, "canonical", seed=91)
    y = labels(dense, "log_loss", seed=92)
    for solver in ("sgd", "adam"):
        kw = dict(solver=solver, random_state=0, max_iter=20)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")      # not converged in 20 epochs: a warning
            fast = gdfast.LogisticRegression(**kw).fit(X, y)
            ref = gdfast.LogisticRegression(**kw).fit(dense, y)
        np.testing.assert_allclose(fast.coef_, ref.coef_, rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(fast.intercept_, ref.intercept_, rtol=RTOL, atol=ATOL)


# ---------------------------------------------------------------------------------------------
# The compiled stepper directly
# ---------------------------------------------------------------------------------------------

def _stepper(obj, method=_stochastic.METHOD_SGD, n_params=4, momentum=0.0, batch_size=2):
    """A stepper for obj's loss (the code through gdfast._sgd, as minimize gets it)."""
    return _stochastic.Stepper(method, _loss_code(obj), True, 0.1, n_params, batch_size, 0.1,
                               _stochastic.SCHEDULE_CONSTANT, 0.5, momentum=momentum)


@pytest.mark.parametrize("method, momentum", [(_stochastic.METHOD_SGD, 0.0),
                                              (_stochastic.METHOD_SGD, 0.5),
                                              (_stochastic.METHOD_ADAM, 0.0)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_run_epoch_csr_equals_run_epoch_with_averaging_switched_on_later(method, momentum, dtype):
    X, _, dense = make_csr(97, 6, 0.4, dtype, np.int64, "canonical", seed=101)
    y = labels(dense.astype(np.float64), "log_loss", seed=102)
    cw = np.random.default_rng(103).uniform(0.5, 1.5, 97)
    obj = gdfast.Objective(X, y)
    s_sparse, s_dense = (_stepper(obj, method, 7, momentum, batch_size=5) for _ in range(2))
    w_sparse, w_dense = np.zeros(7), np.zeros(7)
    rng = np.random.default_rng(104)
    for epoch in range(4):
        perm = rng.permutation(97)
        for s in (s_sparse, s_dense):
            s.averaging = epoch >= 2
        assert s_sparse.run_epoch_csr(X.data, X.indices, X.indptr, y, cw, perm, w_sparse) is True
        assert s_dense.run_epoch(dense, y, cw, perm, w_dense) is True
        np.testing.assert_allclose(w_sparse, w_dense, rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(s_sparse.w_avg, s_dense.w_avg, rtol=RTOL, atol=ATOL)
        assert s_sparse.steps == s_dense.steps and s_sparse.n_averaged == s_dense.n_averaged
    assert s_sparse.n_averaged == 2 * 20 and np.abs(s_sparse.w_avg).max() > 0


def test_run_epoch_csr_refuses_bad_arguments_by_name():
    X = sp.csr_matrix(np.array([[1.0, 0.0, 2.0], [0.0, 0.0, 0.0], [0.0, 3.0, 0.0]]))
    y = np.array([0.0, 1.0, 1.0])
    perm = np.arange(3, dtype=np.intp)
    obj = gdfast.Objective(X, y)
    s = _stepper(obj)
    w = np.zeros(4)
    assert s.run_epoch_csr(X.data, X.indices, X.indptr, y, None, perm, w) is True
    with pytest.raises(TypeError, match="data must be float32 or float64"):
        s.run_epoch_csr(X.data.astype(np.int64), X.indices, X.indptr, y, None, perm, w)
    with pytest.raises(TypeError, match="indices and indptr must both be int32 or both int64"):
        s.run_epoch_csr(X.data, X.indices.astype(np.int64), X.indptr, y, None, perm, w)
    bad = X.indices.copy()
    bad[0] = 3                                   # one past the last column
    with pytest.raises(ValueError, match=r"indptr and indices .* 3 columns: an index \(3\)"):
        s.run_epoch_csr(X.data, bad, X.indptr, y, None, perm, w)
    with pytest.raises(ValueError, match="indptr has length"):
        s.run_epoch_csr(X.data, X.indices, X.indptr[:-1], y, None, perm, w)
    with pytest.raises(ValueError, match="data has 2 elements, indptr needs 3"):
        s.run_epoch_csr(X.data[:2], X.indices, X.indptr, y, None, perm, w)
    with pytest.raises(ValueError, match="w has 3 elements, expected n_params = 4"):
        s.run_epoch_csr(X.data, X.indices, X.indptr, y, None, perm, np.zeros(3))
    with pytest.raises(ValueError, match="perm has 2 elements"):
        s.run_epoch_csr(X.data, X.indices, X.indptr, y, None, perm[:2], w)
    with pytest.raises(ValueError, match=r"perm holds the row 3, outside \[0, 3\)"):
        s.run_epoch_csr(X.data, X.indices, X.indptr, y, None, np.array([0, 1, 3]), w)
    with pytest.raises(ValueError, match="cw has 2 elements"):
        s.run_epoch_csr(X.data, X.indices, X.indptr, y, np.ones(2), perm, w)
    # the same arrays for more rows than they hold: checked again, not trusted from before
    with pytest.raises(ValueError, match="indptr has length 4, expected 5"):
        s.run_epoch_csr(X.data, X.indices, X.indptr, np.ones(4), None, np.arange(4), w)
    # the dense twin checks perm and w as well
    with pytest.raises(ValueError, match=r"perm holds the row -1"):
        s.run_epoch(X.toarray(), y, None, np.array([0, -1, 2]), w)
    with pytest.raises(ValueError, match="w has 5 elements"):
        s.run_epoch(X.toarray(), y, None, perm, np.zeros(5))
    with pytest.raises(ValueError, match="n_params must be >= 1"):
        _stepper(obj, n_params=0)
