"""Peak extra resident memory of cost_gradient and of a Newton fit, measured in a child process."""
from __future__ import annotations

import gc
import re
import threading
import time
from typing import Any, Callable

from .common import FIT_C, Report, Target, fmt_size, linear_problem, log_progress, md_table


def _proc_status_kb(key: str) -> int:
    with open("/proc/self/status") as f:
        m = re.search(key + r":\s+(\d+)\s+kB", f.read())
    return int(m.group(1)) if m else -1


def _reset_peak() -> bool:
    """Reset VmHWM (Linux >= 4.0); False when the kernel does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_extra(fn: Callable[[], Any]) -> tuple[int, str]:
    """Peak resident bytes above the level before fn, while fn runs."""
    gc.collect()
    if _reset_peak():
        base = _proc_status_kb("VmRSS")
        fn()
        return (_proc_status_kb("VmHWM") - base) * 1024, "VmHWM reset"
    # Fallback: poll VmRSS from a thread (the kernels release the GIL).
    base = _proc_status_kb("VmRSS")
    peak = [base]
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _proc_status_kb("VmRSS"))
            time.sleep(0.0005)
    th = threading.Thread(target=poll)
    th.start()
    try:
        fn()
    finally:
        done.set()
        th.join()
    return (max(peak[0], _proc_status_kb("VmRSS")) - base) * 1024, "VmRSS polled"


def _memory_child(n: int, d: int, conn: Any) -> None:
    """Runs in a fresh process: builds the data, then measures each task's peak extra memory."""
    try:
        import gdfast
        from gdfast import reference
        # Fault in code and lazily imported modules on a tiny problem first.
        Xt, yt, _, wt = linear_problem(200, 5)
        ot = gdfast.Objective(Xt, yt, alpha=1e-3)
        ot.cost_gradient(wt)
        ot.cost_gradient_hessian(wt)
        gdfast.minimize(ot, method="newton", tol=1e-8)
        reference.Objective(Xt, yt).cost_gradient(wt)
        X, y, _, w = linear_problem(n, d, seed=4)
        obj = gdfast.Objective(X, y, "log_loss", alpha=1.0 / (FIT_C * n))
        out: dict[str, Any] = {"X_bytes": X.nbytes}
        tasks: list[tuple[str, Callable[[], Any]]] = [
            ("gdfast cost_gradient", lambda: obj.cost_gradient(w)),
            ("gdfast cost_gradient_hessian", lambda: obj.cost_gradient_hessian(w)),
            ("gdfast newton fit (tol 1e-8)", lambda: gdfast.minimize(obj, method="newton", tol=1e-8)),
            ("reference cost_gradient", lambda: reference.Objective(X, y, "log_loss").cost_gradient(w)),
        ]
        for name, fn in tasks:
            out[name] = _peak_extra(fn)
        conn.send(out)
    except BaseException as e:  # report, do not hang the parent
        conn.send({"error": f"{type(e).__name__}: {e}"})
    finally:
        conn.close()


def section_memory(rep: Report) -> None:
    """Peak extra resident memory of cost_gradient and of a Newton fit, in a child process."""
    import multiprocessing as mp
    cfg = rep.cfg
    n, d = cfg.memory_size
    log_progress(f"memory: child process, {n} x {d}")
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_memory_child, args=(n, d, child))
    proc.start()
    child.close()
    out: dict[str, Any] = {}
    try:
        if parent.poll(1800):
            out = parent.recv()
    except EOFError:
        out = {"error": "the child process died (out of memory?)"}
    proc.join(60)
    if proc.is_alive():
        proc.kill()
        out = {"error": "the child process timed out"}
    if "error" in out or not out:
        rep.blocks["memory"] = f"## Peak extra memory\n\nNot measured: {out.get('error', 'no result')}."
        rep.targets.append(Target("memory", "peak extra memory", 0, "bytes",
                                  unavailable=out.get("error", "no result")))
        return
    xb = out.pop("X_bytes")
    D = d + 1
    budget = 0.05 * xb + 32 * 8 * D * D + 4 * 8 * n
    rows = []
    for name, (extra, how) in out.items():
        rows.append([name, f"{extra / 2**20:.1f} MiB", f"{100 * extra / xb:.1f}%", f"{extra / (8 * n):.2f}",
                     how])
        if name == "gdfast cost_gradient" or name.startswith("gdfast newton"):
            rep.targets.append(Target("memory", f"peak extra memory, {name}, {fmt_size(n, d)}", budget, "bytes",
                                      float(extra)))
    rep.raw["memory"] = {"X_bytes": xb, "budget": budget, **{k: v[0] for k, v in out.items()}}
    rep.blocks["memory"] = "\n".join([
        f"## Peak extra memory at {fmt_size(n, d)} (float64 X of {xb / 2**20:.0f} MiB)",
        "",
        "Measured in a fresh child process: the peak resident set size while the call runs, above the "
        "resident size just before it (Linux VmHWM, reset through /proc/self/clear_refs). Budget of the "
        f"target: 5% of X ({0.05 * xb / 2**20:.1f} MiB) + four length-n vectors ({4 * 8 * n / 2**20:.1f} MiB) "
        f"+ O(d^2), counted as 32 (d+1) x (d+1) double matrices ({32 * 8 * D * D / 2**20:.2f} MiB): "
        f"**{budget / 2**20:.1f} MiB**.",
        "",
        md_table(["call", "peak extra", "of X's bytes", "in length-n vectors", "how"], rows),
    ])
