"""Mini-batch stochastic methods: "sgd" (with momentum and iterate averaging) and "adam".

Whole epochs run in C without the GIL (``gdfast._stochastic``); this module shuffles, evaluates
the full cost and gradient once per epoch (one fused pass, for the history, the stopping rule and
divergence), adapts the learning rate for the "adaptive" schedule and keeps the best iterate.
An iteration is an epoch: ``max_iter`` counts epochs and the history has one entry per epoch.

Sparse X (an Objective built on scipy.sparse, held as CSR) is never densified: the epochs run on
its stored entries and give the iterates of the dense path on X densified (to rounding). Plain
SGD (momentum 0) costs O(nnz + n_features) an epoch: the penalty's decay is a scale factor on the
coefficients and the iterate average a running sum, both updated lazily, so a batch touches only
its stored entries. Momentum and Adam update every coefficient at every batch (their state decays
also where the batch has no entry): O(nnz + n_features * n_batches) an epoch.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import _stochastic
from ._common import STOPPED_MESSAGE, Callback, converged_message, is_diverging, max_iter_message
from ._monitor import Monitor
from ._first_order import no_bound_message, resolve_learning_rate
from ._objective import Objective
from ._result import OptimizeResult
from ._validation import check_random_state, check_scalar

SCHEDULES = ("constant", "invscaling", "adaptive")
ADAPTIVE_DIVISOR = 5.0          # "adaptive": the step is divided by this when an epoch does not help
ADAM_DEFAULT_STEP = 1e-3        # Adam's step is in the units of w (the usual default)
_ROW_BLOCK = 4096               # rows per block when computing row norms


def _check_options(batch_size: Any, schedule: Any, power_t: Any, average: Any,
                   random_state: Any) -> tuple[int, str, float, int | None, np.random.Generator]:
    batch_size = check_scalar(batch_size, "batch_size", low=1, integer=True)
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {', '.join(map(repr, SCHEDULES))}; got {schedule!r}")
    power_t = check_scalar(power_t, "power_t", low=0.0)
    if isinstance(average, (bool, np.bool_)):
        burn_in = 0 if average else None
    else:
        burn_in = check_scalar(average, "average", low=0, integer=True)
    seed = check_random_state(random_state)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    return batch_size, schedule, power_t, burn_in, rng


def _sample_factors(obj: Objective) -> np.ndarray | None:
    """n * s_i per row (None for unit weights): the batch mean of factor * loss' is unbiased."""
    if obj.sample_weight is None:
        return None
    factors: np.ndarray = obj.sample_weight * (obj.n_samples / obj.sample_weight.sum())
    return factors


def _auto_sgd_step(obj: Objective, batch_size: int, factors: np.ndarray | None) -> float:
    """1 / L_B, the "expected smoothness" of a batch of b rows drawn without replacement:

        L_B = n (b - 1) / (b (n - 1)) * L  +  (n - b) / (b (n - 1)) * L_max,

    between the full-batch curvature bound L (b = n) and the largest single-row bound
    ``L_max = c * max_i f_i |xa_i|^2 + alpha`` (b = 1), c = 2 or 1/4 for the squared or log loss
    (Gower et al., 2019). A step of 1/L_B makes a batch step as safe as a full one.
    """
    n, b = obj.n_samples, min(batch_size, obj.n_samples)
    L = obj.curvature_bound()
    c = obj.loss.curvature
    if c is None:
        raise ValueError(no_bound_message(obj, "sgd"))
    row_max = 0.0
    for i0 in range(0, n, _ROW_BLOCK):
        sq = _row_squared_norms(obj, i0, min(i0 + _ROW_BLOCK, n)) + float(obj.fit_intercept)
        if factors is not None:
            sq = sq * factors[i0:i0 + _ROW_BLOCK]
        row_max = max(row_max, float(sq.max()))
    L_max = c * row_max + obj.penalty.curvature
    if n == 1:
        L_B = L_max
    else:
        L_B = n * (b - 1) / (b * (n - 1)) * L + (n - b) / (b * (n - 1)) * L_max
    return 1.0 / L_B if L_B > 0 else 1.0        # L_B = 0: Xa = 0, alpha = 0, a flat cost


def _row_squared_norms(obj: Objective, i0: int, i1: int) -> np.ndarray:
    """|x_i|^2 in float64 for the rows i0 <= i < i1 of X, dense or sparse (never densified).

    A sparse block is copied (a few thousand rows) and its duplicate entries summed before
    squaring, since a repeated (row, column) counts as the sum of its entries.
    """
    if not obj.is_sparse:
        blk = np.asarray(obj.X[i0:i1], dtype=np.float64)
        sq: np.ndarray = np.einsum("ij,ij->i", blk, blk)
        return sq
    X: Any = obj.X                                # scipy.sparse CSR, matrix or array
    sub = X[i0:i1].astype(np.float64)            # a copy: sum_duplicates works in place
    sub.sum_duplicates()
    counts = np.diff(sub.indptr)
    rows = np.repeat(np.arange(i1 - i0), counts)
    squares: np.ndarray = np.bincount(rows, weights=sub.data * sub.data, minlength=i1 - i0)
    return squares


def _run_epoch(obj: Objective, stepper: _stochastic.Stepper, factors: np.ndarray | None,
               perm: np.ndarray, w: np.ndarray) -> bool:
    """One epoch of the stepper over obj's rows in the order perm (dense or CSR X)."""
    if obj.is_sparse:
        X: Any = obj.X                            # scipy.sparse CSR, matrix or array
        return stepper.run_epoch_csr(X.data, X.indices, X.indptr, obj.y, factors, perm, w,
                                     obj.offset)
    return stepper.run_epoch(obj.X, obj.y, factors, perm, w, obj.offset)


def _run(method: str, obj: Objective, w: np.ndarray, max_iter: int, tol: float,
         callback: Callback | None, stepper: _stochastic.Stepper, rng: np.random.Generator,
         burn_in: int | None, schedule: str, factors: np.ndarray | None, what: str, advice: str
         ) -> OptimizeResult:
    """The epoch loop shared by SGD and Adam."""
    D = obj.n_params

    def cost_grad(v: np.ndarray) -> tuple[float, float]:
        g = np.empty(D)
        c = obj.cost_grad_into(v, g)
        return c, float(np.max(np.abs(g)))

    monitor = Monitor(method, obj, w, max_iter, tol, callback)
    scale, separation = monitor.scale, monitor.separation
    start, gmax = cost_grad(w)
    costs, gnorms = [start], [gmax]
    steps: list[float] = []                       # steps[e]: the step during epoch e + 1
    best_cost, best_w = start, w.copy()
    current = w
    status, message = "max_iter", max_iter_message(max_iter, "epochs")

    epoch_steps = -(-obj.n_samples // stepper.batch_size)

    def step_now() -> float:
        """The step of the last update (the schedule applied to the base learning rate)."""
        if schedule != "invscaling":
            return stepper.learning_rate
        decay: float = (1.0 + max(stepper.steps - 1, 0) / epoch_steps) ** stepper.power_t
        return stepper.learning_rate / decay

    def hist() -> dict[str, list[float]]:
        return {"cost": costs, "grad_norm": gnorms, "step": steps}

    if gmax <= tol * scale:
        return monitor.finish(w, start, 0, "converged", converged_message(tol), hist())
    for epoch in range(1, max_iter + 1):
        stepper.averaging = burn_in is not None and epoch > burn_in
        finite = _run_epoch(obj, stepper, factors, rng.permutation(obj.n_samples), w)
        current = stepper.w_avg if stepper.averaging else w
        c, gmax = cost_grad(current) if finite else (math.inf, math.inf)
        costs.append(c)
        gnorms.append(gmax)
        steps.append(step_now())
        if not finite or not math.isfinite(gmax) or is_diverging(c, start):
            return monitor.diverged(best_w, best_cost, epoch, start, c, what, advice, hist())
        improved = c < best_cost
        if improved:
            best_cost, best_w = c, current.copy()
        elif schedule == "adaptive":
            stepper.learning_rate /= ADAPTIVE_DIVISOR
        if gmax <= tol * scale:
            status, message = "converged", converged_message(tol)
            best_cost, best_w = c, current.copy()
            break
        if separation(current, c):
            return monitor.separated(current, c, epoch, hist())
        if monitor.stop_requested(epoch, current, c, gmax, step=step_now()):
            return monitor.finish(current, c, epoch, "stopped", STOPPED_MESSAGE, hist())
    n_iter = len(costs) - 1
    if separation.separates(best_w):
        return monitor.separated(best_w, best_cost, n_iter, hist())
    return monitor.finish(best_w, best_cost, n_iter, status, message, hist())


def sgd(obj: Objective, w: np.ndarray, max_iter: int, tol: float, callback: Callback | None, *,
        learning_rate: Any = "auto", batch_size: int = 32, schedule: str = "adaptive",
        power_t: float = 0.5, momentum: float = 0.0, average: bool | int = False,
        random_state: Any = None) -> OptimizeResult:
    """Mini-batch stochastic gradient descent; see minimize for the keywords.

    Per batch: ``v <- momentum v - step g_batch``, ``w <- w + v``. The step is learning_rate
    ("auto": ``(1 - momentum) / L_B``, see _auto_sgd_step) under the schedule. With average,
    the result is the running mean of the iterates after ``average`` epochs (True: from the
    start), which removes most of the noise of a constant step.
    """
    code = _loss_code(obj)                       # first: a loss without one refuses here
    batch_size, schedule, power_t, burn_in, rng = _check_options(batch_size, schedule, power_t,
                                                                 average, random_state)
    momentum = check_scalar(momentum, "momentum", low=0.0)
    if momentum >= 1.0:
        raise ValueError(f"momentum must be in [0, 1); got {momentum!r}")
    factors = _sample_factors(obj)
    if learning_rate == "auto":
        lr = (1.0 - momentum) * _auto_sgd_step(obj, batch_size, factors)
    else:
        lr = float(resolve_learning_rate(obj, learning_rate))
    stepper = _stochastic.Stepper(_stochastic.METHOD_SGD, code, obj.fit_intercept,
                                  obj.penalty.l2, obj.n_params, batch_size, lr, _schedule_code(schedule),
                                  power_t, momentum=momentum, loss_param=obj.loss.param)
    return _run("sgd", obj, w, max_iter, tol, callback, stepper, rng, burn_in, schedule, factors,
                f"learning_rate={lr:.6g} and batch_size={batch_size}",
                "The step is too large for this data; use learning_rate='auto', a smaller value, "
                "or a larger batch_size.")


def adam(obj: Objective, w: np.ndarray, max_iter: int, tol: float, callback: Callback | None, *,
         learning_rate: Any = "auto", batch_size: int = 32, beta1: float = 0.9,
         beta2: float = 0.999, eps: float = 1e-8, schedule: str = "adaptive", power_t: float = 0.5,
         average: bool | int = False, random_state: Any = None) -> OptimizeResult:
    """Adam (Kingma and Ba, 2015) on mini-batches; see minimize for the keywords.

    ``m <- beta1 m + (1 - beta1) g``, ``v <- beta2 v + (1 - beta2) g^2``,
    ``w <- w - step * mhat / (sqrt(vhat) + eps)`` with the bias-corrected mhat, vhat. The step
    is in the units of w ("auto": 1e-3).
    """
    batch_size, schedule, power_t, burn_in, rng = _check_options(batch_size, schedule, power_t,
                                                                 average, random_state)
    for name, value in (("beta1", beta1), ("beta2", beta2)):
        v = check_scalar(value, name, low=0.0)
        if v >= 1.0:
            raise ValueError(f"{name} must be in [0, 1); got {value!r}")
    eps = check_scalar(eps, "eps", low=0.0, low_inclusive=False)
    lr = ADAM_DEFAULT_STEP if learning_rate == "auto" else float(resolve_learning_rate(obj, learning_rate))
    stepper = _stochastic.Stepper(_stochastic.METHOD_ADAM, _loss_code(obj), obj.fit_intercept,
                                  obj.penalty.l2, obj.n_params, batch_size, lr, _schedule_code(schedule),
                                  power_t, beta1=float(beta1), beta2=float(beta2), eps=eps,
                                  loss_param=obj.loss.param)
    return _run("adam", obj, w, max_iter, tol, callback, stepper, rng, burn_in, schedule, None
                if obj.sample_weight is None else _sample_factors(obj),
                f"learning_rate={lr:.6g}", "Use a smaller learning_rate (Adam's step is in the "
                "units of the weights; 1e-3 is the usual start).")


def _loss_code(obj: Objective) -> int:
    return obj.loss.code


def _schedule_code(schedule: str) -> int:
    return _stochastic.SCHEDULE_INVSCALING if schedule == "invscaling" else _stochastic.SCHEDULE_CONSTANT
