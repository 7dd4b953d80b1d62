"""Losses: one class per loss, registered once.

Everything in gdfast that depends on the loss asks its :class:`Loss` object: the code the
compiled kernels dispatch on, which targets are valid, the inverse link that turns raw
predictions into predicted means, the curvature bound behind ``learning_rate="auto"``, whether
the data can be separated (an optimum at infinity), and what :mod:`gdfast.stats` needs (the
relation of the cost to the deviance, and whether the dispersion is fixed or estimated).

A loss is a function of the raw prediction ``z = x . coef + intercept`` and the target ``y``;
its value, first and second derivative in ``z`` are compiled (``gdfast/_loss.pxd``: one
per-sample function and one entry of the list of compiled losses). The class here adds the
rest, in numpy. Users pass a loss by name (``loss="log_loss"``) or as an instance
(``loss=gdfast.losses.LogLoss()``); anything else is a TypeError naming ``loss``.

Cost conventions: the log loss and the GLM losses are half the unit deviance (a perfect fit
costs 0); the squared error is the full normal deviance ``(y - z)^2``, so that the cost is the
mean squared error.
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any, ClassVar, cast

import numpy as np
import scipy.special

from . import _dispatch

__all__ = ["Loss", "SquaredError", "LogLoss", "Binomial", "BinomialProbit", "BinomialCloglog",
           "Poisson", "PoissonIdentity", "Gamma", "GammaInverse", "GammaIdentity", "Tweedie",
           "LOSSES", "get_loss", "register"]

#: The registered losses by name, in the order of registration.
LOSSES: dict[str, type[Loss]] = {}


def register(cls: type[Loss]) -> type[Loss]:
    """Add a Loss class to the registry under ``cls.name`` (a class decorator).

    Parameters
    ----------
    cls : type
        A subclass of :class:`Loss` whose ``name`` is in the list of compiled losses.

    Returns
    -------
    type
        ``cls`` itself.

    Raises
    ------
    ValueError
        When no compiled per-sample function has that name.
    """
    if cls.name not in _dispatch.core.loss_codes():
        raise ValueError(f"loss {cls.name!r} has no compiled per-sample function "
                         "(add it to the list in gdfast/_loss.pxd)")
    LOSSES[cls.name] = cls
    return cls


def get_loss(loss: Any) -> Loss:
    """The Loss object for a name or a registered Loss instance.

    Parameters
    ----------
    loss : str or Loss
        A registered name ("squared_error", "log_loss", ...) or an instance of a registered
        Loss class (returned as it is).

    Returns
    -------
    Loss

    Raises
    ------
    ValueError
        For a string that names no registered loss (the message lists them).
    TypeError
        For anything that is neither a string nor a registered Loss instance.
    """
    if isinstance(loss, Loss) and type(loss) in LOSSES.values():
        return loss
    if isinstance(loss, str):
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(map(repr, LOSSES))}; got {loss!r}")
        return LOSSES[loss]()
    raise TypeError(f"loss must be the name of a loss ({', '.join(map(repr, LOSSES))}) or a "
                    f"registered gdfast.losses.Loss instance; got {type(loss).__name__}")


class Loss(ABC):
    """A per-sample loss of a linear model and what depends on it.

    Subclasses set the class attributes and override the methods that differ; the per-sample
    value and derivatives are compiled (see the module notes). An instance carries at most one
    number, :attr:`param` (Tweedie's power; 0 for the losses without a parameter): two
    instances of one class with the same parameter are equal, and an instance equals its name,
    so that ``Objective(...).loss == "log_loss"`` holds.

    Attributes
    ----------
    name : str
        The registered name (also the compiled loss's name).
    n_outputs : int
        Raw predictions per sample (1; K for a K-class multinomial loss).
    curvature : float or None
        An upper bound of the second derivative in z over all z and valid y: the Hessian is then
        at most ``curvature * Xa^T S Xa + alpha P``, which gives gradient descent its step
        ``1/L``. None when the second derivative is unbounded (``learning_rate="auto"`` then
        falls back to a backtracking line search).
    can_separate : bool
        Whether the optimum can lie at infinity with ``alpha = 0`` (separable classes); the
        solvers then test :meth:`separates` and end with status "separated".
    is_classifier : bool
        Targets are two classes, coded 0 and 1.
    deviance_factor : float
        The per-sample loss is ``deviance_factor`` times half the unit deviance: 2 for the
        squared error (the full deviance, so that the cost is the mean squared error), 1 for
        the others.
    fixed_dispersion : bool
        True when the dispersion is known to be 1 (binomial, counts): standard errors from the
        inverse information, z statistics. False when it is estimated from the residuals
        (normal: RSS / df; Gamma: Pearson's chi^2 / df, see :meth:`pearson_terms`): the
        information is divided by it, t statistics.
    """

    def __init__(self) -> None:
        pass            # stateless: every instance of a class is the same loss

    #: The loss's parameter, passed to its compiled per-sample function beside the code
    #: (Tweedie's power); 0 for the losses without one.
    param: float = 0.0
    name: ClassVar[str]
    n_outputs: ClassVar[int] = 1
    curvature: ClassVar[float | None] = None
    can_separate: ClassVar[bool] = False
    is_classifier: ClassVar[bool] = False
    deviance_factor: ClassVar[float] = 1.0
    fixed_dispersion: ClassVar[bool] = True
    #: True when the loss is quadratic in z (a constant second derivative): Newton's method
    #: then solves the problem in one step, which the choice of method counts on.
    quadratic: ClassVar[bool] = False
    #: The least loss of a sample that is not on its side (see gdfast._common.SeparationCheck).
    separation_floor: ClassVar[float] = 0.0
    #: True when the predictions cannot prove separation and the data must decide
    #: (:meth:`confirm_separation`, asked once, at the end of a run).
    separation_from_data: ClassVar[bool] = False
    #: Why a run ended "separated", in words (for losses that can separate).
    separation_message: ClassVar[str] = ""
    #: What valid targets are, for the error message.
    target_description: ClassVar[str] = "finite numbers"
    #: True for a canonical link (the loss's curvature in z does not depend on y): the
    #: observed information then equals the expected one, and gdfast.stats skips a pass.
    #: False is always correct (the expected information is then formed at y = mu).
    canonical: ClassVar[bool] = False
    #: The link's name ("identity", "log", "logit", "inverse", "probit", "cloglog").
    link_name: ClassVar[str] = "identity"
    #: True when the mean is defined for some z only (the inverse and identity links of a
    #: positive family: z > 0). The cost is then +inf outside (:meth:`outside_domain`), a run
    #: starts from the intercept-only fit instead of w = 0, and every line search keeps z inside.
    restricted_domain: ClassVar[bool] = False

    def outside_domain(self, z: np.ndarray) -> np.ndarray:
        """Which raw predictions give no mean in the family's range (the cost is +inf there).

        Parameters
        ----------
        z : ndarray of shape (n_samples,)

        Returns
        -------
        ndarray of bool, shape (n_samples,)
        """
        return np.zeros(np.shape(z), dtype=bool)

    @property
    def code(self) -> int:
        """The code the compiled kernels dispatch on (its place in the list of compiled losses)."""
        return int(_dispatch.core.loss_codes()[self.name])

    def invalid_targets(self, y: np.ndarray) -> np.ndarray:
        """Which targets lie outside the loss's domain.

        Parameters
        ----------
        y : ndarray of shape (n_samples,)
            Finite float64 targets.

        Returns
        -------
        ndarray of bool, shape (n_samples,)
        """
        return np.zeros(y.shape, dtype=bool)

    def check_y(self, y: np.ndarray) -> np.ndarray:
        """The targets, checked against the loss's domain.

        Parameters
        ----------
        y : ndarray of shape (n_samples,)
            Finite float64 targets.

        Returns
        -------
        ndarray
            ``y`` itself.

        Raises
        ------
        ValueError
            Naming ``y`` and the loss, with a few of the invalid values.
        """
        bad = self.invalid_targets(y)
        if bad.any():
            raise ValueError(f"y must hold {self.target_description} for loss={self.name!r}; "
                             f"found {np.unique(y[bad])[:5]}{self.target_hint}")
        return y

    #: Appended to the message of :meth:`check_y`.
    target_hint: ClassVar[str] = ""
    #: What a fit of this loss is called, for titles ("least squares", ...).
    model_name: ClassVar[str] = ""

    def title(self, target: str, classes: list[str] | None) -> str:
        """What a fit models, for a summary's title: e.g. "least squares, y".

        Parameters
        ----------
        target : str
            The target's name.
        classes : list of str or None
            A classifier's two labels (``classes[1]`` is coded 1).

        Returns
        -------
        str
        """
        return f"{self.model_name}, {target}"

    def inverse_link(self, z: np.ndarray) -> np.ndarray:
        """The predicted mean of y given the raw predictions.

        Parameters
        ----------
        z : array-like
            Raw predictions ``x . coef + intercept``.

        Returns
        -------
        ndarray
            The predicted means (probabilities for a classifier).
        """
        return np.asarray(z, dtype=np.float64)

    def link(self, mu: np.ndarray) -> np.ndarray:
        """The raw prediction of a mean: the inverse of :meth:`inverse_link`.

        Parameters
        ----------
        mu : array-like
            Means in the family's range.

        Returns
        -------
        ndarray
        """
        return np.asarray(mu, dtype=np.float64)

    def variance(self, mu: np.ndarray) -> np.ndarray:
        """The family's variance function ``V(mu)`` (``Var y = scale V(mu)``), which Pearson's
        chi^2 divides by: 1 for the normal.

        Parameters
        ----------
        mu : ndarray

        Returns
        -------
        ndarray
        """
        return np.ones_like(np.asarray(mu, dtype=np.float64))

    def log_likelihood(self, y: np.ndarray, mu: np.ndarray, weights: np.ndarray | None,
                       scale: float) -> float | None:
        """The log-likelihood ``sum_i w_i log f(y_i; mu_i, scale)`` of the family, constants
        included (as statsmodels' GLM reports it); None when the loss is not a likelihood's.

        Parameters
        ----------
        y, mu : ndarray of shape (n,)
            Targets and fitted means.
        weights : ndarray of shape (n,) or None
            Frequency weights (the number of trials for a binomial proportion).
        scale : float
            The dispersion (ignored by families with a fixed one).

        Returns
        -------
        float or None
        """
        return None

    def cost_offset(self, y: np.ndarray, weights: np.ndarray | None, scale: float) -> float:
        """``scale * sum_i weights_i c(y_i)``, the per-sample constant that the compiled
        function leaves out.

        The compiled per-sample functions drop terms that depend on y only (they would cost a
        logarithm per row and per pass); the kernels add this constant to every cost, so that
        the cost is the loss this class documents.

        Parameters
        ----------
        y : ndarray of shape (n_samples,)
        weights : ndarray of shape (n_samples,) or None
            Sample weights; None for unit weights.
        scale : float
            The factor: ``1 / sum(weights)`` for a mean.

        Returns
        -------
        float
        """
        return 0.0

    @abstractmethod
    def reference_terms(self, z: np.ndarray, y: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-sample loss, first and second derivative in z, in plain numpy.

        The textbook formulas, for :mod:`gdfast.reference` (the tests' oracle for the compiled
        functions); the loss includes the constant of :meth:`cost_offset`.

        Parameters
        ----------
        z : ndarray of shape (n_samples,)
            Raw predictions.
        y : ndarray of shape (n_samples,)
            Targets.

        Returns
        -------
        loss, first, second : ndarray of shape (n_samples,)
        """

    def separates(self, z: np.ndarray, y: np.ndarray) -> bool:
        """Whether raw predictions prove that the optimum is at infinity.

        Asked only when :attr:`can_separate` and ``alpha = 0``; for the log loss, every sample
        strictly on its side of the boundary (the loss of ``t w`` then falls to 0 as t grows,
        while it is positive at every finite w).

        Parameters
        ----------
        z : ndarray of shape (m,)
            Raw predictions of the rows of positive weight.
        y : ndarray of shape (m,)
            Their targets.

        Returns
        -------
        bool
        """
        return False

    def confirm_separation(self, X: Any, y: np.ndarray, rows: np.ndarray | None,
                           fit_intercept: bool) -> bool:
        """Whether the data ``(X, y)`` have their optimum at infinity, decided from the data alone.

        Asked once, when :meth:`separates` said yes; the objective keeps the answer. For a loss
        whose :meth:`separates` is a proof (the log loss) this is True; a loss with
        :attr:`separation_from_data` decides here, from the data.

        Parameters
        ----------
        X : ndarray or scipy.sparse matrix of shape (n_samples, n_features)
        y : ndarray of shape (n_samples,)
        rows : ndarray of bool or None
            The rows of positive weight (None: all).
        fit_intercept : bool
            Whether the model has an intercept (a column of ones beside X).

        Returns
        -------
        bool
        """
        return True

    def pearson_terms(self, z: np.ndarray, y: np.ndarray) -> np.ndarray | None:
        """Per-sample squared Pearson residuals ``(y - mu)^2 / V(mu)`` at the raw predictions,
        for the dispersion of a loss that estimates it (:attr:`fixed_dispersion` False).

        :mod:`gdfast.stats` estimates the dispersion as ``sum sw (y - mu)^2 / V(mu) / (W -
        n_params)`` from these (Pearson's chi^2 over the residual degrees of freedom, as
        statsmodels' GLM). None (the default) when the dispersion comes from the cost itself:
        the squared error's residual variance ``RSS / (W - n_params)``.

        Parameters
        ----------
        z : ndarray of shape (n_samples,)
            Raw predictions.
        y : ndarray of shape (n_samples,)
            Targets.

        Returns
        -------
        ndarray of shape (n_samples,) or None
        """
        return None

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            return other == self.name
        return type(other) is type(self) and other.param == self.param

    def __hash__(self) -> int:
        return hash(self.name)      # equal objects (and a loss and its name) hash alike

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


@register
class SquaredError(Loss):
    """The squared error ``(y - z)^2`` (the full normal deviance; identity link)."""

    name = "squared_error"
    canonical = True
    model_name = "least squares"
    curvature = 2.0
    quadratic = True
    deviance_factor = 2.0
    fixed_dispersion = False

    def reference_terms(self, z: np.ndarray, y: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (z - y) ** 2, 2.0 * (z - y), np.full_like(z, 2.0)

    def log_likelihood(self, y: np.ndarray, mu: np.ndarray, weights: np.ndarray | None,
                       scale: float) -> float:
        ll = -0.5 * ((y - mu) ** 2 / scale + math.log(2.0 * math.pi * scale))
        return _weighted_sum(ll, weights)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(z))
    out: np.ndarray = np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return out


@register
class LogLoss(Loss):
    """The log loss ``log(1 + e^z) - y z`` of labels y in {0, 1} (half the binomial deviance;
    logit link: the predicted probability is ``sigmoid(z)``)."""

    name = "log_loss"
    link_name = "logit"
    canonical = True
    model_name = "logistic regression"
    curvature = 0.25
    can_separate = True
    separation_floor = math.log(2.0)      # a sample with z on the wrong side (or 0) loses >= log 2
    separation_message = (
        "separated: the classes are perfectly separable (these weights classify every training "
        "sample correctly), so with alpha = 0 the log loss has no minimiser: scaling the weights "
        "up lowers it towards 0 without end. The returned weights separate the data but are not "
        "unique; set alpha > 0 (e.g. 1e-4) for a finite, unique fit")
    is_classifier = True
    target_description = "labels 0 and 1"
    target_hint = " (gdfast.LogisticRegression maps any two labels to 0 and 1)"

    def invalid_targets(self, y: np.ndarray) -> np.ndarray:
        mask: np.ndarray = (y != 0) & (y != 1)
        return mask

    def title(self, target: str, classes: list[str] | None) -> str:
        label = classes[1] if classes else 1
        return f"{self.model_name}, log-odds of {target} = {label!r}"

    def inverse_link(self, z: np.ndarray) -> np.ndarray:
        return _sigmoid(np.asarray(z, dtype=np.float64))

    def reference_terms(self, z: np.ndarray, y: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        p = _sigmoid(z)
        return np.logaddexp(0.0, z) - y * z, p - y, p * (1.0 - p)

    def variance(self, mu: np.ndarray) -> np.ndarray:
        mu = np.asarray(mu, dtype=np.float64)
        out: np.ndarray = mu * (1.0 - mu)
        return out

    def link(self, mu: np.ndarray) -> np.ndarray:
        return _logit(mu)

    def log_likelihood(self, y: np.ndarray, mu: np.ndarray, weights: np.ndarray | None,
                       scale: float) -> float:
        return _binomial_log_likelihood(y, mu, weights)

    def separates(self, z: np.ndarray, y: np.ndarray) -> bool:
        return bool(np.all((2.0 * y - 1.0) * z > 0))


@register
class Binomial(Loss):
    """The binomial loss of proportions y in [0, 1] with the logit link: half the binomial
    deviance ``y log(y / p) + (1 - y) log((1 - y) / (1 - p))`` with ``p = sigmoid(z)``, so that
    a perfect fit costs 0. The number of trials of each row goes in ``sample_weight`` (a row of
    k successes in m trials is ``y = k / m`` with weight m: statsmodels' ``var_weights`` and
    R's ``weights`` with the dispersion fixed at 1). The log-likelihood is the binomial one of
    the counts (k successes in m trials, binomial coefficients included), as R's ``glm`` and
    statsmodels with a two-column (successes, failures) target report it; statsmodels'
    ``var_weights`` form leaves the coefficients out (the same deviance, another constant).

    The compiled per-sample function is the log loss's, ``log(1 + e^z) - y z`` (its own entry
    of the list of compiled losses, on the same C function); the binomial
    entropy of y (``-y log y - (1 - y) log(1 - y)``, 0 for labels) is its cost_offset. For
    labels 0 and 1 the two losses are the same function. Unlike :class:`LogLoss` it takes
    proportions and is no classifier; a separation (an optimum at infinity with alpha = 0) is
    claimed only when every row of positive weight is a label strictly on its side (a row with
    0 < y < 1 has a loss that grows without bound as z goes to either infinity); with
    fractional rows, data whose labels are quasi-separated are not detected, and a fit then
    ends at max_iter.
    """

    name = "binomial"
    link_name = "logit"
    model_name = "binomial regression"
    curvature: ClassVar[float | None] = 0.25
    can_separate = True
    separation_floor = math.log(2.0)      # a label on the wrong side (or z = 0) loses >= log 2
    separation_message = LogLoss.separation_message
    target_description = "proportions in [0, 1]"
    target_hint = " (the number of trials of each row goes in sample_weight)"

    def invalid_targets(self, y: np.ndarray) -> np.ndarray:
        mask: np.ndarray = ~((y >= 0) & (y <= 1))
        return mask

    def title(self, target: str, classes: list[str] | None) -> str:
        return f"{self.model_name}, log-odds of {target}"

    canonical = True                  # the logit link (probit and cloglog are not)

    def variance(self, mu: np.ndarray) -> np.ndarray:
        mu = np.asarray(mu, dtype=np.float64)
        out: np.ndarray = mu * (1.0 - mu)
        return out

    def link(self, mu: np.ndarray) -> np.ndarray:
        return _logit(mu)

    def log_likelihood(self, y: np.ndarray, mu: np.ndarray, weights: np.ndarray | None,
                       scale: float) -> float:
        return _binomial_log_likelihood(y, mu, weights)

    def inverse_link(self, z: np.ndarray) -> np.ndarray:
        return _sigmoid(np.asarray(z, dtype=np.float64))

    def cost_offset(self, y: np.ndarray, weights: np.ndarray | None, scale: float) -> float:
        c = -_binomial_entropy(y)
        return scale * float(np.sum(c if weights is None else weights * c))

    def reference_terms(self, z: np.ndarray, y: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        p = _sigmoid(z)
        return np.logaddexp(0.0, z) - y * z - _binomial_entropy(y), p - y, p * (1.0 - p)

    def separates(self, z: np.ndarray, y: np.ndarray) -> bool:
        labels = (y == 0) | (y == 1)
        return bool(np.all(labels) and np.all((2.0 * y - 1.0) * z > 0))



@register
class BinomialProbit(Binomial):
    """Binomial proportions y in [0, 1] (trials as ``sample_weight``) with the probit link:
    ``p = Phi(z)``, the standard normal distribution function; the mean half binomial
    deviance, as :class:`Binomial`.

    The per-sample function ``-y log Phi(z) - (1 - y) log Phi(-z)`` is compiled with
    ``log Phi`` from erfc and, below z = -37, its asymptotic series (finite for any finite z).
    The second derivative lies in [0, 1] (the variance of a truncated normal), so the
    curvature bound is 1.
    """

    name = "binomial_probit"
    link_name = "probit"
    model_name = "binomial regression (probit link)"
    curvature = 1.0

    def title(self, target: str, classes: list[str] | None) -> str:
        return f"{self.model_name}, {target}"

    canonical = False

    def link(self, mu: np.ndarray) -> np.ndarray:
        mu = np.asarray(mu, dtype=np.float64)
        out: np.ndarray = scipy.special.ndtri(mu)
        return out

    def inverse_link(self, z: np.ndarray) -> np.ndarray:
        import scipy.special
        out: np.ndarray = scipy.special.ndtr(np.asarray(z, dtype=np.float64))
        return out

    def reference_terms(self, z: np.ndarray, y: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        import scipy.special
        log_up, log_down = scipy.special.log_ndtr(z), scipy.special.log_ndtr(-z)
        log_pdf = -0.5 * z * z - 0.5 * math.log(2.0 * math.pi)
        m_up, m_down = np.exp(log_pdf - log_up), np.exp(log_pdf - log_down)   # phi / Phi
        loss = -y * log_up - (1.0 - y) * log_down - _binomial_entropy(y)
        return (loss, -y * m_up + (1.0 - y) * m_down,
                y * m_up * (z + m_up) + (1.0 - y) * m_down * (m_down - z))


@register
class BinomialCloglog(Binomial):
    """Binomial proportions y in [0, 1] (trials as ``sample_weight``) with the complementary
    log-log link: ``p = 1 - exp(-e^z)``; the mean half binomial deviance, as :class:`Binomial`.

    The per-sample function ``-y log(1 - exp(-e^z)) + (1 - y) e^z`` is compiled with the
    accurate branches of log(1 - e^-t) and series near t = e^z = 0 (finite for any finite z).
    Its second derivative grows like e^z: no curvature bound (``learning_rate="auto"`` is a
    backtracking line search for gd). The boundary of a separation is z = 0 (p = 1 - 1/e), where
    a label on the wrong side loses at least ``-log(1 - 1/e)``.
    """

    name = "binomial_cloglog"
    link_name = "cloglog"
    model_name = "binomial regression (complementary log-log link)"
    curvature = None
    separation_floor = -math.log1p(-math.exp(-1.0))

    def title(self, target: str, classes: list[str] | None) -> str:
        return f"{self.model_name}, {target}"

    canonical = False

    def link(self, mu: np.ndarray) -> np.ndarray:
        mu = np.asarray(mu, dtype=np.float64)
        out: np.ndarray = np.log(-np.log1p(-mu))
        return out

    def inverse_link(self, z: np.ndarray) -> np.ndarray:
        out: np.ndarray = -np.expm1(-np.exp(np.asarray(z, dtype=np.float64)))
        return out

    def reference_terms(self, z: np.ndarray, y: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        t = np.exp(z)
        p = -np.expm1(-t)
        g = t / np.expm1(t)
        loss = -y * np.log(p) + (1.0 - y) * t - _binomial_entropy(y)
        return loss, (1.0 - y) * t - y * g, (1.0 - y) * t - y * g * (1.0 - t / p)

@register
class Poisson(Loss):
    """The Poisson loss of counts or rates y >= 0 with the log link: half the Poisson deviance,
    ``e^z - y z - (y - y log y)`` (0 log 0 = 0), so that a perfect fit costs 0; the predicted
    mean is ``e^z``.

    Its second derivative ``e^z`` has no bound: ``learning_rate="auto"`` is then a
    backtracking line search for gd and an error for the methods without one. With
    ``alpha = 0`` the optimum is at infinity when some direction lowers the predictions of zero
    counts only (e.g. a feature that is non-zero on zero counts alone); the data decide it once,
    at the end of a run (:meth:`confirm_separation`).
    """

    name = "poisson"
    link_name = "log"
    canonical = True
    model_name = "Poisson regression"
    can_separate = True
    separation_from_data = True
    separation_floor = -math.inf      # never asked mid-run: the data, not an iterate, decide
    separation_message = (
        "separated: with alpha = 0 the Poisson loss has no minimiser, since some direction "
        "lowers the predicted means of zero counts towards 0 without changing the others, and "
        "the cost falls along it without end. The returned weights are the last iterate; set "
        "alpha > 0 (e.g. 1e-4) for a finite, unique fit")
    target_description = "non-negative numbers (counts or rates)"

    def invalid_targets(self, y: np.ndarray) -> np.ndarray:
        mask: np.ndarray = y < 0
        return mask

    def inverse_link(self, z: np.ndarray) -> np.ndarray:
        mu: np.ndarray = np.exp(np.asarray(z, dtype=np.float64))
        return mu

    def cost_offset(self, y: np.ndarray, weights: np.ndarray | None, scale: float) -> float:
        c = _y_log_y(y) - y
        return scale * float(np.sum(c if weights is None else weights * c))

    def reference_terms(self, z: np.ndarray, y: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        mu = np.exp(z)
        return mu - y * z + (_y_log_y(y) - y), mu - y, mu

    def variance(self, mu: np.ndarray) -> np.ndarray:
        mu = np.asarray(mu, dtype=np.float64)
        out: np.ndarray = mu
        return out

    def link(self, mu: np.ndarray) -> np.ndarray:
        out: np.ndarray = np.log(np.asarray(mu, dtype=np.float64))
        return out

    def log_likelihood(self, y: np.ndarray, mu: np.ndarray, weights: np.ndarray | None,
                       scale: float) -> float:
        ll = scipy.special.xlogy(y, mu) - mu - _log_factorial(y)
        return _weighted_sum(ll, weights)

    def separates(self, z: np.ndarray, y: np.ndarray) -> bool:
        return True                   # no certificate in the predictions: confirm_separation

    def confirm_separation(self, X: Any, y: np.ndarray, rows: np.ndarray | None,
                           fit_intercept: bool) -> bool:
        return _zero_targets_recede(X, y, rows, fit_intercept)


@register
class Gamma(Loss):
    """The Gamma loss of positive targets y > 0 with the log link: half the Gamma deviance,
    ``y e^-z + z - log y - 1`` (``y / mu - log(y / mu) - 1`` with the predicted mean
    ``mu = e^z``), so that a perfect fit costs 0.

    Its second derivative ``y e^-z`` has no bound: ``learning_rate="auto"`` is then a
    backtracking line search for gd and an error for the methods without one. The loss of each
    sample grows without bound as z goes to either infinity, so the optimum is never at
    infinity. The dispersion is estimated (t statistics), as statsmodels' GLM does: Pearson's
    chi^2 ``sum sw (y - mu)^2 / mu^2`` over ``W - n_params``. Standard errors come by default
    from the expected (Fisher) information, as statsmodels' GLM (IRLS) and R's ``glm`` report
    them; ``gdfast.stats.covariance(..., information="observed")`` gives those of the Hessian at
    the optimum (statsmodels' ``fit(method="newton")``), which differ for this non-canonical
    link.
    """

    name = "gamma"
    link_name = "log"
    model_name = "Gamma regression"
    fixed_dispersion = False
    canonical = False                 # the log link; the Gamma's canonical link is 1 / mu
    target_description = "positive numbers"

    def invalid_targets(self, y: np.ndarray) -> np.ndarray:
        mask: np.ndarray = ~(y > 0)
        return mask

    def inverse_link(self, z: np.ndarray) -> np.ndarray:
        mu: np.ndarray = np.exp(np.asarray(z, dtype=np.float64))
        return mu

    def cost_offset(self, y: np.ndarray, weights: np.ndarray | None, scale: float) -> float:
        c = -np.log(y) - 1.0
        return scale * float(np.sum(c if weights is None else weights * c))

    def reference_terms(self, z: np.ndarray, y: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        t = y * np.exp(-z)
        return t + z - np.log(y) - 1.0, 1.0 - t, t

    def pearson_terms(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        out: np.ndarray = (y * np.exp(-z) - 1.0) ** 2       # (y - mu)^2 / mu^2
        return out

    def variance(self, mu: np.ndarray) -> np.ndarray:
        mu = np.asarray(mu, dtype=np.float64)
        out: np.ndarray = mu * mu
        return out

    def link(self, mu: np.ndarray) -> np.ndarray:
        out: np.ndarray = np.log(np.asarray(mu, dtype=np.float64))
        return out

    def log_likelihood(self, y: np.ndarray, mu: np.ndarray, weights: np.ndarray | None,
                       scale: float) -> float:
        # shape k = 1 / scale, rate k / mu: log f = k log(k y / mu) - k y / mu - log y - lgamma(k)
        k = 1.0 / scale
        ll = k * np.log(k * y / mu) - k * y / mu - np.log(y) - math.lgamma(k)
        return _weighted_sum(ll, weights)


class _PositiveMean(Loss):
    """What the inverse and identity links of a positive family share: the mean is defined for
    z > 0 only (see :attr:`Loss.restricted_domain`)."""

    restricted_domain = True

    def outside_domain(self, z: np.ndarray) -> np.ndarray:
        mask: np.ndarray = ~(np.asarray(z) > 0)
        return mask

    def pearson_terms(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        mu = self.inverse_link(z)
        out: np.ndarray = (y - mu) ** 2 / self.variance(mu)
        return out


def _inside(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """z > 0, and z where it holds (1 elsewhere: no division by 0 in the reference terms)."""
    z = np.asarray(z, dtype=np.float64)
    inside = z > 0
    return inside, np.where(inside, z, 1.0)


def _outside_is_infinite(inside: np.ndarray, loss: np.ndarray, first: np.ndarray,
                         second: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (np.where(inside, loss, np.inf), np.where(inside, first, 0.0),
            np.where(inside, second, 0.0))


class _IdentityMean(_PositiveMean):
    """The identity link of a positive family: mu = z, for z > 0."""

    link_name = "identity"

    def inverse_link(self, z: np.ndarray) -> np.ndarray:
        return np.asarray(z, dtype=np.float64)

    def link(self, mu: np.ndarray) -> np.ndarray:
        return np.asarray(mu, dtype=np.float64)


@register
class GammaInverse(_PositiveMean, Gamma):
    """The Gamma loss of positive targets with the inverse link (the canonical link, the
    default of statsmodels' and R's Gamma family): ``mu = 1 / z``, defined for z > 0 only.

    The cost is the mean half Gamma deviance, ``y z - log z - log y - 1`` per sample; +inf where
    z <= 0 (no mean there). Runs start from the intercept-only fit and the line searches keep
    every z > 0; only the log link promises a finite cost for any z. Canonical: the observed and
    expected information agree. Dispersion and log-likelihood as :class:`Gamma`.
    """

    name = "gamma_inverse"
    model_name = "Gamma regression (inverse link)"
    link_name = "inverse"
    canonical = True

    def inverse_link(self, z: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore"):
            mu: np.ndarray = 1.0 / np.asarray(z, dtype=np.float64)
        return mu

    def link(self, mu: np.ndarray) -> np.ndarray:
        out: np.ndarray = 1.0 / np.asarray(mu, dtype=np.float64)
        return out

    def reference_terms(self, z: np.ndarray, y: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        inside, zs = _inside(z)
        return _outside_is_infinite(inside, y * zs - np.log(zs) - np.log(y) - 1.0,
                                    y - 1.0 / zs, 1.0 / zs ** 2)


@register
class GammaIdentity(_IdentityMean, Gamma):
    """The Gamma loss of positive targets with the identity link: ``mu = z``, defined for z > 0.

    The cost is the mean half Gamma deviance ``y/z + log z - log y - 1`` per sample; +inf where
    z <= 0. Not convex in z where z > 2y: the solvers find a local minimum.
    """

    name = "gamma_identity"
    model_name = "Gamma regression (identity link)"
    canonical = False

    def reference_terms(self, z: np.ndarray, y: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        inside, zs = _inside(z)
        return _outside_is_infinite(inside, y / zs + np.log(zs) - np.log(y) - 1.0,
                                    (1.0 - y / zs) / zs, (2.0 * y / zs - 1.0) / zs ** 2)


@register
class PoissonIdentity(_IdentityMean, Poisson):
    """The Poisson loss of counts or rates with the identity link: ``mu = z``, defined for
    z > 0.

    The cost is the mean half Poisson deviance ``z - y log z - (y - y log y)`` per sample; +inf
    where z <= 0. With the identity link the optimum is never at infinity (a mean cannot fall
    below 0 along a direction), so no separation is looked for.
    """

    name = "poisson_identity"
    model_name = "Poisson regression (identity link)"
    canonical = False
    can_separate = False
    separation_from_data = False

    def reference_terms(self, z: np.ndarray, y: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        inside, zs = _inside(z)
        return _outside_is_infinite(inside, zs - y * np.log(zs) + (_y_log_y(y) - y),
                                    1.0 - y / zs, y / zs / zs)

    def separates(self, z: np.ndarray, y: np.ndarray) -> bool:
        return False


def _logit(mu: np.ndarray) -> np.ndarray:
    mu = np.asarray(mu, dtype=np.float64)
    out: np.ndarray = np.log(mu) - np.log1p(-mu)
    return out


def _binomial_log_likelihood(y: np.ndarray, mu: np.ndarray, weights: np.ndarray | None) -> float:
    # binomial with n = weight trials and y n successes: the binomial coefficient is 1
    # for y in {0, 1}, so that frequency weights and trials give the same value there
    n = np.ones_like(y) if weights is None else weights
    k = n * y
    with np.errstate(divide="ignore", invalid="ignore"):
        ll = (scipy.special.gammaln(n + 1.0) - scipy.special.gammaln(k + 1.0)
              - scipy.special.gammaln(n - k + 1.0)
              + scipy.special.xlogy(k, mu) + scipy.special.xlog1py(n - k, -mu))
    return float(np.sum(ll))


def _log_factorial(y: np.ndarray) -> np.ndarray:
    """``log y! = lgamma(y + 1)``; for counts (integers up to 2^20) from a table of the values
    up to max(y), several times faster than lgamma per entry."""
    top = float(np.max(y)) if y.size else 0.0
    if top <= 2.0 ** 20 and np.all(y == np.floor(y)):
        table = scipy.special.gammaln(np.arange(int(top) + 1, dtype=np.float64) + 1.0)
        out: np.ndarray = table[y.astype(np.intp)]
        return out
    return np.asarray(scipy.special.gammaln(y + 1.0))


def _weighted_sum(values: np.ndarray, weights: np.ndarray | None) -> float:
    return float(np.sum(values if weights is None else weights * values))


@register
class Tweedie(Loss):
    """The Tweedie loss with power p and the log link: half the Tweedie unit deviance

    ``y^(2-p) / ((1-p)(2-p)) - y mu^(1-p) / (1-p) + mu^(2-p) / (2-p)``, ``mu = e^z``

    (its limits at p = 1 and p = 2), so that a perfect fit costs 0. p = 0 is the normal
    distribution (half the squared error ``(y - mu)^2 / 2``, any real y), p = 1 Poisson (y >= 0;
    the same as :class:`Poisson`), 1 < p < 2 compound Poisson-Gamma (y >= 0, exact zeros
    allowed), p = 2 Gamma (y > 0; the same as :class:`Gamma`), p > 2 y > 0. Powers in (0, 1)
    have no distribution and are refused. p = 1 and p = 2 run the Poisson and Gamma per-sample
    functions; every other power runs the compiled Tweedie function with p beside the code.

    Parameters
    ----------
    power : float, default 1.5
        The power p of the variance function ``V(mu) = mu^p``: 0 or at least 1.

    Notes
    -----
    The second derivative in z is ``(2-p) mu^(2-p) - (1-p) y mu^(1-p)``: unbounded (so
    ``learning_rate="auto"`` is a backtracking line search for gd), and for p = 0 and p > 2
    negative on some rows (the loss is then not convex in z; Newton's method falls back to a
    gradient step where the Hessian is not positive definite). The dispersion is estimated
    (Pearson's chi^2 ``sum sw (y - mu)^2 / mu^p`` over ``W - n_params``, as statsmodels' GLM).
    For 1 <= p < 2 with alpha = 0 the optimum can lie at infinity (as for :class:`Poisson`:
    some direction lowers the means of zero targets only); the data decide it at the end of a
    run. Near p = 1 and p = 2 (|p - 1| or |p - 2| below about 1e-3) the two terms the kernels
    add are large and of opposite sign, and the cost's rounding error grows like eps / |p - 1|
    (or / |p - 2|); use :class:`Poisson` or :class:`Gamma` there.
    """

    name = "tweedie"
    link_name = "log"
    model_name = "Tweedie regression"
    fixed_dispersion = False
    separation_floor = -math.inf
    separation_message = Poisson.separation_message.replace("Poisson", "Tweedie").replace(
        "zero counts", "zero targets")

    def __init__(self, power: float = 1.5) -> None:
        if isinstance(power, bool) or not isinstance(power, (int, float, np.integer,
                                                               np.floating)):
            raise TypeError(f"power must be a real number; got {type(power).__name__}")
        p = float(power)
        if not math.isfinite(p) or not (p == 0.0 or p >= 1.0):
            raise ValueError(f"power must be 0 or at least 1 (no Tweedie distribution has a "
                             f"power in (0, 1)); got {power!r}")
        self.param = p

    @property
    def power(self) -> float:
        """The power p (the same number as :attr:`param`)."""
        return self.param

    @property
    def code(self) -> int:
        name = {1.0: "poisson", 2.0: "gamma"}.get(self.param, self.name)
        return int(_dispatch.core.loss_codes()[name])

    @property
    def can_separate(self) -> bool:  # type: ignore[override]  # a ClassVar elsewhere, by power here
        return 1.0 <= self.param < 2.0

    @property
    def separation_from_data(self) -> bool:  # type: ignore[override]  # a ClassVar elsewhere, by power here
        return self.can_separate

    @property
    def target_description(self) -> str:  # type: ignore[override]  # a ClassVar elsewhere, by power here
        p = self.param
        return ("finite numbers" if p == 0.0 else "non-negative numbers" if p < 2.0
                else "positive numbers")

    @property
    def target_hint(self) -> str:  # type: ignore[override]  # a ClassVar elsewhere, by power here
        return f" (Tweedie power {self.param:g})"

    def title(self, target: str, classes: list[str] | None) -> str:
        return f"{self.model_name} (power {self.param:g}), {target}"

    def invalid_targets(self, y: np.ndarray) -> np.ndarray:
        p = self.param
        mask: np.ndarray = (np.zeros(y.shape, dtype=bool) if p == 0.0 else y < 0 if p < 2.0
                            else ~(y > 0))
        return mask

    def link(self, mu: np.ndarray) -> np.ndarray:
        out: np.ndarray = np.log(np.asarray(mu, dtype=np.float64))
        return out

    def variance(self, mu: np.ndarray) -> np.ndarray:
        out: np.ndarray = np.asarray(mu, dtype=np.float64) ** self.param
        return out

    def inverse_link(self, z: np.ndarray) -> np.ndarray:
        mu: np.ndarray = np.exp(np.asarray(z, dtype=np.float64))
        return mu

    def _constant(self, y: np.ndarray) -> np.ndarray:
        """The terms of the half deviance that depend on y only."""
        p = self.param
        out: np.ndarray
        if p == 1.0:
            out = _y_log_y(y) - y
            return out
        if p == 2.0:
            out = -np.log(y) - 1.0
            return out
        # y^(2-p) / ((1-p)(2-p)); 0 at y = 0 for 1 < p < 2 (p = 0: y^2 / 2 for any sign of y)
        out = np.power(y, 2.0 - p) / ((1.0 - p) * (2.0 - p))
        return out

    def cost_offset(self, y: np.ndarray, weights: np.ndarray | None, scale: float) -> float:
        c = self._constant(y)
        return scale * float(np.sum(c if weights is None else weights * c))

    def reference_terms(self, z: np.ndarray, y: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        p = self.param
        mu = np.exp(z)
        if p == 1.0:
            return Poisson().reference_terms(z, y)
        if p == 2.0:
            return Gamma().reference_terms(z, y)
        a, b = mu ** (2.0 - p), y * mu ** (1.0 - p)
        loss = self._constant(y) - b / (1.0 - p) + a / (2.0 - p)
        return loss, a - b, (2.0 - p) * a - (1.0 - p) * b

    def pearson_terms(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        mu = np.exp(z)
        out: np.ndarray = (y - mu) ** 2 / mu ** self.param
        return out

    def separates(self, z: np.ndarray, y: np.ndarray) -> bool:
        return self.can_separate          # no certificate in the predictions: the data decide

    def confirm_separation(self, X: Any, y: np.ndarray, rows: np.ndarray | None,
                           fit_intercept: bool) -> bool:
        return self.can_separate and _zero_targets_recede(X, y, rows, fit_intercept)

    def __repr__(self) -> str:
        return f"Tweedie(power={self.param!r})"


def _y_log_y(y: np.ndarray) -> np.ndarray:
    out: np.ndarray = scipy.special.xlogy(y, y)          # 0 log 0 = 0
    return out


def _binomial_entropy(y: np.ndarray) -> np.ndarray:
    """``-y log y - (1 - y) log(1 - y)`` for y in [0, 1] (0 at 0 and 1)."""
    out: np.ndarray = -(_y_log_y(y) + _y_log_y(1.0 - y))
    return out


_MAX_RECESSION_PARAMS = 2000     # above, the direction of recession is not looked for


def _zero_targets_recede(X: Any, y: np.ndarray, rows: np.ndarray | None,
                         fit_intercept: bool) -> bool:
    """Whether a direction v exists with ``Xa v = 0`` on the rows with y > 0 and ``Xa v <= 0``,
    not all 0, on the rows with y = 0: along it the cost of an exponential-mean loss falls for
    ever (the zero counts' means go to 0, the others do not move).

    v lies in the null space N of the positive rows' Gram matrix (computed by blocks, columns
    equilibrated); then a small linear program in N's coordinates looks for u with
    ``Xa_zero N u <= 0`` and ``sum(Xa_zero N u) = -1``. A direction found is checked on the
    data itself, so that a null vector that is only rounding cannot report a separation.
    Returns False (nothing claimed) above _MAX_RECESSION_PARAMS parameters.
    """
    import scipy.optimize
    import scipy.sparse

    keep = np.ones(y.shape, dtype=bool) if rows is None else rows
    positive, zero = np.flatnonzero(keep & (y > 0)), np.flatnonzero(keep & (y == 0))
    D = X.shape[1] + int(fit_intercept)
    if zero.size == 0 or D > _MAX_RECESSION_PARAMS:
        return False

    def design(idx: np.ndarray) -> np.ndarray:
        rows: Any = X[idx]
        sparse = scipy.sparse.issparse(rows)
        block = np.asarray(cast(Any, rows).toarray() if sparse else rows, dtype=np.float64)
        return np.hstack([block, np.ones((len(idx), 1))]) if fit_intercept else block

    step = max(1, 2 ** 22 // D)                     # blocks of ~32 MiB of float64 rows
    G = np.zeros((D, D))
    for i in range(0, positive.size, step):
        B = design(positive[i:i + step])
        G += B.T @ B
    diag = np.diag(G).copy()
    scale = np.where(diag > 0, 1.0 / np.sqrt(np.where(diag > 0, diag, 1.0)), 1.0)
    eigval, eigvec = np.linalg.eigh(G * scale[:, None] * scale[None, :])
    # null vectors u of the equilibrated S G S give v = S u with G v = 0 (a column that is 0 on
    # every positive row has scale 1 and gives v = e_j exactly)
    null = eigvec[:, eigval <= 1e-10 * max(float(eigval.max()), 1.0)] * scale[:, None]
    if null.shape[1] == 0:
        return False
    A = np.vstack([design(zero[i:i + step]) @ null for i in range(0, zero.size, step)])
    A /= max(float(np.abs(A).max()), 1e-300)
    lp = scipy.optimize.linprog(np.zeros(null.shape[1]), A_ub=A, b_ub=np.zeros(len(A)),
                                A_eq=A.sum(axis=0, keepdims=True), b_eq=[-1.0],
                                bounds=(None, None), method="highs")
    if lp.status != 0:
        return False
    v = null @ lp.x
    a_zero = np.concatenate([design(zero[i:i + step]) @ v for i in range(0, zero.size, step)])
    a_pos = np.concatenate([design(positive[i:i + step]) @ v
                            for i in range(0, positive.size, step)] or [np.zeros(0)])
    size = float(np.abs(a_zero).max())
    return size > 0 and bool(np.all(a_zero <= 1e-9 * size)) and (
        a_pos.size == 0 or float(np.abs(a_pos).max()) <= 1e-9 * size)
