"""Overflow of double precision from finite inputs: one diagnosis, one wording.

Finite X, y and w can still give a raw prediction ``z = X @ coef + intercept``, a per-sample
loss, a mean or a gradient beyond the largest double (about 1.8e308), and then IEEE arithmetic
answers inf or NaN, differently for each quantity (the cost NaN, the gradient inf, the Hessian 0
where the prediction's curvature underflowed). gdfast refuses instead: every method of an
objective checks the finiteness of what it returns (a scalar, or O(n_params) numbers, after the
pass over X, so the check costs nothing measurable) together with the cost at ``w``, which every
pass at ``w`` computes anyway; only when something is not finite does it look at the inputs
(one more pass) to say which of them overflowed, by how much, and what to scale.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np

#: The largest finite double.
DOUBLE_MAX = float(np.finfo(np.float64).max)

_ADVICE = {
    "X": "Scale X (e.g. standardise its columns) so that its entries and X @ coef stay far "
         "below 1.8e308",
    "y": "Scale y (e.g. divide it by its standard deviation); the fit scales with it",
    "v": "Use a smaller v: the product is linear in it",
}


class OverflowInputError(ValueError):
    """Finite inputs whose cost, gradient or Hessian overflows double precision.

    A ValueError whose message starts with the input to blame (``argument``: "X", "y", "v" or
    the name of the parameter vector, "w" or "w0").
    """

    def __init__(self, message: str, argument: str, parts: dict[str, Any]) -> None:
        super().__init__(message)
        self.argument = argument
        self._parts = parts

    def renamed(self, name: str) -> "OverflowInputError":
        """The same diagnosis with the parameter vector called ``name`` (e.g. "w0")."""
        return overflow_error(**{**self._parts, "name": name})


@dataclass(frozen=True)
class Magnitudes:
    """What the diagnosis reads from the data at one w (each a max of absolute values).

    Attributes
    ----------
    x, y : float
        ``max|X|`` and ``max|y|``.
    z : float
        ``max|X @ coef + intercept|``; inf when some prediction overflowed (or is NaN).
    loss : float
        The largest per-sample ``|loss|``; inf when one overflowed.
    outside : float
        1 when some prediction gives no mean (outside the link's domain: the cost is +inf
        there by definition, not by overflow), else 0.
    """

    x: float
    y: float
    z: float
    loss: float
    outside: float = 0.0

    @staticmethod
    def combine(parts: Iterable["Magnitudes"]) -> "Magnitudes":
        """The magnitudes of the union of blocks of rows."""
        parts = list(parts)
        return Magnitudes(*(max((getattr(p, f) for p in parts), default=0.0)
                            for f in ("x", "y", "z", "loss", "outside")))


def _max_abs(a: np.ndarray) -> float:
    """max |a| as a float; inf when a holds a NaN or an infinity; 0 for an empty array."""
    if a.size == 0:
        return 0.0
    with np.errstate(invalid="ignore"):
        top = float(np.max(np.abs(a)))
    return top if math.isfinite(top) else math.inf


def magnitudes(X: Any, y: np.ndarray, z: np.ndarray, loss: Any, rows: int = 4096) -> Magnitudes:
    """The magnitudes of rows of X (dense, blocks of ``rows`` rows, or scipy.sparse), their
    targets y and their predictions z under ``loss`` (a gdfast.losses.Loss)."""
    if hasattr(X, "tocsr"):
        xmax = _max_abs(np.asarray(X.data))
    else:
        xmax = max((_max_abs(np.asarray(X[i:i + rows])) for i in range(0, X.shape[0], rows)),
                   default=0.0)
    zmax = _max_abs(z)
    lmax = math.inf
    outside = float(bool(np.any(loss.outside_domain(z))))
    if math.isfinite(zmax) and not outside:
        with np.errstate(all="ignore"):
            lmax = _max_abs(loss.reference_terms(z, y)[0])
    return Magnitudes(x=xmax, y=_max_abs(y), z=zmax, loss=lmax, outside=outside)


def results_finite(cost: float, *arrays: np.ndarray | None) -> bool:
    """Whether a pass's cost and outputs are all finite (O(size of the outputs))."""
    return math.isfinite(cost) and all(a is None or bool(np.isfinite(a).all()) for a in arrays)


def overflow_error(what: str, m: Magnitudes, w: np.ndarray, n_features: int, alpha: float,
                   loss: Any, name: str = "w", v: np.ndarray | None = None,
                   at_w: bool = True) -> OverflowInputError:
    """The error for ``what`` ("the cost", "the gradient", ...) overflowing at ``w``
    (``at_w=False``: a quantity of the data alone, such as the curvature bound).

    The causes are tried in the order the pass meets them: the predictions z, the penalty, a
    per-sample loss, then the sums (the mean loss, ``X^T loss'(z)``, ``X^T diag(loss''(z)) X``).
    The input blamed is the largest of those that enter the overflowing quantity.
    """
    parts = dict(what=what, m=m, w=w, n_features=n_features, alpha=alpha, loss=loss, v=v,
                 at_w=at_w)
    wmax = _max_abs(w)
    coef = w[:n_features]
    sizes = {"X": m.x, name: wmax, "y": m.y}
    if v is not None:
        sizes["v"] = _max_abs(v)
    loss_name = getattr(loss, "name", str(loss))
    uses_y = loss_name != "log_loss"             # the log loss's terms are bounded in y
    with np.errstate(over="ignore"):
        penalty = 0.5 * alpha * float(np.dot(coef, coef)) if alpha > 0 else 0.0

    def largest(*names: str) -> str:
        return max(names, key=lambda k: sizes[k])

    if what in ("the gradient", "the Hessian", "the Hessian-vector product") and not (
            math.isfinite(m.z) and math.isfinite(penalty) and math.isfinite(m.loss)):
        what = "the cost"                  # the cost at w overflows: every method meets that first
    if m.outside and math.isfinite(m.z):
        link = getattr(loss, "link_name", "")
        message = (f"{name}: the {link} link gives no mean at this {name}: some raw predictions "
                   f"X @ coef + intercept are <= 0, where mu must be positive, so {what} is "
                   f"undefined (+inf). Start inside the domain (w0=None starts from the "
                   f"intercept-only fit), or use link='log', which is defined for every z.")
        return OverflowInputError(message, name, parts)
    if not math.isfinite(m.z):
        arg = largest("X", name)
        detail = (f"the raw predictions X @ coef + intercept overflow (max|X| = {m.x:.3g}, "
                  f"max|{name}| = {wmax:.3g})")
    elif not math.isfinite(penalty):
        arg = name
        detail = (f"the penalty alpha/2 ||coef||^2 overflows (alpha = {alpha:g}, "
                  f"max|coef| = {_max_abs(coef):.3g})")
    elif not math.isfinite(m.loss):
        arg = largest("X", name, "y") if uses_y and m.y > m.z else largest("X", name)
        detail = (f"a per-sample {loss_name} overflows (predictions up to |z| = {m.z:.3g}, "
                  f"targets up to |y| = {m.y:.3g}; max|X| = {m.x:.3g}, max|{name}| = {wmax:.3g})")
    else:
        enter = {"the cost": ("X", name, "y") if uses_y else ("X", name),
                 "the gradient": ("X", name, "y") if uses_y else ("X",),
                 "the Hessian": ("X", name) if not getattr(loss, "curvature", None) else ("X",),
                 "the Hessian-vector product": (("X", name) if not getattr(loss, "curvature", None)
                                                else ("X",)) + (("v",) if v is not None else ()),
                 }.get(what, ("X", name, "y"))
        arg = largest(*enter)
        detail = (f"its sums over the rows exceed 1.8e308 (max|X| = {m.x:.3g}, "
                  f"max|y| = {m.y:.3g}, predictions up to |z| = {m.z:.3g}, per-sample "
                  f"{loss_name} up to {m.loss:.3g})")
    advice = _ADVICE.get(arg, f"Use a smaller {name}: its entries are far beyond any fit of "
                              "this data")
    where = f" at this {name}" if at_w else ""
    message = f"{arg}: {what} overflows double precision{where}: {detail}. {advice}."
    return OverflowInputError(message, arg, parts)


def trial_cost(obj: Any, w: np.ndarray) -> float:
    """The cost at a line search's trial point: inf when it is beyond double precision.

    A trial step may overshoot into a region where the cost overflows (the objective raises an
    OverflowInputError, or an objective that does not check returns inf or NaN), or overflow
    itself; such a step is simply rejected, so the search backtracks instead of the run failing.
    """
    if not np.isfinite(w).all():          # the step itself overflowed
        return math.inf
    try:
        c = float(obj.cost(w))
    except OverflowInputError:
        return math.inf
    return c if math.isfinite(c) else math.inf
