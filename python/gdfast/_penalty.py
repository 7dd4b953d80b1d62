"""Penalties on the coefficients: what the cost adds to the data term.

The kernels compute the data term (the weighted mean loss); a penalty gives its own value,
gradient, Hessian diagonal, proximal operator and stationarity measure over ``w = [coef...,
intercept]``. The intercept is never penalised: every method leaves the entries from
``n_features`` on untouched. A penalty whose gradient is linear (L2) also has a compiled form,
``l2``, that the loops running in C (gradient descent, Nesterov, SGD) add themselves.
"""
from __future__ import annotations

import numpy as np

from ._validation import check_vector

__all__ = ["L2", "ElasticNet"]


class L2:
    """``alpha / 2 * ||coef||^2``.

    Parameters
    ----------
    alpha : float
        The strength, at least 0 (already validated by the caller).
    """

    def __init__(self, alpha: float) -> None:
        self.alpha = float(alpha)

    @property
    def l2(self) -> float:
        """The strength of the L2 part, which the compiled kernels add themselves."""
        return self.alpha

    @property
    def curvature(self) -> float:
        """The penalty's largest curvature: its share of the bound L of ``1/L`` steps."""
        return self.alpha

    @property
    def l1(self) -> float:
        """The strength of the L1 part: 0 (the penalty is smooth)."""
        return 0.0

    def thresholds(self, n_features: int) -> np.ndarray:
        """The L1 strength of each coefficient: 0."""
        return np.zeros(n_features)

    def l1_value(self, w: np.ndarray, n_features: int) -> float:
        """The non-smooth part of the value: 0."""
        return 0.0

    def l1_prox(self, w: np.ndarray, step: float, n_features: int) -> np.ndarray:
        """The proximal operator of the non-smooth part alone (a copy of w: there is none)."""
        return np.array(w, dtype=np.float64)

    def value(self, w: np.ndarray, n_features: int) -> float:
        if self.alpha == 0.0:       # not alpha * sum: huge weights must not give 0 * inf
            return 0.0
        coef = w[:n_features]
        with np.errstate(over="ignore"):    # an overflow is inf, which the callers check
            return 0.5 * self.alpha * float(coef @ coef)

    def add_gradient(self, w: np.ndarray, n_features: int, grad: np.ndarray) -> np.ndarray:
        """grad += the penalty's gradient at w (in place); returns grad."""
        if self.alpha != 0.0:
            grad[:n_features] += self.alpha * w[:n_features]
        return grad

    def hessian_diagonal(self, n_params: int, n_features: int) -> np.ndarray:
        """The penalty's Hessian, which is diagonal: alpha on coef, 0 on the intercept."""
        diag = np.zeros(n_params)
        diag[:n_features] = self.alpha
        return diag

    def prox(self, w: np.ndarray, step: float, n_features: int) -> np.ndarray:
        """``argmin_v penalty(v) + ||v - w||^2 / (2 step)``: coef shrunk by ``1 + step alpha``."""
        out = np.array(w, dtype=np.float64)
        out[:n_features] /= 1.0 + step * self.alpha
        return out

    def min_norm_subgradient(self, w: np.ndarray, grad: np.ndarray,
                             n_features: int) -> np.ndarray:
        """The element of the cost's subdifferential at w nearest 0, given the gradient of the
        cost's smooth part (the data term and any L2 part): for a smooth penalty, a copy of it."""
        return np.array(grad, dtype=np.float64)

    def stationarity(self, w: np.ndarray, grad: np.ndarray, n_features: int) -> float:
        """The distance (max-norm) of 0 from the subdifferential of the cost at w, given the
        gradient of the smooth part: 0 exactly at a minimiser (the KKT conditions); for a
        smooth penalty, max|grad|."""
        full = self.min_norm_subgradient(w, grad, n_features)
        return float(np.max(np.abs(full))) if full.size else 0.0

    def __repr__(self) -> str:
        return f"L2(alpha={self.alpha!r})"


class ElasticNet(L2):
    """``alpha * (l1_ratio * sum_j f_j |coef_j| + (1 - l1_ratio) / 2 * ||coef||^2)``.

    glmnet's and glum's form of the elastic net, with per-feature penalty factors ``f_j >= 0``
    on the L1 part (a factor of 0 leaves that coefficient free of the L1 term; the L2 part is
    the same for every coefficient, so that the compiled kernels, which add a single strength
    themselves, see only ``l2 = (1 - l1_ratio) * alpha``). ``l1_ratio = 0`` is :class:`L2`.

    Parameters
    ----------
    alpha : float
        The strength, at least 0 (already validated by the caller).
    l1_ratio : float
        In [0, 1] (already validated).
    penalty_factor : ndarray of shape (n_features,) or None
        Non-negative factors on the L1 part (already validated); None: all 1.
    """

    def __init__(self, alpha: float, l1_ratio: float = 0.0,
                 penalty_factor: np.ndarray | None = None) -> None:
        super().__init__(alpha)
        self.l1_ratio = float(l1_ratio)
        self.penalty_factor = penalty_factor
        self._l2 = (1.0 - self.l1_ratio) * self.alpha if self.l1_ratio < 1.0 else 0.0

    @property
    def l2(self) -> float:
        """``(1 - l1_ratio) * alpha``: the smooth part, which the compiled kernels add."""
        return self._l2

    @property
    def l1(self) -> float:
        """``l1_ratio * alpha``: the strength of the L1 part (0: the penalty is smooth)."""
        return self.l1_ratio * self.alpha

    @property
    def curvature(self) -> float:
        return self._l2

    def thresholds(self, n_features: int) -> np.ndarray:
        """The L1 strength of each coefficient, ``l1 * f_j``."""
        if self.penalty_factor is None:
            return np.full(n_features, self.l1)
        return self.l1 * self.penalty_factor

    def l1_value(self, w: np.ndarray, n_features: int) -> float:
        """``l1 * sum_j f_j |coef_j|``: the non-smooth part of the value."""
        if self.l1 == 0.0:
            return 0.0
        a = np.abs(w[:n_features])
        with np.errstate(over="ignore"):
            s = float(a.sum() if self.penalty_factor is None else self.penalty_factor @ a)
        return self.l1 * s

    def l1_prox(self, w: np.ndarray, step: float, n_features: int) -> np.ndarray:
        """The proximal operator of the L1 part alone: each coefficient soft-thresholded at
        ``step * l1 * f_j`` (what a proximal-gradient step takes after a gradient step on the
        smooth part, which includes the L2 part); the intercept is left as it is."""
        out = np.array(w, dtype=np.float64)
        if self.l1 > 0.0:
            coef = out[:n_features]
            t = step * self.thresholds(n_features)
            np.copysign(np.maximum(np.abs(coef) - t, 0.0), coef, out=coef)
        return out

    def smooth_value(self, w: np.ndarray, n_features: int) -> float:
        """``l2 / 2 * ||coef||^2``: the smooth part of the value."""
        if self._l2 == 0.0:
            return 0.0
        coef = w[:n_features]
        with np.errstate(over="ignore"):
            return 0.5 * self._l2 * float(coef @ coef)

    def value(self, w: np.ndarray, n_features: int) -> float:
        return self.smooth_value(w, n_features) + self.l1_value(w, n_features)

    def add_gradient(self, w: np.ndarray, n_features: int, grad: np.ndarray) -> np.ndarray:
        """grad += the gradient of the smooth (L2) part at w (in place); returns grad."""
        if self._l2 != 0.0:
            grad[:n_features] += self._l2 * w[:n_features]
        return grad

    def hessian_diagonal(self, n_params: int, n_features: int) -> np.ndarray:
        diag = np.zeros(n_params)
        diag[:n_features] = self._l2
        return diag

    def prox(self, w: np.ndarray, step: float, n_features: int) -> np.ndarray:
        """``argmin_v penalty(v) + ||v - w||^2 / (2 step)``: soft-thresholding at ``step l1 f_j``,
        then the L2 shrinkage by ``1 + step l2``; the intercept is left as it is."""
        out = self.l1_prox(w, step, n_features)
        coef = out[:n_features]
        if self._l2 > 0.0:
            coef /= 1.0 + step * self._l2
        return out

    def min_norm_subgradient(self, w: np.ndarray, grad: np.ndarray,
                             n_features: int) -> np.ndarray:
        """The element of the cost's subdifferential at w nearest 0, given the gradient ``grad``
        of the smooth part (the data term plus ``l2 * coef``).

        On a non-zero coefficient the cost is differentiable: ``g_j + l1 f_j sign(w_j)``. On a
        zero one the subdifferential is ``[g_j - l1 f_j, g_j + l1 f_j]``, whose point nearest 0
        is ``sign(g_j) max(|g_j| - l1 f_j, 0)``. The intercept's entry is its gradient.
        """
        full = np.array(grad, dtype=np.float64)
        if self.l1 == 0.0:
            return full
        g, coef = full[:n_features], w[:n_features]
        t = self.thresholds(n_features)
        zero = coef == 0.0
        g[~zero] += t[~zero] * np.sign(coef[~zero])
        g[zero] = np.copysign(np.maximum(np.abs(g[zero]) - t[zero], 0.0), g[zero])
        return full

    def __repr__(self) -> str:
        if self.l1_ratio == 0.0 and self.penalty_factor is None:
            return f"L2(alpha={self.alpha!r})"
        pf = "" if self.penalty_factor is None else ", penalty_factor=[...]"
        return f"ElasticNet(alpha={self.alpha!r}, l1_ratio={self.l1_ratio!r}{pf})"


def check_penalty_factor(penalty_factor: object, n_features: int) -> np.ndarray | None:
    """None, or n_features finite non-negative factors (a float64 copy)."""
    if penalty_factor is None:
        return None
    pf = check_vector(penalty_factor, n_features, "penalty_factor", "one factor per feature")
    if (pf < 0).any():
        j = int(np.argmax(pf < 0))
        raise ValueError(f"penalty_factor must be non-negative; penalty_factor[{j}] = {pf[j]!r}")
    return pf
