"""Bad input gets the exact exception type and a message that names the argument; good input of
any numeric kind is accepted, never modified, and (for X) used without a copy when it can be."""
import re
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
import scipy.sparse

import gdfast
from gdfast import reference

from problems import make_problem

X0, Y0, W0 = make_problem(n=40, d=3, seed=0)           # log-loss labels
YR = np.linspace(-2.0, 3.0, 40)                        # regression targets


def obj(**kw):
    args = dict(X=X0, y=Y0)
    args.update(kw)
    return gdfast.Objective(args.pop("X"), args.pop("y"), **args)


def fit(**kw):
    return gdfast.minimize(obj(), **kw)


def with_nan(a, value=np.nan, index=(1,)):
    a = np.array(a, dtype=float)
    a[index] = value
    return a


# (id, exception type, argument named first in the message, words the message must contain, call)
BAD = [
    # -- X -----------------------------------------------------------------------------------
    ("X-nan", ValueError, "X", "NaN", lambda: obj(X=with_nan(X0, index=(3, 1)))),
    ("X-inf", ValueError, "X", "infinity", lambda: obj(X=with_nan(X0, np.inf, (0, 0)))),
    ("X-neg-inf", ValueError, "X", "infinity", lambda: obj(X=with_nan(X0, -np.inf, (39, 2)))),
    ("X-nan-float32", ValueError, "X", "NaN", lambda: obj(X=with_nan(X0, index=(5, 0)).astype(np.float32))),
    ("X-nan-fortran", ValueError, "X", "NaN", lambda: obj(X=np.asfortranarray(with_nan(X0, index=(7, 2))))),
    ("X-none-object", ValueError, "X", "None", lambda: obj(X=np.array([[1.0, None]] * 40, dtype=object))),
    ("X-1d", ValueError, "X", "2-D", lambda: obj(X=X0[:, 0])),
    ("X-3d", ValueError, "X", "2-D", lambda: obj(X=X0[:, :, None])),
    ("X-scalar", ValueError, "X", "2-D", lambda: obj(X=1.0)),
    ("X-no-rows", ValueError, "X", "no rows", lambda: obj(X=np.empty((0, 3)), y=np.empty(0))),
    ("X-no-columns", ValueError, "X", "no columns", lambda: obj(X=np.empty((40, 0)))),
    ("X-strings", TypeError, "X", "strings", lambda: obj(X=X0.astype(str))),
    ("X-bytes", TypeError, "X", "strings", lambda: obj(X=X0.astype("S8"))),
    ("X-object-strings", TypeError, "X", "strings",
     lambda: obj(X=np.array([[1.0, "2.5", 3.0]] * 40, dtype=object))),
    ("X-object-junk", TypeError, "X", "dict", lambda: obj(X=np.array([[{}, 1.0]] * 40, dtype=object))),
    ("X-datetime", TypeError, "X", "datetime64",
     lambda: obj(X=np.zeros((40, 3), dtype="datetime64[s]"))),
    ("X-None", TypeError, "X", "None", lambda: obj(X=None)),
    ("X-sparse-complex", ValueError, "X", "complex",
     lambda: obj(X=scipy.sparse.csr_matrix(X0.astype(complex)))),
    ("X-ragged", ValueError, "X", "cannot be read", lambda: obj(X=[[1.0, 2.0], [3.0]], y=[0, 1])),
    ("X-complex", ValueError, "X", "complex data not supported", lambda: obj(X=X0 + 0j)),
    ("X-complex64", ValueError, "X", "complex data not supported", lambda: obj(X=X0.astype(np.complex64))),
    ("X-complex-object", ValueError, "X", "complex data not supported",
     lambda: obj(X=np.array([[1.0, 2 + 1j, 3.0]] * 40, dtype=object))),
    # -- y -----------------------------------------------------------------------------------
    ("y-nan", ValueError, "y", "NaN", lambda: obj(y=with_nan(Y0))),
    ("y-inf-squared", ValueError, "y", "infinity", lambda: obj(y=with_nan(YR, np.inf), loss="squared_error")),
    ("y-label-2", ValueError, "y", "labels 0 and 1", lambda: obj(y=with_nan(Y0, 2.0))),
    ("y-label-minus-1", ValueError, "y", "labels 0 and 1", lambda: obj(y=np.where(Y0 == 0, -1.0, 1.0))),
    ("y-label-half", ValueError, "y", "labels 0 and 1", lambda: obj(y=with_nan(Y0, 0.5))),
    ("y-too-long", ValueError, "y", "length 41", lambda: obj(y=np.r_[Y0, 0.0])),
    ("y-too-short", ValueError, "y", "length 39", lambda: obj(y=Y0[:-1])),
    ("y-2d", ValueError, "y", "1-D", lambda: obj(y=Y0[:, None])),
    ("y-scalar", ValueError, "y", "1-D", lambda: obj(y=1.0)),
    ("y-strings", TypeError, "y", "strings", lambda: obj(y=np.where(Y0 == 1, "yes", "no"))),
    ("y-complex", ValueError, "y", "complex data not supported", lambda: obj(y=Y0 + 0j)),
    ("y-None", TypeError, "y", "None", lambda: obj(y=None)),
    # -- sample_weight ------------------------------------------------------------------------
    ("sw-nan", ValueError, "sample_weight", "NaN", lambda: obj(sample_weight=with_nan(np.ones(40)))),
    ("sw-inf", ValueError, "sample_weight", "infinity",
     lambda: obj(sample_weight=with_nan(np.ones(40), np.inf))),
    ("sw-negative", ValueError, "sample_weight", "non-negative",
     lambda: obj(sample_weight=with_nan(np.ones(40), -0.5))),
    ("sw-all-zero", ValueError, "sample_weight", "sums to zero", lambda: obj(sample_weight=np.zeros(40))),
    ("sw-scalar-zero", ValueError, "sample_weight", "sums to zero", lambda: obj(sample_weight=0.0)),
    ("sw-scalar-negative", ValueError, "sample_weight", "non-negative", lambda: obj(sample_weight=-1)),
    ("sw-scalar-nan", ValueError, "sample_weight", "NaN", lambda: obj(sample_weight=np.nan)),
    ("sw-overflowing-sum", ValueError, "sample_weight", "rescale",
     lambda: obj(sample_weight=np.full(40, 1e308))),
    ("sw-wrong-length", ValueError, "sample_weight", "length 39", lambda: obj(sample_weight=np.ones(39))),
    ("sw-2d", ValueError, "sample_weight", "1-D", lambda: obj(sample_weight=np.ones((40, 1)))),
    ("sw-strings", TypeError, "sample_weight", "strings", lambda: obj(sample_weight=["1"] * 40)),
    ("sw-scalar-string", TypeError, "sample_weight", "strings", lambda: obj(sample_weight="1")),
    ("sw-complex", ValueError, "sample_weight", "complex data not supported",
     lambda: obj(sample_weight=np.ones(40) + 1j)),
    # -- names --------------------------------------------------------------------------------
    ("loss-unknown", ValueError, "loss", ("'log_loss'", "'squared_error'"), lambda: obj(loss="hinge")),
    ("loss-None", TypeError, "loss", ("'log_loss'", "'squared_error'"), lambda: obj(loss=None)),
    ("loss-list", TypeError, "loss", ("'log_loss'", "'squared_error'"), lambda: obj(loss=["log_loss"])),
    ("method-unknown", ValueError, "method", ("'auto'", "'gd'", "'newton'"), lambda: fit(method="steepest")),
    ("method-None", ValueError, "method", ("'auto'", "'gd'", "'newton'"), lambda: fit(method=None)),
    ("method-list", ValueError, "method", ("'auto'", "'gd'", "'newton'"), lambda: fit(method=["gd"])),
    ("method-array", ValueError, "method", ("'auto'", "'gd'", "'newton'"), lambda: fit(method=np.array(["gd"]))),
    # -- parameters of Objective --------------------------------------------------------------
    ("alpha-negative", ValueError, "alpha", ">= 0", lambda: obj(alpha=-1e-3)),
    ("alpha-nan", ValueError, "alpha", "finite", lambda: obj(alpha=np.nan)),
    ("alpha-inf", ValueError, "alpha", "finite", lambda: obj(alpha=np.inf)),
    ("alpha-string", TypeError, "alpha", "real number", lambda: obj(alpha="0.1")),
    ("alpha-None", TypeError, "alpha", "real number", lambda: obj(alpha=None)),
    ("alpha-array", TypeError, "alpha", "real number", lambda: obj(alpha=np.array([0.1, 0.2]))),
    ("fit_intercept-int", TypeError, "fit_intercept", "True or False", lambda: obj(fit_intercept=1)),
    ("fit_intercept-string", TypeError, "fit_intercept", "True or False", lambda: obj(fit_intercept="no")),
    ("fit_intercept-None", TypeError, "fit_intercept", "True or False", lambda: obj(fit_intercept=None)),
    ("n_threads-zero", ValueError, "n_threads", ">= 1", lambda: obj(n_threads=0)),
    ("n_threads-negative", ValueError, "n_threads", ">= 1", lambda: obj(n_threads=-1)),
    ("n_threads-huge", ValueError, "n_threads", "<= 1024", lambda: obj(n_threads=10**6)),
    ("n_threads-float", TypeError, "n_threads", "integer", lambda: obj(n_threads=2.0)),
    ("n_threads-bool", TypeError, "n_threads", "integer", lambda: obj(n_threads=True)),
    ("n_threads-string", TypeError, "n_threads", "integer", lambda: obj(n_threads="2")),
    # -- parameter vectors --------------------------------------------------------------------
    ("w-too-long", ValueError, "w", "length 5, expected 4", lambda: obj().cost(np.zeros(5))),
    ("w-too-short-no-intercept", ValueError, "w", "length 4, expected 3",
     lambda: obj(fit_intercept=False).gradient(np.zeros(4))),
    ("w-nan", ValueError, "w", "NaN", lambda: obj().cost_gradient(with_nan(np.zeros(4)))),
    ("w-inf", ValueError, "w", "infinity", lambda: obj().hessian(with_nan(np.zeros(4), np.inf))),
    ("w-2d", ValueError, "w", "1-D", lambda: obj().cost_gradient_hessian(np.zeros((4, 1)))),
    ("w-strings", TypeError, "w", "strings", lambda: obj().cost(["0"] * 4)),
    ("w-complex", ValueError, "w", "complex data not supported", lambda: obj().cost(np.zeros(4) + 0j)),
    ("v-wrong-length", ValueError, "v", "length 3, expected 4", lambda: obj().hessp(np.zeros(4), np.ones(3))),
    ("v-nan", ValueError, "v", "NaN", lambda: obj().hessp(np.zeros(4), with_nan(np.ones(4)))),
    ("w0-wrong-length", ValueError, "w0", "length 5", lambda: fit(w0=np.zeros(5))),
    ("w0-nan", ValueError, "w0", "NaN", lambda: fit(w0=with_nan(np.zeros(4)))),
    ("w0-inf-gd", ValueError, "w0", "infinity", lambda: fit(method="gd", w0=with_nan(np.zeros(4), -np.inf))),
    # -- parameters of minimize ---------------------------------------------------------------
    ("learning_rate-zero", ValueError, "learning_rate", "> 0", lambda: fit(method="gd", learning_rate=0.0)),
    ("learning_rate-negative", ValueError, "learning_rate", "> 0", lambda: fit(method="gd", learning_rate=-0.1)),
    ("learning_rate-nan", ValueError, "learning_rate", "finite", lambda: fit(method="gd", learning_rate=np.nan)),
    ("learning_rate-inf", ValueError, "learning_rate", "finite", lambda: fit(method="gd", learning_rate=np.inf)),
    ("learning_rate-word", ValueError, "learning_rate", "'auto'", lambda: fit(method="gd", learning_rate="fast")),
    ("learning_rate-None", TypeError, "learning_rate", "real number", lambda: fit(method="gd", learning_rate=None)),
    ("max_iter-zero", ValueError, "max_iter", ">= 1", lambda: fit(max_iter=0)),
    ("max_iter-negative-gd", ValueError, "max_iter", ">= 1", lambda: fit(method="gd", max_iter=-5)),
    ("max_iter-float", TypeError, "max_iter", "integer", lambda: fit(max_iter=10.0)),
    ("max_iter-bool", TypeError, "max_iter", "integer", lambda: fit(max_iter=True)),
    ("tol-negative", ValueError, "tol", ">= 0", lambda: fit(tol=-1e-8)),
    ("tol-nan", ValueError, "tol", "finite", lambda: fit(tol=np.nan)),
    ("tol-string", TypeError, "tol", "real number", lambda: fit(tol="1e-8")),
    ("callback-not-callable", TypeError, "callback", "callable", lambda: fit(callback=3)),
    ("obj-not-objective", TypeError, "obj", "Objective", lambda: gdfast.minimize(X0)),
]


@pytest.mark.parametrize("exc,name,words,call", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_input_is_refused_by_name(exc, name, words, call):
    with pytest.raises(Exception) as info:
        call()
    assert type(info.value) is exc, f"expected exactly {exc.__name__}, got {info.type.__name__}: {info.value}"
    message = str(info.value)
    assert re.match(rf"{re.escape(name)}\b", message), f"message does not start with {name!r}: {message}"
    for word in (words,) if isinstance(words, str) else words:    # a tuple: each must appear
        assert word in message, f"message lacks {word!r}: {message}"


def test_every_check_has_a_case():
    """The table covers each argument of the public entry points."""
    named = {c[2] for c in BAD}
    assert named >= {"X", "y", "sample_weight", "loss", "method", "alpha", "fit_intercept", "n_threads",
                     "w", "v", "w0", "learning_rate", "max_iter", "tol", "callback", "obj"}


def test_reference_refuses_the_same_data():
    """gdfast.reference shares the data checks, so the oracle never sees data gdfast refuses."""
    for X, y in ((with_nan(X0, index=(0, 0)), Y0), (X0, with_nan(Y0, 3.0)), (X0 + 0j, Y0)):
        with pytest.raises(ValueError):
            reference.Objective(X, y)


# ---- what is accepted ---------------------------------------------------------------------------

def test_labels_need_not_be_0_1_for_the_squared_error():
    o = obj(y=YR * 7.0, loss="squared_error")
    assert np.isfinite(o.cost(np.zeros(4)))


@pytest.mark.parametrize("kind", ["list", "int64", "int8", "uint16", "bool", "float16",
                                  "big-endian", "object-floats", "object-mixed", "longdouble"])
def test_numeric_kinds_convert_as_numpy_would(kind):
    """Anything numpy reads as real numbers is accepted; it gives the float64 answer of that data."""
    rng = np.random.default_rng(4)
    Xi = rng.integers(-3, 4, (40, 3))
    as_float = {
        "list": Xi.tolist(),
        "int64": Xi,
        "int8": Xi.astype(np.int8),
        "uint16": (Xi + 3).astype(np.uint16),
        "bool": Xi > 0,
        "float16": Xi.astype(np.float16),
        "big-endian": Xi.astype(">f8"),
        "object-floats": Xi.astype(float).astype(object),
        "object-mixed": np.array([[int(a), Fraction(int(b), 1), Decimal(int(c))] for a, b, c in Xi],
                                 dtype=object),
        "longdouble": Xi.astype(np.longdouble),
    }[kind]
    expected = np.asarray(as_float).astype(np.float64)
    o = gdfast.Objective(as_float, Y0.astype(int).tolist(), sample_weight=list(range(1, 41)), alpha=0.1)
    assert o.X.dtype == np.float64 and o.X.dtype.isnative
    ref = gdfast.Objective(expected, Y0, sample_weight=np.arange(1.0, 41.0), alpha=0.1)
    w = np.array([0.3, -0.2, 0.1, 0.05])
    assert o.cost(w) == ref.cost(w)
    assert np.array_equal(o.gradient(w), ref.gradient(w))


def test_labels_as_bools_and_object_numbers():
    w = np.array([0.3, -0.2, 0.1, 0.05])
    c = obj().cost(w)
    assert obj(y=Y0.astype(bool)).cost(w) == c
    assert obj(y=Y0.astype(int).astype(object)).cost(w) == c
    assert obj(sample_weight=2).cost(w) == c         # a scalar weight is the same on every row


def test_float32_stays_float32_without_a_copy():
    X32 = np.asfortranarray(X0, dtype=np.float32)
    o = obj(X=X32)
    assert o.X.dtype == np.float32 and np.shares_memory(o.X, X32)


def test_huge_finite_values_are_not_mistaken_for_infinity():
    """The fast finiteness test sums X; a sum that overflows must not reject finite data."""
    X = np.full((40, 3), 1e308)
    X[::2] *= -1
    o = gdfast.Objective(X, Y0, fit_intercept=False)
    assert o.X is X or np.shares_memory(o.X, X)
    Xbig = np.full((40, 3), 3e38, dtype=np.float32)
    assert gdfast.Objective(Xbig, Y0).X.dtype == np.float32
    with pytest.raises(ValueError, match=r"^X contains NaN or infinity \(first at row 4, column 2"):
        X[4, 2] = np.inf
        gdfast.Objective(X, Y0)


# ---- inputs are never modified; read-only and memory-mapped data work without a copy ------------

def read_only(a):
    a = np.array(a, copy=True)
    a.flags.writeable = False
    return a


@pytest.mark.parametrize("loss", ["log_loss", "squared_error"])
def test_read_only_inputs_work_everywhere(loss):
    """Every input read-only: any attempt to write to one would raise."""
    y = Y0 if loss == "log_loss" else YR
    X, y, sw = read_only(X0), read_only(y), read_only(np.linspace(0.5, 2, 40))
    w, v = read_only(W0), read_only(np.ones(4))
    copies = [a.copy() for a in (X, y, sw, w, v)]
    o = gdfast.Objective(X, y, loss=loss, sample_weight=sw, alpha=0.1)
    assert np.shares_memory(o.X, X)
    o.cost_gradient_hessian(w)
    o.hessp(w, v)
    for method in ("gd", "newton"):
        res = gdfast.minimize(o, method=method, w0=w, max_iter=20)
        assert np.all(np.isfinite(res.w))
    for a, b in zip((X, y, sw, w, v), copies):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("order", ["C", "F"])
def test_memory_maps_are_used_without_a_copy(tmp_path, dtype, order):
    X = np.asarray(X0, dtype=dtype, order=order)
    path = tmp_path / "X.npy"
    np.save(path, X)
    loaded = np.load(path, mmap_mode="r")
    assert isinstance(loaded, np.memmap) and not loaded.flags.writeable
    raw = np.memmap(tmp_path / "X.bin", dtype=dtype, mode="w+", shape=X.shape, order=order)
    raw[:] = X
    raw.flush()
    raw = np.memmap(tmp_path / "X.bin", dtype=dtype, mode="r", shape=X.shape, order=order)
    expected = gdfast.Objective(X, Y0, alpha=0.1)
    # slices along the axis that is not contiguous keep the other one contiguous: no copy either
    views = (loaded[::2], raw[:, 1:]) if order == "C" else (loaded[:, ::2], raw[1:])
    for m in (loaded, raw, *views):
        o = gdfast.Objective(m, Y0[: m.shape[0]], alpha=0.1)
        assert np.shares_memory(o.X, m)
        assert o.X.dtype == dtype
    o = gdfast.Objective(loaded, Y0, alpha=0.1)
    assert np.array_equal(o.cost_gradient_hessian(W0)[2], expected.cost_gradient_hessian(W0)[2])
    res = gdfast.minimize(o, method="newton")
    assert res.converged
    assert np.array_equal(np.load(path), X)           # the file is unchanged


def test_a_failed_check_leaves_the_input_alone():
    X = with_nan(X0, index=(2, 2))
    before = X.copy()
    with pytest.raises(ValueError):
        gdfast.Objective(X, Y0)
    assert np.array_equal(X, before, equal_nan=True)


def test_kernel_methods_refuse_buffers_of_the_wrong_length():
    """The compiled kernels write through raw pointers: a wrong-sized buffer is an error, not a
    write out of bounds (obj._kernel is private, but other code embeds it)."""
    import scipy.sparse
    X = np.random.default_rng(0).standard_normal((20, 3))
    y = (X[:, 0] > 0).astype(float)
    for data in (X, scipy.sparse.csr_matrix(X)):
        k = gdfast.Objective(data, y)._kernel
        w, n = np.zeros(4), 20
        calls = {
            "w": lambda: k.cost_grad(np.zeros(3)),
            "grad": lambda: k.cost_grad(w, np.empty(3)),
            "hess": lambda: k.cost_grad(w, np.empty(4), np.empty((3, 3))),
            "v": lambda: k.hessp(w, np.zeros(5), np.empty(4)),
            "out": lambda: k.linear(w, np.empty(n - 1)),
            "r": lambda: k.transpose(np.empty(n + 1), np.empty(4)),
            "hw": lambda: k.diag_weighted(np.empty(3), np.empty(4)),
            "z": lambda: k.loss_from_z(np.empty(n - 2)),
        }
        for name, call in calls.items():
            with pytest.raises(ValueError, match=f"^{name} has"):
                call()


def test_module_level_kernel_functions_refuse_buffers_of_the_wrong_length():
    """The module-level twins of the kernel methods (diag_weighted, descent_run) check their
    buffers as the methods do: a short buffer is an error, not a read or write out of bounds."""
    import sys
    import scipy.sparse
    X = np.random.default_rng(0).standard_normal((20, 3))
    y = (X[:, 0] > 0).astype(float)
    for data in (X, scipy.sparse.csr_matrix(X)):
        k = gdfast.Objective(data, y)._kernel
        module = sys.modules[type(k).__module__]
        D, steps = 4, 5
        buffers = dict(w=np.zeros(D), aux=np.zeros(4 * D), cost_hist=np.empty(steps),
                       gnorm_hist=np.empty(steps), step_hist=np.empty(steps),
                       state=np.array([0.0, 1.0, 0.0, 0.0, 0.0]), best_w=np.zeros(D))

        def run(**short):
            b = {**buffers, **short}
            return module.descent_run(k, module.DESCENT_FIXED, b["w"], b["aux"], 0.1, steps,
                                      b["cost_hist"], b["gnorm_hist"], b["step_hist"], 0,
                                      b["state"], b["best_w"], 0.0, True)

        assert run()[0] == steps                  # the full-sized buffers run
        for name, short in [("w", np.zeros(D - 1)), ("best_w", np.zeros(D - 1)),
                            ("state", np.zeros(4)), ("cost_hist", np.empty(steps - 1)),
                            ("gnorm_hist", np.empty(1)), ("step_hist", np.empty(0))]:
            with pytest.raises(ValueError, match=f"^{name} has"):
                run(**{name: short})
        with pytest.raises(ValueError, match="^aux must hold"):
            run(aux=np.zeros(4 * D - 1))
        with pytest.raises(ValueError, match="^hw has"):
            module.diag_weighted(k, np.empty(19), np.empty(D))
        with pytest.raises(ValueError, match="^out has"):
            module.diag_weighted(k, np.empty(20), np.empty(D - 1))
