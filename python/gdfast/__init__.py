"""gdfast: linear models by gradient descent and Newton's method, with a compiled Cython core."""
import os as _os

# Before the compiled modules load libgomp (which reads it once): OpenMP threads that wait for
# work spin briefly and then sleep, instead of libgomp's default long spin, which burns the time
# slice a descheduled sibling needs when another process holds a core (2 threads then ran 1.6x
# slower than 1; benchmarks/PROFILE.md, "Sparse fits slower at 2 threads"). A value the user
# set is kept.
_os.environ.setdefault("GOMP_SPINCOUNT", "3000")

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version as _version
from typing import TYPE_CHECKING, Any

from ._objective import Objective
from ._multinomial_objective import MultinomialObjective
from ._result import (DivergenceWarning, IterationState, OptimizeResult, RankDeficientWarning,
                      SeparationWarning)
from ._solvers import minimize
from ._path import PathResult, alpha_max, path

if TYPE_CHECKING:   # loaded on first use at run time (see __getattr__); typed for checkers
    from . import estimators, plot, stats
    from .estimators import (ElasticNet, ElasticNetCV, GammaRegressor, GeneralizedLinearRegressor,
                             Lasso, LassoCV, LinearRegression, LogisticRegression,
                             LogisticRegressionCV, PoissonRegressor, TweedieRegressor)

try:
    __version__ = _version("gdfast")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without metadata
    __version__ = "0+unknown"


def get_include() -> str:
    """The folder to put on Cython's include path, and the C compiler's, to ``cimport gdfast.kernels``.

    The public Cython API (``gdfast/kernels.pxd``: the block kernels; ``gdfast/_loss.pxd``: the
    per-sample losses) is header-only: inline nogil functions compiled into the package that
    cimports them, their C in ``gdfast/_loss.h`` and ``gdfast/_simd.h``. Give this folder both
    to cythonize (``include_path``) and to the extension (``include_dirs``), as numpy's
    ``get_include()``. Their BLAS calls need scipy's ``.pxd`` files, found on the same path.

    Returns
    -------
    str
        The folder that holds the ``gdfast`` package (the parent of ``gdfast/kernels.pxd``).
    """
    import os
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# Loaded on first use, so that `import gdfast` needs neither scikit-learn nor matplotlib.
_LAZY_ATTRIBUTES = {"LogisticRegression": "estimators", "LinearRegression": "estimators",
                    "PoissonRegressor": "estimators", "GammaRegressor": "estimators",
                    "TweedieRegressor": "estimators", "GeneralizedLinearRegressor": "estimators",
                    "Lasso": "estimators", "ElasticNet": "estimators", "LassoCV": "estimators",
                    "ElasticNetCV": "estimators", "LogisticRegressionCV": "estimators"}
_LAZY_MODULES = ("estimators", "plot", "stats")

__all__ = ["Objective", "MultinomialObjective", "minimize", "path", "alpha_max", "PathResult", "OptimizeResult", "IterationState", "DivergenceWarning",
           "SeparationWarning", "RankDeficientWarning", "LogisticRegression", "LinearRegression",
           "PoissonRegressor", "GammaRegressor", "TweedieRegressor", "GeneralizedLinearRegressor",
           "Lasso", "ElasticNet", "LassoCV", "ElasticNetCV", "LogisticRegressionCV", "get_include",
           "__version__"]


def __getattr__(name: str) -> Any:
    if name in _LAZY_ATTRIBUTES:
        return getattr(import_module(f".{_LAZY_ATTRIBUTES[name]}", __name__), name)
    if name in _LAZY_MODULES:
        return import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY_ATTRIBUTES, *_LAZY_MODULES})
