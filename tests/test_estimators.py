"""gdfast.LogisticRegression and gdfast.LinearRegression as scikit-learn estimators."""
import pickle
import subprocess
import sys
import tracemalloc

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import (
    check_class_weight_balanced_linear_classifier,
    check_estimator,
)

import gdfast
from gdfast import LinearRegression, LogisticRegression, _fitting, _progress
from gdfast.datasets import load_breast_cancer

from problems import make_problem

# The one check scikit-learn skips by itself: it needs SCIPY_ARRAY_API set before scipy is
# imported, and gdfast does not claim array-API support.
SKIPPED_BY_SKLEARN = {"check_array_api_input"}


def breast_cancer():
    X, y, names = load_breast_cancer()
    return (X - X.mean(0)) / X.std(0), y, names


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")   # asserted on below
@pytest.mark.parametrize("estimator", [LogisticRegression(), LinearRegression()],
                         ids=["LogisticRegression", "LinearRegression"])
def test_passes_check_estimator(estimator):
    results = check_estimator(estimator, on_fail=None)
    assert len(results) > 50
    problems = [(r["check_name"], r["status"], repr(r["exception"])) for r in results
                if r["status"] != "passed"
                and not (r["status"] == "skipped" and r["check_name"] in SKIPPED_BY_SKLEARN)]
    assert problems == []
    # scikit-learn's sparse-input checks ran (and fitted: the estimators declare sparse input)
    assert estimator.__sklearn_tags__().input_tags.sparse
    passed = {r["check_name"] for r in results if r["status"] == "passed"}
    assert {"check_estimator_sparse_array", "check_estimator_sparse_matrix",
            "check_estimator_sparse_tag", "check_sample_weight_equivalence_on_sparse_data"} <= passed


def test_balanced_class_weight_equals_manual_weights():
    # scikit-learn runs this check on its own linear classifiers only.
    check_class_weight_balanced_linear_classifier("LogisticRegression", LogisticRegression())


def test_import_gdfast_loads_neither_sklearn_nor_matplotlib():
    code = ("import sys, gdfast; before = ('sklearn' in sys.modules, 'matplotlib' in sys.modules); "
            "gdfast.LogisticRegression; print(*before, 'sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines()[-1].split() == ["False", "False", "True"]


def test_lazy_names():
    assert gdfast.LogisticRegression is gdfast.estimators.LogisticRegression
    assert {"LogisticRegression", "LinearRegression"} <= set(gdfast.__all__) & set(dir(gdfast))
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        gdfast.Nope


def test_pipeline_and_grid_search():
    X, y, _ = load_breast_cancer()
    pipe = make_pipeline(StandardScaler(), LogisticRegression())
    grid = GridSearchCV(pipe, {"logisticregression__alpha": [1e-3, 1e-1, 10.0]}, cv=3)
    grid.fit(X, y)
    assert grid.best_params_["logisticregression__alpha"] in (1e-3, 1e-1)
    assert grid.best_score_ > 0.95
    assert grid.score(X, y) > 0.95
    reg = GridSearchCV(make_pipeline(StandardScaler(), LinearRegression()),
                       {"linearregression__alpha": [1e-4, 1.0]}, cv=3).fit(X[:, 1:], X[:, 0])
    assert reg.best_score_ > 0.9


def test_binary_attributes_and_methods():
    X, y, _ = breast_cancer()
    labels = np.where(y == 1, "malignant", "benign")
    clf = LogisticRegression(alpha=1e-2).fit(X, labels)
    assert list(clf.classes_) == ["benign", "malignant"]
    assert clf.coef_.shape == (1, 30) and clf.intercept_.shape == (1,)
    assert clf.coef_stderr_.shape == (1, 30) and clf.intercept_stderr_.shape == (1,)
    assert np.all(clf.coef_stderr_ > 0)
    assert clf.n_iter_.shape == (1,) and clf.n_iter_[0] >= 1
    assert list(clf.status_) == ["converged"] and clf.n_features_in_ == 30
    assert len(clf.history_) == 1 and clf.history_[0]["cost"][-1] == pytest.approx(clf.cost_[0])
    z = clf.decision_function(X)
    np.testing.assert_allclose(z, X @ clf.coef_[0] + clf.intercept_[0], rtol=1e-12)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba[:, 1], 1 / (1 + np.exp(-z)), rtol=1e-12)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-14)
    assert np.array_equal(clf.predict(X), np.where(z > 0, "malignant", "benign"))
    assert clf.score(X, labels) > 0.97
    # The cost gdfast minimised is the mean log loss plus the penalty.
    obj = gdfast.Objective(X, y, loss="log_loss", alpha=1e-2)
    assert clf.cost_[0] == pytest.approx(obj.cost(np.append(clf.coef_[0], clf.intercept_)), rel=1e-12)


def test_predict_log_proba_is_stable_for_extreme_scores():
    X, y, _ = breast_cancer()
    clf = LogisticRegression().fit(X, y)
    clf.coef_ = clf.coef_ * 1e4                        # scores of order 1e4 to 1e5
    with np.errstate(over="raise", divide="raise", invalid="raise"):   # underflow to 0 is fine
        log_proba = clf.predict_log_proba(X)
        proba = clf.predict_proba(X)
    assert np.all(np.isfinite(log_proba)) and np.all(log_proba <= 0)
    z = clf.decision_function(X)
    np.testing.assert_allclose(log_proba[z > 50, 0], -z[z > 50], rtol=1e-12)
    assert np.all((proba >= 0) & (proba <= 1))


def test_regressor_attributes_and_methods():
    X, y, w = make_problem(n=300, d=5, loss="squared_error", seed=3)
    reg = LinearRegression(alpha=0.0).fit(X, y)
    assert reg.coef_.shape == (5,) and isinstance(reg.intercept_, float)
    assert reg.coef_stderr_.shape == (5,) and isinstance(reg.intercept_stderr_, float)
    assert isinstance(reg.n_iter_, int) and reg.status_ == "converged"
    assert "cost" in reg.history_
    beta = np.linalg.lstsq(np.column_stack([X, np.ones(len(X))]), y, rcond=None)[0]
    np.testing.assert_allclose(np.append(reg.coef_, reg.intercept_), beta, rtol=1e-9)
    np.testing.assert_allclose(reg.predict(X), X @ beta[:-1] + beta[-1], rtol=1e-9)
    assert reg.cost_ == pytest.approx(np.mean((y - reg.predict(X)) ** 2), rel=1e-10)


def test_penalty_mappings_to_scikit_learn():
    X, y, _ = breast_cancer()
    n, C = len(y), 0.5
    ours = LogisticRegression(alpha=1.0 / (C * n), tol=1e-12).fit(X, y)
    theirs = SkLogisticRegression(C=C, tol=1e-12, max_iter=10_000).fit(X, y)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, rtol=1e-5, atol=1e-7)
    a = 3.0
    Xr, yr = X[:, 1:], X[:, 0]
    ours = LinearRegression(alpha=2 * a / n).fit(Xr, yr)
    theirs = Ridge(alpha=a, tol=1e-12).fit(Xr, yr)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-8, atol=1e-12)


def test_one_vs_rest_multiclass():
    iris = load_iris()
    X = (iris.data - iris.data.mean(0)) / iris.data.std(0)
    labels = iris.target_names[iris.target]
    clf = LogisticRegression(alpha=1e-2, multi_class="ovr").fit(X, labels)
    assert list(clf.classes_) == ["setosa", "versicolor", "virginica"]
    assert clf.coef_.shape == (3, 4) and clf.intercept_.shape == (3,)
    assert clf.coef_stderr_.shape == (3, 4) and clf.n_iter_.shape == (3,)
    assert len(clf.history_) == 3 and list(clf.status_) == ["converged"] * 3
    # Each row is the binary model of that class against the rest.
    for k, label in enumerate(clf.classes_):
        binary = LogisticRegression(alpha=1e-2).fit(X, labels == label)
        np.testing.assert_allclose(clf.coef_[k], binary.coef_[0], rtol=1e-10)
        np.testing.assert_allclose(clf.coef_stderr_[k], binary.coef_stderr_[0], rtol=1e-10)
    scores = clf.decision_function(X)
    proba = clf.predict_proba(X)
    assert scores.shape == proba.shape == (150, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    sigmoid = 1 / (1 + np.exp(-scores))
    np.testing.assert_allclose(proba, sigmoid / sigmoid.sum(axis=1, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba), rtol=1e-12, atol=1e-300)
    assert np.array_equal(clf.predict(X), clf.classes_[np.argmax(scores, axis=1)])
    assert clf.score(X, labels) > 0.9


def test_class_weight():
    X, y, _ = make_problem(n=400, d=4, seed=5)
    balanced = LogisticRegression(class_weight="balanced").fit(X, y)
    n1 = y.sum()
    manual = LogisticRegression(class_weight={0: len(y) / (2 * (len(y) - n1)), 1: len(y) / (2 * n1)}).fit(X, y)
    np.testing.assert_allclose(balanced.coef_, manual.coef_, rtol=1e-10)
    as_sample_weight = LogisticRegression().fit(X, y, sample_weight=np.where(y == 1, 5.0, 1.0))
    as_class_weight = LogisticRegression(class_weight={1: 5.0}).fit(X, y)
    np.testing.assert_allclose(as_class_weight.coef_, as_sample_weight.coef_, rtol=1e-10)
    plain = LogisticRegression().fit(X, y)
    assert as_class_weight.predict(X).mean() > plain.predict(X).mean()
    with pytest.raises(ValueError, match="class_weight has labels that are not in y: \\[7\\]"):
        LogisticRegression(class_weight={7: 1.0}).fit(X, y)
    with pytest.raises(ValueError, match="class_weight must be None, 'balanced' or a dict"):
        LogisticRegression(class_weight="heavy").fit(X, y)
    with pytest.raises(ValueError, match=r"class_weight\[1.0\] must be a finite number >= 0"):
        LogisticRegression(class_weight={1: -2.0}).fit(X, y)


BOTH = pytest.mark.parametrize("Estimator, loss", [(LogisticRegression, "log_loss"),
                                                   (LinearRegression, "squared_error")])


@BOTH
def test_integer_sample_weight_is_repetition_and_zero_is_removal(Estimator, loss):
    X, y, _ = make_problem(n=60, d=3, loss=loss, seed=7)
    counts = np.random.default_rng(0).integers(0, 4, size=60)
    weighted = Estimator(tol=1e-12).fit(X, y, sample_weight=counts)
    repeated = Estimator(tol=1e-12).fit(np.repeat(X, counts, axis=0), np.repeat(y, counts))
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-9)
    np.testing.assert_allclose(weighted.coef_stderr_, repeated.coef_stderr_, rtol=1e-9)
    with pytest.raises(ValueError, match="sample_weight"):
        Estimator().fit(X, y, sample_weight=-counts)


def test_pandas_input_and_feature_names():
    X, y, names = load_breast_cancer()
    frame = pd.DataFrame(X[:, :4], columns=names[:4])
    clf = LogisticRegression().fit(frame, pd.Series(y))
    assert list(clf.feature_names_in_) == names[:4]
    table = clf.summary().to_frame()
    assert list(table.index) == ["intercept", *names[:4]]
    reg = LinearRegression().fit(frame, X[:, 5], sample_weight=pd.Series(np.ones(len(y))))
    assert list(reg.summary().to_dict()["term"]) == ["intercept", *names[:4]]
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(frame[frame.columns[::-1]])
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        np.testing.assert_array_equal(clf.predict(X[:, :4]), clf.predict(frame))


@BOTH
def test_pickle_round_trip(Estimator, loss):
    X, y, _ = make_problem(n=100, d=3, loss=loss, seed=8)
    est = Estimator().fit(X, y)
    back = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(back.predict(X), est.predict(X))
    np.testing.assert_array_equal(back.coef_stderr_, est.coef_stderr_)
    assert str(back.summary()) == str(est.summary())


def test_not_converging_emits_convergence_warning():
    X, y, _ = breast_cancer()
    with pytest.warns(ConvergenceWarning, match="did not converge \\(max_iter\\).*max_iter=3"):
        clf = LogisticRegression(solver="gd", max_iter=3).fit(X, y)
    assert list(clf.status_) == ["max_iter"] and list(clf.n_iter_) == [3]
    with pytest.warns(ConvergenceWarning, match="LinearRegression did not converge"):
        LinearRegression(solver="gd", max_iter=2).fit(X[:, 1:], X[:, 0])


def test_gradient_descent_solver_and_learning_rate():
    X, y, _ = make_problem(n=200, d=4, loss="squared_error", seed=9)
    newton = LinearRegression().fit(X, y)
    gd = LinearRegression(solver="gd", tol=1e-10, max_iter=20_000).fit(X, y)
    assert gd.status_ == "converged" and gd.n_iter_ > newton.n_iter_
    np.testing.assert_allclose(gd.coef_, newton.coef_, rtol=1e-7)
    fixed = LinearRegression(solver="gd", learning_rate=0.05, max_iter=5, tol=0.0)
    with pytest.warns(ConvergenceWarning):
        fixed.fit(X, y)
    # one step per iteration; the last point is evaluated but no step is taken from it
    np.testing.assert_allclose(fixed.history_["step"][:-1], 0.05)
    assert len(fixed.history_["step"]) == 6


def test_solver_options_go_only_to_the_solvers_that_use_them():
    assert _fitting.solver_options("newton", learning_rate=0.1, batch_size=8, random_state=1) == {}
    assert _fitting.solver_options("gd", learning_rate=0.1, batch_size=8, random_state=1) == {
        "learning_rate": 0.1}
    assert _fitting.solver_options("sgd", learning_rate=0.1, batch_size=8, random_state=1) == {
        "learning_rate": 0.1, "batch_size": 8, "random_state": 1}
    assert _fitting.solver_options("adam", batch_size=None) == {"learning_rate": "auto"}


def test_estimator_passes_stochastic_settings_through(monkeypatch):
    seen = []

    def spy(obj, method, **kwargs):
        seen.append((method, kwargs))
        return gdfast.minimize(obj, method="gd", **{k: v for k, v in kwargs.items()
                                                    if k not in ("batch_size", "random_state")})

    monkeypatch.setattr(_fitting, "minimize", spy)
    X, y, _ = make_problem(n=50, d=2, loss="squared_error")
    LinearRegression(solver="sgd", batch_size=16, random_state=3, learning_rate=0.1).fit(X, y)
    LinearRegression(solver="sgd", batch_size=16, random_state=3, learning_rate=0.1).fit(X, y)
    LinearRegression(solver="newton", batch_size=16, random_state=3, learning_rate=0.1).fit(X, y)
    (m1, k1), (m2, k2), (m3, k3) = seen
    assert m1 == "sgd" and k1["batch_size"] == 16 and k1["learning_rate"] == 0.1
    assert isinstance(k1["random_state"], int) and k1["random_state"] == k2["random_state"]
    assert m3 == "newton" and not {"batch_size", "random_state", "learning_rate"} & set(k3)


@pytest.mark.parametrize("params, match", [
    (dict(alpha=-1.0), "alpha must be >= 0"),
    (dict(solver="nope"), "solver='nope' is not a gdfast.minimize method"),
    (dict(solver=3), "solver must be a string"),
    (dict(max_iter=0), "max_iter must be >= 1"),
    (dict(tol=-1.0), "tol must be >= 0"),
    (dict(learning_rate="fast"), "learning_rate must be a positive number or 'auto'"),
    (dict(learning_rate=0.0), "learning_rate must be > 0"),
    (dict(batch_size=0), "batch_size must be >= 1"),
    (dict(n_threads=0), "n_threads must be >= 1"),
    (dict(verbose=-1), "verbose must be >= 0"),
    (dict(fit_intercept="yes"), "fit_intercept must be True or False"),
    (dict(warm_start=None), "warm_start must be True or False"),
])
def test_bad_parameters_are_named_in_fit_not_init(params, match):
    X, y, _ = make_problem(n=30, d=2)
    est = LogisticRegression(**params)            # no error yet
    with pytest.raises((ValueError, TypeError), match=match):
        est.fit(X, y)


def test_one_class_is_an_error_naming_the_class():
    X, y, _ = make_problem(n=30, d=2)
    with pytest.raises(ValueError, match="at least 2 classes.*got 1 class \\(1.0\\)"):
        LogisticRegression().fit(X, np.ones(30))
    with pytest.raises(ValueError, match="got 1 class \\('b'\\)"):
        LogisticRegression().fit(X, np.where(y == 1, "a", "b"), sample_weight=(y == 0).astype(float))


@BOTH
def test_warm_start_starts_from_the_previous_fit(Estimator, loss):
    X, y, _ = make_problem(n=200, d=4, loss=loss, seed=11)
    est = Estimator(solver="gd", tol=1e-6, warm_start=True).fit(X, y)
    first = np.max(est.n_iter_)
    est.fit(X, y)
    assert np.max(est.n_iter_) < first / 10
    cold = Estimator(solver="gd", tol=1e-6).fit(X, y)
    assert np.max(cold.n_iter_) == first


def test_verbose_shows_a_tqdm_bar(capsys):
    X, y, _ = make_problem(n=100, d=3, loss="squared_error")
    with pytest.warns(ConvergenceWarning):
        LinearRegression(solver="gd", verbose=2, max_iter=30, tol=0.0).fit(X, y)
    err = capsys.readouterr().err
    assert "LinearRegression" in err and "30/30" in err and "cost=" in err


def test_verbose_1_is_silent_on_short_fits(capsys):
    X, y, _ = make_problem(n=100, d=3)
    LogisticRegression(verbose=1).fit(X, y)
    assert capsys.readouterr().err == ""


def test_verbose_without_tqdm_prints_lines(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)          # import tqdm now fails
    X, y, _ = make_problem(n=100, d=3)
    LogisticRegression(verbose=2).fit(X, y)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) >= 2 and lines[0].startswith("LogisticRegression: iteration 1, cost=")
    assert "max|grad|=" in lines[-1]
    # verbose=1 prints once the fit has run for DELAY seconds, then every LINE_INTERVAL.
    monkeypatch.setattr(_progress, "DELAY", 0.0)
    monkeypatch.setattr(_progress, "LINE_INTERVAL", 0.0)
    LogisticRegression(verbose=1).fit(X, y)
    assert capsys.readouterr().err.count("LogisticRegression: iteration") >= 2


# ---------------------------------------------------------------------------------------------
# Sparse X: the dense twin's answers, without densifying
# ---------------------------------------------------------------------------------------------

SPARSE_CONTAINERS = {"csr_matrix": sp.csr_matrix, "csc_matrix": sp.csc_matrix,
                     "csr_array": sp.csr_array, "csc_array": sp.csc_array}


def sparse_problem(loss, n=300, d=8, seed=0, dtype=np.float64, n_classes=2):
    """Sparse X (30% stored entries, an empty column), its dense twin, y and sample weights."""
    rng = np.random.default_rng(seed)
    A = sp.random(n, d, density=0.3, format="csr", random_state=rng, data_rvs=rng.standard_normal)
    A = sp.csr_matrix(A @ sp.diags(np.r_[np.ones(d - 1), 0.0])).astype(dtype)
    A.eliminate_zeros()
    dense = A.toarray()
    z = dense.astype(np.float64) @ rng.standard_normal(d) + 0.3
    if loss == "squared_error":
        y = z + rng.standard_normal(n)
    elif n_classes == 2:
        y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(np.float64)
    else:
        y = np.digitize(z + rng.logistic(size=n), np.quantile(z, [1 / 3, 2 / 3]))
    return A, dense, y, rng.uniform(0.2, 3.0, n)


@pytest.fixture
def objectives_built(monkeypatch):
    """The X of every gdfast.Objective the estimators build."""
    seen = []

    class Spy(gdfast.Objective):
        def __init__(self, X, *args, **kwargs):
            seen.append(X)
            super().__init__(X, *args, **kwargs)

    from gdfast import _backends
    monkeypatch.setattr(_backends, "Objective", Spy)
    return seen


@BOTH
@pytest.mark.parametrize("container", list(SPARSE_CONTAINERS))
def test_sparse_fit_equals_dense_fit(Estimator, loss, container, objectives_built):
    A, dense, y, sw = sparse_problem(loss, seed=21)
    X = SPARSE_CONTAINERS[container](A)
    ours = Estimator(alpha=1e-3).fit(X, y, sample_weight=sw)
    twin = Estimator(alpha=1e-3).fit(dense, y, sample_weight=sw)
    assert sp.issparse(objectives_built[0]) and objectives_built[0].dtype == np.float64
    assert not sp.issparse(objectives_built[1])
    np.testing.assert_allclose(ours.coef_, twin.coef_, rtol=1e-8)
    np.testing.assert_allclose(ours.intercept_, twin.intercept_, rtol=1e-8)
    np.testing.assert_allclose(ours.coef_stderr_, twin.coef_stderr_, rtol=1e-8)
    assert np.all(np.isfinite(ours.coef_stderr_))
    assert ours.n_features_in_ == 8 and np.all(ours.status_ == "converged")
    # The empty column gets no weight; the test can fail: weights change the answer.
    assert np.all(np.asarray(ours.coef_)[..., -1] == 0.0)
    plain = Estimator(alpha=1e-3).fit(X, y)
    assert np.max(np.abs(plain.coef_ - ours.coef_)) > 1e-3
    # Predictions on sparse X: the dense twin's, as numpy arrays.
    for method in ("predict", "decision_function", "predict_proba"):
        if hasattr(ours, method):
            got = getattr(ours, method)(X)
            assert isinstance(got, np.ndarray)
            np.testing.assert_allclose(got, getattr(twin, method)(dense), rtol=1e-8, atol=1e-12)
    assert ours.score(X, y) == pytest.approx(twin.score(dense, y), rel=1e-8)


@pytest.mark.parametrize("container", ["csr_array", "csc_matrix"])
def test_sparse_one_vs_rest_equals_dense(container, objectives_built):
    A, dense, y, sw = sparse_problem("log_loss", n=450, seed=22, n_classes=3)
    labels = np.array(["low", "mid", "high"])[y]
    X = SPARSE_CONTAINERS[container](A)
    ours = LogisticRegression(alpha=1e-3, multi_class="ovr").fit(X, labels, sample_weight=sw)
    twin = LogisticRegression(alpha=1e-3, multi_class="ovr").fit(dense, labels, sample_weight=sw)
    assert list(ours.classes_) == ["high", "low", "mid"] and ours.coef_.shape == (3, 8)
    # CSC is turned into CSR once for the three problems, not once per problem
    assert [X.format for X in objectives_built[:3]] == ["csr"] * 3
    assert objectives_built[0] is objectives_built[1] is objectives_built[2]
    np.testing.assert_allclose(ours.coef_, twin.coef_, rtol=1e-8)
    np.testing.assert_allclose(ours.intercept_, twin.intercept_, rtol=1e-8)
    np.testing.assert_allclose(ours.coef_stderr_, twin.coef_stderr_, rtol=1e-8)
    np.testing.assert_allclose(ours.predict_proba(X), twin.predict_proba(dense), rtol=1e-8)
    assert np.array_equal(ours.predict(X), twin.predict(dense))
    assert ours.score(X, labels) > 0.5


@BOTH
def test_sparse_float32_stays_float32(Estimator, loss, objectives_built):
    A, dense, y, sw = sparse_problem(loss, seed=23, dtype=np.float32)
    assert A.dtype == dense.dtype == np.float32
    ours = Estimator(alpha=1e-3).fit(sp.csc_array(A), y, sample_weight=sw)
    assert sp.issparse(objectives_built[0]) and objectives_built[0].dtype == np.float32
    # The sparse kernels read the float32 values and sum in double: the optimum of the same
    # values in float64.
    twin64 = Estimator(alpha=1e-3).fit(dense.astype(np.float64), y, sample_weight=sw)
    np.testing.assert_allclose(ours.coef_, twin64.coef_, rtol=1e-8)
    np.testing.assert_allclose(ours.intercept_, twin64.intercept_, rtol=1e-8)
    np.testing.assert_allclose(ours.predict(A), twin64.predict(dense), rtol=1e-8, atol=1e-12)
    # The dense float32 kernels sum blocks of rows in float: the same optimum to float's rounding.
    twin32 = Estimator(alpha=1e-3).fit(dense, y, sample_weight=sw)
    assert objectives_built[-1].dtype == np.float32
    np.testing.assert_allclose(ours.coef_, twin32.coef_, rtol=1e-6)


@BOTH
def test_sparse_standard_errors_nan_when_the_hessian_is_too_large(Estimator, loss, monkeypatch):
    # The real limit is 5792 parameters (above MAX_STDERR_PARAMS); a small one keeps it light.
    A, dense, y, _ = sparse_problem(loss, seed=24)
    monkeypatch.setattr(gdfast._sparse_input, "MAX_HESSIAN_PARAMS", 5)    # 9 parameters here
    ours = Estimator(alpha=1e-2, tol=1e-10).fit(A, y)
    twin = Estimator(alpha=1e-2, tol=1e-10).fit(dense, y)
    assert np.all(np.isnan(ours.coef_stderr_)) and np.all(np.isnan(ours.intercept_stderr_))
    assert np.all(np.isfinite(twin.coef_stderr_))
    np.testing.assert_allclose(ours.coef_, twin.coef_, rtol=1e-6)
    assert "nan" in str(ours.summary())


def test_sparse_is_never_densified(monkeypatch):
    """200k x 200k with 200k stored entries: 320 GB dense. Fit, predict and score it in a few MB,
    with every way scipy has of densifying disabled."""
    n = d = 200_000
    rng = np.random.default_rng(25)
    X = sp.csr_array((rng.standard_normal(n), (np.arange(n), rng.integers(0, d, n))), shape=(n, d))
    y = (rng.random(n) < 0.3).astype(np.float64)

    def refuse(self, *args, **kwargs):
        raise AssertionError("a sparse matrix was densified")

    for cls in (sp.csr_array, sp.csr_matrix, sp.csc_array, sp.csc_matrix):
        for name in ("toarray", "todense"):
            monkeypatch.setattr(cls, name, refuse)
    tracemalloc.start()
    try:
        clf = LogisticRegression(alpha=1e-2).fit(X, y)
        proba = clf.predict_proba(X)
        accuracy = clf.score(X, y)
        reg = LinearRegression(alpha=1e-2).fit(X, y)
        pred = reg.predict(X)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 200e6, peak
    assert list(clf.status_) == ["converged"] and reg.status_ == "converged"
    assert proba.shape == (n, 2) and pred.shape == (n,) and accuracy > 0.6
    assert np.all(np.isnan(clf.coef_stderr_))              # > MAX_STDERR_PARAMS parameters
    # The fits did something: the largest coefficients sit on the stored entries
    assert np.max(np.abs(clf.coef_)) > 1e-3 and np.max(np.abs(reg.coef_)) > 1e-3
    with pytest.raises(AssertionError, match="densified"):
        X.toarray()
