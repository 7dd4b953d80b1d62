"""Ctrl-C: SIGINT during a long fit raises KeyboardInterrupt inside the solver, and the objective
is still usable afterwards.

Each fit runs in a child process (a real Ctrl-C goes to a process), sized to take minutes if the
signal were ignored; the child is killed if it has not reacted within HANG_LIMIT seconds, so the
test stays short whatever happens.
"""
import select
import signal
import subprocess
import sys
import textwrap
import time

import pytest

HANG_LIMIT = 20.0          # seconds; only reached if the interrupt is not honoured

CHILD = textwrap.dedent("""
    import sys, traceback
    import numpy as np
    import gdfast

    method = sys.argv[1]
    rng = np.random.default_rng(0)
    if method == "sgd-sparse":
        import scipy.sparse as sp
        # one epoch of minutes, so that only the check inside it can stop it in time: with
        # momentum every one of the 1e6 coefficients moves at each of 200 000 batches of one row
        n, d = 200_000, 1_000_000
        X = sp.csr_matrix((rng.standard_normal(5 * n), rng.integers(0, d, 5 * n, dtype=np.int32),
                           np.arange(0, 5 * n + 1, 5)), shape=(n, d))
        y = (rng.random(n) < 0.5).astype(float)
        method, kw = "sgd", dict(max_iter=10, tol=0.0, learning_rate=0.01, momentum=0.5,
                                 batch_size=1)
    else:
        if method == "gd":
            # 100 000 iterations of about 2e6 multiply-adds each: minutes if never interrupted
            n, d, dtype, kw = 100_000, 20, np.float64, dict(max_iter=100_000, tol=0.0)
        else:
            # each Newton step forms a 151 x 151 Hessian from 100 000 rows: seconds per fit
            n, d, dtype, kw = 100_000, 150, np.float32, dict(max_iter=100, tol=0.0)
        X = rng.standard_normal((n, d), dtype=dtype)
        y = (X[:, 0] + rng.standard_normal(n) > 0).astype(float)
    obj = gdfast.Objective(X, y, alpha=1e-6, n_threads=1)
    try:
        print("ready", flush=True)
        res = gdfast.minimize(obj, method=method, **kw)
    except KeyboardInterrupt:
        where = traceback.extract_tb(sys.exc_info()[2])
        inner = where[-1]
        in_solver = any(f.filename.endswith("_solvers.py") for f in where)
        # the fit ended cleanly: the objective and a new fit still work
        cost = obj.cost(np.zeros(obj.n_params))
        small = gdfast.minimize(obj, method="gd", max_iter=3)
        print(f"interrupted in_solver={in_solver} finite={np.isfinite(cost) and np.isfinite(small.cost)}"
              f" last_frame={inner.name}", flush=True)
        sys.exit(0)
    print(f"finished without interruption after {res.n_iter} iterations", flush=True)
    sys.exit(3)
""")


def wait_for_ready(proc, timeout):
    """True once the child prints "ready" (other lines, e.g. an editable rebuild's, are skipped)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], deadline - time.monotonic())
        if not ready:
            return False
        line = proc.stdout.readline()
        if line == "":                              # the child exited
            return False
        if line.strip() == "ready":
            return True
    return False


@pytest.mark.parametrize("method", ["gd", "newton", "sgd-sparse"])
def test_sigint_stops_a_long_fit(method):
    proc = subprocess.Popen([sys.executable, "-c", CHILD, method], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        if not wait_for_ready(proc, 120.0):      # start-up: imports and data
            proc.kill()
            pytest.fail(f"the child did not start: {proc.communicate()}")
        time.sleep(0.3 if method == "gd" else 0.2)   # let the fit get into its loops
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=HANG_LIMIT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the {method} fit ignored SIGINT for {HANG_LIMIT} s")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, (out, err)
    assert "interrupted in_solver=True finite=True" in out, (out, err)
