"""gdfast: linear models by gradient descent and Newton's method, with a compiled Cython core."""
from importlib.metadata import PackageNotFoundError, version as _version

from ._objective import Objective
from ._result import DivergenceWarning, IterationState, OptimizeResult, SeparationWarning
from ._solvers import minimize

try:
    __version__ = _version("gdfast")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without metadata
    __version__ = "0+unknown"



def get_include() -> str:
    """The folder to put on Cython's include path to ``cimport gdfast.kernels``.

    The public Cython API (``gdfast/kernels.pxd``: the block kernels; ``gdfast/_loss.pxd``: the
    per-sample losses) is header-only: inline nogil functions compiled into the package that
    cimports them. Their BLAS calls need scipy's ``.pxd`` files, found on the same path.
    """
    import os
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


__all__ = ["Objective", "minimize", "OptimizeResult", "IterationState", "DivergenceWarning",
           "SeparationWarning", "get_include", "__version__"]
