"""Type information for ``gdfast._sparse_avx512``: the kernels of ``gdfast._sparse``, compiled for AVX512."""
from ._sparse import *  # noqa: F403
