"""Progress of a long fit: a :func:`gdfast.minimize` callback that shows iteration, cost and
gradient norm, as a tqdm bar when tqdm is installed and as plain lines on stderr otherwise."""
from __future__ import annotations

import math
import sys
import time
from typing import Any, TextIO

from ._result import IterationState

#: With verbose=1, nothing is shown for fits shorter than this (seconds).
DELAY = 1.0
#: Plain lines (no tqdm) are printed at most this often (seconds) with verbose=1.
LINE_INTERVAL = 1.0


class Progress:
    """A minimize callback that reports progress; use it as a context manager.

    Parameters
    ----------
    desc : str
        What is being fitted (the bar's label).
    total : int, optional
        The most iterations, for the bar's length; None when unknown.
    verbose : int, default 1
        1: show progress only for fits that last longer than :data:`DELAY` seconds.
        2 or more: show it from the first iteration (plain lines: one per iteration).
    file : file object, optional
        Where to write; sys.stderr by default.

    Notes
    -----
    The callback never asks minimize to stop. Gradient descent runs its loop in C without a
    callback and returns to Python after every step with one, so a verbose fit by "gd" is slower.
    """

    def __init__(self, desc: str, total: int | None = None, *, verbose: int = 1,
                 file: TextIO | None = None) -> None:
        self.desc = desc
        self.total = total
        self.verbose = verbose
        self.file = sys.stderr if file is None else file
        self._start = time.monotonic()
        self._last_line = -math.inf
        self._lines = 0
        self._state: IterationState | None = None
        delay = 0.0 if verbose >= 2 else DELAY
        try:
            from tqdm import tqdm
        except ImportError:
            self._bar = None
            self._delay = delay
        else:
            self._bar = tqdm(total=total, desc=desc, unit="it", delay=delay, file=self.file,
                             leave=True, dynamic_ncols=True)

    def __call__(self, state: IterationState) -> None:
        self._state = state
        if self._bar is not None:
            self._bar.set_postfix_str(_describe(state), refresh=False)
            n = state.n_iter if self.total is None else min(state.n_iter, self.total)
            self._bar.update(max(0, n - self._bar.n))
            return
        now = time.monotonic()
        if self.verbose >= 2 or (now - self._start >= self._delay
                                 and now - self._last_line >= LINE_INTERVAL):
            self._print(state)
            self._last_line = now

    def _print(self, state: IterationState) -> None:
        print(f"{self.desc}: iteration {state.n_iter}, {_describe(state)}", file=self.file)
        self._lines += 1

    def close(self) -> None:
        """Close the bar (or print the last state if earlier lines were printed)."""
        if self._bar is not None:
            self._bar.close()
        elif self._lines and self._state is not None and self.verbose < 2:
            self._print(self._state)

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _describe(state: IterationState) -> str:
    grad = "-" if math.isnan(state.grad_norm) else f"{state.grad_norm:.3g}"
    return f"cost={state.cost:.6g}, max|grad|={grad}"
