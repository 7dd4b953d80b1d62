"""The multinomial objective on a dask array: equal to the in-memory one, one graph per
evaluation, X never gathered; and LogisticRegression's multinomial fit on dask input."""
import dask
import numpy as np
import pytest

import gdfast
from gdfast._dask_multinomial import MultinomialObjective as DaskMultinomial

from test_dask import client, dask_data, graphs_seen, rel, transfers, weights  # noqa: F401
from test_multinomial import make_multiclass


@pytest.mark.parametrize("alpha", [0.0, 0.1])
@pytest.mark.parametrize("weighted", [False, True])
def test_values_match_in_memory(client, alpha, weighted):
    X, y, theta = make_multiclass(n=500, d=5, K=4, seed=12)
    sw = weights(len(y), seed=3) if weighted else None
    Xd, yd, swd = dask_data(client, X, y, sw)
    mem = gdfast.MultinomialObjective(X, y, alpha=alpha, sample_weight=sw)
    ours = DaskMultinomial(Xd, yd, alpha=alpha, sample_weight=swd)
    assert ours.n_classes == 4 and ours.n_params == mem.n_params
    w = mem.pack(theta)
    v = np.random.default_rng(0).standard_normal(len(w))
    c, g, H = ours.cost_gradient_hessian(w)
    c0, g0, H0 = mem.cost_gradient_hessian(w)
    assert rel(c, c0) < 1e-12 and rel(g, g0) < 1e-12 and rel(H, H0) < 1e-12
    assert rel(ours.cost(w + 0.1), mem.cost(w + 0.1)) < 1e-12
    assert rel(ours.hessp(w, v), mem.hessp(w, v)) < 1e-12
    assert rel(ours.curvature_bound(), mem.curvature_bound()) < 1e-9
    res = gdfast.minimize(ours, tol=1e-10)
    ref = gdfast.minimize(mem, tol=1e-10)
    assert res.status == ref.status == "converged" and rel(res.w, ref.w) < 1e-8


def test_one_graph_per_evaluation_and_x_never_gathered(client, monkeypatch):
    X, y, theta = make_multiclass(n=4000, d=6, K=3, seed=13)
    Xd, yd, _ = dask_data(client, X, y, chunks=(1000, 1000, 1000, 1000))
    x_keys = {str(k) for k in dask.core.flatten(Xd.__dask_keys__())}
    received = []
    real_gather = client._gather

    async def spy_gather(futures, *args, **kwargs):
        result = await real_gather(futures, *args, **kwargs)
        received.append(result)
        return result

    monkeypatch.setattr(client, "_gather", spy_gather)
    obj = DaskMultinomial(Xd, yd, alpha=0.1)
    sent_before = transfers(client)
    w = obj.pack(theta)
    DK = 7 * 3
    for evaluate, size in ((obj.cost, 1), (obj.cost_gradient, 1 + DK),
                           (obj.cost_gradient_hessian, 1 + DK + DK * DK),
                           (lambda v: obj.hessp(v, v), DK)):
        n_graphs = len(graphs_seen(client))
        received.clear()
        evaluate(w + 0.01 * len(graphs_seen(client)))      # a new point each time: no cache
        assert len(graphs_seen(client)) == n_graphs + 1
        arrays = [a for r in received for a in dask.core.flatten(r, container=(list, tuple))
                  if isinstance(a, np.ndarray)]
        assert arrays and max(a.size for a in arrays) == size
    moved = transfers(client, since=sent_before)
    assert not {str(k) for keys in moved for k in keys} & x_keys


def test_estimator_on_dask_equals_in_memory(client):
    X, y, _ = make_multiclass(n=500, d=4, K=3, seed=14)
    labels = np.array(["ant", "bee", "cat"])[y]
    sw = weights(len(y), seed=6)
    Xd, yd, swd = dask_data(client, X, labels, sw)
    for alpha in (0.0, 1e-2):
        ref = gdfast.LogisticRegression(alpha=alpha).fit(X, labels, sample_weight=sw)
        n_graphs = len(graphs_seen(client))
        ours = gdfast.LogisticRegression(alpha=alpha).fit(Xd, yd, sample_weight=swd)
        assert len(graphs_seen(client)) > n_graphs
        for name in ("coef_", "intercept_"):
            assert rel(getattr(ours, name), getattr(ref, name)) < 1e-8, name
        finite = np.isfinite(ref.coef_stderr_)
        assert np.array_equal(finite, np.isfinite(ours.coef_stderr_))
        assert rel(ours.coef_stderr_[finite], ref.coef_stderr_[finite]) < 1e-8
        proba = ours.predict_proba(Xd)
        assert rel(proba.compute(), ref.predict_proba(X)) < 1e-8
        assert str(ours.summary()).splitlines()[0] == str(ref.summary()).splitlines()[0]


def test_public_name_is_the_dask_multinomial_objective(client):
    # gdfast.dask exports it: the tests above run on the class this name refers to
    import gdfast.dask
    assert gdfast.dask.MultinomialObjective is DaskMultinomial
    assert "MultinomialObjective" in gdfast.dask.__all__
    X, y, theta = make_multiclass(n=500, d=3, K=3, seed=14)
    Xd, yd, _ = dask_data(client, X, y)
    obj = gdfast.dask.MultinomialObjective(Xd, yd, alpha=0.05)
    mem = gdfast.MultinomialObjective(X, y, alpha=0.05)
    w = mem.pack(theta)
    assert rel(obj.cost_gradient(w)[1], mem.cost_gradient(w)[1]) < 1e-12
