"""Runtime dispatch: the kernel module built for the best instruction set this CPU supports.

The kernels are compiled several times from the same source: a baseline x86-64 build (SSE2),
an AVX2+FMA build and an AVX-512 build (each only where the compiler targets x86-64). At import
the best one the CPU and OS support is chosen. Set the environment variable ``GDFAST_ISA`` to
``baseline``, ``avx2`` or ``avx512`` to force one (it must be built and supported).
"""
from __future__ import annotations

import os
from importlib import import_module
from types import ModuleType

from . import _core as _baseline

MODULES = {"avx512": "_core_avx512", "avx2": "_core_avx2", "baseline": "_core"}


def _built(isa: str) -> ModuleType | None:
    try:
        return import_module(f"gdfast.{MODULES[isa]}")
    except ImportError:
        return None


def available() -> list[str]:
    """Instruction sets whose kernels are built here and runnable on this CPU, best first."""
    return [isa for isa in MODULES if _baseline.cpu_supports(isa) and _built(isa) is not None]


def load(isa: str) -> ModuleType:
    """The kernel module for ``isa``; ValueError if it is unknown, not built or not supported."""
    if isa not in MODULES:
        raise ValueError(f"GDFAST_ISA must be one of {', '.join(MODULES)}; got {isa!r}")
    if not _baseline.cpu_supports(isa):
        raise ValueError(f"GDFAST_ISA={isa!r}: this CPU does not support it")
    module = _built(isa)
    if module is None:
        raise ValueError(f"GDFAST_ISA={isa!r}: these kernels were not built in this install")
    return module


def _select() -> tuple[str, ModuleType]:
    forced = os.environ.get("GDFAST_ISA", "").strip().lower()
    if forced:
        return forced, load(forced)
    isa = available()[0]
    return isa, load(isa)


isa, core = _select()


def _accurate_module() -> ModuleType:
    """The compensated least-squares passes: the FMA build where the CPU has FMA (AVX2)."""
    if isa in ("avx2", "avx512"):
        try:
            return import_module("gdfast._accurate_avx2")
        except ImportError:
            pass
    return import_module("gdfast._accurate")


accurate = _accurate_module()


def _multinomial_module(variant: str) -> ModuleType:
    """The multinomial passes built for ``variant`` (same names as MODULES, prefix _multinomial)."""
    return import_module("gdfast._multinomial" + ("" if variant == "baseline" else f"_{variant}"))


def load_multinomial(isa: str) -> ModuleType:
    """The multinomial kernel module for ``isa`` (ValueError as :func:`load`)."""
    load(isa)                      # the same checks: known, supported, built
    try:
        return _multinomial_module(isa)
    except ImportError:
        raise ValueError(f"GDFAST_ISA={isa!r}: the multinomial kernels were not built "
                         "in this install") from None


multinomial = load_multinomial(isa)
