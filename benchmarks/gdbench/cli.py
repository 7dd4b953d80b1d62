"""The harness's command line: run the chosen sections and write the report."""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import sys
import time
from typing import Any, Callable

from .common import SECTIONS, Limits, Report, full_config, log_progress, md_table, quick_config, set_progress
from .environment import environment, header_md
from .fits import section_fits, section_solvers
from .kernels import section_bandwidth, section_gd, section_hessian, section_kernels
from .memory import section_memory


_SECTION_FUNCS: dict[str, Callable[[Report], None]] = {
    "bandwidth": section_bandwidth, "kernels": section_kernels, "hessian": section_hessian,
    "gd": section_gd, "fits": section_fits, "solvers": section_solvers, "memory": section_memory,
}


def render(rep: Report, env: dict[str, Any], elapsed: float | None) -> str:
    """The whole report as markdown."""
    parts = [header_md(env, elapsed), ""]
    if rep.targets:
        met = sum(t.met is True for t in rep.targets)
        parts += ["## Targets", "",
                  f"{met} of {len(rep.targets)} met." + (
                      " Measured at quick (tiny) sizes: these verdicts say nothing about the targets."
                      if rep.cfg.quick else ""), "",
                  md_table(["target", "goal", "measured", "verdict", "note"], [t.cells() for t in rep.targets]),
                  ""]
    for s in SECTIONS:
        if s in rep.blocks:
            parts += [rep.blocks[s], ""]
    return "\n".join(parts).rstrip() + "\n"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python benchmarks/report.py",
                                description="Benchmark gdfast against its numpy reference, scikit-learn and "
                                            "statsmodels, side by side in one run, and print a markdown report.")
    p.add_argument("--quick", action="store_true", help="tiny sizes; runs in seconds (checks the harness only)")
    p.add_argument("--output", "-o", metavar="PATH", help="write the markdown report to PATH (default: stdout; benchmarks/RESULTS.md "
                        "when run as benchmarks/report.py)")
    p.add_argument("--json", metavar="PATH", help="also write the raw numbers as JSON to PATH (benchmarks/results.json when run "
                        "as benchmarks/report.py)")
    p.add_argument("--only", action="append", metavar="SECTION",
                   help=f"run only these sections (repeat or comma-separate): {', '.join(SECTIONS)}")
    p.add_argument("--repeats", type=int, metavar="N", help="timed samples per contender (median reported)")
    p.add_argument("--threads", metavar="LIST", help="thread counts to compare, e.g. 1,2 (default 1,2)")
    p.add_argument("--probe-mib", type=int, metavar="MIB", help="size of the bandwidth probe's array")
    p.add_argument("--cooldown", type=float, metavar="SECONDS",
                   help="idle time before each sample of a multi-threaded contender (default 0.1 s, 0 with --quick)")
    p.add_argument("--quiet", action="store_true", help="no progress messages on stderr")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks and print or write the report.

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments (``sys.argv[1:]`` when None); see ``--help``. ``--quick`` runs
        every section at tiny sizes in seconds; ``--output PATH`` writes the Markdown report
        to PATH instead of stdout; ``--json PATH`` also writes the raw numbers.

    Returns
    -------
    int
        0 on success; 2 when ``--threads`` or ``--only`` has a bad value (with a message on
        stderr).

    Raises
    ------
    SystemExit
        From argparse: status 2 for arguments it cannot parse, 0 after ``--help``.
    """
    args = _parser().parse_args(argv)
    set_progress(not args.quiet)
    cfg = quick_config() if args.quick else full_config()
    if args.repeats is not None:
        cfg.repeats = max(1, args.repeats)
        cfg.fit_repeats = min(cfg.fit_repeats, cfg.repeats)
        cfg.solver_repeats = min(cfg.solver_repeats, cfg.repeats)
    if args.threads:
        try:
            cfg.threads = tuple(sorted({int(t) for t in args.threads.split(",") if t.strip()}))
        except ValueError:
            print(f"--threads must be a comma-separated list of integers; got {args.threads!r}", file=sys.stderr)
            return 2
        if not cfg.threads or min(cfg.threads) < 1:
            print("--threads needs positive thread counts", file=sys.stderr)
            return 2
    if args.cooldown is not None:
        cfg.cooldown = max(0.0, args.cooldown)
    if args.probe_mib is not None:
        cfg.probe_bytes = max(1, args.probe_mib) << 20
    selected = list(SECTIONS)
    if args.only:
        wanted = {s.strip() for item in args.only for s in item.split(",") if s.strip()}
        bad = wanted - set(SECTIONS)
        if bad:
            print(f"--only: unknown section(s) {', '.join(sorted(bad))}; choose from {', '.join(SECTIONS)}",
                  file=sys.stderr)
            return 2
        if "kernels" in wanted:
            wanted.add("bandwidth")          # shares need the probe of the same run
        selected = [s for s in SECTIONS if s in wanted]

    command = shlex.join(["python", *sys.argv]) if argv is None else (
        shlex.join(["python", *sys.argv]) + f"  →  gdbench.main({argv!r})")
    limits = Limits()
    env = environment(limits, cfg, command)
    rep = Report(cfg=cfg, limits=limits)
    start = time.perf_counter()
    for s in selected:
        log_progress(f"section {s}")
        _SECTION_FUNCS[s](rep)
    elapsed = time.perf_counter() - start
    if hasattr(os, "getloadavg"):
        env["load_end"] = os.getloadavg()
    text = render(rep, env, elapsed)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
        log_progress(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    if args.json:
        payload = {"environment": env, "elapsed_seconds": elapsed, "sections": selected,
                   "targets": [dataclasses.asdict(t) | {"met": t.met} for t in rep.targets], "raw": rep.raw}
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(payload, f, indent=1, default=str)
    return 0
