"""Threads: concurrent fits give the serial bits, the GIL is released while the kernels and the
gradient-descent loop run, and results are deterministic for a thread count and within the
documented tolerance across thread counts (see gdfast.Objective, parameter n_threads)."""
import sys
import threading
import time

import numpy as np
import pytest

import gdfast

from problems import make_problem

# Documented in gdfast.Objective (n_threads) and the README: across thread counts only the order
# of the floating-point sums changes.
KERNEL_RTOL = 1e-12
FIT_RTOL = 1e-9


def rel(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300)


def read_only_problem(n, d, loss="log_loss", seed=0):
    X, y, w = make_problem(n=n, d=d, loss=loss, seed=seed)
    X.flags.writeable = False
    y.flags.writeable = False
    return X, y, w


def fit_both(obj):
    gd = gdfast.minimize(obj, method="gd", max_iter=50, tol=0.0)
    newton = gdfast.minimize(obj, method="newton", tol=1e-12)
    return gd, newton


def same_bits(a, b):
    return (np.array_equal(a.w, b.w) and a.cost == b.cost and a.n_iter == b.n_iter
            and a.status == b.status
            and a.history.keys() == b.history.keys()
            and all(np.array_equal(a.history[k], b.history[k], equal_nan=True) for k in a.history))


# ---- 8 threads at once give the serial result, bit for bit -------------------------------------

@pytest.mark.parametrize("shared_objective", [False, True], ids=["own-objective", "shared-objective"])
@pytest.mark.parametrize("loss", ["log_loss", "squared_error"])
def test_eight_threads_fit_at_once_and_match_serial(loss, shared_objective):
    X, y, _ = read_only_problem(n=2000, d=12, loss=loss, seed=1)
    n_threads = [1 + k % 2 for k in range(8)]          # half the fits use 1 OpenMP thread, half 2
    objectives = {t: gdfast.Objective(X, y, loss=loss, alpha=1e-3, n_threads=t) for t in (1, 2)}
    serial = {t: fit_both(o) for t, o in objectives.items()}

    barrier = threading.Barrier(8)
    results, errors = [None] * 8, []

    def work(k):
        try:
            t = n_threads[k]
            obj = objectives[t] if shared_objective else gdfast.Objective(X, y, loss=loss, alpha=1e-3, n_threads=t)
            barrier.wait()
            results[k] = fit_both(obj)
        except BaseException as exc:                 # reported below, in the main thread
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for k, (gd, newton) in enumerate(results):
        expected_gd, expected_newton = serial[n_threads[k]]
        assert same_bits(gd, expected_gd), k
        assert same_bits(newton, expected_newton), k
        assert newton.converged


# ---- the GIL is released: another Python thread keeps running during a fit ----------------------

class Counter:
    """A Python thread that counts loop iterations until stopped.

    Each iteration ends in time.sleep(0), which gives up the GIL, so whenever the GIL is free the
    counter can take it. While a counter is running the switch interval is raised to a minute:
    a thread that holds the GIL is then never made to hand it over, so the count can only
    advance while another thread has released the GIL of its own accord (in a nogil section or
    a blocking call).
    """

    def __init__(self):
        self.count = 0
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop:
            self.count += 1
            time.sleep(0)

    def __enter__(self):
        self._interval = sys.getswitchinterval()
        sys.setswitchinterval(60.0)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop = True
        self._thread.join()
        sys.setswitchinterval(self._interval)


def progress_during(work):
    """Iterations the counter thread made while work() ran in this thread."""
    with Counter() as counter:
        before = counter.count
        work()
        after = counter.count
    return after - before


def test_the_measurement_sees_a_held_gil():
    """Control: pure Python work holds the GIL, and the counter makes no progress at all."""
    assert progress_during(lambda: sum(i * i for i in range(2_000_000))) == 0


LONG = {}


def long_objective():
    if not LONG:
        X, y, _ = read_only_problem(n=60_000, d=30, seed=2)
        LONG["obj"] = gdfast.Objective(X, y, alpha=1e-3, n_threads=1)
    return LONG["obj"]


@pytest.mark.parametrize("what", ["cost_gradient", "cost_gradient_hessian", "hessp", "gd", "newton"])
def test_python_keeps_running_during_a_long_call(what):
    """With n_threads=1 (one core for the fit, one for Python), a Python thread keeps counting."""
    obj = long_objective()
    w = np.full(obj.n_params, 0.01)
    work = {
        "cost_gradient": lambda: [obj.cost_gradient(w) for _ in range(20)],
        "cost_gradient_hessian": lambda: [obj.cost_gradient_hessian(w) for _ in range(10)],
        "hessp": lambda: [obj.hessp(w, w) for _ in range(20)],
        "gd": lambda: gdfast.minimize(obj, method="gd", max_iter=60, tol=0.0),
        "newton": lambda: gdfast.minimize(obj, method="newton", max_iter=20, tol=0.0),
    }[what]
    assert progress_during(work) >= 20


# ---- determinism ---------------------------------------------------------------------------------

@pytest.mark.parametrize("loss", ["log_loss", "squared_error", "poisson", "gamma"])
def test_same_thread_count_gives_the_same_bits(loss):
    X, y, w = make_problem(n=2000, d=9, loss=loss, seed=3)
    sw = np.random.default_rng(0).uniform(0.5, 2.0, 2000)
    for t in (1, 2, 3):
        runs = []
        for _ in range(2):
            obj = gdfast.Objective(X, y, loss=loss, alpha=1e-2, sample_weight=sw, n_threads=t)
            c, g, H = obj.cost_gradient_hessian(w)
            runs.append((c, g, H, obj.cost_gradient(w), obj.hessp(w, w), *fit_both(obj)))
        a, b = runs
        assert a[0] == b[0] and np.array_equal(a[1], b[1]) and np.array_equal(a[2], b[2])
        assert a[3][0] == b[3][0] and np.array_equal(a[3][1], b[3][1])
        assert np.array_equal(a[4], b[4])
        assert same_bits(a[5], b[5]) and same_bits(a[6], b[6])


@pytest.mark.parametrize("loss", ["log_loss", "squared_error", "poisson", "gamma"])
def test_thread_counts_agree_within_the_documented_tolerance(loss):
    X, y, w = make_problem(n=10_000, d=25, loss=loss, seed=4)
    out = {}
    for t in (1, 2, 3):
        obj = gdfast.Objective(X, y, loss=loss, alpha=1e-3, n_threads=t)
        out[t] = (obj.cost_gradient(w), obj.hessian(w), obj.hessp(w, w), fit_both(obj))
    for t in (2, 3):
        (c, g), H, hv, (gd, newton) = out[t]
        (c1, g1), H1, hv1, (gd1, newton1) = out[1]
        assert rel(c, c1) <= KERNEL_RTOL and rel(g, g1) <= KERNEL_RTOL
        assert rel(H, H1) <= KERNEL_RTOL and rel(hv, hv1) <= KERNEL_RTOL
        assert rel(gd.w, gd1.w) <= FIT_RTOL and rel(newton.w, newton1.w) <= FIT_RTOL
        assert newton.converged and newton1.converged


def test_import_sets_a_short_openmp_spin_unless_the_user_chose_one():
    import os
    import subprocess
    import sys
    code = "import os, gdfast; print(os.environ['GOMP_SPINCOUNT'])"
    env = {k: v for k, v in os.environ.items() if k != "GOMP_SPINCOUNT"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[-1] == "3000"
    out = subprocess.run([sys.executable, "-c", code], env={**env, "GOMP_SPINCOUNT": "123"},
                         capture_output=True, text=True, check=True).stdout.split()
    assert out[-1] == "123"
