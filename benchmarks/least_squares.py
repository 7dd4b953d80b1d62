"""The cost of solving least squares exactly: Newton on the squared error, two builds side by side.

    python benchmarks/least_squares.py OLD_PYTHON NEW_PYTHON [--rounds 5] [--output FILE]

Each python has a gdfast installed (OLD: before the exact solve, NEW: with it). The runs
alternate (old, new, old, new, ...), each a fresh process that times every case once after a
warm-up; the table gives medians over the rounds and new / old. Cases: ``minimize(obj,
method="newton")`` on a well-conditioned 1,000,000 x 100 float64 least-squares problem at 1 and 2
threads; and, from the new build only, the time of one compensated pass
(``accurate_cost_gradient``) against one ordinary fused pass (``cost_gradient``), and the
refinement passes the solve takes on that problem and on Filip- and Wampler5-like designs.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from typing import Any

CHILD = r'''
import json, sys, time
import numpy as np
import gdfast

threads = int(sys.argv[1])
rng = np.random.default_rng(0)
n, d = 1_000_000, 100
X = rng.normal(size=(n, d))
y = X @ rng.normal(size=d) + rng.normal(size=n)
obj = gdfast.Objective(X, y, loss="squared_error", n_threads=threads)
out = {}
gdfast.minimize(obj, method="newton")                       # warm-up
t = time.perf_counter(); res = gdfast.minimize(obj, method="newton")
out["newton"] = time.perf_counter() - t
out["newton_iter"] = res.n_iter
w = res.w
t = time.perf_counter(); obj.cost_gradient(w); out["pass"] = time.perf_counter() - t
if hasattr(obj, "accurate_cost_gradient"):
    obj.accurate_cost_gradient(w)
    t = time.perf_counter(); obj.accurate_cost_gradient(w)
    out["accurate_pass"] = time.perf_counter() - t
    t = time.perf_counter(); obj.hessian(w); out["hessian"] = time.perf_counter() - t
    # refinement passes on ill-conditioned polynomial designs (Filip-like, Wampler5-like)
    x = np.sort(rng.uniform(-9, -3, 82))
    F = np.column_stack([x ** k for k in range(1, 11)])
    f = gdfast.minimize(gdfast.Objective(F, np.cos(x) + 0.01 * rng.normal(size=82),
                                         loss="squared_error"))
    out["filip_iter"], out["filip_how"] = f.n_iter, f.message
    x = np.arange(21.0)
    W = np.column_stack([x ** k for k in range(1, 6)])
    v = gdfast.minimize(gdfast.Objective(W, W.sum(axis=1) + 1 + 1e7 * rng.normal(size=21),
                                         loss="squared_error"))
    out["wampler_iter"], out["wampler_how"] = v.n_iter, v.message
print(json.dumps(out))
'''


def run(python: str, threads: int) -> dict[str, Any]:
    done = subprocess.run([python, "-c", CHILD, str(threads)], capture_output=True, text=True,
                          check=True, env={"OMP_NUM_THREADS": str(threads), "PATH": "/usr/bin:/bin"})
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--output")
    args = parser.parse_args()
    lines = ["| case | threads | old (s) | new (s) | new / old |", "|---|---|---|---|---|"]
    notes = []
    for threads in (1, 2):
        old, new = [], []
        for _ in range(args.rounds):
            old.append(run(args.old, threads))
            new.append(run(args.new, threads))
        o = statistics.median(r["newton"] for r in old)
        m = statistics.median(r["newton"] for r in new)
        lines.append(f"| newton, squared error 1e6 x 100 | {threads} | {o:.3f} | {m:.3f} | {m / o:.2f} |")
        last = new[-1]
        p = statistics.median(r["pass"] for r in new)
        a = statistics.median(r["accurate_pass"] for r in new)
        h = statistics.median(r["hessian"] for r in new)
        notes.append(f"- {threads} thread(s): one compensated pass {a * 1e3:.1f} ms against one fused "
                     f"cost-gradient pass {p * 1e3:.1f} ms ({a / p:.2f}x) and the Hessian "
                     f"{h * 1e3:.0f} ms; the solve took {last['newton_iter']} refinement passes "
                     f"(old build: {old[-1]['newton_iter']} Newton iterations); Filip-like design: "
                     f"{last['filip_iter']} passes ({last['filip_how']}); Wampler5-like: "
                     f"{last['wampler_iter']} ({last['wampler_how']})")
    text = "\n".join(lines + [""] + notes) + "\n"
    print(text)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
