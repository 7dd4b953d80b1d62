"""ObjectiveLike: the objective contract the solvers rely on, as a type.

gdfast.Objective (in-memory data, compiled kernels) and gdfast.dask.Objective (a Dask array,
evaluated on the workers) both meet it, as does any object with these attributes and methods:
gdfast.minimize and the solvers that accept any objective (gd, nesterov, newton, newton-cg,
lbfgs) take an ObjectiveLike. What a solver uses beyond it (gdfast.Objective's compiled kernel,
gdfast.dask.Objective's ``separates``) it looks up with ``hasattr`` at run time; ChecksSeparation
types the latter.
"""
from __future__ import annotations

from typing import Any, Protocol

import numpy as np


class ObjectiveLike(Protocol):
    """Cost, gradient and Hessian of a linear model over ``w = [coef..., intercept]``.

    The attributes are read-only here, so plain instance attributes meet them. ``w`` and ``v``
    are positional: an implementation may name them as it likes.
    """

    @property
    def n_params(self) -> int: ...
    @property
    def n_samples(self) -> int: ...
    @property
    def n_features(self) -> int: ...
    @property
    def loss(self) -> str: ...
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


class ChecksSeparation(Protocol):
    """What an objective without a compiled kernel over in-memory data (gdfast.dask.Objective)
    offers the solvers' test for separable classes (``gdfast._common.SeparationCheck``), which
    finds it with ``hasattr(obj, "separates")``."""

    @property
    def weight_sum(self) -> float: ...
    @property
    def min_positive_weight(self) -> float: ...

    def separates(self, w: np.ndarray, /) -> bool: ...
