"""The documentation matches the API.

- docs/api.md is what docs/make_api.py generates from the installed gdfast's docstrings now;
- every public name (gdfast.__all__, the public modules' __all__, public methods) has a numpydoc
  docstring whose Parameters name exactly the signature's parameters, with a Returns section
  when it returns something and a Raises section when it raises;
- README links the guide and the reference.
"""
from __future__ import annotations

import ast
import dataclasses
import importlib.util
import inspect
import re
import sys
import textwrap
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _load_make_api() -> Any:
    spec = importlib.util.spec_from_file_location("make_api", ROOT / "docs" / "make_api.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_api"] = module          # dataclasses look the module up
    spec.loader.exec_module(module)
    return module


make_api = _load_make_api()
ENTRIES = list(make_api.walk())


def test_api_reference_is_current(tmp_path: Path) -> None:
    out = tmp_path / "api.md"
    make_api.main([str(out)])
    committed = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    assert out.read_text(encoding="utf-8") == committed, (
        "docs/api.md does not match the docstrings: run `python docs/make_api.py` and commit it")


def test_reference_covers_the_public_api() -> None:
    import gdfast

    names = {e.name for e in ENTRIES}
    for name in gdfast.__all__:
        assert f"gdfast.{name}" in names
    for name in ("Objective.cost_gradient_hessian", "Objective.hessp", "minimize",
                 "LogisticRegression.fit", "LogisticRegression.predict_proba",
                 "LinearRegression.summary", "OptimizeResult.x", "reference.Objective.hessian",
                 "reference.newton", "datasets.load_breast_cancer", "stats.Summary.to_frame",
                 "plot.cost_history"):
        assert f"gdfast.{name}" in names, name
    # scikit-learn's own methods are not documented as gdfast's
    assert "gdfast.LogisticRegression.get_params" not in names


def _function(entry: Any) -> Any:
    obj = entry.obj
    if isinstance(obj, (classmethod, staticmethod)):
        return obj.__func__
    if isinstance(obj, property):
        return obj.fget
    return obj


def _documented(sections: dict[str, list[str]], *titles: str) -> list[str]:
    names = []
    for title in titles:
        for head, _ in make_api.list_entries(sections.get(title, [])):
            name = head.partition(" : ")[0]
            names += [n.strip().lstrip("*") for n in name.split(",")]
    return names


def _raises_directly(func: Any) -> bool:
    """Whether the function's own body (not a nested function) has a ``raise X`` statement."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    body = tree.body[0]
    stack = list(ast.iter_child_nodes(body))
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Raise) and node.exc is not None:
            return True
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            stack.extend(ast.iter_child_nodes(node))
    return False


def _problems(entry: Any) -> list[str]:
    doc = make_api.docstring(entry)
    if not doc.strip():
        return ["no docstring"]
    problems = []
    for i, line in enumerate(doc.splitlines()[1:], 1):
        title = doc.splitlines()[i - 1].strip()
        if line.strip() and set(line.strip()) == {"-"} and title and title not in make_api.SECTIONS:
            problems.append(f"unknown section {title!r}")
    sections = dict(make_api.split_sections(doc))
    if entry.kind in ("module", "data", "property"):
        return problems
    obj = entry.obj
    if entry.kind == "class":
        if issubclass(obj, BaseException):
            return problems
        if dataclasses.is_dataclass(obj):
            fields = {f.name for f in dataclasses.fields(obj)}
            missing = fields - set(_documented(sections, "Attributes"))
            return problems + [f"Attributes does not document {sorted(missing)}"] * bool(missing)
        func = obj.__init__
    else:
        func = _function(entry)
    params = [p.name for p in inspect.signature(func).parameters.values()]
    if entry.kind == "class" or (entry.kind == "method" and not isinstance(obj, staticmethod)):
        params = params[1:]
    documented = _documented(sections, "Parameters", "Other Parameters")
    if set(params) - set(documented):
        problems.append(f"Parameters does not document {sorted(set(params) - set(documented))}")
    if set(documented) - set(params):
        problems.append(f"Parameters documents unknown {sorted(set(documented) - set(params))}")
    if entry.kind != "class":
        returns = inspect.signature(func).return_annotation
        if returns not in (None, "None", inspect.Signature.empty) and not (
                sections.get("Returns") or sections.get("Yields")):
            problems.append("no Returns section")
        if _raises_directly(func) and not sections.get("Raises"):
            problems.append("raises, but has no Raises section")
    return problems


def test_every_public_name_has_a_numpydoc_docstring() -> None:
    problems = [f"{e.name}: {p}" for e in ENTRIES for p in _problems(e)]
    assert not problems, "\n".join(problems)


def test_readme_links_the_docs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = re.search(r"^## Documentation\n(.*?)(?=^## )", readme, re.S | re.M)
    assert section, "README has no Documentation section"
    for target in ("docs/guide.md", "docs/api.md"):
        assert f"]({target})" in section.group(1)
        assert (ROOT / target).is_file()
