"""Run the gdfast benchmark report and write benchmarks/RESULTS.md.

Usage::

    python benchmarks/report.py            # full sizes (about the targets of the performance issue);
                                           # RESULTS-architecture.md, RESULTS-least-squares.md and PROFILE.md are appended
    python benchmarks/report.py --quick    # tiny sizes, seconds (checks the harness only)

Any other option of ``python benchmarks/report.py --help`` (the options of ``gdbench.main``, the
harness in ``benchmarks/gdbench/``) is passed through. Without ``--output`` the
report goes to ``benchmarks/RESULTS.md`` and the raw numbers to ``benchmarks/results.json``.
Run it on a quiet machine: the report records the load average, and ratios are only meaningful when
nothing else competes for the cores.
"""
from __future__ import annotations

import sys
from pathlib import Path

from gdbench import main

HERE = Path(__file__).resolve().parent


def run(argv: list[str]) -> int:
    """Call ``gdbench.main`` with the default output paths added.

    Parameters
    ----------
    argv : list of str
        Options for ``gdbench.main``.

    Returns
    -------
    int
        Its exit status.
    """
    argv = list(argv)
    default_output = not any(a == "--output" or a == "-o" or a.startswith("--output=") for a in argv)
    if default_output:
        argv += ["--output", str(HERE / "RESULTS.md")]
    if not any(a == "--json" or a.startswith("--json=") for a in argv):
        argv += ["--json", str(HERE / "results.json")]
    status = main(argv)
    if status == 0 and default_output and "--quick" not in argv:
        # the side-by-side records of the architecture issue (two builds; what "auto" picks),
        # and the hand-written account of the techniques and the profile, go with the numbers
        with open(HERE / "RESULTS.md", "a", encoding="utf-8") as out:
            for name in ("RESULTS-architecture.md", "RESULTS-least-squares.md", "PROFILE.md"):
                out.write("\n" + (HERE / name).read_text(encoding="utf-8"))
    return status


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
