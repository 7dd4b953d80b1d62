"""The duality gap of elastic-net logistic regression: a certificate of how far a fit's cost is
from the optimum, from the fit alone.

With s the normalised sample weights, ``l(z, y) = log(1 + e^z) - y z`` (plus the binomial
entropy of y, a constant), and the penalty ``R(w) = l1 sum_j f_j |w_j| + l2/2 ||w||^2``, the
primal is ``P(w, b) = sum_i s_i l(z_i, y_i) + R(w)``. Its Fenchel dual over v (one entry per
row, with ``sum_i s_i v_i = 0`` for the free intercept) is

    D(v) = -sum_i s_i H(y_i + v_i) - R*(-X^T S v),    H(p) = p log p + (1 - p) log(1 - p),

with ``R*(u) = sum_j max(|u_j| - l1 f_j, 0)^2 / (2 l2)`` (for l2 = 0: 0 where every
``|u_j| <= l1 f_j``, else +inf). Every feasible v gives ``D(v) <= P(w, b)`` for every (w, b),
with equality at the optimum. The dual point is the gradient of the loss, ``v = p - y`` (p
the predicted probabilities), at the intercept that is best for the given coefficients (so
that ``sum s v = 0``), scaled by ``c = min(1, l1 f_j / |X^T S v|_j)`` when l2 = 0 (the scaling
keeps ``y + c v`` in [0, 1]). Two passes over X after the intercept's fit.
"""
from __future__ import annotations

import numpy as np
import scipy.special

from ._objective import Objective
from ._path import best_intercept

__all__ = ["log_loss_duality_gap"]


def log_loss_duality_gap(obj: Objective, w: np.ndarray) -> tuple[float, float]:
    """The duality gap ``P(w, b*) - D(v)`` of an elastic-net log-loss objective at ``w``.

    Parameters
    ----------
    obj : gdfast.Objective
        loss "log_loss" or "binomial" (labels or proportions, trials as sample weights), no
        offset.
    w : ndarray of shape (obj.n_params,)

    Returns
    -------
    gap : float
        At least 0 (up to rounding); 0 at the optimum. An upper bound of ``cost(w) - min cost``
        (with the intercept at its best for the coefficients of w).
    primal : float
        The cost at w with that intercept.

    Raises
    ------
    ValueError
        For another loss, or an objective with an offset.
    """
    if obj.loss.name not in ("log_loss", "binomial") or obj.offset is not None:
        raise ValueError(f"obj: the duality gap is for the log loss without an offset; got "
                         f"loss={obj.loss.name!r}{' with an offset' if obj.offset is not None else ''}")
    d = obj.n_features
    w = best_intercept(obj, np.asarray(w, dtype=np.float64))
    primal = float(obj.cost(w))
    s = (np.full(obj.n_samples, 1.0 / obj.n_samples) if obj.sample_weight is None
         else obj.sample_weight / obj.weight_sum)
    y = obj.y
    v = scipy.special.expit(obj.predictions(w)) - y
    pen = obj.penalty
    l2 = pen.l2
    lam = pen.thresholds(d) if hasattr(pen, "thresholds") else np.zeros(d)
    # X^T S v is the data part of the gradient: the full gradient minus the L2 part's l2 w
    u = obj.gradient(w)[:d] - l2 * w[:d]
    if l2 > 0:
        conj = float(np.sum(np.maximum(np.abs(u) - lam, 0.0) ** 2) / (2.0 * l2))
        c = 1.0
    else:
        over = np.abs(u) > lam
        c = float(np.min(lam[over] / np.abs(u[over]))) if np.any(over) else 1.0
        conj = 0.0
    p = y + c * v
    entropy = scipy.special.xlogy(p, p) + scipy.special.xlogy(1.0 - p, 1.0 - p)
    # the cost carries the binomial entropy of y as a constant (0 for labels): so does D
    offset = float(s @ (scipy.special.xlogy(y, y) + scipy.special.xlogy(1.0 - y, 1.0 - y)))
    dual = -float(s @ entropy) - conj + offset
    return max(primal - dual, 0.0), primal
