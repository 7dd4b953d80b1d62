"""Type information for ``gdfast._sparse_avx2``: the kernels of ``gdfast._sparse``, compiled for AVX2."""
from ._sparse import *  # noqa: F403
