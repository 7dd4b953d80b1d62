"""LogisticRegressionCV: alpha (and l1_ratio) by k-fold cross-validation, a drop-in for
scikit-learn's (Cs, scores_, C_, refit=False), with gdfast's alphas."""
import warnings

import numpy as np
import pytest
import sklearn.linear_model
from sklearn.datasets import make_classification
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.estimator_checks import check_estimator

import gdfast

SKIPPED_BY_SKLEARN = {"check_array_api_input"}


def theirs(**kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")             # scikit-learn's FutureWarnings on defaults
        return sklearn.linear_model.LogisticRegressionCV(tol=1e-12, max_iter=10_000, **kw)


@pytest.fixture(scope="module")
def binary():
    return make_classification(1200, 8, random_state=0)


def test_passes_check_estimator():
    results = check_estimator(gdfast.LogisticRegressionCV(), on_fail=None)
    assert len(results) > 50
    assert [(r["check_name"], r["status"]) for r in results if r["status"] != "passed"
            and not (r["status"] == "skipped" and r["check_name"] in SKIPPED_BY_SKLEARN)] == []


@pytest.mark.parametrize("refit", [True, False])
def test_matches_scikit_learn_on_its_C_grid(binary, refit):
    X, y = binary
    ours = gdfast.LogisticRegressionCV(Cs=8, refit=refit).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer = theirs(Cs=8, refit=refit).fit(X, y)
    np.testing.assert_allclose(ours.Cs_, peer.Cs_, rtol=1e-15)
    np.testing.assert_array_equal(ours.scores_[1], peer.scores_[1])
    np.testing.assert_allclose(ours.C_, peer.C_, rtol=1e-12)
    np.testing.assert_allclose(ours.coef_, peer.coef_, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.intercept_, peer.intercept_, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(ours.predict(X), peer.predict(X))
    np.testing.assert_allclose(ours.predict_proba(X), peer.predict_proba(X), atol=1e-6)
    # the default alphas=10 is scikit-learn's default Cs=10
    default = gdfast.LogisticRegressionCV(refit=refit).fit(X, y)
    np.testing.assert_allclose(default.Cs_, np.logspace(-4, 4, 10))


def test_alphas_are_the_same_in_every_fold_and_the_choice_is_the_best_mean_score(binary):
    X, y = binary
    grid = [0.3, 1e-2, 1e-3, 1e-5]
    sw = np.random.default_rng(1).integers(1, 4, len(y)).astype(float)
    cv = StratifiedKFold(4)
    ours = gdfast.LogisticRegressionCV(alphas=grid, cv=cv).fit(X, y, sample_weight=sw)
    np.testing.assert_array_equal(ours.alphas_, sorted(grid, reverse=True))
    expected = np.empty((4, len(grid)))
    for f, (train, test) in enumerate(cv.split(X, y)):
        for k, a in enumerate(ours.alphas_):
            m = gdfast.LogisticRegression(alpha=a).fit(X[train], y[train],
                                                       sample_weight=sw[train])
            expected[f, k] = m.score(X[test], y[test], sample_weight=sw[test])
    np.testing.assert_allclose(ours.scores_[1], expected, atol=1e-12)
    best = ours.alphas_[int(np.argmax(expected.mean(axis=0)))]
    assert ours.alpha_[0] == best
    final = gdfast.LogisticRegression(alpha=best).fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(ours.coef_, final.coef_, rtol=1e-10, atol=1e-12)


def test_multiclass_with_l1_ratios():
    X, y = make_classification(900, 6, n_informative=4, n_classes=3, random_state=2)
    m = gdfast.LogisticRegressionCV(alphas=[1e-1, 1e-2, 1e-3], l1_ratios=[0.0, 0.5, 1.0],
                                    cv=3, scoring="neg_log_loss").fit(X, y)
    assert set(m.scores_) == {0, 1, 2} and m.scores_[0].shape == (3, 3, 3)
    assert m.coef_.shape == (3, 6) and m.alpha_.shape == (3,) and m.l1_ratio_.shape == (3,)
    mean = m.scores_[0].mean(axis=0)
    k, j = np.unravel_index(np.argmax(mean), mean.shape)
    assert m.alpha_[0] == m.alphas_[k] and m.l1_ratio_[0] == m.l1_ratios_[j]
    np.testing.assert_allclose(m.predict_proba(X).sum(axis=1), 1.0, rtol=1e-12)
    final = gdfast.LogisticRegression(alpha=m.alpha_[0], l1_ratio=m.l1_ratio_[0]).fit(X, y)
    np.testing.assert_allclose(m.coef_, final.coef_, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("params,message", [
    ({"alphas": []}, "^alphas must be"), ({"alphas": 0}, "^alphas"), ({"Cs": [1.0, -1.0]}, "^Cs"),
    ({"l1_ratios": [0.5, 2.0]}, "^l1_ratios"), ({"refit": "yes"}, "^refit")])
def test_bad_parameters_are_refused_by_name(binary, params, message):
    X, y = binary
    with pytest.raises((ValueError, TypeError), match=message):
        gdfast.LogisticRegressionCV(**params).fit(X, y)
