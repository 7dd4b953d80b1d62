"""What the stand-alone benchmark scripts (``benchmarks/glm.py``, ``multinomial.py``, ...) share:
the run's header lines, the environment of a child process pinned to a thread count, the
median of repeated timings and the report's output."""
from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
from typing import Any, Callable, Sequence


def header_lines(script: str, argv: Sequence[str] | None, repeats: int) -> list[str]:
    """Date, machine, load, command, gdfast and BLAS, then a blank line (markdown bullets)."""
    import gdfast
    from threadpoolctl import threadpool_info
    return [f"- Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; machine: "
            f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical cores; "
            f"load average before the run {os.getloadavg()[0]:.2f}",
            f"- Command: `python benchmarks/{script} {' '.join(argv or sys.argv[1:])}`",
            f"- gdfast {gdfast.__version__}; BLAS "
            f"{', '.join(i.get('internal_api', '?') for i in threadpool_info())}; each time the "
            f"median of {repeats}",
            ""]


def thread_env(threads: int) -> dict[str, str]:
    """This process's environment with OpenMP, OpenBLAS and MKL limited to ``threads``, for a
    child process in which every contender sees the same count."""
    n = str(threads)
    return {**os.environ, "OMP_NUM_THREADS": n, "OPENBLAS_NUM_THREADS": n, "MKL_NUM_THREADS": n}


def median_time(fit: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """The median wall time of ``repeats`` calls of ``fit`` and the last call's result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fit()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def emit(lines: Sequence[str], output: str | None) -> int:
    """Print the report and write it to ``output`` (when given); the script's exit status."""
    text = "\n".join(lines)
    print(text)
    if output:
        with open(output, "w") as f:
            f.write(text + "\n")
    return 0
