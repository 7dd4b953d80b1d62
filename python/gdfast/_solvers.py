"""gdfast.minimize: every way down the cost, with one result type.

The methods live in one module per family (``_first_order``: gd, nesterov; ``_sgd``: sgd, adam;
``_newton``: newton, newton-cg; ``_lbfgs``: lbfgs; shared pieces in ``_common``); this module
validates the call and dispatches.

Stopping rule (all methods): the run has converged when

    max_j |gradient_j(w)| <= tol * G,    G = max_j |gradient_j(0)|,

the largest gradient component relative to its value at w = 0, whatever the start: a warm start
near the optimum does not make tol unreachable, and a start far from it (whose gradient is huge)
does not make "converged" easy. (G is the gradient at w0 only when the gradient at 0 is zero.
For a loss defined for z > 0 only, the inverse and identity links, "0" is the intercept-only
point the run starts from by default: ``Objective.start_point``.)
Multiplying X by a constant (metres to millimetres) multiplies the coefficients' gradient and
their part of G alike, so the rule is unit-free without an intercept; the intercept's gradient
does not scale, so with one the rule is only close to unit-free (Newton's iteration counts do
not move; a first-order method may stop a little earlier or later). Newton, Newton-CG and L-BFGS
also stop at the rounding floor of double precision, the most any method can give: when the
predicted decrease of the cost is below its rounding error and the corrections (Newton,
Newton-CG) or the gradient (L-BFGS) stop shrinking. The rounding error is judged at the
magnitude of the optimum's cost (at most the cost at w = 0), so that a huge cost far from the
optimum is never taken for the floor; a line search that finds no lower cost away from the floor
ends the run "stalled", never "converged".

Every run first evaluates its start: a start where the cost or the gradient is not finite (or
overflows double precision) is refused with a ValueError naming w0, before any step.
"""
from __future__ import annotations

import inspect
import math
from typing import Any, Callable

import numpy as np

from ._common import Callback
from ._coordinate import cd
from ._first_order import gd, nesterov
from ._lbfgs import lbfgs, lbfgs_run
from ._newton import newton, newton_cg
from ._proximal import proximal
from ._protocols import ObjectiveBase, ObjectiveLike, as_objective
from ._result import OptimizeResult
from ._sampled_hessian import SampledHessian
from ._sgd import adam, sgd
from ._validation import check_name, check_scalar, check_vector

METHODS: dict[str, Callable[..., OptimizeResult]] = {
    "gd": gd, "nesterov": nesterov, "sgd": sgd, "adam": adam, "newton": newton,
    "newton-cg": newton_cg, "lbfgs": lbfgs, "proximal": proximal, "cd": cd,
}
#: The methods that handle a penalty with an L1 part (``alpha * l1_ratio > 0``).
NONSMOOTH_METHODS = ("proximal", "cd")
DEFAULT_MAX_ITER = {"gd": 10_000, "nesterov": 10_000, "sgd": 50, "adam": 50, "newton": 100,
                    "newton-cg": 100, "lbfgs": 1_000, "proximal": 10_000, "cd": 100}
DEFAULT_TOL = {"sgd": 1e-4, "adam": 1e-4}           # the others: 1e-8
AUTO_NEWTON_MAX_PARAMS = 500      # "auto": Newton needs a Hessian of at most this many parameters,
AUTO_NEWTON_MAX_WORK = 2e8        # ... cheap to build: n * n_params^2 (syrk's flops) at most this
AUTO_REMOTE_NEWTON_MAX_PARAMS = 1000   # ... or 1000 when each evaluation is a round trip (Dask)
#: "auto" with an L1 part: proximal Newton ("cd") up to this many parameters where it forms the
#: Hessian (an objective without coordinate passes, e.g. the multinomial). Its Hessian passes
#: (BLAS syrk) beat FISTA's many fused passes there: L1 logistic regression at 20,000 x 500 and
#: x 1,000, 1 thread, 0.84 s against 1.51 s and 2.4 s against 7.1 s (benchmarks/RESULTS-l1.md).
#: Where the objective offers coordinate passes (no Hessian; every loss of Objective but the
#: squared error) "auto" takes "cd" at any size: 100,000 x 1,000 at 1 thread, 2.7 s against
#: FISTA's 21 s (benchmarks/RESULTS-l1.md).
AUTO_CD_MAX_PARAMS = 2000
AUTO_PRECONDITION_MAX_PARAMS = 2000   # "auto": L-BFGS's sampled-Hessian preconditioner up to
AUTO_PRECONDITION_MAX_PASSES = 2.0    # ... this many parameters above 500 when an estimate costs
                                      # at most 2 gradient passes (its Cholesky: p^3/3 flops)
AUTO_LBFGS_BUDGET = 300           # L-BFGS iterations before "auto" hands over to a Newton method
AUTO_RATE_WINDOW = 5              # ... or earlier, judged every 5 iterations (from the 10th) on its rate over the last 5


def choose_method(obj: ObjectiveLike) -> str:
    """What ``method="auto"`` runs first on this objective.

    Newton's method when the Hessian is small and cheap (at most 500 parameters and ``n *
    n_params^2 <= 2e8``, i.e. a BLAS syrk of well under a second): it converges in a handful of
    steps whatever the units or the conditioning. For the squared error Newton's method is the
    exact least-squares solve, chosen whenever the Hessian has at most 500 parameters (at any n:
    it costs one Hessian and two or three passes, and gives the solution to the last digits
    where an iterative method gives the digits ``tol`` asks for). Otherwise L-BFGS: each
    iteration costs about one fused pass over X (a Newton iteration costs ``n * n_params^2`` for
    the Hessian), and on large dense data it reaches the same optimum several times faster; with
at most 500 parameters (or up to 2000 when an estimate costs at most 2 gradient passes, as for
the multinomial model's blocked Hessian) it is preconditioned by the Hessian estimated on a few
rows (gdfast._sampled_hessian), which makes its iterations as few on ill-conditioned data as on
well-conditioned data.
    Sparse data too large for Newton takes Newton-CG (Hessian-free; its sparse passes are cheap
    and it needs a handful of outer iterations where L-BFGS needs hundreds). L-BFGS's rate
    decides the rest: every 5 iterations (from the 10th) "auto" predicts from the gradient's
    observed reduction how many iterations L-BFGS still needs and hands over to Newton (at most
    500 parameters) when Newton's few Hessian passes would cost less (see _RateWatch); and if
    L-BFGS has not converged after 300 iterations, "auto" continues from its iterate with Newton
    or Newton-CG, whose Jacobi preconditioner is insensitive to the units.
    """
    full = as_objective(obj)
    if full.penalty.l1 > 0:
        # coordinate descent on the Hessian's model where the Hessian is small and cheap to form
        # (the squared error's covariance updates; proximal Newton for the other losses)
        # the squared error: always (residual updates where the Gram matrix does not pay)
        if full.offers_coordinate_passes or \
                (full.n_params <= AUTO_CD_MAX_PARAMS and full.can_form_hessian) or \
                (full.loss.quadratic and full.column_access() is not None):
            return "cd"
        return "proximal"
    if full.costly_evaluations and full.n_params <= AUTO_REMOTE_NEWTON_MAX_PARAMS \
            and full.can_form_hessian:
        return "newton"            # fewest round trips: a handful of Newton steps
    if full.loss.quadratic and _newton_can_run(full):
        # least squares: "newton" is the exact solve (gdfast._least_squares), one Hessian and
        # two or three compensated passes whatever n; an iterative method stops at tol
        return "newton"
    cheap_hessian = (_newton_can_run(full)
                     and full.n_samples * full.n_params ** 2 <= AUTO_NEWTON_MAX_WORK)
    if cheap_hessian:
        return "newton"
    # Sparse X: a Hessian-vector product costs two cheap sparse passes and Newton-CG converges
    # in a handful of outer iterations (6 against L-BFGS's ~500 on the 200k x 50k benchmark).
    return "newton-cg" if _is_sparse(full) else "lbfgs"


def _is_sparse(obj: ObjectiveBase) -> bool:
    return obj.nnz < obj.n_samples * obj.n_features


def _newton_can_run(obj: ObjectiveBase) -> bool:
    """At most 500 parameters, and a Hessian the objective agrees to form (sparse X has a cap)."""
    return obj.n_params <= AUTO_NEWTON_MAX_PARAMS and obj.can_form_hessian


def _can_precondition(obj: ObjectiveBase) -> bool:
    """Whether "auto" preconditions L-BFGS with the sampled Hessian: as Newton, at most 500
    parameters; or up to 2000 when one estimate costs at most 2 gradient passes (the
    multinomial model, whose blocked Hessian is estimated from few rows: 509 parameters at
    100,000 x 50, K = 10, about 0.8 passes an estimate)."""
    if obj.costly_evaluations or not obj.can_form_hessian:
        return False
    if obj.n_params <= AUTO_NEWTON_MAX_PARAMS:
        return True
    return (obj.n_params <= AUTO_PRECONDITION_MAX_PARAMS
            and SampledHessian.plan(obj)[1] <= AUTO_PRECONDITION_MAX_PASSES)


def _auto(obj: ObjectiveBase, w: np.ndarray, max_iter: int, tol: float,
          callback: Callback | None) -> OptimizeResult:
    """L-BFGS, handed over to Newton when its observed rate says Newton is cheaper, or to Newton
    or Newton-CG when it stalls (see :func:`choose_method`)."""
    watch = _RateWatch(obj, tol, callback)
    precondition = SampledHessian.create(obj, w) if _can_precondition(obj) else None
    first = lbfgs_run(obj, w, min(max_iter, AUTO_LBFGS_BUDGET), tol, watch, 10, precondition)
    handover = watch.switch and first.status == "stopped"
    if not handover and (first.status != "max_iter" or first.n_iter >= max_iter):
        return first
    finish = newton if handover or _newton_can_run(obj) else newton_cg
    second = finish(obj, first.w, max_iter - first.n_iter, tol, callback)
    history = {key: np.concatenate([first.history[key], second.history[key]])
               for key in first.history if key in second.history}
    why = "its rate made Newton cheaper" if handover else "it stalled"
    return OptimizeResult(w=second.w, cost=second.cost, n_iter=first.n_iter + second.n_iter,
                          converged=second.converged, status=second.status,
                          message=f"{second.message} (L-BFGS for {first.n_iter} iterations, "
                                  f"then {second.method}: {why})",
                          method=f"lbfgs+{second.method}", history=history)


class _RateWatch:
    """L-BFGS's callback in "auto": every AUTO_RATE_WINDOW iterations from the 10th it
    measures the gradient's reduction per iteration r over the last AUTO_RATE_WINDOW and
    predicts the iterations L-BFGS still needs, ``R / -log10(r)`` for the R digits the
    stopping rule still asks for (``tol`` 0 counts as the default 1e-8). Newton from the same
    point needs about ``1 + log2(1 + R / 2)`` steps (quadratic convergence doubles the digits
    per step), each a Hessian pass that costs about ``1 + n_params / 16`` gradient passes (the
    register-tiled Gram against the fused gradient, benchmarks/RESULTS-architecture.md) plus a
    line search. When Newton is the cheaper, L-BFGS stops and Newton finishes. On data where
    L-BFGS converges fast (r ~ 0.2) it runs to the end; on ill-conditioned data it hands over.
    The user's callback is called as it would be."""

    def __init__(self, obj: ObjectiveBase, tol: float, callback: Callback | None) -> None:
        self.callback = callback
        self.active = _newton_can_run(obj) and not obj.costly_evaluations
        self.tol = tol if tol > 0 else 1e-8
        self.step_cost = 2.0 + obj.n_params / 16.0
        self.norms: list[float] = []
        self.switch = False

    def __call__(self, state: Any) -> bool:
        if self.callback is not None and self.callback(state):
            return True
        if not self.active:
            return False
        self.norms.append(state.grad_norm)
        k = len(self.norms)
        if k % AUTO_RATE_WINDOW or k < 2 * AUTO_RATE_WINDOW:
            return False
        start, end = self.norms[-AUTO_RATE_WINDOW - 1], self.norms[-1]
        if not (start > 0 and end > 0 and end < start):
            return False
        rate = (end / start) ** (1.0 / AUTO_RATE_WINDOW)
        digits = math.log10(end / (self.tol * self.norms[0]))
        if digits <= 0:
            return False
        lbfgs_left = digits / -math.log10(rate)
        newton_left = (1.0 + math.log2(1.0 + digits / 2.0)) * self.step_cost
        self.switch = lbfgs_left > newton_left
        return self.switch


def _keywords(func: Callable[..., Any]) -> dict[str, Any]:
    """The solver options of a method: its keyword-only parameters and their defaults."""
    return {name: p.default for name, p in inspect.signature(func).parameters.items()
            if p.kind is inspect.Parameter.KEYWORD_ONLY}


def minimize(obj: ObjectiveLike, method: str = "auto", w0: Any = None, learning_rate: Any = "auto",
             max_iter: int | None = None, tol: float | None = None,
             callback: Callback | None = None, **options: Any) -> OptimizeResult:
    """Minimise an Objective's cost over ``w = [coef..., intercept]``.

    Parameters
    ----------
    obj : gdfast.Objective or gdfast.dask.Objective
        Or any object with their attributes and methods (cost, gradient, Hessian ...); "sgd"
        and "adam" need a gdfast.Objective.
    method : {"auto", "gd", "nesterov", "sgd", "adam", "newton", "newton-cg", "lbfgs", "proximal", "cd"}
        - "gd": gradient descent ``w <- w - step * gradient``; the loop runs in C.
        - "nesterov": accelerated gradient with step 1/L and adaptive restart; in C.
        - "sgd": mini-batch stochastic gradient with momentum and iterate averaging; epochs in C.
          On sparse X an epoch costs O(nnz + n_features) with momentum 0 (the penalty and the
          averaging are applied lazily); momentum updates every coefficient at every batch,
          O(n_features) per batch on top.
        - "adam": mini-batch Adam; epochs in C. Like momentum, it updates every coefficient at
          every batch: O(n_features) per batch on top of the stored entries for sparse X.
        - "newton": Cholesky of the (equilibrated) Hessian, damped when not positive definite,
          with a backtracking line search; refines to the rounding floor. For the squared error
          it is a direct least-squares solve refined with compensated (double-double)
          residuals to the exact solution of the data, to the last digits of double precision;
          ``tol`` does not end it earlier (see :mod:`gdfast._least_squares`).
        - "newton-cg": Hessian-free Newton, conjugate gradients preconditioned by diag(H) on
          Hessian-vector products, with a line search on cached predictions (O(n) per trial).
        - "lbfgs": limited-memory BFGS with a strong Wolfe line search.
        - "proximal": FISTA (accelerated proximal gradient) with backtracking and adaptive
          restart, for a penalty with an L1 part (``l1_ratio * alpha > 0``; also any other
          objective); each iteration one or two fused passes over X. The stopping rule is
          then on the stationarity (:meth:`Objective.stationarity`) instead of the gradient.
        - "cd": coordinate descent for a penalty with an L1 part. For the squared error
          glmnet's covariance updates (the Gram matrix formed once, coordinate descent in C on
          it), and with more than 500 parameters or fewer rows than parameters residual updates
          instead (glmnet's naive updates: one column per coordinate, no Gram matrix). For the
          other losses of :class:`Objective` proximal Newton without the Hessian (glmnet's and
          newGLMNET's): each outer iteration one gradient pass (the KKT check on every
          feature) gives the IRLS weights, coordinate descent in C runs on the quadratic model
          over a working set (the non-zeros and the KKT violators) with residual updates, in
          covariance form over that set once it needs many sweeps, and a line search on the
          true cost costs O(n) per trial; the cost grows with the non-zeros, not the features.
          Other objectives (multinomial, Dask) form the Hessian each outer iteration and need
          one they can form; so does ``selection="random"``.
        - "auto" (default): for an L1 part, "cd" for the squared error, for every loss of
          :class:`Objective`, and where the Hessian has at most 2000 parameters and can be
          formed, else "proximal"; otherwise "newton" where the Hessian is small and cheap, otherwise "lbfgs"
          (finished by "newton" or "newton-cg" if it stalls) for dense X and "newton-cg" for
          sparse X (see :func:`choose_method`).
    w0 : array-like, optional
        Starting point (warm start); zeros by default (for a loss defined for z > 0 only, the
        inverse and identity links, the intercept-only point: see
        ``Objective.start_point``). The cost and gradient there must be finite (see Raises).
    learning_rate : float, "auto" or "backtracking"
        The step of the first-order methods (see the table); an error for the others.
    max_iter : int, optional
        Most iterations (epochs for "sgd" and "adam"). Defaults: gd and nesterov 10,000,
        sgd and adam 50, newton and newton-cg 100, lbfgs 1,000.
    tol : float, optional
        Stop when ``max|gradient| <= tol * max|gradient at w = 0|`` (see the module notes).
        Defaults: 1e-4 for sgd and adam, 1e-8 for the others. Not used by "newton" on the
        squared error, which always solves to the limit of double precision.
    callback : callable, optional
        Called with an :class:`IterationState` (``n_iter``, ``w``, ``cost``, ``grad_norm``,
        ``extra``) after each iteration (each epoch for sgd and adam); returning True stops the
        run with status "stopped".
    **options
        Keywords of the chosen method:

        =============  ==========  ===================  =============================================
        keyword        methods     default              meaning
        =============  ==========  ===================  =============================================
        learning_rate  gd          "auto"               float; "auto" = 1/L, L the curvature bound
                                                        (:meth:`Objective.curvature_bound`): never
                                                        diverges, cost non-increasing;
                                                        "backtracking" = Armijo line search
        learning_rate  nesterov    "auto"               float or "auto" (1/L)
        learning_rate  sgd         "auto"               float or "auto" = (1 - momentum) / L_B, L_B
                                                        the curvature bound of a batch
        learning_rate  adam        "auto"               float (in units of w) or "auto" = 1e-3
        batch_size     sgd, adam   32                   rows per step
        schedule       sgd, adam   "adaptive"           "adaptive": step / 5 after an epoch that did
                                                        not lower the cost; "constant";
                                                        "invscaling": ``step / (1 + epochs)^power_t``
                                                        (epochs counted in fractions, per batch)
        power_t        sgd, adam   0.5                  exponent of "invscaling"
        average        sgd, adam   False                True or an int k: return the mean of the
                                                        iterates after k epochs (True: k = 0)
        random_state   sgd, adam   None                 int, None or numpy Generator: the shuffles
        momentum       sgd         0.0                  heavy-ball momentum in [0, 1); > 0 costs
                                                        O(n_features) per batch on sparse X (0:
                                                        O(nnz + n_features) an epoch)
        beta1, beta2   adam        0.9, 0.999           decay of the moment estimates, in [0, 1)
        eps            adam        1e-8                 added to sqrt(vhat)
        max_cg_iter    newton-cg   min(max(2 d, 20),    CG steps per Newton step (d = n_params)
                                   500)
        memory         lbfgs       10                   correction pairs kept
        positive       cd          False                coefficients constrained to be >= 0
        selection      cd          "cyclic"             "cyclic" or "random" (coordinate order)
        random_state   cd          None                 seed of selection="random"
        =============  ==========  ===================  =============================================

    Returns
    -------
    OptimizeResult
        ``status`` is "converged", "max_iter", "diverged" (with a
        :class:`gdfast.DivergenceWarning` and the best finite iterate), "separated" (log loss,
        alpha = 0 and separable classes: no minimiser exists; with a
        :class:`gdfast.SeparationWarning`), "stopped" (by the callback) or "stalled" (no step
        lowers the cost although the gradient is far from the rounding floor: badly scaled
        columns of X or a start far from the optimum). "converged" is reported only at a
        finite cost where the stopping rule holds; every status returns finite weights and
        their cost. ``history`` holds the
        cost per iteration and, for every method, "grad_norm" (max-norm of the gradient) and
        "step" (the step taken; the learning rate for sgd and adam); newton-cg adds "cg_iter".
        sgd and adam return the epoch-end iterate with the lowest cost.

    Raises
    ------
    ValueError, TypeError
        For an unknown method (the message lists the valid ones), an option the method does not
        take, or an option out of range; and, before any step, for a start whose cost or
        gradient is not finite (the message starts with ``w0``, or with ``X`` or ``y`` when the
        data overflow there).
    """
    if not (hasattr(obj, "n_params") and hasattr(obj, "cost_gradient")):
        raise TypeError(f"obj must be a gdfast.Objective; got {type(obj).__name__}")
    check_name(method, "method", ["auto", *METHODS])
    requested = method
    if method == "auto":
        if options:
            raise TypeError(f"method='auto' takes no solver options (got {', '.join(options)}); "
                            "name the method to pass them")
        method = choose_method(obj)
    penalty = as_objective(obj).penalty
    if penalty.l1 > 0 and method not in NONSMOOTH_METHODS:
        raise ValueError(
            f"method={method!r} needs a smooth cost, and this objective has an L1 part "
            f"(alpha * l1_ratio = {penalty.l1:g} > 0); use method='auto' or one of "
            f"{', '.join(map(repr, NONSMOOTH_METHODS))}")
    func = _auto if (requested == "auto" and method == "lbfgs") else METHODS[method]
    valid = _keywords(func)
    unknown = sorted(set(options) - set(valid))
    if unknown:
        listed = ", ".join(["learning_rate", *[k for k in valid if k != "learning_rate"]]
                           if "learning_rate" in valid else valid) or "none"
        raise TypeError(f"method={method!r} got unexpected option(s) {', '.join(unknown)}; "
                        f"its options are: {listed}")
    if "learning_rate" in valid:
        options["learning_rate"] = learning_rate
    elif not (isinstance(learning_rate, str) and learning_rate == "auto"):
        chosen = f"method='auto' (here {method!r})" if requested == "auto" else f"method={method!r}"
        raise ValueError(f"learning_rate is not used by {chosen}, which chooses its own steps; "
                         "leave it at 'auto' or name a first-order method")
    if max_iter is None:
        max_iter = DEFAULT_MAX_ITER[method]
    max_iter = check_scalar(max_iter, "max_iter", low=1, integer=True)
    tol = check_scalar(DEFAULT_TOL.get(method, 1e-8) if tol is None else tol, "tol", low=0.0)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable; got {callback!r}")
    full = as_objective(obj)
    w = full.start_point() if w0 is None else check_vector(w0, obj.n_params, "w0", "obj.n_params")
    return func(full, w, max_iter, tol, callback, **options)
