"""Type information for ``gdfast._core_avx512``: the kernels of ``gdfast._core``, compiled for AVX512."""
from ._core import *  # noqa: F403
