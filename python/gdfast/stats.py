"""Standard errors and the coefficient table, from the Hessian of the cost at the optimum.

gdfast minimises an *averaged, penalised* cost. With ``W`` the sum of the sample weights (the
number of samples when there are none) and ``H`` the Hessian of that cost at the fitted ``w``:

- every loss is ``loss.deviance_factor`` times half the unit deviance, so
  ``W * cost / deviance_factor`` is the negative log-likelihood up to the dispersion and a
  constant, and the covariance of the estimates is ``phi * inv(W * H / deviance_factor)``.
- losses with a fixed dispersion (``loss.fixed_dispersion``: the log loss) have ``phi = 1``:
  with ``alpha = 0`` the log loss gives ``inv(Xa^T diag(p (1 - p)) Xa)``, what statsmodels'
  ``Logit`` reports; the statistics are z (normal).
- the squared error (factor 2: the cost's Hessian is twice the Gram matrix) estimates
  ``phi = sigma^2 = RSS / (W - n_params)``; with ``alpha = 0`` this is ``sigma^2 (Xa^T Xa)^-1``,
  what statsmodels' ``OLS`` reports; the statistics are t with ``W - n_params`` degrees of freedom.
- the Gamma loss estimates ``phi`` as Pearson's chi^2 over ``W - n_params``
  (``loss.pearson_terms``: ``sum sw (y - mu)^2 / V(mu)``), as statsmodels' GLM; t statistics.

What the numbers mean when the fit is not the textbook one:

- ``alpha > 0``: ``H`` includes the penalty's curvature ``alpha`` on the coefficients, so the
  errors are those of the penalised fit seen as a posterior mode (a Gaussian prior
  ``coef ~ N(0, 1 / (W * alpha))`` for the log loss): smaller than the unpenalised errors, and blind
  to the bias the penalty puts into the estimates. They are a guide, not a test; for classical
  errors and p-values fit with ``alpha=0``. (The penalty also keeps ``H`` invertible when features
  are collinear, where ``alpha = 0`` has no errors at all.)
- sample weights are read as frequency weights, as gdfast's cost reads them: a weight of 2 is the
  same row twice, and ``W`` is the number of observations. Errors then depend on the scale of the
  weights (weights that sum to 1 claim one observation); they match statsmodels' GLM with
  ``freq_weights``, not its ``WLS`` or ``var_weights``.
"""
from __future__ import annotations

import math
import textwrap
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import scipy.linalg
import scipy.stats

if TYPE_CHECKING:
    from scipy.stats.distributions import rv_frozen

from ._least_squares import gram_inverse
from ._protocols import ObjectiveLike, as_objective

__all__ = ["Summary", "covariance", "standard_errors", "total_weight", "residual_df",
           "GoodnessOfFit", "goodness_of_fit", "SingularHessianWarning"]


class SingularHessianWarning(RuntimeWarning):
    """The Hessian at the optimum is singular: the standard errors are undefined (NaN)."""


def total_weight(obj: ObjectiveLike) -> float:
    """``W``: the sum of the sample weights, or the number of samples without weights.

    Parameters
    ----------
    obj : gdfast.Objective

    Returns
    -------
    float
    """
    return float(as_objective(obj).weight_sum)


def residual_df(obj: ObjectiveLike) -> float | None:
    """Residual degrees of freedom ``W - n_params`` when the loss estimates its dispersion (the
    squared error); None when the dispersion is fixed (the log loss).

    None means the statistics are z (normal); a number means t with that many degrees of freedom.

    Parameters
    ----------
    obj : gdfast.Objective

    Returns
    -------
    float or None
    """
    if as_objective(obj).loss.fixed_dispersion:
        return None
    return total_weight(obj) - obj.n_params


def covariance(obj: ObjectiveLike, w: Any, information: str = "expected") -> np.ndarray:
    """Covariance of the estimates ``w = [coef..., intercept]`` at the optimum ``w``.

    See the module's documentation for the formula and for what ``alpha > 0`` and sample weights
    mean for it. The result is all NaN (with a :class:`SingularHessianWarning`) when the Hessian
    is singular, and the squared error's is NaN when ``W <= n_params`` (no residual variance).

    Parameters
    ----------
    obj : gdfast.Objective
    w : array-like of shape (obj.n_params,)
        The fitted parameters.
    information : {"expected", "observed"}, default "expected"
        The information matrix inverted: the expected (Fisher) information, as statsmodels'
        GLM (IRLS) and R's ``glm`` report errors, or the observed one (the Hessian at ``w``, as
        statsmodels' ``fit(method="newton")``). They are equal for canonical links (squared
        error, log loss, Poisson) and differ for the Gamma's log link; an objective that cannot
        form the expected one (``gdfast.dask``) gives the observed one with a warning.

    Returns
    -------
    ndarray of shape (obj.n_params, obj.n_params)

    Raises
    ------
    ValueError
        When ``information`` is neither "expected" nor "observed".
    """
    if information not in ("expected", "observed"):
        raise ValueError(f"information must be 'expected' or 'observed'; got {information!r}")
    w = np.asarray(w, dtype=np.float64)
    W = total_weight(obj)
    full = as_objective(obj)
    loss = full.loss
    scale = 1.0 if loss.fixed_dispersion else _residual_variance(obj, w)
    if loss.quadratic:
        precise = gram_inverse(as_objective(obj))
        if precise is not None:
            inverse, dependent = precise
            if dependent.any():
                # sigma^2 = RSS / (W - rank), as R's lm: the dependent columns are not parameters
                df = total_weight(obj) - obj.n_params
                scale *= df / (df + int(dependent.sum())) if df > 0 else math.nan
                names = ["intercept" if j == obj.n_features else f"coef[{j}]"
                         for j in np.flatnonzero(dependent)]
                warnings.warn(f"the Hessian at the optimum is singular: X has linearly dependent "
                              f"columns ({', '.join(names)}); their standard errors are undefined "
                              "(NaN) and the others are those of the model without them, as R's lm "
                              "reports them", SingularHessianWarning, stacklevel=2)
            return scale * inverse * (loss.deviance_factor / 2.0)
    H = full.expected_hessian(w) if information == "expected" else None
    if H is None:
        if information == "expected":
            warnings.warn(f"{type(obj).__name__} cannot form the expected information for the "
                          f"{loss.name} loss: the standard errors are from the observed "
                          "information (the Hessian at the optimum)", RuntimeWarning, stacklevel=2)
        H = obj.hessian(w)
    fisher = W * H / loss.deviance_factor
    try:
        factor = scipy.linalg.cho_factor(fisher, check_finite=False)
        inverse = scipy.linalg.cho_solve(factor, np.eye(len(w)), check_finite=False)
    except np.linalg.LinAlgError:
        warnings.warn("the Hessian at the optimum is singular (collinear or constant features?): "
                      "the standard errors are undefined; drop redundant features or use alpha > 0",
                      SingularHessianWarning, stacklevel=2)
        return np.full((len(w), len(w)), np.nan)
    return scale * inverse


def standard_errors(obj: ObjectiveLike, w: Any, information: str = "expected") -> np.ndarray:
    """Standard errors of ``w = [coef..., intercept]``: the root of :func:`covariance`'s diagonal.

    Parameters
    ----------
    obj : gdfast.Objective
    w : array-like of shape (obj.n_params,)
        The fitted parameters.
    information : {"expected", "observed"}, default "expected"
        See :func:`covariance`.

    Returns
    -------
    ndarray of shape (obj.n_params,)
        NaN where :func:`covariance` is NaN.
    """
    return np.sqrt(np.diag(covariance(obj, w, information)))


@dataclass(frozen=True)
class GoodnessOfFit:
    """How well a fitted GLM fits, with statsmodels' GLM definitions (its ``GLMResults``
    attribute names in brackets).

    Attributes
    ----------
    n_obs : float
        ``W``, the sum of the frequency weights (``nobs``).
    df_model : int
        Coefficients less the intercept (``df_model``).
    df_resid : float
        ``W - n_params`` (``df_resid``).
    deviance : float
        ``sum w d(y, mu)`` with d the unit deviance (``deviance``); the residual sum of
        squares for the squared error.
    null_deviance : float
        The deviance of the intercept-only model (``null_deviance``): its mean is the
        weighted mean of y; with an offset, the intercept-only model with that offset, fitted
        (whether or not the model has an intercept, as statsmodels).
    pearson_chi2 : float
        ``sum w (y - mu)^2 / V(mu)`` (``pearson_chi2``).
    scale : float
        The dispersion: 1 for the binomial and Poisson, ``pearson_chi2 / df_resid`` for the
        others (``scale``).
    log_likelihood : float
        The family's log-likelihood at the fit, constants included, at ``scale`` (at the
        maximum-likelihood ``deviance / W`` for the squared error) (``llf``); NaN, with
        ``aic`` and ``bic``, for the Tweedie family, whose density has no closed form.
    aic : float
        ``-2 log_likelihood + 2 n_params`` (``aic``).
    bic : float
        ``-2 log_likelihood + n_params log W`` (``bic_llf``).
    """

    n_obs: float
    df_model: int
    df_resid: float
    deviance: float
    null_deviance: float
    pearson_chi2: float
    scale: float
    log_likelihood: float
    aic: float
    bic: float

    def lines(self) -> list[str]:
        """The statistics as lines of text, for a summary's notes.

        Returns
        -------
        list of str
        """
        return [f"Deviance {self.deviance:.6g} on {self.df_resid:g} residual degrees of freedom "
                f"(null deviance {self.null_deviance:.6g}); Pearson chi2 {self.pearson_chi2:.6g}; "
                f"dispersion {self.scale:.6g}.",
                f"Log-likelihood {self.log_likelihood:.6g}; AIC {self.aic:.6g}; BIC {self.bic:.6g}."
                if math.isfinite(self.log_likelihood) else
                "Log-likelihood, AIC and BIC not available: the family's density has no closed "
                "form (as R's tweedie family reports NA)."]


def goodness_of_fit(obj: ObjectiveLike, w: Any) -> GoodnessOfFit:
    """Deviance, null deviance, Pearson's chi^2, dispersion, log-likelihood, AIC and BIC of the
    fit ``w``, as statsmodels' GLM reports them (see :class:`GoodnessOfFit`).

    Three passes over X (the predictions, and the compiled cost at ``w`` and at the
    intercept-only model, whose costs are the deviances); the rest is over n-vectors.
    ``alpha`` does not enter (the statistics are the likelihood's; with ``alpha > 0`` they
    describe the penalised fit).

    Parameters
    ----------
    obj : gdfast.Objective
        With y in memory (a NumPy array; not a gdfast.dask objective).
    w : array-like of shape (obj.n_params,)
        The fitted parameters.

    Returns
    -------
    GoodnessOfFit

    Raises
    ------
    ValueError
        When the objective's targets are not in memory. A loss whose density has no closed
        form (Tweedie) gets NaN for the log-likelihood, AIC and BIC (R's ``NA``).
    """
    full = as_objective(obj)
    y = getattr(full, "y", None)
    predictions = getattr(full, "predictions", None)
    if not isinstance(y, np.ndarray) or predictions is None:
        raise ValueError(f"goodness_of_fit needs an objective with y in memory "
                         f"(a gdfast.Objective); got {type(obj).__name__}")
    loss = full.loss
    sw = full.sample_weight
    sw = None if sw is None else np.asarray(sw, dtype=np.float64)
    W = total_weight(obj)
    k = obj.n_params
    z = predictions(np.asarray(w, dtype=np.float64))
    mu = loss.inverse_link(z)
    y = np.asarray(y, dtype=np.float64)

    def deviance(v: np.ndarray) -> float:
        # the cost without the penalty is the mean of deviance_factor / 2 unit deviances
        return 2.0 * W * (obj.cost(v) - full.penalty.value(v, obj.n_features)) / loss.deviance_factor

    fitted = deviance(np.asarray(w, dtype=np.float64))
    z0 = float(loss.link(np.average(y, weights=sw)))
    offset = getattr(full, "offset", None)
    if offset is not None:
        # the intercept-only model with the offset, fitted (with or without an intercept in
        # the model, as statsmodels)
        b = _intercept_only_fit(loss, y, sw, np.asarray(offset, dtype=np.float64))
        terms = loss.reference_terms(b + offset, y)[0] * (2.0 / loss.deviance_factor)
        null = float(np.sum(terms if sw is None else sw * terms))
    elif obj.fit_intercept:
        null = deviance(np.r_[np.zeros(obj.n_features), z0])
    else:               # the intercept-only model all the same, as statsmodels fits it
        terms = loss.reference_terms(np.full_like(y, z0), y)[0] * (2.0 / loss.deviance_factor)
        null = float(np.sum(terms if sw is None else sw * terms))
    resid = (y - mu) ** 2 / loss.variance(mu)
    pearson = float(np.sum(resid if sw is None else sw * resid))
    df_resid = W - k
    scale = 1.0 if loss.fixed_dispersion else (pearson / df_resid if df_resid > 0 else math.nan)
    ll = loss.log_likelihood(y, mu, sw, fitted / W if loss.quadratic else scale)
    if ll is None:                   # a density without a closed form (Tweedie): NaN, as R's NA
        ll = math.nan
    return GoodnessOfFit(n_obs=W, df_model=k - int(obj.fit_intercept), df_resid=df_resid,
                         deviance=fitted, null_deviance=null, pearson_chi2=pearson, scale=scale,
                         log_likelihood=ll, aic=-2.0 * ll + 2.0 * k, bic=-2.0 * ll + k * math.log(W))


def _intercept_only_fit(loss: Any, y: np.ndarray, sw: np.ndarray | None,
                        offset: np.ndarray) -> float:
    """The intercept b minimising ``sum sw loss(b + offset, y)``: Newton's method in one
    dimension (a gradient step where the curvature is not positive), halving any step that
    raises the cost or leaves the link's domain; O(n) per iteration, no pass over X."""
    def terms(b: float) -> tuple[float, float, float]:
        with np.errstate(all="ignore"):
            value, first, second = loss.reference_terms(b + offset, y)
        if sw is not None:
            value, first, second = sw * value, sw * first, sw * second
        return float(np.sum(value)), float(np.sum(first)), float(np.sum(second))

    z0 = float(loss.link(np.array([np.average(y, weights=sw)]))[0])
    b = z0 - (float(np.min(offset)) if loss.restricted_domain else float(np.average(offset,
                                                                                   weights=sw)))
    cost, g, h = terms(b)
    for _ in range(200):
        step = -g / h if h > 0 else -g / max(abs(h), 1.0)
        t = 1.0
        while t > 1e-20:
            trial = terms(b + t * step)
            if trial[0] <= cost:
                break
            t *= 0.5
        else:
            break
        b += t * step
        if abs(t * step) <= 1e-15 * max(1.0, abs(b)):
            break
        cost, g, h = trial
    return b


def _residual_variance(obj: ObjectiveLike, w: np.ndarray) -> float:
    """The dispersion: ``sigma^2 = RSS / (W - n_params)``, RSS the weighted residual sum of
    squares, or for a loss with Pearson residuals (:meth:`gdfast.losses.Loss.pearson_terms`)
    Pearson's chi^2 ``sum sw (y - mu)^2 / V(mu)`` over ``W - n_params``."""
    df = residual_df(obj)
    if df is None or df <= 0:
        return math.nan
    full = as_objective(obj)
    chi2 = full.pearson_chi2(w)
    if chi2 is not None:
        return chi2 / float(df)
    accurate = full.accurate_cost_gradient(w)
    cost = obj.cost(w) if accurate is None else accurate[0]
    mean_squared_error = cost - full.penalty.value(w, obj.n_features)
    return total_weight(obj) * mean_squared_error / float(df)


@dataclass(frozen=True)
class Summary:
    """A coefficient table: estimate, standard error, z or t, p-value and confidence interval.

    ``str(summary)`` (and ``print``) gives the table as text; :meth:`to_dict` gives its columns
    and :meth:`to_frame` a pandas DataFrame. Build one with :meth:`from_estimates`.

    Attributes
    ----------
    terms : list of str
        Row names ("intercept" and the feature names).
    coef, std_err, statistic, p_value, ci_low, ci_high : ndarray
        One value per row.
    statistic_name : {"z", "t"}
        z (normal reference distribution) or t (Student's t with ``df_resid`` degrees of freedom).
    df_resid : float or None
    level : float
        Coverage of the interval (0.95 for 95%).
    groups : list or None
        For one-vs-rest and multinomial models, the class each row belongs to.
    group_heading : str
        The line above each group's rows, a format string of ``group`` (default
        ``"class {group!r} vs rest"``).
    title : str
    notes : tuple of str
        Lines printed under the table.
    """

    terms: list[str]
    coef: np.ndarray
    std_err: np.ndarray
    statistic: np.ndarray
    p_value: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    statistic_name: str
    df_resid: float | None
    level: float
    groups: list[Any] | None = None
    group_heading: str = "class {group!r} vs rest"
    title: str = ""
    notes: tuple[str, ...] = field(default=())

    @classmethod
    def from_estimates(cls, terms: Sequence[str], coef: Any, std_err: Any, *,
                       df_resid: float | None = None, level: float = 0.95, title: str = "",
                       groups: Sequence[Any] | None = None, notes: Sequence[str] = (),
                       group_heading: str = "class {group!r} vs rest") -> "Summary":
        """The table for estimates and their standard errors.

        Parameters
        ----------
        terms : sequence of str
        coef, std_err : array-like, one value per term
        df_resid : float, optional
            None: z statistics and normal p-values and intervals (log loss). A number: t
            statistics with that many degrees of freedom (squared error), as OLS reports them.
        level : float, default 0.95
            Coverage of the confidence interval, strictly between 0 and 1.
        title : str
        groups : sequence, optional
            The class of each row (one-vs-rest, multinomial).
        notes : sequence of str
            Lines printed under the table.
        group_heading : str, default "class {group!r} vs rest"
            The line above each group, a format string of ``group``.

        Returns
        -------
        Summary

        Raises
        ------
        ValueError
            When level is not strictly between 0 and 1, or terms, coef, std_err (and groups)
            differ in length.
        """
        if not 0.0 < level < 1.0:
            raise ValueError(f"level must be strictly between 0 and 1; got {level!r}")
        coef = np.asarray(coef, dtype=np.float64)
        std_err = np.asarray(std_err, dtype=np.float64)
        if not (len(terms) == coef.shape[0] == std_err.shape[0]):
            raise ValueError(f"terms, coef and std_err must have one entry per term; got lengths "
                             f"{len(terms)}, {coef.shape[0]}, {std_err.shape[0]}")
        if groups is not None and len(groups) != len(terms):
            raise ValueError(f"groups has length {len(groups)}, expected {len(terms)} (one per term)")
        with np.errstate(divide="ignore", invalid="ignore"):
            statistic = coef / std_err
        dist: rv_frozen
        if df_resid is None:
            dist, name = scipy.stats.norm(), "z"
        else:
            dist, name = scipy.stats.t(df_resid if df_resid > 0 else np.nan), "t"
        p_value = 2.0 * dist.sf(np.abs(statistic))
        q = dist.ppf(0.5 + level / 2.0)
        return cls(terms=list(terms), coef=coef, std_err=std_err, statistic=statistic,
                   p_value=p_value, ci_low=coef - q * std_err, ci_high=coef + q * std_err,
                   statistic_name=name, df_resid=df_resid, level=level,
                   groups=None if groups is None else list(groups), title=title, notes=tuple(notes),
                   group_heading=group_heading)

    def _column_names(self) -> list[str]:
        return ["coef", "std_err", self.statistic_name, "p_value", "ci_low", "ci_high"]

    def _columns(self) -> list[np.ndarray]:
        return [self.coef, self.std_err, self.statistic, self.p_value, self.ci_low, self.ci_high]

    def to_dict(self) -> dict[str, list[Any]]:
        """The table's columns, each a list with one entry per row.

        Returns
        -------
        dict of str to list
            "class" (one-vs-rest only), "term", "coef", "std_err", "z" or "t", "p_value",
            "ci_low", "ci_high"; numbers as floats.
        """
        out: dict[str, list[Any]] = {}
        if self.groups is not None:
            out["class"] = list(self.groups)
        out["term"] = list(self.terms)
        for name, values in zip(self._column_names(), self._columns()):
            out[name] = [float(v) for v in values]
        return out

    def to_frame(self) -> Any:
        """The table as a pandas DataFrame indexed by term (by class and term for one-vs-rest).

        Returns
        -------
        pandas.DataFrame
            The columns of :meth:`to_dict`.

        Raises
        ------
        ImportError
            When pandas is not installed.
        """
        try:
            import pandas as pd
        except ImportError as e:
            raise ImportError("Summary.to_frame needs pandas (pip install pandas); "
                              "Summary.to_dict gives the same columns without it") from e
        frame = pd.DataFrame(self.to_dict())
        index = ["class", "term"] if self.groups is not None else ["term"]
        return frame.set_index(index)

    def __str__(self) -> str:
        low = f"[{(1 - self.level) / 2:.3g}"
        high = f"{1 - (1 - self.level) / 2:.3g}]"
        heads = ["coef", "std err", self.statistic_name, f"P>|{self.statistic_name}|", low, high]
        cells = [[_number(v) for v in column] for column in self._columns()]
        cells[3] = [_p_value(v) for v in self.p_value]
        widths = [max(len(h), *(len(c) for c in col)) for h, col in zip(heads, cells)]
        name_width = max(len("term"), *(len(t) for t in self.terms))
        row_width = name_width + sum(w + 2 for w in widths)
        lines = [self.title] if self.title else []
        lines.append("=" * row_width)
        lines.append(" " * name_width + "".join(f"  {h:>{w}}" for h, w in zip(heads, widths)))
        previous_group: Any = object()
        for i, term in enumerate(self.terms):
            if self.groups is not None and self.groups[i] != previous_group:
                previous_group = self.groups[i]
                lines.append("-" * row_width)
                lines.append(self.group_heading.format(group=previous_group))
            elif i == 0:
                lines.append("-" * row_width)
            lines.append(f"{term:<{name_width}}" +
                         "".join(f"  {col[i]:>{w}}" for col, w in zip(cells, widths)))
        lines.append("=" * row_width)
        for note in self.notes:
            lines.extend(textwrap.wrap(note, width=max(row_width, 72)))
        return "\n".join(lines)

    __repr__ = __str__


def _number(v: float) -> str:
    if not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if v == 0.0 or 1e-3 <= abs(v) < 1e6:
        return f"{v:.4f}"
    return f"{v:.3e}"


def _p_value(v: float) -> str:
    if math.isnan(v):
        return "nan"
    return f"{v:.3f}" if v >= 1e-3 else f"{v:.1e}"
