"""What every section of the harness shares: sizes, formatting, data, timing, targets.

Timings are medians over several repeats; within a repeat the contenders run one after the other
in a rotating order, so that a burst of load on a shared machine hits all of them alike.
"""
from __future__ import annotations

import contextlib
import dataclasses
import gc
import math
import statistics
import sys
import time
from typing import Any, Callable, Iterator, Sequence

import numpy as np

import gdfast


SECTIONS = ("bandwidth", "kernels", "hessian", "gd", "fits", "solvers", "memory")
GDFAST_METHODS = ("gd", "nesterov", "sgd", "adam", "newton", "newton-cg", "lbfgs", "auto")
STOCHASTIC_METHODS = ("sgd", "adam")
# Most iterations per method in the solver comparison (epochs for the stochastic ones).
METHOD_MAX_ITER = {"gd": 20_000, "nesterov": 5_000, "sgd": 50, "adam": 50, "newton": 100,
                   "newton-cg": 200, "lbfgs": 2_000, "auto": None}
FIT_C = 1e4                       # scikit-learn's C in the logistic-regression fits


# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------

@dataclasses.dataclass
class Config:
    """Sizes and repeat counts of one benchmark run.

    Attributes
    ----------
    quick : bool
        Small sizes that run in seconds (for checking the harness, not for quoting numbers).
    repeats : int
        Timed samples per contender; the median is reported.
    min_sample : float
        Seconds per timed sample: fast calls are repeated within a sample to reach it.
    threads : tuple of int
        Thread counts for the kernel, Hessian and gradient-descent comparisons.
    probe_bytes : int
        Size of the array the bandwidth probe reads.
    kernel_wide, kernel_narrow : tuple of int
        The (n, d) sizes at which the cost_gradient targets are judged.
    kernel_sizes : list of tuple of int
        Every (n, d) of the cost_gradient comparison (includes the two above).
    hessian_sizes : list of tuple of int
    gd_size : tuple of int
    gd_iter : int
    fit_sizes : list of tuple of int
    fit_repeats : int
    solver_size : tuple of int
    solver_repeats : int
    solver_budget : float
        Seconds after which one solver run is stopped (reported as not reaching the tolerance).
    solver_tol : float
        Relative cost gap to the optimum that counts as reached (deterministic methods).
    stochastic_tol : float
        The same for the stochastic methods (sgd, adam, SGDClassifier).
    memory_size : tuple of int
    cooldown : float
        Seconds of idle time before each timed sample of a multi-threaded contender, so that the
        worker threads of the previous contender's runtime (libgomp and OpenBLAS workers
        spin-wait for a while after a parallel region) are asleep and do not compete for the cores.
    """

    quick: bool
    repeats: int
    min_sample: float
    threads: tuple[int, ...]
    probe_bytes: int
    kernel_wide: tuple[int, int]
    kernel_narrow: tuple[int, int]
    kernel_sizes: list[tuple[int, int]]
    hessian_sizes: list[tuple[int, int]]
    gd_size: tuple[int, int]
    gd_iter: int
    fit_sizes: list[tuple[int, int]]
    fit_repeats: int
    solver_size: tuple[int, int]
    solver_repeats: int
    solver_budget: float
    solver_tol: float
    stochastic_tol: float
    memory_size: tuple[int, int]
    cooldown: float = 0.0


def full_config() -> Config:
    """The sizes the targets of the performance issue are stated at."""
    return Config(quick=False, repeats=9, min_sample=0.05, threads=(1, 2), probe_bytes=1 << 30,
                  kernel_wide=(1_000_000, 100), kernel_narrow=(1_000_000, 10),
                  kernel_sizes=[(1_000, 10), (100_000, 100), (1_000_000, 100), (1_000_000, 10)],
                  hessian_sizes=[(100_000, 100), (1_000_000, 20)], gd_size=(1_000, 10), gd_iter=200,
                  fit_sizes=[(100_000, 100), (1_000_000, 20)], fit_repeats=3,
                  solver_size=(100_000, 100), solver_repeats=3, solver_budget=30.0,
                  solver_tol=1e-8, stochastic_tol=1e-4, memory_size=(1_000_000, 100), cooldown=0.1)


def quick_config() -> Config:
    """Tiny sizes: the whole run takes seconds. The numbers say nothing about the targets."""
    return Config(quick=True, repeats=3, min_sample=0.002, threads=(1, 2), probe_bytes=64 << 20,
                  kernel_wide=(20_000, 50), kernel_narrow=(20_000, 5),
                  kernel_sizes=[(1_000, 10), (20_000, 50), (20_000, 5)],
                  hessian_sizes=[(5_000, 20)], gd_size=(1_000, 10), gd_iter=200,
                  fit_sizes=[(2_000, 10)], fit_repeats=1,
                  solver_size=(2_000, 10), solver_repeats=1, solver_budget=2.0,
                  solver_tol=1e-8, stochastic_tol=1e-4, memory_size=(20_000, 10))


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------

_T0 = time.perf_counter()
_progress = {"on": True}


def set_progress(on: bool) -> None:
    """Turn the progress messages of :func:`log_progress` on or off."""
    _progress["on"] = on


def log_progress(msg: str) -> None:
    """Progress to stderr (stdout may carry the report)."""
    if _progress["on"]:
        print(f"[bench {time.perf_counter() - _T0:7.1f}s] {msg}", file=sys.stderr, flush=True)


def fmt_time(seconds: float | None) -> str:
    """A duration with a unit that keeps three significant digits."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1.0:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def fmt_ratio(r: float | None) -> str:
    """A speed ratio as ``3.12x``."""
    return "—" if r is None or not math.isfinite(r) else f"{r:.2f}x"


def fmt_pct(p: float | None) -> str:
    """A fraction as a percentage."""
    return "—" if p is None or not math.isfinite(p) else f"{100 * p:.0f}%"


def fmt_size(n: int, d: int) -> str:
    """``1e6 x 100`` for round sizes, ``20000 x 50`` otherwise."""
    def one(k: int) -> str:
        e = int(round(math.log10(k))) if k > 0 else 0
        return f"1e{e}" if k == 10 ** e and e >= 3 else str(k)
    return f"{one(n)} x {d}"


def fmt_sci(x: float | None, digits: int = 2) -> str:
    """A small number in scientific notation."""
    return "—" if x is None or not math.isfinite(x) else f"{x:.{digits}e}"


def md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A markdown table."""
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def expit(z: np.ndarray) -> np.ndarray:
    """The logistic sigmoid, without overflow for any z."""
    e = np.exp(-np.abs(z))
    p: np.ndarray = np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return p


def linear_problem(n: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Random C-ordered X ~ N(0, 1), realistic weights and targets for both losses.

    Parameters
    ----------
    n, d : int
        Rows and columns of X.
    seed : int
        Seed of the generator.

    Returns
    -------
    X : ndarray of shape (n, d), float64
        Filled in place (no n-by-d temporary).
    y_log : ndarray of shape (n,)
        0/1 labels drawn with probability sigmoid(z).
    y_sq : ndarray of shape (n,)
        z plus unit Gaussian noise.
    w : ndarray of shape (d + 1,)
        ``[coef..., intercept]`` with ``z = X @ coef + intercept`` roughly N(0, 1).
    """
    rng = np.random.default_rng(seed)
    X = np.empty((n, d))
    rng.standard_normal(out=X)
    w = rng.standard_normal(d + 1) / np.sqrt(d + 1)
    z = X @ w[:-1] + w[-1]
    y_log = (rng.random(n) < expit(z)).astype(np.float64)
    y_sq = z + rng.standard_normal(n)
    return X, y_log, y_sq, w


def rel_diff(a: Any, b: Any) -> float:
    """Norm-wise relative difference of a from b."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    den = float(np.linalg.norm(b))
    return float(np.linalg.norm(a - b)) / (den if den > 0 else 1.0)


# ---------------------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------------------

class Limits:
    """Sets BLAS (and optionally OpenMP) thread limits around a block, via threadpoolctl.

    One ThreadpoolController is built once; entering a limit is then cheap, and it is always
    entered outside the timed region.
    """

    def __init__(self) -> None:
        try:
            from threadpoolctl import ThreadpoolController
            self.controller: Any = ThreadpoolController()
        except Exception:  # pragma: no cover - threadpoolctl is a dependency
            self.controller = None

    @contextlib.contextmanager
    def blas(self, n: int | None) -> Iterator[None]:
        """Limit BLAS to n threads inside the block (no limit when n is None)."""
        if n is None or self.controller is None:
            yield
            return
        with self.controller.limit(limits=n, user_api="blas"):
            yield

    def info(self) -> list[dict[str, Any]]:
        """threadpoolctl's description of the loaded thread pools."""
        return [] if self.controller is None else self.controller.info()


@dataclasses.dataclass
class Contender:
    """One thing to time: a name, a zero-argument callable and the BLAS thread limit to run it under."""

    name: str
    fn: Callable[[], Any]
    blas_threads: int | None = None


@dataclasses.dataclass
class Timing:
    """Median seconds per call of one contender, with the samples it came from."""

    median: float
    samples: list[float]
    number: int                  # calls per sample

    @property
    def spread(self) -> float:
        """(max - min) / median of the samples: how noisy the measurement was."""
        return (max(self.samples) - min(self.samples)) / self.median if self.median > 0 else 0.0


def _time_calls(fn: Callable[[], Any], number: int) -> float:
    gc.collect()
    was = gc.isenabled()
    gc.disable()
    try:
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        return (time.perf_counter() - t0) / number
    finally:
        if was:
            gc.enable()


def compare(contenders: Sequence[Contender], limits: Limits, repeats: int, min_sample: float,
            warmup: bool = True, cooldown: float = 0.0) -> dict[str, Timing]:
    """Time contenders side by side.

    Each contender is called once to warm up (and to choose how many calls make a sample of at
    least ``min_sample`` seconds), then ``repeats`` samples are taken, the contenders alternating
    in a rotating order.

    Parameters
    ----------
    contenders : sequence of Contender
    limits : Limits
    repeats : int
    min_sample : float
    warmup : bool
        Call each contender once before timing.
    cooldown : float
        Seconds to sleep before each sample of a contender with more than one BLAS thread.

    Returns
    -------
    dict of str to Timing
        Keyed by contender name.
    """
    numbers: dict[str, int] = {}
    for c in contenders:
        with limits.blas(c.blas_threads):
            t = _time_calls(c.fn, 1) if warmup else 0.0
            if t < min_sample:
                t = _time_calls(c.fn, 1)
        numbers[c.name] = max(1, min(100_000, math.ceil(min_sample / max(t, 1e-9))))
    samples: dict[str, list[float]] = {c.name: [] for c in contenders}
    k = len(contenders)
    for r in range(repeats):
        order = [contenders[(r + i) % k] for i in range(k)]
        for c in order:
            with limits.blas(c.blas_threads):
                if cooldown > 0 and (c.blas_threads is None or c.blas_threads > 1):
                    time.sleep(cooldown)
                samples[c.name].append(_time_calls(c.fn, numbers[c.name]))
    return {name: Timing(statistics.median(s), s, numbers[name]) for name, s in samples.items()}


# ---------------------------------------------------------------------------------------------
# Targets
# ---------------------------------------------------------------------------------------------

@dataclasses.dataclass
class Target:
    """One target of the performance issue and what was measured for it."""

    section: str
    name: str
    threshold: float
    kind: str                    # "ratio" (>=), "share" (>=), "within" (<=), "bytes" (<=), "bool"
    measured: float | None = None
    note: str = ""
    unavailable: str = ""        # why the target could not be measured

    @property
    def met(self) -> bool | None:
        """True or False once measured; None when not measured."""
        if self.measured is None or not math.isfinite(self.measured):
            return None
        if self.kind in ("ratio", "share"):
            return self.measured >= self.threshold
        if self.kind in ("within", "bytes"):
            return self.measured <= self.threshold
        return bool(self.measured)

    def cells(self) -> list[str]:
        """Target, measured, verdict, note: one row of the targets table."""
        if self.kind == "ratio":
            goal, got = f">= {self.threshold:.2f}x", fmt_ratio(self.measured)
        elif self.kind == "share":
            goal, got = f">= {100 * self.threshold:.0f}% of bandwidth", fmt_pct(self.measured)
        elif self.kind == "within":
            goal, got = f"<= {self.threshold:.2f}x the bare syrk", fmt_ratio(self.measured)
        elif self.kind == "bytes":
            goal = f"<= {self.threshold / 2**20:.1f} MiB"
            got = "—" if self.measured is None else f"{self.measured / 2**20:.1f} MiB"
        else:
            goal = "yes"
            got = "—" if self.measured is None else ("yes" if self.measured else "no")
        if self.unavailable:
            verdict = "not available"
        else:
            verdict = {True: "met", False: "NOT met", None: "not measured"}[self.met]
        return [self.name, goal, got, verdict, self.note or self.unavailable]


# ---------------------------------------------------------------------------------------------
# What the sections produce
# ---------------------------------------------------------------------------------------------

@dataclasses.dataclass
class Report:
    """What the sections produce: markdown blocks, targets and raw numbers."""

    cfg: Config
    limits: Limits
    blocks: dict[str, str] = dataclasses.field(default_factory=dict)
    targets: list[Target] = dataclasses.field(default_factory=list)
    raw: dict[str, Any] = dataclasses.field(default_factory=dict)
    bandwidth: dict[int, float] = dataclasses.field(default_factory=dict)   # threads -> bytes/s


def call_method(obj: Any, method: str | None, **kw: Any) -> Any:
    """gdfast.minimize, raising MethodUnavailable when the method does not exist (yet)."""
    try:
        if method is None:
            return gdfast.minimize(obj, **kw)
        return gdfast.minimize(obj, method=method, **kw)
    except ValueError as e:
        if method is not None and "method" in str(e) and repr(method) in str(e):
            raise MethodUnavailable(method) from e
        raise


class MethodUnavailable(Exception):
    """gdfast.minimize does not know this method (yet)."""
