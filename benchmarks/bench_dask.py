"""gdfast.dask against dask-glm and in-memory gdfast, on one LocalCluster and one data set.

Logistic regression without a penalty (so every solver has the same optimum) on X of
n x d standard normals generated on the workers, y drawn from a logistic model. dask-glm gets
X with a column of ones appended (its solvers have no intercept of their own); gdfast fits
the intercept. For every run: the wall time, the graph computations (round trips to the
scheduler), the bytes the workers sent (to each other and to the client), and how far the
answer is from the in-memory Newton optimum.

Run (a script, not a pytest module; it needs the bench extra: dask, distributed, dask-glm)::

    python benchmarks/bench_dask.py [--n 400000] [--d 20] [--chunk 50000] [--repeat 3]
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
import warnings
from typing import Any, Callable


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=400_000)
    parser.add_argument("--d", type=int, default=20)
    parser.add_argument("--chunk", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each fast fit (median kept)")
    parser.add_argument("--gd-iter", type=int, default=100, help="dask-glm gradient_descent max_iter")
    args = parser.parse_args(argv)

    import dask
    import dask.array as da
    import numpy as np
    import scipy.optimize
    from distributed import Client, LocalCluster
    from distributed.diagnostics.plugin import SchedulerPlugin

    import dask_glm
    from dask_glm.algorithms import gradient_descent, lbfgs, newton
    from dask_glm.families import Logistic

    import gdfast
    import gdfast.dask as gdd

    warnings.simplefilter("ignore", FutureWarning)
    warnings.simplefilter("ignore", RuntimeWarning)      # dask-glm's exp overflows in its line search

    class Graphs(SchedulerPlugin):
        name = "bench-graphs"

        def __init__(self) -> None:
            self.count = 0

        def update_graph(self, scheduler: Any, **kwargs: Any) -> None:
            self.count += 1

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None)
    client = Client(cluster)
    client.register_plugin(Graphs())

    def counters() -> tuple[int, int]:
        graphs = client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.plugins["bench-graphs"].count)
        sent = client.run(lambda dask_worker: dask_worker.transfer_outgoing_bytes_total)
        return graphs, sum(sent.values())

    n, d, chunk = args.n, args.d, args.chunk
    rng = da.random.default_rng(0)
    X = rng.standard_normal((n, d), chunks=(chunk, d))
    w_true = np.random.default_rng(1).standard_normal(d + 1) / np.sqrt(d)
    p = 1.0 / (1.0 + da.exp(-(X @ w_true[:-1] + w_true[-1])))
    y = (da.random.default_rng(2).random(n, chunks=chunk) < p).astype(np.float64)
    X1 = da.concatenate([X, da.ones((n, 1), chunks=(chunk, 1))], axis=1).rechunk({1: -1})
    X, y, X1 = client.persist([X, y, X1])
    Xm, ym = dask.compute(X, y)                # the in-memory copy, for gdfast.Objective
    mem = gdfast.Objective(Xm, ym, loss="log_loss")

    rows: list[dict[str, Any]] = []

    def run(name: str, fit: Callable[[], tuple[np.ndarray, Any]], repeat: int) -> None:
        times, w, info = [], None, None
        for _ in range(repeat):
            g0, b0 = counters()
            t0 = time.perf_counter()
            w, info = fit()
            times.append(time.perf_counter() - t0)
            g1, b1 = counters()
        rows.append(dict(name=name, time=statistics.median(times), times=times, graphs=g1 - g0,
                         bytes=b1 - b0, w=np.asarray(w), info=info))
        print(f"{name}: {statistics.median(times):.3f} s, {g1 - g0} graphs, {b1 - b0} bytes", flush=True)

    def gdfast_memory() -> tuple[np.ndarray, Any]:
        res = gdfast.minimize(gdfast.Objective(Xm, ym, loss="log_loss"), method="newton")
        return res.w, f"{res.n_iter} iterations, {res.status}"

    objs: list[Any] = []

    def gdfast_dask_newton() -> tuple[np.ndarray, Any]:
        obj = gdd.Objective(X, y, loss="log_loss")
        res = gdfast.minimize(obj, method="newton")
        objs.append(obj)
        return res.w, f"{res.n_iter} iterations, {res.status}"

    def gdfast_dask_lbfgs() -> tuple[np.ndarray, Any]:
        obj = gdd.Objective(X, y, loss="log_loss")
        # gtol on the mean's gradient; dask-glm's pgtol=1e-4 is on the sum's (n times larger).
        res = scipy.optimize.minimize(obj.cost_gradient, np.zeros(d + 1), jac=True, method="L-BFGS-B",
                                      options={"gtol": 1e-4 / n, "maxiter": 100})
        return res.x, f"{res.nit} iterations, scipy L-BFGS-B"

    def glm_newton() -> tuple[np.ndarray, Any]:
        return np.asarray(newton(X1, y, family=Logistic)), "dask-glm defaults (tol=1e-8 on the step)"

    def glm_lbfgs() -> tuple[np.ndarray, Any]:
        return np.asarray(lbfgs(X1, y, family=Logistic)), "dask-glm defaults (pgtol=1e-4 on the sum)"

    def glm_gd() -> tuple[np.ndarray, Any]:
        beta = gradient_descent(X1, y, family=Logistic, max_iter=args.gd_iter)
        return np.asarray(beta), f"max_iter={args.gd_iter}"

    # Warm-up: start the workers' imports (gdfast, dask-glm's numba) outside the timings.
    gdd.Objective(X, y).cost(np.zeros(d + 1))
    newton(X1, y, family=Logistic, max_iter=1)

    run("gdfast in memory, newton (2 threads)", gdfast_memory, args.repeat)
    run("gdfast.dask newton (incl. construction)", gdfast_dask_newton, args.repeat)
    # The fit alone, on an objective already built (blocks validated and persisted).
    obj = objs[-1]
    run("gdfast.dask newton (fit only)",
        lambda: (gdfast.minimize(obj, method="newton").w, "built objective"), args.repeat)
    run("gdfast.dask + scipy L-BFGS-B", gdfast_dask_lbfgs, 1)
    run("dask-glm newton", glm_newton, args.repeat)
    run("dask-glm lbfgs", glm_lbfgs, 1)
    run("dask-glm gradient_descent", glm_gd, 1)

    best = rows[0]["w"]
    cost_best = mem.cost(best)
    base = next(r["time"] for r in rows if r["name"] == "dask-glm newton")
    print()
    print(f"n = {n}, d = {d}, chunks of {chunk} rows ({-(-n // chunk)} blocks), log loss, alpha = 0")
    print(f"machine: {_cpu()}, {os.cpu_count()} cores (shared), load average "
          f"{open('/proc/loadavg').read().split()[:3]}")
    print(f"versions: gdfast {gdfast.__version__}, dask {dask.__version__}, "
          f"dask-glm {getattr(dask_glm, '__version__', '?')}, numpy {np.__version__}")
    print(f"cluster: LocalCluster(n_workers=2, threads_per_worker=1, processes=True), loopback")
    print()
    print("| run | time (s) | vs dask-glm newton | round trips | bytes sent by workers | "
          "bytes / round trip | rel. distance to optimum | cost - optimum | notes |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        dist = np.linalg.norm(r["w"] - best) / np.linalg.norm(best)
        per = r["bytes"] / r["graphs"] if r["graphs"] else 0.0
        print(f"| {r['name']} | {r['time']:.3f} | {base / r['time']:.1f}x | {r['graphs']} | "
              f"{r['bytes']:,} | {per:,.0f} | {dist:.1e} | {mem.cost(r['w']) - cost_best:.1e} | "
              f"{r['info']}; runs: {', '.join(f'{t:.2f}' for t in r['times'])} |")
    client.close()
    cluster.close()


if __name__ == "__main__":
    main()
