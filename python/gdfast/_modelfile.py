"""The JSON model that ``gdfast fit --json/--save`` writes and ``gdfast predict`` reads.

A model is a plain JSON object::

    {"format": "gdfast-linear-model", "version": 1, "gdfast_version": "0.1.0",
     "loss": "log_loss" | "squared_error" | ..., "loss_param": 0.0,   # Tweedie's power
     "target": "y", "features": ["x1", ...],
     "classes": ["no", "yes"],            # classifiers only; the model gives P(target = classes[1])
     "fit_intercept": true, "alpha": 0.0001, "solver": "auto",
     "coef": [...], "intercept": 0.5, "coef_stderr": [...], "intercept_stderr": 0.1,
     "df_resid": 440.0,                   # estimated dispersion only (t statistics); else null
     "n_samples": 442, "cost": 0.12, "n_iter": 7, "status": "converged", "message": "..."}

The multinomial model (``gdfast fit --loss multinomial``, or "auto" for a target of more than two
labels that are not all numbers) writes ``"loss": "multinomial"``, its K labels in ``classes``,
``"reference": true`` when the first class is the reference (its coefficients and intercept
fixed at 0: alpha = 0) or false (the intercepts sum to zero), and one row per class::

     "coef": [[...], ...],                # K rows of n_features: coef[k] for classes[k]
     "intercept": [...], "coef_stderr": [[...], ...], "intercept_stderr": [...]

(the errors of entries fixed at 0 are null). Its prediction is the most probable class.

Numbers that are not finite (a standard error that does not exist) are written as null.
"""
from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from . import __version__
from ._multinomial_objective import Multinomial, MultinomialObjective
from ._objective import Objective
from ._result import OptimizeResult
from ._table import Table
from .losses import LOSSES, Loss, Tweedie, get_loss
from .stats import Summary, residual_df

FORMAT = "gdfast-linear-model"
VERSION = 1


def _number(v: float) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


def model_document(obj: Objective, result: OptimizeResult, std_err: np.ndarray, *, target: str,
                   features: list[str], classes: list[str] | None, solver: str) -> dict[str, Any]:
    """The JSON-ready description of a fit of ``obj``.

    Parameters
    ----------
    obj : gdfast.Objective
    result : OptimizeResult
    std_err : ndarray of shape (obj.n_params,)
        Standard errors of ``result.w``.
    target : str
    features : list of str
        One name per column of ``obj.X``.
    classes : list of str, optional
        For the log loss, the two labels; ``classes[1]`` is the one whose probability the
        model gives.
    solver : str
    """
    d = obj.n_features
    return {
        "format": FORMAT, "version": VERSION, "gdfast_version": __version__,
        "loss": obj.loss.name, "loss_param": obj.loss.param, "target": target,
        "features": list(features),
        "classes": None if classes is None else list(classes),
        "fit_intercept": obj.fit_intercept, "alpha": obj.alpha, "solver": solver,
        "coef": [float(v) for v in result.w[:d]],
        "intercept": float(result.w[d]) if obj.fit_intercept else 0.0,
        "coef_stderr": [_number(v) for v in std_err[:d]],
        "intercept_stderr": _number(std_err[d]) if obj.fit_intercept else None,
        "df_resid": residual_df(obj),
        "n_samples": obj.n_samples, "cost": float(result.cost), "n_iter": int(result.n_iter),
        "status": result.status, "message": result.message,
    }


def multinomial_document(obj: MultinomialObjective, result: OptimizeResult, cov: np.ndarray, *,
                         target: str, features: list[str], classes: list[str], solver: str
                         ) -> dict[str, Any]:
    """The JSON-ready description of a multinomial fit (see the module notes).

    Parameters
    ----------
    obj : gdfast.MultinomialObjective
    result : OptimizeResult
    cov : ndarray of shape (obj.n_params, obj.n_params)
        Covariance of ``result.w``.
    target : str
    features : list of str
    classes : list of str
        The K labels; class k of ``obj.y`` is ``classes[k]``.
    solver : str
    """
    coef, intercept = obj.coef_intercept(result.w)
    coef_se, intercept_se = obj.coef_intercept_stderr(cov)

    def numbers(a: np.ndarray) -> list[Any]:
        return [numbers(r) for r in a] if a.ndim > 1 else [_number(v) for v in a]

    return {
        "format": FORMAT, "version": VERSION, "gdfast_version": __version__,
        "loss": obj.loss.name, "loss_param": 0.0, "target": target, "features": list(features),
        "classes": list(classes), "reference": obj.reference,
        "fit_intercept": obj.fit_intercept, "alpha": obj.alpha, "solver": solver,
        "coef": coef.tolist(), "intercept": intercept.tolist(),
        "coef_stderr": numbers(coef_se),
        "intercept_stderr": numbers(intercept_se) if obj.fit_intercept else None,
        "df_resid": None,
        "n_samples": obj.n_samples, "cost": float(result.cost), "n_iter": int(result.n_iter),
        "status": result.status, "message": result.message,
    }


def _check_multinomial(doc: dict[str, Any]) -> None:
    K, d = len(doc["classes"]), len(doc["features"])
    if K < 2:
        raise ValueError("classes must hold at least two labels")
    coef = np.asarray(doc["coef"], dtype=np.float64)
    intercept = np.asarray(doc["intercept"], dtype=np.float64)
    if coef.shape != (K, d) or intercept.shape != (K,):
        raise ValueError(f"{K} classes and {d} features need coef of shape ({K}, {d}) and {K} "
                         f"intercepts; got {coef.shape} and {intercept.shape}")


def load_model(path: str) -> dict[str, Any]:
    """Read and check a model file.

    Raises
    ------
    OSError
        When the file cannot be opened.
    ValueError
        When it is not JSON or not a gdfast model, naming what is wrong.
    """
    with open(path) as f:
        try:
            doc = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path} is not JSON ({e.msg} at line {e.lineno}); it should be a "
                             "model written by 'gdfast fit --save'") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"{path} is not a gdfast model (no \"format\": \"{FORMAT}\"); write one "
                         "with 'gdfast fit DATA.csv --target COL --save MODEL.json'")
    if doc.get("version") != VERSION:
        raise ValueError(f"{path} is a version {doc.get('version')!r} gdfast model; this gdfast "
                         f"reads version {VERSION}")
    if doc.get("loss") == "multinomial":
        try:
            _check_multinomial(doc)
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{path} is a damaged gdfast model: {e}") from None
        return doc
    try:
        features, coef = list(doc["features"]), np.asarray(doc["coef"], dtype=np.float64)
        float(doc["intercept"])
        if doc["loss"] not in LOSSES:
            raise ValueError(f"loss {doc['loss']!r}")
        if _loss(doc).is_classifier and len(doc["classes"]) != 2:
            raise ValueError("classes must hold two labels")
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"{path} is a damaged gdfast model: {e}") from None
    if coef.shape != (len(features),):
        raise ValueError(f"{path} is a damaged gdfast model: {len(features)} features but "
                         f"{coef.size} coefficients")
    return doc


def _loss(doc: dict[str, Any]) -> Loss:
    """The model's loss, with its parameter (Tweedie's power; files without one: the default)."""
    if doc["loss"] == "tweedie" and "loss_param" in doc:
        return Tweedie(float(doc["loss_param"]))
    return get_loss(doc["loss"])


def predict(doc: dict[str, Any], table: Table) -> tuple[list[str], list[list[str]]]:
    """The table's rows with a "prediction" column, and for the log loss a "probability" column
    (the probability of ``classes[1]``).

    Raises
    ------
    ValueError
        When a feature the model needs is missing from the table or not numeric.
    """
    X = table.numbers(doc["features"])
    if doc["loss"] == "multinomial":
        z = X @ np.asarray(doc["coef"], dtype=np.float64).T + np.asarray(doc["intercept"])
        p = Multinomial().inverse_link(z) if len(z) else z
        best = np.argmax(p, axis=1) if len(z) else np.zeros(0, dtype=np.intp)
        rows = [row + [doc["classes"][k], repr(float(p[i, k]))]
                for i, (row, k) in enumerate(zip(table.rows, best))]
        return table.header + ["prediction", "probability"], rows
    z = X @ np.asarray(doc["coef"], dtype=np.float64) + float(doc["intercept"])
    loss = _loss(doc)
    if loss.is_classifier:
        probability = loss.inverse_link(z)
        labels = [doc["classes"][int(v > 0)] for v in z]
        rows = [row + [label, repr(float(p))] for row, label, p in zip(table.rows, labels, probability)]
        return table.header + ["prediction", "probability"], rows
    rows = [row + [repr(float(v))] for row, v in zip(table.rows, loss.inverse_link(z))]
    return table.header + ["prediction"], rows


def _multinomial_summary(doc: dict[str, Any]) -> Summary:
    """One block per class against the reference class (K - 1 blocks), or per class."""
    intercept = ["intercept"] if doc["fit_intercept"] else []
    classes, reference = list(doc["classes"]), bool(doc["reference"])
    terms: list[str] = []
    coef: list[float] = []
    se: list[float] = []
    groups: list[str] = []
    for k, label in enumerate(classes):
        if reference and k == 0:
            continue                        # the reference class: fixed at 0, not estimated
        terms += intercept + list(doc["features"])
        coef += ([doc["intercept"][k]] if intercept else []) + list(doc["coef"][k])
        se += (([doc["intercept_stderr"][k]] if intercept else [])
               + list(doc["coef_stderr"][k]))
        groups += [label] * (len(intercept) + len(doc["features"]))
    se = [math.nan if v is None else v for v in se]
    what = (f"multinomial logistic regression of {doc['target']} over {len(classes)} classes, "
            + (f"reference class {classes[0]!r}" if reference else "intercepts summing to zero"))
    iterations = "iteration" if doc["n_iter"] == 1 else "iterations"
    title = (f"gdfast fit ({what}): {doc['n_samples']} samples, alpha={doc['alpha']:g}, "
             f"solver={doc['solver']!r}, {doc['status']} after {doc['n_iter']} {iterations}, "
             f"cost {doc['cost']:.6g}")
    notes = []
    if doc["alpha"] > 0:
        notes.append("alpha > 0: the standard errors include the penalty (see gdfast.stats); "
                     "use --alpha 0 for classical errors.")
    heading = "class {group!r} vs " + repr(classes[0]) if reference else "class {group!r}"
    return Summary.from_estimates(terms, coef, se, df_resid=None, title=title, notes=notes,
                                  groups=groups, group_heading=heading)


def summary(doc: dict[str, Any]) -> Summary:
    """The coefficient table of a model."""
    if doc["loss"] == "multinomial":
        return _multinomial_summary(doc)
    intercept = ["intercept"] if doc["fit_intercept"] else []
    terms = intercept + list(doc["features"])
    coef = ([doc["intercept"]] if intercept else []) + list(doc["coef"])
    se = ([doc["intercept_stderr"]] if intercept else []) + list(doc["coef_stderr"])
    se = [math.nan if v is None else v for v in se]
    what = _loss(doc).title(doc["target"], doc["classes"])
    iterations = "iteration" if doc["n_iter"] == 1 else "iterations"
    title = (f"gdfast fit ({what}): {doc['n_samples']} samples, alpha={doc['alpha']:g}, "
             f"solver={doc['solver']!r}, {doc['status']} after {doc['n_iter']} {iterations}, "
             f"cost {doc['cost']:.6g}")
    notes = []
    if doc["alpha"] > 0:
        notes.append(f"alpha > 0: the standard errors include the penalty (see gdfast.stats); "
                     "use --alpha 0 for classical errors.")
    return Summary.from_estimates(terms, coef, se, df_resid=doc["df_resid"], title=title, notes=notes)
