"""The objective contract: what a solver may ask of an objective, and the defaults.

``ObjectiveLike`` is the required part, as a type: the attributes and the cost, gradient,
Hessian and Hessian-vector product over ``w = [coef..., intercept]``. Any object that has them
can be minimised. ``ObjectiveBase`` adds the optional fast paths, each with a default written
in terms of the required part; gdfast.Objective (compiled kernels over in-memory or sparse data)
and gdfast.dask.Objective subclass it and override what they can do faster. ``as_objective``
gives a solver the full contract for any ObjectiveLike, so that solvers never look inside an
objective nor probe it for attributes.

The optional part:

- ``cost_grad_into(w, grad)``: the cost, with the gradient written into ``grad``, for a ``w``
  the solver already validated (no per-call checks);
- ``descent_run(...)``: gradient descent and Nesterov loops (compiled over the objective's own
  kernel, or over its ``cost_gradient`` with the GIL taken per evaluation);
- ``newton_cg_passes(w)``: what Newton-CG needs per outer iteration (gradient, Jacobi
  preconditioner, Hessian-vector products, a line search) — with cached predictions, a trial
  step costs O(n) and no pass over X;
- ``gram_diagonal()``: ``diag(Xa^T S Xa)``, for a safe first step of a line search (None when
  the objective cannot give it cheaply);
- ``separates(w)``: whether ``w`` proves that the optimum is at infinity (separable classes);
- ``pearson_chi2(w)``: Pearson's chi^2 at ``w``, for the dispersion of a GLM loss (gdfast.stats);
- ``weight_sum``, ``min_positive_weight``, ``nnz``, ``can_form_hessian``: sizes that the
  stopping rules and the choice of method read.
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any, Callable, Protocol

import numpy as np

from ._overflow import OverflowInputError, trial_cost
from ._penalty import L2
from .losses import Loss, get_loss


class ObjectiveLike(Protocol):
    """Cost, gradient and Hessian of a linear model over ``w = [coef..., intercept]``.

    The attributes are read-only here, so plain instance attributes meet them. ``w`` and ``v``
    are positional: an implementation may name them as it likes. ``loss`` may be a registered
    loss's name or a :class:`gdfast.losses.Loss`.
    """

    @property
    def n_params(self) -> int: ...
    @property
    def n_samples(self) -> int: ...
    @property
    def n_features(self) -> int: ...
    @property
    def loss(self) -> Any: ...
    @property
    def alpha(self) -> float: ...
    @property
    def fit_intercept(self) -> bool: ...
    @property
    def sample_weight(self) -> Any:
        """ndarray of shape (n_samples,) or None for gdfast.Objective; a dask array for
        gdfast.dask.Objective."""
    @property
    def n_threads(self) -> int | None: ...

    def cost(self, w: np.ndarray, /) -> float: ...
    def gradient(self, w: np.ndarray, /) -> np.ndarray: ...
    def cost_gradient(self, w: np.ndarray, /) -> tuple[float, np.ndarray]: ...
    def hessian(self, w: np.ndarray, /) -> np.ndarray: ...
    def cost_gradient_hessian(self, w: np.ndarray, /) -> tuple[float, np.ndarray, np.ndarray]: ...
    def hessp(self, w: np.ndarray, v: np.ndarray, /) -> np.ndarray: ...
    def curvature_bound(self) -> float: ...


class CostGradient(Protocol):
    """What a loop that only evaluates (gdfast._core.descent_run_objective) reads of an
    objective."""

    @property
    def n_params(self) -> int: ...
    def cost_gradient(self, w: np.ndarray, /) -> tuple[float, np.ndarray]: ...


class NewtonPasses(Protocol):
    """Newton-CG's work per outer iteration (see ObjectiveBase.newton_cg_passes)."""

    def cost_gradient(self, w: np.ndarray, /) -> tuple[float, np.ndarray]: ...
    def preconditioner_diagonal(self) -> np.ndarray: ...
    def hessp(self, v: np.ndarray, /) -> np.ndarray: ...
    def line(self, w: np.ndarray, d: np.ndarray, /) -> Callable[[float], float]: ...
    def advance(self, w: np.ndarray, t: float, d: np.ndarray, /) -> np.ndarray: ...


class CoordinatePasses(NewtonPasses, Protocol):
    """Newton-CG's passes plus what proximal Newton by coordinate descent reads (see
    ObjectiveBase.coordinate_passes): after ``cost_gradient(w)``, the per-sample first and second
    derivatives of the weighted loss at the cached predictions, and a line along a step whose
    predictions the caller already holds."""

    def weights(self) -> tuple[np.ndarray, np.ndarray]: ...
    def line_along(self, w: np.ndarray, d: np.ndarray, zd: np.ndarray, /
                   ) -> Callable[[float], float]: ...


class ContractPasses:
    """Newton-CG's passes over the required contract: cost_gradient, hessp and cost calls, and
    no preconditioner (the Hessian's diagonal needs a pass the contract lacks)."""

    def __init__(self, obj: ObjectiveLike, w: np.ndarray) -> None:
        self.obj, self.w = obj, w
        self.ones = np.ones(obj.n_params)

    def cost_gradient(self, w: np.ndarray) -> tuple[float, np.ndarray]:
        self.w = w
        c, g = self.obj.cost_gradient(w)
        return float(c), g

    def preconditioner_diagonal(self) -> np.ndarray:
        return self.ones

    def hessp(self, v: np.ndarray) -> np.ndarray:
        return self.obj.hessp(self.w, v)

    def line(self, w: np.ndarray, d: np.ndarray) -> Callable[[float], float]:
        return lambda t: trial_cost(self.obj, w + t * d)

    def advance(self, w: np.ndarray, t: float, d: np.ndarray) -> np.ndarray:
        return w + t * d


class ObjectiveBase(ABC):
    """The optional part of the objective contract, with defaults (see the module notes).

    Subclasses provide the required part (``ObjectiveLike``) and set ``loss`` (a Loss) and
    ``penalty``; they override a fast path when they have one.
    """

    n_params: int
    n_samples: int
    n_features: int
    fit_intercept: bool
    n_threads: int | None
    loss: Loss
    penalty: L2
    sample_weight: Any
    #: The sum of the sample weights (the number of samples without weights).
    weight_sum: float
    #: The smallest positive sample weight (1 without weights).
    min_positive_weight: float

    # -- required (subclasses implement) ------------------------------------------------------

    @abstractmethod
    def cost(self, w: np.ndarray, /) -> float:
        """Required."""

    @abstractmethod
    def gradient(self, w: np.ndarray, /) -> np.ndarray:
        """Required."""

    @abstractmethod
    def cost_gradient(self, w: np.ndarray, /) -> tuple[float, np.ndarray]:
        """Required."""

    @abstractmethod
    def hessian(self, w: np.ndarray, /) -> np.ndarray:
        """Required."""

    @abstractmethod
    def cost_gradient_hessian(self, w: np.ndarray, /) -> tuple[float, np.ndarray, np.ndarray]:
        """Required."""

    @abstractmethod
    def hessp(self, w: np.ndarray, v: np.ndarray, /) -> np.ndarray:
        """Required."""

    @abstractmethod
    def curvature_bound(self) -> float:
        """Required."""

    # -- optional, with defaults ----------------------------------------------------------------

    @property
    def alpha(self) -> float:
        """The strength of the penalty (``self.penalty.alpha``)."""
        return self.penalty.alpha

    @property
    def penalty_n_coef(self) -> int:
        """How many leading entries of ``w`` the penalty acts on (the coefficients)."""
        return self.n_features

    def prox(self, w: np.ndarray, step: float) -> np.ndarray:
        """The penalty's proximal operator ``argmin_v penalty(v) + ||v - w||^2 / (2 step)``.

        Soft-thresholding of each coefficient at ``step * alpha * l1_ratio * f_j`` followed by
        the L2 shrinkage ``1 / (1 + step * alpha * (1 - l1_ratio))``; the intercept is left as
        it is.

        Parameters
        ----------
        w : ndarray of shape (n_params,)
        step : float
            Positive.

        Returns
        -------
        ndarray of shape (n_params,)
        """
        return self.penalty.prox(np.asarray(w, dtype=np.float64), float(step), self.penalty_n_coef)

    def stationarity(self, w: np.ndarray, grad: np.ndarray | None = None) -> float:
        """The distance (max-norm) of 0 from the subdifferential of the cost at ``w``.

        0 exactly at a minimiser: these are the KKT conditions. On a coefficient that is not 0,
        ``|g_j + alpha l1_ratio f_j sign(w_j)|``; on one that is 0, ``max(|g_j| - alpha
        l1_ratio f_j, 0)``; on the intercept ``|g_j|`` (g the gradient of the smooth part,
        :meth:`gradient`). For a smooth penalty it is ``max|gradient|``. The stopping rule of
        ``method="proximal"`` and ``"cd"`` holds it below ``tol * max|gradient(0)|``.

        Parameters
        ----------
        w : ndarray of shape (n_params,)
        grad : ndarray of shape (n_params,), optional
            :meth:`gradient` at ``w`` when already known (saves a pass over X).

        Returns
        -------
        float
        """
        w = np.asarray(w, dtype=np.float64)
        if grad is None:
            grad = self.gradient(w)
        return self.penalty.stationarity(w, grad, self.penalty_n_coef)

    def cost_grad_into(self, w: np.ndarray, grad: np.ndarray) -> float:
        """The cost at w, with the gradient written into grad (w already validated).

        Where the cost or gradient overflows double precision it returns inf (the gradient
        NaN) instead of raising: a solver's trial point there is rejected, not an error."""
        try:
            cost, g = self.cost_gradient(w)
        except OverflowInputError:
            grad[:] = math.nan
            return math.inf
        grad[:] = g
        return float(cost)

    def descent_run(self, mode: int, w: np.ndarray, aux: np.ndarray, lr: float, max_steps: int,
                    cost_hist: np.ndarray, gnorm_hist: np.ndarray, step_hist: np.ndarray,
                    it0: int, state: np.ndarray, best_w: np.ndarray, tol: float, final: bool
                    ) -> tuple[int, int]:
        """The compiled first-order loops (gdfast._descent), each evaluation a call of
        cost_gradient with the GIL taken; returns (evaluations made, code)."""
        from . import _core
        k, code = _core.descent_run_objective(_TrialPoints(self), mode, w, aux, lr, max_steps,
                                              cost_hist, gnorm_hist, step_hist, it0, state,
                                              best_w, tol, final)
        return int(k), int(code)

    def newton_cg_passes(self, w: np.ndarray) -> NewtonPasses:
        """Newton-CG's passes from the point w on."""
        return ContractPasses(self, w)

    def expected_hessian(self, w: np.ndarray) -> np.ndarray | None:
        """The Hessian of the cost with each target replaced by its fitted mean: the expected
        (Fisher) information's, up to the factor W / deviance_factor. For a canonical link it
        is :meth:`hessian`; None when the objective cannot form it.

        Parameters
        ----------
        w : ndarray of shape (n_params,)

        Returns
        -------
        ndarray of shape (n_params, n_params) or None
        """
        return self.hessian(w) if self.loss.canonical else None

    def row_sample(self, max_rows: int) -> ObjectiveBase | None:
        """The objective over at most ``max_rows`` rows spread evenly over the data (same loss,
        penalty and intercept; its cost the mean over those rows), whose Hessian estimates this
        one's for a preconditioner; None when not available.

        Parameters
        ----------
        max_rows : int

        Returns
        -------
        ObjectiveBase or None
        """
        return None

    def target_summary(self) -> tuple[float, float] | None:
        """The weighted mean of y and the smallest offset, for :meth:`start_point`.

        Returns
        -------
        (float, float) or None
            The mean and the smallest offset (0 without an offset); None when the objective
            cannot give them (a loss with a restricted domain then needs a w0).
        """
        return None

    def start_point(self) -> np.ndarray:
        """Where a run starts when no w0 is given, and where the stopping rule's G is measured.

        w = 0 for every loss whose mean is defined at z = 0. For a loss defined for z > 0 only
        (``Loss.restricted_domain``: the inverse and identity links of the Poisson and Gamma
        families) w = 0 is outside the domain; the start is then the intercept-only point:
        coef 0 and intercept ``link(mean y) - min(offset)`` (the weighted mean; with an offset
        every ``z = offset + intercept >= link(mean y) > 0``).

        Returns
        -------
        ndarray of shape (n_params,)

        Raises
        ------
        ValueError
            Naming ``w0`` when such a loss has no intercept (or the objective cannot give the
            mean of y), and ``y`` when that mean gives no valid start (all targets 0).
        """
        w = np.zeros(self.n_params)
        if not self.loss.restricted_domain:
            return w
        summary = self.target_summary() if self.fit_intercept else None
        if summary is None:
            raise ValueError(
                f"w0: loss={self.loss.name!r} (the {self.loss.link_name} link) is defined where "
                "every raw prediction X @ coef + intercept is > 0, and w = 0 is outside that "
                "domain; without an intercept there is no default start: pass a w0 whose "
                "predictions are all positive, set fit_intercept=True, or use the log link")
        mean, low = summary
        z0 = float(self.loss.link(np.array([mean]))[0])
        if not (math.isfinite(z0) and z0 > 0):
            raise ValueError(f"y: the weighted mean of the targets is {mean:g}, whose "
                             f"{self.loss.link_name} link gives no start inside the domain "
                             f"(a positive mean is needed for loss={self.loss.name!r})")
        w[-1] = z0 - low
        return w

    def _sample_rows(self, max_rows: int) -> np.ndarray | None:
        """The rows of :meth:`row_sample`: ``max_rows`` spread evenly over the data, the first
        and the last included; None when they carry no weight."""
        rows = np.linspace(0, self.n_samples - 1, max_rows).astype(np.intp)
        sw = self.sample_weight
        if sw is not None and not np.any(sw[rows] > 0):
            return None
        return rows

    def gram_diagonal(self) -> np.ndarray | None:
        """``diag(Xa^T S Xa)``, the columns' weighted mean squares; None when not cheap."""
        return None

    def constant_hessian(self) -> np.ndarray | None:
        """For a quadratic loss, its Hessian (the same at every w), C-contiguous, when the
        objective can give it without a pass over X (kept from an earlier call); None
        otherwise.

        Returns
        -------
        ndarray of shape (n_params, n_params) or None
        """
        return None

    @property
    def offers_coordinate_passes(self) -> bool:
        """Whether :meth:`coordinate_passes` gives passes (without making them)."""
        return False

    def coordinate_passes(self, w: np.ndarray) -> tuple[Any, CoordinatePasses] | None:
        """For proximal Newton by coordinate descent without the Hessian (a loss that is not
        quadratic): X by columns (a dense array, or ``(data, indices, indptr, n_rows)`` of a
        CSC copy) and the passes from ``w`` over cached predictions; None when not available.

        Parameters
        ----------
        w : ndarray of shape (n_params,)

        Returns
        -------
        (X by columns, CoordinatePasses) or None
        """
        return None

    def column_access(self) -> tuple[Any, np.ndarray, Callable[[np.ndarray], np.ndarray]] | None:
        """For a quadratic loss, what coordinate descent with residual updates reads: X by
        columns (a dense array, or ``(data, indices, indptr, n_rows)`` of a CSC copy), the
        normalised sample weights s, and a function giving the residuals ``y - z(w)`` (z the
        predictions, with any offset); None when not available.

        Returns
        -------
        (X by columns, ndarray, callable) or None
        """
        return None

    def residual_sums(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, float] | None:
        """A least-squares objective's ``G = Xa^T diag(sw) (y - Xa w)`` as ``hi + lo`` and
        ``RSS = sum sw (y - Xa w)^2``, unnormalised, to twice the precision of double
        (compensated residuals and sums); None when not available."""
        return None

    def accurate_cost_gradient(self, w: np.ndarray) -> tuple[float, np.ndarray] | None:
        """A least-squares objective's cost and gradient at w to twice the precision of double,
        rounded once (from :meth:`residual_sums`); None when not available.

        Parameters
        ----------
        w : ndarray of shape (n_params,)

        Returns
        -------
        (float, ndarray of shape (n_params,)) or None
        """
        sums = self.residual_sums(w)
        if sums is None:
            return None
        Ghi, Glo, rss = sums
        scale = 1.0 / self.weight_sum
        grad = self.penalty.add_gradient(w, self.n_features, -2.0 * scale * (Ghi + Glo))
        return scale * rss + self.penalty.value(w, self.n_features), grad

    def normal_equations(self) -> tuple[np.ndarray, np.ndarray] | None:
        """A least-squares objective's ``[Xa, y]^T diag(sw) [Xa, y]`` (unnormalised weights;
        ``n_params + 1`` square) as ``hi + lo`` to twice the precision of double; None when not
        available."""
        return None

    def separates(self, w: np.ndarray) -> bool:
        """True when w proves that the optimum is at infinity (by default: never known)."""
        return False

    def pearson_chi2(self, w: np.ndarray) -> float | None:
        """Pearson's chi^2 ``sum sw (y - mu)^2 / V(mu)`` at w, for a loss with Pearson residuals
        (``Loss.pearson_terms``); None when the loss has none or the objective cannot give it."""
        return None

    @property
    def nnz(self) -> int:
        """Stored entries of X (``n_samples * n_features`` when dense)."""
        return self.n_samples * self.n_features

    @property
    def can_form_hessian(self) -> bool:
        """Whether :meth:`hessian` agrees to form the dense Hessian."""
        return True

    #: The Hessian's structure, for the sampled-Hessian preconditioner (gdfast._sampled_hessian):
    #: it is ``hessian_blocks`` x ``hessian_blocks`` blocks, each a weighted Gram matrix of the
    #: same ``ceil(n_params / hessian_blocks)`` columns of Xa (1 for the one-output losses; the
    #: K classes for the multinomial model). A Gram of D columns is estimated from O(D) rows.
    hessian_blocks: int = 1

    #: True when every evaluation has a large fixed cost (a round trip to Dask workers):
    #: "auto" then prefers the method with the fewest evaluations.
    costly_evaluations: bool = False

    #: The rounding error of a computed cost, relative to its magnitude: a weighted sum over many
    #: rows in double precision (1e3 eps). Objectives over float32 data, whose predictions are
    #: summed in float32, set a larger one; a line search that finds no decrease smaller than
    #: this is at the rounding floor ("converged"), not stalled.
    cost_rounding: float = 1e3 * float(np.finfo(np.float64).eps)


class _TrialPoints:
    """An objective's ``cost_gradient`` for a loop that takes steps: a point where it overflows
    gives cost inf and a NaN gradient (the loop then ends as diverged) rather than an error."""

    def __init__(self, obj: ObjectiveBase) -> None:
        self.obj, self.n_params = obj, obj.n_params

    def cost_gradient(self, w: np.ndarray) -> tuple[float, np.ndarray]:
        g = np.empty(self.n_params)
        return self.obj.cost_grad_into(w, g), g


class _Wrapped(ObjectiveBase):
    """The full contract around an object that has only the required part."""

    def __init__(self, obj: ObjectiveLike) -> None:
        self._obj = obj
        self.loss = get_loss(obj.loss)
        self.penalty = L2(obj.alpha)

    def __getattr__(self, name: str) -> Any:
        # Called only for what this class does not define: the wrapped object's attributes, read
        # when a solver first asks for them (an objective may lack those no solver needs).
        if name in ("weight_sum", "min_positive_weight"):
            sw = self._obj.sample_weight
            sw = None if sw is None else np.asarray(sw, dtype=np.float64)
            if name == "weight_sum":
                return float(self._obj.n_samples if sw is None else np.sum(sw))
            return 1.0 if sw is None else float(np.min(sw[sw > 0]))
        return getattr(self._obj, name)

    def cost(self, w: np.ndarray, /) -> float:
        return float(self._obj.cost(w))

    def gradient(self, w: np.ndarray, /) -> np.ndarray:
        return self._obj.gradient(w)

    def cost_gradient(self, w: np.ndarray, /) -> tuple[float, np.ndarray]:
        return self._obj.cost_gradient(w)

    def hessian(self, w: np.ndarray, /) -> np.ndarray:
        return self._obj.hessian(w)

    def cost_gradient_hessian(self, w: np.ndarray, /) -> tuple[float, np.ndarray, np.ndarray]:
        return self._obj.cost_gradient_hessian(w)

    def hessp(self, w: np.ndarray, v: np.ndarray, /) -> np.ndarray:
        return self._obj.hessp(w, v)

    def curvature_bound(self) -> float:
        return float(self._obj.curvature_bound())


def as_objective(obj: ObjectiveLike) -> ObjectiveBase:
    """The full contract for obj: obj itself when it is an ObjectiveBase, else a wrapper."""
    return obj if isinstance(obj, ObjectiveBase) else _Wrapped(obj)
