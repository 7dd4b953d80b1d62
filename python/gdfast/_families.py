"""GLM families and links: which gdfast loss a (family, link) pair is.

statsmodels, R and glum name a generalised linear model by its family (the distribution of y)
and its link (``g(mu) = X @ coef + intercept``); gdfast has one compiled loss per pair. This
module is the table between the two, for :class:`gdfast.GeneralizedLinearRegressor` and the
other GLM regressors. Every loss here is the mean half deviance of its family, except the
normal family with the identity link: gdfast's ``squared_error`` is the full deviance, so the
estimators pass it twice the user's ``alpha`` (the same minimiser, the cost doubled).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ._validation import check_name
from .losses import (Binomial, BinomialCloglog, BinomialProbit, Gamma, GammaIdentity, GammaInverse,
                     Loss, Poisson, PoissonIdentity, SquaredError, Tweedie)

__all__ = ["Family", "FAMILIES", "LINKS", "family"]

#: The family names, and the link names, that :func:`family` takes.
FAMILIES = ("normal", "poisson", "gamma", "tweedie", "binomial")
LINKS = ("identity", "log", "inverse", "logit", "probit", "cloglog")

_LOSSES: dict[tuple[str, str], Callable[[float], Loss]] = {
    ("normal", "identity"): lambda p: SquaredError(),
    ("normal", "log"): lambda p: Tweedie(0.0),
    ("poisson", "log"): lambda p: Poisson(),
    ("poisson", "identity"): lambda p: PoissonIdentity(),
    ("gamma", "log"): lambda p: Gamma(),
    ("gamma", "inverse"): lambda p: GammaInverse(),
    ("gamma", "identity"): lambda p: GammaIdentity(),
    ("tweedie", "log"): lambda p: Tweedie(p),
    ("binomial", "logit"): lambda p: Binomial(),
    ("binomial", "probit"): lambda p: BinomialProbit(),
    ("binomial", "cloglog"): lambda p: BinomialCloglog(),
}


@dataclass(frozen=True)
class Family:
    """A family with its link, as gdfast fits it.

    Attributes
    ----------
    loss : gdfast.losses.Loss
        The loss the objective minimises.
    link : str
        The link's name.
    alpha_factor : float
        The objective's alpha per unit of the estimator's: 2 for the normal family with the
        identity link (``squared_error`` is twice the half deviance), else 1.
    """

    loss: Loss
    link: str
    alpha_factor: float


def family(name: Any, link: Any = "auto", power: Any = 1.5) -> Family:
    """The loss of a family and link.

    Parameters
    ----------
    name : {"normal", "poisson", "gamma", "tweedie", "binomial"}
        "binomial" takes proportions in [0, 1] with the number of trials as the sample weight.
    link : {"auto", "identity", "log", "inverse", "logit", "probit", "cloglog"}, default "auto"
        "auto" is the identity for "normal" (and for "tweedie" with ``power <= 0``, as
        scikit-learn), the logit for "binomial", and the log link otherwise (as scikit-learn's
        and glum's Poisson, Gamma and Tweedie regressors; the Gamma's canonical link is
        "inverse").
    power : float, default 1.5
        The Tweedie power (0 or at least 1), used by ``name="tweedie"`` only.

    Returns
    -------
    Family

    Raises
    ------
    ValueError
        Naming ``family``, ``link`` or ``power``: an unknown name, or a link the family does not
        have here (the message lists those it has).
    """
    check_name(name, "family", list(FAMILIES))
    check_name(link, "link", ["auto", *LINKS])
    tweedie = Tweedie(power) if name == "tweedie" else None
    if link == "auto":
        link = {"normal": "identity", "binomial": "logit"}.get(name, "log")
        if tweedie is not None and tweedie.power <= 0:
            link = "identity"
    if tweedie is not None and link == "identity":
        if tweedie.power != 0.0:
            raise ValueError(f"link='identity' is available for power=0 only (the normal "
                             f"distribution); got power={power!r}: use link='log'")
        name = "normal"
    make = _LOSSES.get((name, link))
    if make is None:
        links = [k for f, k in _LOSSES if f == name]
        raise ValueError(f"link={link!r} is not available for family={name!r}; its links are "
                         f"{', '.join(map(repr, links))}")
    loss = make(tweedie.power if tweedie is not None else 0.0)
    return Family(loss, link, 2.0 if loss == "squared_error" else 1.0)
