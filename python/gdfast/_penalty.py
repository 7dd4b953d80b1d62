"""Penalties on the coefficients: what the cost adds to the data term.

The kernels compute the data term (the weighted mean loss); a penalty gives its own value,
gradient, Hessian diagonal, proximal operator and stationarity measure over ``w = [coef...,
intercept]``. The intercept is never penalised: every method leaves the entries from
``n_features`` on untouched. A penalty whose gradient is linear (L2) also has a compiled form,
``l2``, that the loops running in C (gradient descent, Nesterov, SGD) add themselves.
"""
from __future__ import annotations

import numpy as np

__all__ = ["L2"]


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

    def stationarity(self, w: np.ndarray, grad: np.ndarray, n_features: int) -> float:
        """The distance of 0 from the subdifferential of the cost at w, given the data term's
        gradient: for a smooth penalty, max-norm of the full gradient."""
        full = self.add_gradient(w, n_features, np.array(grad, dtype=np.float64))
        return float(np.max(np.abs(full))) if full.size else 0.0

    def __repr__(self) -> str:
        return f"L2(alpha={self.alpha!r})"
