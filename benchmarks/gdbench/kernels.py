"""The compiled kernels against numpy: read bandwidth, cost_gradient, Hessian, the gradient-descent loop."""
from __future__ import annotations

import functools
import gc
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from scipy.linalg.blas import dsyrk

import gdfast
from gdfast import reference
from gdfast._dispatch import core

from .common import (Contender, Report, Target, compare, expit, fmt_pct, fmt_ratio, fmt_sci, fmt_size,
                     fmt_time, linear_problem, log_progress, md_table, rel_diff)


def section_bandwidth(rep: Report) -> None:
    """Read bandwidth: numpy sums (split across Python threads), BLAS ddot and gdfast's own
    stream_sum (a compiled read loop, OpenMP threads) over a large array."""
    stream_sum = core.stream_sum
    cfg = rep.cfg
    a = np.ones(cfg.probe_bytes // 8)
    nbytes = a.nbytes
    rows, raw = [], {}
    pools = {k: ThreadPoolExecutor(k) for k in cfg.threads if k > 1}
    try:
        contenders: list[Contender] = []
        for k in cfg.threads:
            parts = np.array_split(a, k)
            if k == 1:
                contenders.append(Contender("numpy sum, 1 thread", a.sum, 1))
            else:
                pool = pools[k]
                contenders.append(Contender(
                    f"numpy sum, {k} threads",
                    functools.partial(lambda p, pool: list(pool.map(np.sum, p)), parts, pool), k))
            contenders.append(Contender(f"BLAS ddot(a, a), {k} thread{'s' if k > 1 else ''}",
                                        lambda: np.dot(a, a), k))
            contenders.append(Contender(f"gdfast stream_sum(a), {k} thread{'s' if k > 1 else ''}",
                                        functools.partial(stream_sum, a, k), k))
        res = compare(contenders, rep.limits, max(cfg.repeats, 5), 0.0)
    finally:
        for p in pools.values():
            p.shutdown()
    del a
    for k in cfg.threads:
        best = 0.0
        for c in contenders:
            if c.blas_threads != k:
                continue
            t = res[c.name]
            bw = nbytes / min(t.samples)           # the probe estimates a capability: best sample
            best = max(best, bw)
            rows.append([c.name, fmt_time(min(t.samples)), fmt_time(t.median), f"{bw / 1e9:.1f} GB/s",
                         f"{nbytes / t.median / 1e9:.1f} GB/s", f"{100 * t.spread:.0f}%"])
            raw[c.name] = {"best_seconds": min(t.samples), "median_seconds": t.median, "GBps": bw / 1e9,
                           "samples": t.samples}
        rep.bandwidth[k] = best
    summary = ", ".join(f"{k} thread{'s' if k > 1 else ''}: **{rep.bandwidth[k] / 1e9:.1f} GB/s**"
                        for k in cfg.threads)
    rep.raw["bandwidth"] = {"probe_bytes": nbytes, "probes": raw,
                            "best_GBps": {str(k): v / 1e9 for k, v in rep.bandwidth.items()}}
    rep.blocks["bandwidth"] = "\n".join([
        "## Memory read bandwidth (probe, same process)",
        "",
        f"Each probe reads an array of {nbytes / 2**30:.2f} GiB once (`ddot(a, a)` reads each element "
        "once: both operands are the same memory; `stream_sum` is gdfast's own read loop, sixteen "
        "partial sums a thread, compiled for this CPU's instruction set, which on this kind of machine "
        "reads faster than BLAS ddot). The probe estimates what the machine can do, so "
        "its bandwidth is taken from the best sample (a median on a busy machine would understate it "
        "and inflate every share); the best probe at each thread count is the bandwidth that the "
        "shares below are measured against: " + summary + ".",
        "",
        md_table(["probe", "best time", "median time", "bandwidth (best)", "bandwidth (median)", "spread"],
                 rows),
    ])


def _numpy_cost_grad(X: np.ndarray, y: np.ndarray, loss: str, w: np.ndarray) -> tuple[float, np.ndarray]:
    """A lean numpy gradient: two gemv passes over X, no copies of X (float64 only)."""
    coef, b = w[:-1], w[-1]
    z = X @ coef + b
    n = X.shape[0]
    if loss == "log_loss":
        cost = float(np.mean(np.logaddexp(0.0, z) - y * z))
        r = (expit(z) - y) / n
    else:
        d = z - y
        cost = float(d @ d / n)
        r = 2.0 * d / n
    g = np.empty_like(w)
    g[:-1] = X.T @ r
    g[-1] = r.sum()
    return cost, g


#: Kernel timings are keyed by (n, d, loss, dtype, threads).
_KernelKey = tuple[int, int, str, str, int]


def section_kernels(rep: Report) -> None:
    """cost_gradient of gdfast against gdfast.reference and a lean numpy gradient."""
    cfg = rep.cfg
    rows, raw, checks = [], [], []
    results: dict[_KernelKey, dict[str, Any]] = {}
    for n, d in cfg.kernel_sizes:
        log_progress(f"kernels: data {n} x {d}")
        X64, y_log, y_sq, w = linear_problem(n, d, seed=1)
        X32 = X64.astype(np.float32)
        for loss, y in (("log_loss", y_log), ("squared_error", y_sq)):
            refs = {"float64": reference.Objective(X64, y, loss), "float32": reference.Objective(X32, y, loss)}
            for dt, X in (("float64", X64), ("float32", X32)):
                c_ref, g_ref = refs[dt].cost_gradient(w)
                c, g = gdfast.Objective(X, y, loss).cost_gradient(w)
                checks.append([fmt_size(n, d), loss, dt, fmt_sci(abs(c - c_ref) / abs(c_ref)),
                               fmt_sci(rel_diff(g, g_ref))])
            for k in cfg.threads:
                log_progress(f"kernels: {n} x {d} {loss} threads={k}")
                objs = {dt: gdfast.Objective(X, y, loss, n_threads=k) for dt, X in
                        (("float64", X64), ("float32", X32))}
                cs = [Contender("gdfast float64", functools.partial(objs["float64"].cost_gradient, w), k),
                      Contender("gdfast float32", functools.partial(objs["float32"].cost_gradient, w), k),
                      Contender("reference float64", functools.partial(refs["float64"].cost_gradient, w), k),
                      Contender("reference float32", functools.partial(refs["float32"].cost_gradient, w), k),
                      Contender("numpy 2-gemv float64",
                                lambda: _numpy_cost_grad(X64, y, loss, w), k)]
                t = compare(cs, rep.limits, cfg.repeats, cfg.min_sample, cooldown=cfg.cooldown)
                bw = rep.bandwidth.get(k)
                for dt, X in (("float64", X64), ("float32", X32)):
                    tg, tr = t[f"gdfast {dt}"].median, t[f"reference {dt}"].median
                    share = X.nbytes / tg / bw if bw else None
                    tn = t["numpy 2-gemv float64"].median if dt == "float64" else None
                    entry = {"n": n, "d": d, "loss": loss, "dtype": dt, "threads": k, "gdfast": tg,
                             "reference": tr, "numpy": tn, "speedup": tr / tg,
                             "speedup_numpy": tn / tg if tn else None, "share": share,
                             "GBps": X.nbytes / tg / 1e9, "spread": t[f"gdfast {dt}"].spread,
                             "f32_over_f64": (t["gdfast float64"].median / tg) if dt == "float32" else None}
                    results[(n, d, loss, dt, k)] = entry
                    raw.append(entry)
                    rows.append([fmt_size(n, d), loss, dt, k, fmt_time(tg), fmt_time(tr),
                                 fmt_ratio(tr / tg), fmt_time(tn), fmt_ratio(tn / tg) if tn else "—",
                                 f"{X.nbytes / tg / 1e9:.1f}", fmt_pct(share),
                                 f"{100 * t[f'gdfast {dt}'].spread:.0f}%"])
                del objs
        del X64, X32, y_log, y_sq
        gc.collect()
    rep.raw["kernels"] = raw
    _kernel_targets(rep, results)
    rep.blocks["kernels"] = "\n".join([
        "## cost_gradient: gdfast vs gdfast.reference",
        "",
        "Median time per call. `reference` is `gdfast.reference.Objective(...).cost_gradient` (two "
        "gemv passes over X, and float32 X upcast to float64 on every call); `numpy 2-gemv` is a lean numpy gradient (`z = X @ coef + b`, "
        "stable sigmoid, `X.T @ r`) that reads X twice and copies nothing, shown for context. "
        "Both are run with their BLAS limited to the same thread count as gdfast. Share = bytes of X "
        "/ time / probe bandwidth at the same thread count. Spread = (max - min) / median of "
        "gdfast's samples.",
        "",
        md_table(["size", "loss", "dtype", "threads", "gdfast", "reference", "speed-up",
                  "numpy 2-gemv", "vs 2-gemv", "GB/s", "share of bandwidth", "spread"], rows),
        "",
        "Agreement with the reference at the benchmark's weights (relative; the timings above are "
        "only meaningful if these are small):",
        "",
        md_table(["size", "loss", "dtype", "cost", "gradient (norm-wise)"], checks),
    ])


def _kernel_targets(rep: Report, res: dict[_KernelKey, dict[str, Any]]) -> None:
    cfg = rep.cfg
    wide, narrow = cfg.kernel_wide, cfg.kernel_narrow
    sw, sn = fmt_size(*wide), fmt_size(*narrow)

    def get(size: tuple[int, int], loss: str, dt: str, k: int, key: str) -> float | None:
        e = res.get((size[0], size[1], loss, dt, k))
        return None if e is None else e[key]

    for k in cfg.threads:
        th = f"{k} thread{'s' if k > 1 else ''}"
        rep.targets.append(Target("kernels", f"log-loss cost_gradient f64 vs reference, {sw}, {th}", 3.0,
                                  "ratio", get(wide, "log_loss", "float64", k, "speedup"),
                                  note=_vs_numpy_note(get(wide, "log_loss", "float64", k, "speedup_numpy"))))
        rep.targets.append(Target("kernels", f"log-loss cost_gradient f64 vs reference, {sn}, {th}", 2.5,
                                  "ratio", get(narrow, "log_loss", "float64", k, "speedup"),
                                  note=_vs_numpy_note(get(narrow, "log_loss", "float64", k, "speedup_numpy"))))
        rep.targets.append(Target("kernels", f"log-loss cost_gradient f64 share of bandwidth, {sw}, {th}",
                                  0.55, "share", get(wide, "log_loss", "float64", k, "share")))
        rep.targets.append(Target("kernels", f"squared-error cost_gradient f64 share of bandwidth, {sw}, {th}",
                                  0.80, "share", get(wide, "squared_error", "float64", k, "share")))
    rep.targets.append(Target("kernels", f"log-loss cost_gradient float32 vs float64, {sw}, 1 thread", 1.7,
                              "ratio", get(wide, "log_loss", "float32", 1, "f32_over_f64")))


def _vs_numpy_note(r: float | None) -> str:
    return "" if r is None else f"{r:.2f}x vs lean 2-gemv numpy"


def section_hessian(rep: Report) -> None:
    """Hessian assembly: gdfast against numpy and against a bare syrk on a pre-scaled copy."""
    cfg = rep.cfg
    rows, raw, checks = [], [], []
    for n, d in cfg.hessian_sizes:
        log_progress(f"hessian: {n} x {d}")
        X, y, _, w = linear_problem(n, d, seed=2)
        coef = w[:-1]
        # The same matrix from all three: X^T diag(h) X with h = p(1-p)/n, no intercept, no penalty.
        p = expit(X @ coef)
        h = p * (1.0 - p) / n
        Xs = X * np.sqrt(h)[:, None]             # the pre-scaled copy the bare syrk gets for free
        H_np = X.T @ (X * h[:, None])
        H_gd = gdfast.Objective(X, y, "log_loss", fit_intercept=False).hessian(coef)
        checks.append([fmt_size(n, d), fmt_sci(rel_diff(H_gd, H_np))])
        for k in cfg.threads:
            obj = gdfast.Objective(X, y, "log_loss", fit_intercept=False, n_threads=k)
            cs = [Contender("gdfast", functools.partial(obj.hessian, coef), k),
                  Contender("numpy", lambda: X.T @ (X * h[:, None]), k),
                  Contender("bare syrk", lambda: dsyrk(1.0, Xs.T, trans=0), k)]
            t = compare(cs, rep.limits, cfg.repeats, cfg.min_sample, cooldown=cfg.cooldown)
            tg, tn, ts = t["gdfast"].median, t["numpy"].median, t["bare syrk"].median
            entry = {"n": n, "d": d, "threads": k, "gdfast": tg, "numpy": tn, "syrk": ts,
                     "vs_numpy": tn / tg, "over_syrk": tg / ts}
            raw.append(entry)
            rows.append([fmt_size(n, d), k, fmt_time(tg), fmt_time(tn), fmt_time(ts), fmt_ratio(tn / tg),
                         fmt_ratio(tg / ts), f"{100 * t['gdfast'].spread:.0f}%"])
            th = f"{k} thread{'s' if k > 1 else ''}"
            rep.targets.append(Target("hessian", f"Hessian vs numpy X.T @ (X * h), {fmt_size(n, d)}, {th}",
                                      1.5, "ratio", tn / tg))
            rep.targets.append(Target("hessian", f"Hessian time / bare syrk, {fmt_size(n, d)}, {th}",
                                      1.3, "within", tg / ts))
        del X, Xs, H_np, p, h
        gc.collect()
    rep.raw["hessian"] = raw
    rep.blocks["hessian"] = "\n".join([
        "## Hessian assembly",
        "",
        "`gdfast` is `Objective(X, y, fit_intercept=False, n_threads=k).hessian(w)` (one pass over "
        "X: z, the loss weights, the scaled rows and syrk on cache-sized batches); `numpy` is `X.T @ (X * h[:, None])` with `h` "
        "precomputed; `bare syrk` is scipy's `dsyrk` on a copy of X pre-scaled by sqrt(h), the copy "
        "made outside the timing. All three give the same d x d matrix; BLAS limited to k threads.",
        "",
        md_table(["size", "threads", "gdfast", "numpy", "bare syrk", "gdfast vs numpy",
                  "gdfast / syrk", "spread"], rows),
        "",
        "Agreement of gdfast's Hessian with numpy's (relative, norm-wise): "
        + "; ".join(f"{c[0]}: {c[1]}" for c in checks) + ".",
    ])


def section_gd(rep: Report) -> None:
    """gdfast's compiled gradient-descent loop against the reference's Python loop."""
    cfg = rep.cfg
    n, d = cfg.gd_size
    it = cfg.gd_iter
    X, y, _, _ = linear_problem(n, d, seed=3)
    rows, raw = [], []
    robj = reference.Objective(X, y, "log_loss")
    lr = 1.0 / gdfast.Objective(X, y, "log_loss").curvature_bound()
    for k in cfg.threads:
        obj = gdfast.Objective(X, y, "log_loss", n_threads=k)
        out: dict[str, Any] = {}

        def run_gd(o: Any = obj) -> None:
            out["gdfast"] = gdfast.minimize(o, method="gd", learning_rate=lr, max_iter=it, tol=0)

        def run_ref() -> None:
            out["reference"] = reference.gradient_descent(robj, lr, max_iter=it, tol=0)

        t = compare([Contender("gdfast", run_gd, k), Contender("reference", run_ref, k)],
                    rep.limits, cfg.repeats, cfg.min_sample, cooldown=cfg.cooldown)
        tg, tr = t["gdfast"].median, t["reference"].median
        res = out["gdfast"]
        ref_cost = float(out["reference"][1][-1])
        agree = abs(res.cost - ref_cost) / abs(ref_cost)
        raw.append({"threads": k, "gdfast": tg, "reference": tr, "speedup": tr / tg,
                    "n_iter": res.n_iter, "cost_rel_diff": agree})
        rows.append([k, fmt_time(tg), fmt_time(tr), fmt_ratio(tr / tg), fmt_time(tg / it),
                     res.n_iter, fmt_sci(agree)])
        th = f"{k} thread{'s' if k > 1 else ''}"
        rep.targets.append(Target("gd", f"{it} GD iterations, {fmt_size(n, d)}, vs reference loop, {th}",
                                  3.0, "ratio", tr / tg))
    rep.raw["gd"] = raw
    rep.blocks["gd"] = "\n".join([
        f"## Gradient-descent loop: {it} iterations at {fmt_size(n, d)}",
        "",
        f"`gdfast.minimize(obj, method=\"gd\", learning_rate={lr:.4g}, max_iter={it}, tol=0)` against "
        "`gdfast.reference.gradient_descent` with the same step (log loss, 1/L step).",
        "",
        md_table(["threads", "gdfast", "reference", "speed-up", "gdfast per iteration", "iterations",
                  "final cost rel. diff"], rows),
    ])
