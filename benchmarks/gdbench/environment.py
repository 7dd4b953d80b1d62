"""The report's header: the machine, the versions, BLAS and threads, the command and the load."""
from __future__ import annotations

import datetime
import os
import platform
import re
import subprocess
from typing import Any

import gdfast
from gdfast import _core

from .common import Config, Limits


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
    except OSError:
        return platform.processor() or platform.machine()
    m = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
    flags = re.search(r"^flags\s*:\s*(.+)$", text, re.M)
    isa = []
    if flags:
        fl = set(flags.group(1).split())
        isa = [f for f in ("avx2", "fma", "avx512f") if f in fl]
    return (m.group(1).strip() if m else platform.machine()) + (f" ({', '.join(isa)})" if isa else "")


def _mem_total() -> str:
    try:
        with open("/proc/meminfo") as f:
            found = re.search(r"MemTotal:\s+(\d+)", f.read())
    except OSError:
        return "unknown"
    return "unknown" if found is None else f"{int(found.group(1)) / 2**20:.1f} GiB"


def _version(mod: str) -> str:
    try:
        from importlib.metadata import version
        return version(mod)
    except Exception:
        return "not installed"


def _git_commit() -> str:
    # the checkout of the gdfast that is imported (an editable install), not of this harness
    here = os.path.dirname(os.path.abspath(gdfast.__file__))
    try:
        out = subprocess.run(["git", "-C", here, "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=5)
        dirty = subprocess.run(["git", "-C", here, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5)
        if out.returncode == 0:
            return out.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return "unknown (not a git checkout)"


def environment(limits: Limits, cfg: Config, command: str) -> dict[str, Any]:
    """Machine, versions, BLAS and threading facts for the report header."""
    blas = [{k: p.get(k) for k in ("internal_api", "version", "architecture", "num_threads",
                                    "threading_layer", "filepath")}
            for p in limits.info() if p.get("user_api") == "blas"]
    omp = [os.path.basename(p.get("filepath", "")) for p in limits.info() if p.get("user_api") == "openmp"]
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        affinity = os.cpu_count() or 1
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": _cpu_model(),
        "cores": f"{os.cpu_count()} logical, {affinity} usable",
        "memory": _mem_total(),
        "load_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "versions": {m: _version(m) for m in ("numpy", "scipy", "scikit-learn", "statsmodels",
                                              "threadpoolctl")},
        "gdfast": f"{gdfast.__version__}, commit {_git_commit()}",
        "blas": blas,
        "openmp_libs": omp,
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
        "gdfast_openmp": bool(_core.has_openmp()),
        "gdfast_max_threads": int(_core.max_threads()),
        "threads": list(cfg.threads),
        "cooldown": cfg.cooldown,
        "command": command,
        "mode": "quick (tiny sizes; not for quoting)" if cfg.quick else "full",
    }


def header_md(env: dict[str, Any], elapsed: float | None) -> str:
    """The header of the report: the facts of :func:`environment` as a Markdown list."""
    load = env.get("load_start")
    lines = [
        "# gdfast benchmark report",
        "",
        f"- **Date**: {env['date']}" + (f"; the run took {elapsed:.0f} s" if elapsed is not None else ""),
        f"- **Command**: `{env['command']}`",
        f"- **Mode**: {env['mode']}",
        f"- **Machine**: {env['cpu']}; {env['cores']} cores; {env['memory']} memory",
        f"- **Load average at start**: " + (", ".join(f"{x:.2f}" for x in load) if load else "unknown")
        + (f"; at end: {', '.join(f'{x:.2f}' for x in env['load_end'])}" if env.get("load_end") else ""),
        f"- **Python** {env['python']}; " + ", ".join(f"{k} {v}" for k, v in env["versions"].items()),
        f"- **gdfast** {env['gdfast']}; OpenMP: {'yes' if env['gdfast_openmp'] else 'NO'} "
        f"(max threads {env['gdfast_max_threads']})",
    ]
    for b in env["blas"]:
        lines.append(f"- **BLAS**: {b['internal_api']} {b['version']}, architecture {b['architecture']}, "
                     f"{b['num_threads']} threads ({b.get('threading_layer')}), "
                     f"`{os.path.basename(str(b['filepath']))}`")
    if env["openmp_libs"]:
        lines.append(f"- **OpenMP runtimes loaded**: {', '.join(env['openmp_libs'])}")
    lines.append(f"- **Thread counts compared**: {', '.join(map(str, env['threads']))} "
                 "(gdfast `n_threads` = k and every BLAS limited to k through threadpoolctl); "
                 f"{env['cooldown']:g} s idle before each sample of a multi-threaded contender")
    lines.append("- **Environment**: " + "; ".join(
        f"{k}={env[k] if env[k] is not None else '(not set)'}"
        for k in ("OPENBLAS_CORETYPE", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")))
    cores = os.cpu_count() or 1
    loads = [*(load or ()), *(env.get("load_end") or ())]
    busy = bool(loads) and max(loads) > 0.5 * cores
    if busy:
        lines += ["", f"> **Busy machine**: the load average (up to {max(loads):.1f} on {cores} cores) says other "
                      "jobs ran during this benchmark. Ratios measured side by side are still indicative, "
                      "but absolute times and bandwidth shares are not: re-run on a quiet machine."]
    return "\n".join(lines)
