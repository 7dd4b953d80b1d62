"""gdfast: linear models by gradient descent and Newton's method, with a compiled Cython core."""
from importlib.metadata import PackageNotFoundError, version as _version

from ._objective import Objective
from ._result import DivergenceWarning, IterationState, OptimizeResult, SeparationWarning
from ._solvers import minimize

try:
    __version__ = _version("gdfast")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without metadata
    __version__ = "0+unknown"

__all__ = ["Objective", "minimize", "OptimizeResult", "IterationState", "DivergenceWarning",
           "SeparationWarning", "__version__"]
