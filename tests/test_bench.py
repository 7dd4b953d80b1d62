"""The benchmark harness (benchmarks/gdbench) runs and reports every section (no timing is asserted here)."""
from __future__ import annotations

import json
import math
import re

import pytest
from threadpoolctl import threadpool_limits

import gdbench as bench      # benchmarks/gdbench, on sys.path through pyproject's pythonpath

TINY = ["--quick", "--quiet", "--repeats", "1", "--threads", "1", "--probe-mib", "8"]
HEADINGS = ["# gdfast benchmark report", "## Targets", "## Memory read bandwidth",
            "## cost_gradient: gdfast vs gdfast.reference", "## Hessian assembly",
            "## Gradient-descent loop", "## Logistic-regression fits", "## Solvers: time to a given tolerance",
            "## Peak extra memory"]


def _table(text: str, heading: str) -> list[list[str]]:
    """The rows (cells) of the first markdown table after a heading."""
    body = text.split(heading, 1)[1]
    block = []
    for line in body.splitlines()[1:]:
        if line.startswith("|"):
            block.append(line)
        elif block:
            break
    assert block, f"no table after {heading!r}"
    return [[c.strip() for c in line.strip("|").split("|")] for line in block[2:]]


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict]:
    out = tmp_path_factory.mktemp("bench")
    md, js = out / "report.md", out / "report.json"
    # One thread everywhere (gdfast's default n_threads follows threadpoolctl): on a shared machine
    # a two-thread team waits for descheduled workers, and this test checks the harness, not speed.
    with threadpool_limits(1):
        assert bench.main([*TINY, "--output", str(md), "--json", str(js)]) == 0
    return md.read_text(encoding="utf-8"), json.loads(js.read_text(encoding="utf-8"))


def test_every_section_is_reported(quick_report: tuple[str, dict]) -> None:
    text, data = quick_report
    for heading in HEADINGS:
        assert heading in text, heading
    assert set(data["sections"]) == set(bench.SECTIONS)
    for key in ("Machine", "BLAS", "OPENBLAS_CORETYPE", "Command", "gdfast"):
        assert key in text


def test_target_rows_parse(quick_report: tuple[str, dict]) -> None:
    text, data = quick_report
    rows = _table(text, "## Targets")
    assert len(rows) == len(data["targets"]) >= 10
    number = re.compile(r"^-?\d+(\.\d+)?(x|%| MiB)$")
    for name, goal, measured, verdict, _note in rows:
        assert verdict in ("met", "NOT met", "not measured", "not available"), (name, verdict)
        if verdict in ("met", "NOT met"):
            assert number.match(measured) or measured in ("yes", "no"), (name, measured)
    for t in data["targets"]:
        if t["met"] is not None:
            assert isinstance(t["measured"], float) and math.isfinite(t["measured"])


def test_kernel_rows_parse_and_agree(quick_report: tuple[str, dict]) -> None:
    text, data = quick_report
    kernels = data["raw"]["kernels"]
    # every size x loss x dtype at the one thread count asked for
    assert len(kernels) == len(bench.quick_config().kernel_sizes) * 2 * 2
    for e in kernels:
        assert e["threads"] == 1
        assert e["gdfast"] > 0 and e["reference"] > 0 and e["speedup"] > 0
    checks = _table(text, "Agreement with the reference")
    for _size, _loss, dtype, cost, grad in checks:
        # float32 rows are summed in float within a block (see gdfast.Objective)
        tol = 1e-9 if "64" in dtype else 1e-5
        assert float(cost) < tol and float(grad) < tol


def test_solver_table_lists_every_method(quick_report: tuple[str, dict]) -> None:
    text, data = quick_report
    names = {e["name"] for e in data["raw"]["solvers"]}
    for m in bench.GDFAST_METHODS:
        assert f"gdfast {m}" in names          # timed, or listed as not available
    assert "sklearn LogisticRegression lbfgs" in names and "statsmodels OLS" in names
    # methods that exist reach the optimum of Newton's method on this easy problem
    for e in data["raw"]["solvers"]:
        if e["name"] in ("gdfast newton", "sklearn LogisticRegression newton-cholesky"):
            assert e["reached"], e


def test_memory_is_measured(quick_report: tuple[str, dict]) -> None:
    _, data = quick_report
    mem = data["raw"]["memory"]
    assert mem["X_bytes"] > 0 and mem["gdfast cost_gradient"] >= 0


def test_bad_arguments() -> None:
    assert bench.main(["--only", "nonsense", "--quiet"]) == 2
    assert bench.main(["--threads", "0", "--quiet"]) == 2


def test_only_selects_sections(tmp_path) -> None:
    md = tmp_path / "r.md"
    with threadpool_limits(1):
        assert bench.main([*TINY, "--only", "gd", "--output", str(md)]) == 0
    text = md.read_text(encoding="utf-8")
    assert "## Gradient-descent loop" in text and "## Hessian assembly" not in text


def test_target_verdicts() -> None:
    assert bench.Target("s", "t", 3.0, "ratio", 3.1).met is True
    assert bench.Target("s", "t", 1.3, "within", 1.4).met is False
    assert bench.Target("s", "t", 1.0, "ratio").met is None
    assert bench.Target("s", "t", 1.0, "ratio", unavailable="no").cells()[3] == "not available"
