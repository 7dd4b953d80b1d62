"""gdbench: side-by-side benchmarks of gdfast against its numpy reference and its peers.

The harness behind ``python benchmarks/report.py`` (which writes ``benchmarks/RESULTS.md``) and
the pytest-benchmark suite in ``benchmarks/``; it is not part of the gdfast wheel (``gdfast bench``
there runs a short check of the key ratios). Everything is measured in one process and one run,
so that ratios are meaningful even when absolute times drift:

- a memory read-bandwidth probe (numpy sums, BLAS ``ddot`` and gdfast's ``stream_sum`` read loop
  over a large array, 1 and 2 threads);
- ``cost_gradient`` of gdfast against ``gdfast.reference`` (and a lean two-gemv numpy gradient),
  both losses, float64 and float32, with the reference's BLAS limited to the same thread count;
- Hessian assembly against numpy's ``X.T @ (X * h[:, None])`` and a bare BLAS ``dsyrk``;
- 200 gradient-descent iterations in gdfast's compiled loop against the reference loop;
- logistic-regression fits against scikit-learn (newton-cholesky and lbfgs);
- time to a given tolerance for every available gdfast method against scikit-learn, statsmodels
  and the reference Newton loop;
- peak extra resident memory of ``cost_gradient`` and of a Newton fit, in a child process.

Timings are medians over several repeats; within a repeat the contenders run one after the other
in a rotating order, so that a burst of load on a shared machine hits all of them alike. Weights
are realistic (``z`` roughly N(0, 1)), never ``w = 0``. A solver that gdfast does not have yet is
reported as "not available".

Modules: ``common`` (sizes, formatting, data, timing, targets), ``environment`` (the report's
header), ``kernels``, ``fits`` and ``memory`` (the sections), ``cli`` (``main``). Import it with
``benchmarks/`` on ``sys.path``: pytest does that (``pythonpath`` in ``pyproject.toml``), and so
does running a script in ``benchmarks/``.
"""
from __future__ import annotations

from .cli import main
from .common import (GDFAST_METHODS, SECTIONS, Config, MethodUnavailable, Target, call_method, full_config,
                     linear_problem, quick_config)


__all__ = ["GDFAST_METHODS", "SECTIONS", "Config", "MethodUnavailable", "Target", "call_method", "full_config",
           "linear_problem", "main", "quick_config"]
