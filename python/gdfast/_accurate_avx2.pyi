"""Type information for ``gdfast._accurate_avx2``: ``gdfast._accurate`` compiled with FMA."""
from ._accurate import *  # noqa: F403
