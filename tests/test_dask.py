"""gdfast.dask.Objective on a real dask.distributed LocalCluster (worker processes on loopback).

Against the in-memory gdfast.Objective: values to 1e-12 relative, Newton fits to 1e-8. The
data-movement tests count the graphs the scheduler receives per evaluation and read every
transfer the workers made and everything the client gathered.
"""
import subprocess
import sys

import dask
import dask.array as da
import numpy as np
import pytest
import scipy.optimize
from distributed import Client, LocalCluster
from distributed.diagnostics.plugin import SchedulerPlugin
from sklearn.exceptions import ConvergenceWarning

import gdfast
import gdfast.dask as gdd

from problems import TWEEDIES, make_problem

UNEQUAL = (37, 1, 120, 250, 92)           # 500 rows; one block of a single row


@pytest.fixture(scope="module")
def client():
    # Work stealing may move a freshly persisted block between the two workers before its run
    # time is known (worker to worker, never to the client); it is off here so that the test of
    # what moves is deterministic.
    with dask.config.set({"distributed.scheduler.work-stealing": False}):
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address=None)
        c = Client(cluster)
    c.register_plugin(GraphCounter())
    yield c
    c.close()
    cluster.close()


class GraphCounter(SchedulerPlugin):
    """Records the tasks of every graph the scheduler receives."""

    name = "gdfast-graph-counter"

    def __init__(self):
        self.graphs = []

    def update_graph(self, scheduler, *, keys, tasks, **kwargs):
        self.graphs.append([str(k) for k in tasks])


def graphs_seen(client):
    return client.run_on_scheduler(lambda dask_scheduler: list(
        dask_scheduler.plugins[GraphCounter.name].graphs))


def transfers(client, since=None):
    """Per worker, its log of outgoing transfers (to other workers and to the client): the
    keys sent and their sizes; with since (an earlier result), only the transfers made after it."""
    logs = client.run(lambda dask_worker: [dict(e["keys"]) for e in dask_worker.transfer_outgoing_log])
    if since is None:
        return logs
    return [keys for addr, log in logs.items() for keys in log[len(since.get(addr, [])):]]


def rel(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300)


def dask_data(client, X, y, sw=None, chunks=UNEQUAL):
    """X, y (and weights) as dask arrays persisted on the workers, split into the given blocks."""
    arrays = [da.from_array(X, chunks=(chunks, X.shape[1])), da.from_array(y, chunks=(chunks,))]
    if sw is not None:
        arrays.append(da.from_array(sw, chunks=(chunks,)))
    arrays = client.persist(arrays)
    return arrays + [None] * (3 - len(arrays))


def weights(n, seed=1):
    sw = np.random.default_rng(seed).uniform(0.1, 3.0, n)
    sw[::7] = 0.0                           # zero weights count as absent rows
    return sw


# ---------------------------------------------------------------------------------------------
# Values against the in-memory objective
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("loss", ["log_loss", "squared_error", "poisson", "gamma", "binomial",
                                  *TWEEDIES])
@pytest.mark.parametrize("fit_intercept,alpha,weighted", [(True, 0.0, False), (True, 0.3, True),
                                                          (False, 0.1, False), (False, 0.0, True)])
def test_values_match_in_memory(client, loss, fit_intercept, alpha, weighted):
    X, y, w = make_problem(n=500, d=6, loss=loss, seed=4)
    sw = weights(len(y)) if weighted else None
    Xd, yd, swd = dask_data(client, X, y, sw)
    kw = dict(loss=loss, alpha=alpha, fit_intercept=fit_intercept, sample_weight=sw)
    ref = gdfast.Objective(X, y, **kw)
    obj = gdd.Objective(Xd, yd, **{**kw, "sample_weight": swd})
    w = w if fit_intercept else w[:-1]
    v = np.random.default_rng(2).standard_normal(len(w))
    assert (obj.n_samples, obj.n_features, obj.n_params) == (ref.n_samples, ref.n_features, ref.n_params)
    assert (obj.loss, obj.alpha, obj.fit_intercept, obj.n_blocks) == (loss, alpha, fit_intercept, 5)
    assert rel(obj.weight_sum, sw.sum() if weighted else 500) < 1e-14
    assert obj.min_positive_weight == (sw[sw > 0].min() if weighted else 1.0)
    c, g, H = ref.cost_gradient_hessian(w)
    assert rel(obj.cost(w), c) < 1e-12
    assert rel(obj.gradient(w), g) < 1e-12
    assert rel(obj.hessian(w), H) < 1e-12
    if loss in ("gamma", "tweedie"):                     # the dispersion's Pearson chi^2
        assert rel(obj.pearson_chi2(w), ref.pearson_chi2(w)) < 1e-12
    else:
        assert obj.pearson_chi2(w) is None and ref.pearson_chi2(w) is None
    c2, g2 = obj.cost_gradient(w + 0.1)
    assert rel(c2, ref.cost(w + 0.1)) < 1e-12 and rel(g2, ref.gradient(w + 0.1)) < 1e-12
    c3, g3, H3 = obj.cost_gradient_hessian(w - 0.1)
    c4, g4, H4 = ref.cost_gradient_hessian(w - 0.1)
    assert rel(c3, c4) < 1e-12 and rel(g3, g4) < 1e-12 and rel(H3, H4) < 1e-12
    assert rel(obj.hessp(w, v), ref.hessp(w, v)) < 1e-12
    # The test can fail: a different w gives a different cost.
    assert rel(obj.cost(w + 1.0), c) > 1e-6


@pytest.mark.parametrize("loss", ["log_loss", "squared_error"])
def test_curvature_bound_matches_in_memory(client, loss):
    X, y, _ = make_problem(n=500, d=6, loss=loss, seed=5)
    X[:, 0] *= 3.0
    sw = weights(len(y))
    Xd, yd, swd = dask_data(client, X, y, sw)
    ref = gdfast.Objective(X, y, loss=loss, alpha=0.2, sample_weight=sw)
    obj = gdd.Objective(Xd, yd, loss=loss, alpha=0.2, sample_weight=swd)
    assert rel(obj.curvature_bound(), ref.curvature_bound()) < 1e-12
    assert rel(obj.curvature_bound(n_iter=3), ref.curvature_bound(n_iter=3)) < 1e-12


@pytest.mark.parametrize("loss", ["log_loss", "squared_error", "poisson", "gamma", *TWEEDIES])
@pytest.mark.parametrize("weighted", [False, True])
def test_newton_fit_matches_in_memory(client, loss, weighted):
    X, y, _ = make_problem(n=500, d=6, loss=loss, seed=6)
    sw = weights(len(y), seed=3) if weighted else None
    Xd, yd, swd = dask_data(client, X, y, sw)
    ref = gdfast.minimize(gdfast.Objective(X, y, loss=loss, alpha=1e-3, sample_weight=sw), method="newton")
    obj = gdd.Objective(Xd, yd, loss=loss, alpha=1e-3, sample_weight=swd)
    res = gdfast.minimize(obj, method="newton")
    assert res.status == "converged" and ref.status == "converged"
    assert rel(res.w, ref.w) < 1e-8
    assert rel(res.cost, ref.cost) < 1e-12
    # The optimum is a real one: the gradient there vanishes (relative to the start).
    assert np.max(np.abs(obj.gradient(res.w))) < 1e-8 * np.max(np.abs(obj.gradient(np.zeros(7))))


def test_newton_reports_separable_classes(client):
    """Log loss, alpha = 0, separable classes: the same "separated" result as in memory."""
    X, _, _ = make_problem(n=300, d=3, seed=19)
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(float)
    Xd, yd, _ = dask_data(client, X, y, chunks=(100, 1, 199))
    with pytest.warns(gdfast.SeparationWarning):
        ref = gdfast.minimize(gdfast.Objective(X, y), method="newton")
    with pytest.warns(gdfast.SeparationWarning):
        res = gdfast.minimize(gdd.Objective(Xd, yd), method="newton")
    assert res.status == ref.status == "separated"
    assert np.all((2 * y - 1) * (X @ res.w[:-1] + res.w[-1]) > 0)


def test_other_solvers_through_the_contract(client):
    """scipy's L-BFGS over cost_gradient and Newton-CG over hessp reach the in-memory optimum."""
    X, y, _ = make_problem(n=500, d=6, seed=7)
    Xd, yd, _ = dask_data(client, X, y)
    obj = gdd.Objective(Xd, yd, alpha=1e-2)
    best = gdfast.minimize(gdfast.Objective(X, y, alpha=1e-2), method="newton").w
    lb = scipy.optimize.minimize(obj.cost_gradient, np.zeros(7), jac=True, method="L-BFGS-B",
                                 options={"gtol": 1e-10, "ftol": 0})
    assert rel(lb.x, best) < 1e-5
    ncg = scipy.optimize.minimize(obj.cost, np.zeros(7), jac=obj.gradient, hessp=obj.hessp,
                                  method="Newton-CG", options={"xtol": 1e-12})
    assert rel(ncg.x, best) < 1e-5


@pytest.mark.parametrize("method", ["gd", "nesterov", "lbfgs", "newton-cg", "auto"])
def test_gdfast_solvers_run_unchanged_on_dask(client, method):
    """gdfast.minimize's methods over the Objective contract alone reach the in-memory optimum."""
    X, y, _ = make_problem(n=500, d=5, seed=8)
    Xd, yd, _ = dask_data(client, X, y)
    obj = gdd.Objective(Xd, yd, alpha=1e-2)
    best = gdfast.minimize(gdfast.Objective(X, y, alpha=1e-2), method="newton", tol=1e-12)
    res = gdfast.minimize(obj, method=method, tol=1e-8, max_iter=2000)
    assert res.converged, res.message
    assert res.cost == pytest.approx(best.cost, rel=1e-10)
    assert rel(res.w, best.w) < 1e-5


def test_objective_errors_inside_the_compiled_loop_propagate():
    """An exception raised by an objective's cost_gradient inside the nogil loop is re-raised."""
    class Failing:
        n_params, n_samples, n_features, loss, alpha = 3, 10, 2, "squared_error", 0.0
        sample_weight, n_threads = None, None

        def __init__(self):
            self.calls = 0

        def cost_gradient(self, w):
            self.calls += 1
            if self.calls > 3:
                raise RuntimeError("worker lost")
            return float(w @ w), 2 * w

        def gradient(self, w):
            return 2 * np.asarray(w)

        def curvature_bound(self):
            return 2.0

    with pytest.raises(RuntimeError, match="worker lost"):
        gdfast.minimize(Failing(), method="gd", w0=np.ones(3), learning_rate=0.1)


def test_float32_stays_float32(client):
    """float32 blocks are read as float32 by the kernels.

    Each kernel sums float32 rows in float within a 256-row block; blocks of a multiple of 256 rows
    give those same sums (1e-12); other boundaries change them at float's rounding (1e-6).
    """
    X, y, w = make_problem(n=1024, d=5, dtype=np.float32, seed=8)
    ref = gdfast.Objective(X, y, alpha=0.1)
    c, g, H = ref.cost_gradient_hessian(w)
    for chunks, tol in [((512, 256, 256), 1e-12), ((300, 1, 723), 1e-6)]:
        Xd, yd, _ = dask_data(client, X, y, chunks=chunks)
        assert Xd.dtype == np.float32
        obj = gdd.Objective(Xd, yd, alpha=0.1)
        assert obj.dtype == np.float32
        c2, g2, H2 = obj.cost_gradient_hessian(w)
        assert rel(c2, c) < tol and rel(g2, g) < tol and rel(H2, H) < tol
    dtypes = dask.compute([dask.delayed(lambda b: b.X.dtype)(b) for b in obj._blocks])[0]
    assert dtypes == [np.float32] * 3
    # tol suited to float32 data: rows summed in float put a floor of about 1e-7 under the gradient.
    res = gdfast.minimize(obj, method="newton", tol=1e-5)
    ref_res = gdfast.minimize(ref, method="newton", tol=1e-5)
    assert res.status == ref_res.status == "converged"
    assert rel(res.w, ref_res.w) < 1e-5


def test_follows_the_public_contract_only(client):
    X, y, w = make_problem(n=50, d=3, seed=9)
    obj = gdd.Objective(*dask_data(client, X, y, chunks=(25, 25))[:2])
    assert not hasattr(obj, "_kernel")
    out = obj.cost_gradient_hessian(w)
    assert isinstance(out[0], float) and out[1].dtype == np.float64 and out[2].shape == (4, 4)
    assert "n_blocks=2" in repr(obj)


# ---------------------------------------------------------------------------------------------
# What moves: one graph per evaluation; X never reaches the client
# ---------------------------------------------------------------------------------------------

def test_one_graph_per_evaluation_and_x_never_gathered(client, monkeypatch):
    X, y, w = make_problem(n=4000, d=8, seed=10)
    Xd, yd, _ = dask_data(client, X, y, chunks=(1000, 1000, 1000, 1000))
    x_keys = {str(k) for k in dask.core.flatten(Xd.__dask_keys__())}
    received = []                          # what every gather brought to the client
    real_gather = client._gather

    async def spy_gather(futures, *args, **kwargs):
        result = await real_gather(futures, *args, **kwargs)
        received.append(result)
        return result

    monkeypatch.setattr(client, "_gather", spy_gather)
    sent_before = transfers(client)
    obj = gdd.Objective(Xd, yd, loss="log_loss", alpha=0.1, speculate=False)
    block_keys = {str(b.key) for b in obj._blocks}
    # Construction may move a block of y next to its block of X (8 kB here), never X itself.
    moved = transfers(client, since=sent_before)
    assert not {str(k) for keys in moved for k in keys} & (x_keys | block_keys)
    sent_before = transfers(client)
    D = obj.n_params
    evaluations = [("cost", lambda v: obj.cost(v), 1), ("cost_gradient", obj.cost_gradient, 1 + D),
                   ("cost_gradient_hessian", obj.cost_gradient_hessian, 1 + D + D * D),
                   ("hessp", lambda v: obj.hessp(v, v), D)]
    for i, (name, evaluate, numbers) in enumerate(evaluations):
        n_graphs = len(graphs_seen(client))
        received.clear()
        evaluate(w + i)
        graphs = graphs_seen(client)[n_graphs:]
        assert len(graphs) == 1, f"{name}: {len(graphs)} graph computations"
        # The graph holds one task per worker (over the blocks it holds) and the reduction, and
        # refers to the persisted blocks: nothing recomputes or reloads X.
        new_tasks = set(graphs[0]) - block_keys
        assert len(obj._groups) == 2 and sorted(map(len, obj._groups)) == [2, 2]
        assert len(new_tasks) == len(obj._groups) + 1, graphs[0]
        assert not new_tasks & x_keys
        # What reached the client: the packed sums, nothing else.
        arrays = [a for r in received for a in dask.core.flatten(r, container=(list, tuple, dict))
                  if isinstance(a, np.ndarray)]
        assert [a.size for a in arrays] == [numbers], name
    small = 8 * (1 + D + D * D) + 512                      # the largest partial sum, with room
    assert X.nbytes // 4 > 10 * small                      # one block of X would be noticed
    moved = transfers(client, since=sent_before)
    moved_keys = {str(k) for keys in moved for k in keys}
    assert not moved_keys & (x_keys | block_keys), "a block of X left its worker"
    assert all(n <= small for keys in moved for n in keys.values()), moved
    # Construction itself ran one graph and gathered only the blocks' row counts and weight sums.
    assert obj.n_computations == 1 + len(evaluations)


def test_speculation_saves_the_round_trip_after_a_line_search(client):
    X, y, w = make_problem(n=300, d=4, seed=11)
    obj = gdd.Objective(*dask_data(client, X, y, chunks=(100, 200))[:2])
    ref = gdfast.Objective(X, y)
    obj.cost_gradient_hessian(w)
    n = obj.n_computations
    c = obj.cost(w + 0.5)                  # computes the Hessian too, in the same pass
    c2, g2, H2 = obj.cost_gradient_hessian(w + 0.5)
    assert obj.n_computations == n + 1
    c3, g3, H3 = ref.cost_gradient_hessian(w + 0.5)
    assert c == c2 and rel(c2, c3) < 1e-12 and rel(g2, g3) < 1e-12 and rel(H2, H3) < 1e-12
    res = gdfast.minimize(obj, method="newton")
    # Newton: one graph per iteration, plus the start's gradient scale, the first Hessian and
    # the final check for separable classes (log loss, alpha = 0).
    assert obj.n_computations - n - 1 <= res.n_iter + 4


def test_persist_false_rereads_x_each_evaluation(client):
    X, y, w = make_problem(n=400, d=4, seed=12)
    Xd, yd, _ = dask_data(client, X, y, chunks=(150, 250))
    obj = gdd.Objective(Xd * 1.0, yd, persist=False)      # an unpersisted graph on top of X
    ref = gdfast.Objective(X, y)
    n_graphs = len(graphs_seen(client))
    assert rel(obj.cost_gradient(w)[1], ref.gradient(w)) < 1e-12
    graphs = graphs_seen(client)[n_graphs:]
    assert len(obj._groups) == obj.n_blocks == 2                       # one task per block
    assert len(graphs) == 1 and len(graphs[0]) > obj.n_blocks + 1      # X's graph rides along


def test_files_read_on_the_workers_without_persisting(client, tmp_path):
    """The README's out-of-memory recipes: an npy stack, and blocks of a memory-mapped .npy."""
    X, y, w = make_problem(n=600, d=5, dtype=np.float32, seed=18)
    da.to_npy_stack(tmp_path / "X", da.from_array(X, chunks=(256, 5)))
    np.save(tmp_path / "X.npy", X)
    ref = gdfast.Objective(X, y, alpha=0.1)

    def rows(path, start, stop):
        return np.load(path, mmap_mode="r")[start:stop]

    path = str(tmp_path / "X.npy")
    mapped = da.concatenate([da.from_delayed(dask.delayed(rows)(path, a, min(a + 256, 600)),
                                             shape=(min(a + 256, 600) - a, 5), dtype=np.float32)
                             for a in range(0, 600, 256)])
    for Xd in (da.from_npy_stack(tmp_path / "X", mmap_mode="r"), mapped):
        obj = gdd.Objective(Xd, da.from_array(y, chunks=(Xd.chunks[0],)), alpha=0.1, persist=False)
        assert obj.dtype == np.float32
        c, g = obj.cost_gradient(w)
        assert rel(c, ref.cost(w)) < 1e-12 and rel(g, ref.gradient(w)) < 1e-12


def test_local_scheduler_without_a_cluster():
    X, y, w = make_problem(n=300, d=4, loss="squared_error", seed=13)
    with dask.config.set(scheduler="synchronous"):
        obj = gdd.Objective(da.from_array(X, chunks=(100, 4)), y, loss="squared_error")
        assert rel(obj.hessian(w), gdfast.Objective(X, y, loss="squared_error").hessian(w)) < 1e-12


# ---------------------------------------------------------------------------------------------
# Shapes, blocks and bad input
# ---------------------------------------------------------------------------------------------

def test_column_blocks_unknown_sizes_and_in_memory_y(client):
    X, y, w = make_problem(n=300, d=6, seed=14)
    ref = gdfast.Objective(X, y, alpha=0.1)
    Xd = client.persist(da.from_array(X, chunks=(70, 2)))          # columns split in three
    obj = gdd.Objective(Xd, y, alpha=0.1)                          # y in memory
    assert rel(obj.cost_gradient(w)[1], ref.gradient(w)) < 1e-12
    yd = da.from_array(y, chunks=120)                              # other row blocks than X
    assert rel(gdd.Objective(Xd, yd, alpha=0.1).cost(w), ref.cost(w)) < 1e-12
    # Unknown chunk sizes (a boolean mask): blocks pair up with y's.
    keep = np.random.default_rng(0).random(300) < 0.6
    keep_d = da.from_array(keep, chunks=70)
    Xm, ym = Xd[keep_d], da.from_array(y, chunks=70)[keep_d]
    assert np.isnan(Xm.shape[0])
    obj = gdd.Objective(Xm, ym, alpha=0.1)
    assert obj.n_samples == keep.sum()
    assert rel(obj.cost_gradient(w)[1], gdfast.Objective(X[keep], y[keep], alpha=0.1).gradient(w)) < 1e-12


def test_scalar_weight_is_unweighted(client):
    X, y, w = make_problem(n=100, d=3, seed=15)
    Xd, yd, _ = dask_data(client, X, y, chunks=(50, 50))
    assert rel(gdd.Objective(Xd, yd, sample_weight=2.5).cost(w), gdfast.Objective(X, y).cost(w)) < 1e-12
    with pytest.raises(ValueError, match="sample_weight"):
        gdd.Objective(Xd, yd, sample_weight=0.0)


def test_errors_name_the_argument(client):
    X, y, _ = make_problem(n=100, d=3, seed=16)
    Xd, yd, _ = dask_data(client, X, y, chunks=(40, 60))
    with pytest.raises(TypeError, match="X must be a dask array.*numpy"):
        gdd.Objective(X, yd)
    with pytest.raises(ValueError, match="X must be 2-D"):
        gdd.Objective(Xd[:, 0], yd)
    with pytest.raises(ValueError, match="y has 99 rows but X has 100"):
        gdd.Objective(Xd, yd[:99])
    with pytest.raises(ValueError, match="y must be 1-D"):
        gdd.Objective(Xd, yd[:, None])
    with pytest.raises(ValueError, match="loss must be one of"):
        gdd.Objective(Xd, yd, loss="hinge")
    with pytest.raises(TypeError, match="X must be numeric"):
        gdd.Objective(da.from_array(np.array([["a"]] * 100), chunks=50), yd)
    bad_y = y.copy()
    bad_y[70] = 2.0
    with pytest.raises(ValueError, match=r"y must hold labels 0 and 1.*rows 40:100"):
        gdd.Objective(Xd, da.from_array(bad_y, chunks=(40, 60)))
    bad_X = X.copy()
    bad_X[5, 1] = np.nan
    with pytest.raises(ValueError, match=r"X contains NaN or infinity.*rows 0:40"):
        gdd.Objective(da.from_array(bad_X, chunks=(40, 3)), yd)
    with pytest.raises(ValueError, match="sample_weight must be non-negative"):
        gdd.Objective(Xd, yd, sample_weight=-np.ones(100))
    with pytest.raises(ValueError, match="sample_weight sums to zero"):
        gdd.Objective(Xd, yd, sample_weight=da.zeros(100, chunks=50))
    with pytest.raises(ValueError, match="sample_weight has 3 rows"):
        gdd.Objective(Xd, yd, sample_weight=np.ones(3))
    keep = da.from_array(np.arange(100) % 2 == 0, chunks=40)
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        gdd.Objective(Xd[keep], y)
    obj = gdd.Objective(Xd, yd)
    with pytest.raises(ValueError, match="w has length 3, expected 4"):
        obj.cost(np.zeros(3))
    with pytest.raises(ValueError, match="v has length"):
        obj.hessp(np.zeros(4), np.zeros(5))


# ---------------------------------------------------------------------------------------------
# Helpers for estimators; import hygiene
# ---------------------------------------------------------------------------------------------

def test_fit_objective_and_predictions(client):
    X, y, _ = make_problem(n=400, d=5, seed=17)
    Xd, yd, _ = dask_data(client, X, y, chunks=(100, 300))
    obj, res = gdd.fit_objective(Xd, yd, loss="log_loss", alpha=1e-2)
    ref = gdfast.minimize(gdfast.Objective(X, y, alpha=1e-2), method="newton")
    assert isinstance(obj, gdd.Objective) and res.method == "newton"
    assert rel(res.w, ref.w) < 1e-8
    z = gdd.linear_predictor(Xd, res.w[:-1], res.w[-1])
    assert gdd.is_dask_array(z) and not gdd.is_dask_array(X)
    assert rel(z.compute(), X @ ref.w[:-1] + ref.w[-1]) < 1e-8
    assert obj.separates(res.w) is False
    Xs = np.vstack([X[:, :1] - 5, X[:, :1] + 5])                      # separable by x > 0
    ys = np.r_[np.zeros(400), np.ones(400)]
    sep = gdd.Objective(da.from_array(Xs, chunks=(300, 1)), ys)
    assert sep.separates(np.array([1.0, 0.0])) is True


def test_encode_labels(client):
    labels = np.array(["b", "a", "c", "a", "b", "b"])
    classes, targets = gdd.encode_labels(da.from_array(labels, chunks=4))
    assert classes.tolist() == ["a", "b", "c"] and len(targets) == 3
    assert dask.compute(*targets)[1].tolist() == [1.0, 0, 0, 0, 1, 1]
    classes, targets = gdd.encode_labels(da.from_array(np.array([3, 7, 7]), chunks=2))
    assert classes.tolist() == [3, 7] and targets[0].compute().tolist() == [0.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="at least 2 classes"):
        gdd.encode_labels(da.ones(5, chunks=2))


def test_import_gdfast_needs_no_dask():
    code = ("import sys, gdfast, gdfast.dask as g; "
            "assert not [m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')]; "
            "assert g.is_dask_array([1]) is False; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.splitlines()[-1] == "ok", out.stderr


# ---------------------------------------------------------------------------------------------
# The estimators on dask arrays
# ---------------------------------------------------------------------------------------------

def three_classes(X, seed=0):
    """String labels of three classes drawn from a multinomial logit model on X."""
    rng = np.random.default_rng(seed)
    z = X @ rng.standard_normal((X.shape[1], 3)) + rng.gumbel(size=(X.shape[0], 3))
    return np.array(["ant", "bee", "cat"])[np.argmax(z, axis=1)]


ESTIMATOR_CASES = {"binary": "log_loss", "3-class": "log_loss", "regression": "squared_error",
                   "poisson": "poisson", "gamma": "gamma"}
REGRESSION_CASES = ("regression", "poisson", "gamma")


def estimator_case(case, seed):
    from gdfast import (GammaRegressor, LinearRegression, LogisticRegression,
                        PoissonRegressor)
    X, y, _ = make_problem(n=500, d=5, loss=ESTIMATOR_CASES[case], seed=seed)
    if case == "3-class":
        y = three_classes(X, seed)
    elif case == "binary":
        y = np.where(y == 1, "yes", "no")
    Estimator = {"regression": LinearRegression, "poisson": PoissonRegressor,
                 "gamma": GammaRegressor}.get(case, LogisticRegression)
    return Estimator, X, y


def assert_same_fit(ours, ref, rtol=1e-8):
    for name in ("coef_", "intercept_", "coef_stderr_", "intercept_stderr_"):
        assert rel(getattr(ours, name), getattr(ref, name)) < rtol, name
    assert np.all(np.isfinite(ours.coef_stderr_))
    assert ours.n_features_in_ == ref.n_features_in_
    assert np.array_equal(ours.status_, ref.status_)


@pytest.mark.parametrize("case", list(ESTIMATOR_CASES))
@pytest.mark.parametrize("weighted", [False, True])
def test_estimators_on_dask_equal_in_memory(client, case, weighted):
    Estimator, X, y = estimator_case(case, seed=30)
    sw = weights(len(y), seed=4) if weighted else None
    Xd, yd, swd = dask_data(client, X, y, sw)
    ref = Estimator(alpha=1e-3).fit(X, y, sample_weight=sw)
    n_graphs = len(graphs_seen(client))
    ours = Estimator(alpha=1e-3).fit(Xd, yd, sample_weight=swd)
    assert len(graphs_seen(client)) > n_graphs                  # fitted on the cluster
    assert_same_fit(ours, ref)
    if case not in REGRESSION_CASES:
        assert np.array_equal(ours.classes_, ref.classes_) and ours.coef_.shape == ref.coef_.shape
    assert str(ours.summary()).splitlines()[0] == str(ref.summary()).splitlines()[0]
    # the same standard errors (the expected information, formed on the workers for the Gamma)
    np.testing.assert_allclose(ours.coef_stderr_, ref.coef_stderr_, rtol=1e-6)
    # Predictions on dask X are lazy (no computation until asked) and equal the in-memory ones.
    methods = (["predict"] if case in REGRESSION_CASES else
               ["predict", "decision_function", "predict_proba", "predict_log_proba"])
    n_graphs = len(graphs_seen(client))
    lazy = {m: getattr(ours, m)(Xd) for m in methods}
    assert len(graphs_seen(client)) == n_graphs
    for m, value in lazy.items():
        assert gdd.is_dask_array(value), m
        expected = getattr(ref, m)(X)
        got = value.compute()
        assert got.shape == expected.shape and got.dtype == expected.dtype, m
        if m == "predict" and case not in REGRESSION_CASES:
            assert np.array_equal(got, expected)
        else:
            assert rel(got, expected) < (1e-8 if case in ("poisson", "gamma") else 1e-12), m
    # ... and on numpy X, numpy arrays as before
    assert isinstance(ours.predict(X), np.ndarray)
    regression = case in REGRESSION_CASES
    assert rel(ours.predict(X) if regression else ours.decision_function(X),
               ref.predict(X) if regression else ref.decision_function(X)) < 1e-8


def sent_to_the_client(client):
    """Per worker, the number of transfers it has made so far, and a function giving the keys
    and sizes of those made since then that went to the client (not to another worker)."""
    def logs():
        return client.run(lambda dask_worker: [(e["who"], dict(e["keys"]))
                                               for e in dask_worker.transfer_outgoing_log])

    workers = set(client.scheduler_info()["workers"])
    before = {addr: len(log) for addr, log in logs().items()}

    def since():
        return [keys for addr, log in logs().items() for who, keys in log[before.get(addr, 0):]
                if who not in workers]
    return since


def test_estimator_fit_never_gathers_x(client, monkeypatch):
    """A one-vs-rest fit with class and sample weights, standard errors included: only sums,
    labels and class totals reach the client, never a block of X."""
    from gdfast import LogisticRegression
    X, _, _ = make_problem(n=4000, d=8, seed=31)
    y = three_classes(X, seed=31)
    sw = weights(len(y), seed=5)
    Xd, yd, swd = dask_data(client, X, y, sw, chunks=(1000, 1000, 1000, 1000))
    x_keys = {str(k) for k in dask.core.flatten(Xd.__dask_keys__())}
    received = []                          # what every gather brought to the client
    real_gather = client._gather

    async def spy_gather(futures, *args, **kwargs):
        result = await real_gather(futures, *args, **kwargs)
        received.append(result)
        return result

    def arrays_received():
        return [a for r in received for a in dask.core.flatten(r, container=(list, tuple, dict))
                if isinstance(a, np.ndarray)]

    monkeypatch.setattr(client, "_gather", spy_gather)
    sent = sent_to_the_client(client)
    n_graphs = len(graphs_seen(client))
    clf = LogisticRegression(alpha=1e-3, class_weight="balanced",
                             multi_class="ovr").fit(Xd, yd, sample_weight=swd)
    ref = LogisticRegression(alpha=1e-3, class_weight="balanced",
                             multi_class="ovr").fit(X, y, sample_weight=sw)
    assert_same_fit(clf, ref)
    assert len(graphs_seen(client)) - n_graphs > np.sum(clf.n_iter_)      # fitted on the cluster
    # What reached the client: sums (at most a Hessian's 1 + D + D^2 numbers), labels, totals.
    D = clf.coef_.shape[1] + 1
    small = 1 + D + D * D
    assert Xd.blocks[0].size > 50 * small                  # one block of X would be noticed
    assert arrays_received() and max(a.size for a in arrays_received()) <= small
    moved = sent()
    assert moved and not {str(k) for keys in moved for k in keys} & x_keys
    assert all(n <= 8 * small + 512 for keys in moved for n in keys.values()), moved
    # The test can fail: computing the predictions brings n numbers per class back.
    received.clear()
    clf.predict_proba(Xd).compute()
    assert max(a.size for a in arrays_received()) >= 3 * 4000


def test_estimators_on_dask_with_in_memory_targets_and_other_solvers(client):
    """y and sample_weight in memory beside a dask X; the Hessian-free and first-order solvers
    run on the cluster; warm starts reuse the previous fit."""
    from gdfast import LinearRegression, LogisticRegression
    X, y, _ = make_problem(n=500, d=5, seed=32)
    sw = weights(len(y), seed=6)
    Xd = dask_data(client, X, y)[0]
    ref = LogisticRegression(alpha=1e-2, class_weight={1.0: 2.0}).fit(X, y, sample_weight=sw)
    ours = LogisticRegression(alpha=1e-2, class_weight={1.0: 2.0}).fit(Xd, y, sample_weight=sw)
    assert_same_fit(ours, ref)
    for solver in ("lbfgs", "newton-cg"):
        other = LogisticRegression(alpha=1e-2, solver=solver, tol=1e-9, max_iter=3000).fit(Xd, y)
        best = LogisticRegression(alpha=1e-2, tol=1e-12).fit(X, y)
        assert other.status_[0] == "converged", solver
        assert rel(other.coef_, best.coef_) < 1e-6, solver
    reg = LinearRegression(solver="gd", alpha=1e-2, learning_rate=0.05, max_iter=3, tol=0.0)
    with pytest.warns(ConvergenceWarning):
        reg.fit(Xd, y)
    np.testing.assert_allclose(reg.history_["step"][:-1], 0.05)      # learning_rate reached gd
    reg.set_params(solver="newton", warm_start=True, tol=1e-8, max_iter=None).fit(Xd, y, sample_weight=2.0)
    assert rel(reg.coef_, LinearRegression(alpha=1e-2).fit(X, y).coef_) < 1e-8
    # A scalar weight counts every row that many times, as in memory.
    assert reg._fit_info_.total_weight == 1000.0


def test_estimators_on_dask_errors_name_the_argument(client):
    from gdfast import LinearRegression, LogisticRegression
    X, y, _ = make_problem(n=100, d=3, seed=33)
    Xd, yd, _ = dask_data(client, X, y, chunks=(40, 60))
    for solver in ("sgd", "adam"):
        with pytest.raises(ValueError, match=rf"solver='{solver}'.*does not run on dask arrays.*'auto'"):
            LogisticRegression(solver=solver).fit(Xd, yd)
    with pytest.raises(ValueError, match="solver='nope' is not a gdfast.minimize method"):
        LinearRegression(solver="nope").fit(Xd, yd)
    with pytest.raises(ValueError, match="X must be 2-D"):
        LinearRegression().fit(Xd[:, 0], yd)
    with pytest.raises(TypeError, match="X must be numeric"):
        LinearRegression().fit(da.from_array(np.array([["a"]] * 100), chunks=50), yd)
    with pytest.raises(ValueError, match="y needs at least 2 classes"):
        LogisticRegression().fit(Xd, da.ones(100, chunks=50))
    with pytest.raises(ValueError, match="Unknown label type"):
        LogisticRegression().fit(Xd, yd + 0.5 * da.arange(100, chunks=50))
    with pytest.raises(ValueError, match="at least 2 classes with positive weight.*got 1 class"):
        LogisticRegression().fit(Xd, yd, sample_weight=1.0 - yd)
    with pytest.raises(ValueError, match="sample_weight must be non-negative"):
        LogisticRegression().fit(Xd, yd, sample_weight=yd - 0.5)
    with pytest.raises(ValueError, match="sample_weight must be non-negative"):
        LinearRegression().fit(Xd, yd, sample_weight=yd - 0.5)
    with pytest.raises(ValueError, match="y has 99 rows but X has 100"):
        LinearRegression().fit(Xd, yd[:99])
    with pytest.raises(ValueError, match="class_weight has labels that are not in y"):
        LogisticRegression(class_weight={7: 1.0}).fit(Xd, yd)
    clf = LogisticRegression().fit(Xd, yd)
    with pytest.raises(ValueError, match="X has 2 features, but LogisticRegression is expecting 3"):
        clf.predict(Xd[:, :2])
    with pytest.raises(ValueError, match="X has 2 features, but LogisticRegression is expecting 3"):
        clf.predict(X[:, :2])


def test_import_gdfast_estimators_needs_no_dask():
    code = ("import sys, numpy as np, gdfast, gdfast.estimators; "
            "X = np.random.default_rng(0).standard_normal((50, 2)); "
            "clf = gdfast.LogisticRegression().fit(X, X[:, 0] > 0); clf.predict(X); "
            "gdfast.LinearRegression().fit(X, X[:, 1]).predict(X); "
            "assert not [m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')]; "
            "print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.splitlines()[-1] == "ok", out.stderr


@pytest.mark.parametrize("name", ["Longley", "Wampler1", "Wampler3", "Wampler5"])
def test_least_squares_on_dask_reach_the_exact_solution(client, name):
    from test_accuracy import check_digits, oracle
    X, y, exact, exact_se, rss = oracle(name)
    obj = gdd.Objective(da.from_array(X, chunks=(5, -1)), da.from_array(y, chunks=5),
                        loss="squared_error")
    res = gdfast.minimize(obj)
    assert res.converged, res.message
    check_digits(name, res.w, gdfast.stats.standard_errors(obj, res.w), exact, exact_se, rss)
    model = gdfast.LinearRegression().fit(da.from_array(X, chunks=(7, -1)), da.from_array(y, chunks=7))
    check_digits(name, np.r_[model.coef_, model.intercept_],
                 np.r_[model.coef_stderr_, model.intercept_stderr_], exact, exact_se, rss)
