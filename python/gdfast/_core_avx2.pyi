"""Type information for ``gdfast._core_avx2``: the kernels of ``gdfast._core``, compiled for AVX2."""
from ._core import *  # noqa: F403
