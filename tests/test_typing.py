"""Type information: mypy --strict is clean on python/gdfast (and on the benchmark harness,
benchmarks/gdbench), with no blanket ignores, and the
stubs of the compiled modules (gdfast/_core.pyi, gdfast/_sparse.pyi, gdfast/_stochastic.pyi) match
the modules.

mypy runs with the configuration in pyproject.toml ([tool.mypy]) and keeps its cache in
.mypy_cache at the repository root, so that a second run takes about a second.
"""
from __future__ import annotations

import ast
import importlib
import importlib.resources
import inspect
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse

import gdfast
from gdfast import _core, _dispatch, _sparse, _stochastic

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the test extra installs tomli there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "python" / "gdfast"


def test_mypy_strict_is_clean() -> None:
    proc = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--config-file",
                           str(ROOT / "pyproject.toml"), "--cache-dir", str(ROOT / ".mypy_cache")],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"^Success: no issues found in \d+ source files$", proc.stdout, re.M), proc.stdout


def test_mypy_configuration_has_no_blanket_ignores() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    assert config["strict"] is True
    assert not {k for k in config if k.startswith(("disallow_", "ignore_", "allow_", "check_untyped"))}
    assert config["files"] == ["$MYPY_CONFIG_FILE_DIR/python/gdfast", "$MYPY_CONFIG_FILE_DIR/benchmarks/gdbench"]
    for override in config.get("overrides", []):
        # only third-party modules without type information, named one by one
        assert set(override) == {"module", "ignore_missing_imports"}, override
        assert not any(m == "gdfast" or m.startswith("gdfast.") for m in override["module"])
        assert not any(m.endswith("*") and "." not in m for m in override["module"])


def test_type_ignores_are_narrow_and_explained() -> None:
    for path in sorted([*PACKAGE.glob("*.py*"), *(ROOT / "benchmarks" / "gdbench").glob("*.py")]):
        text = path.read_text()
        assert "# mypy:" not in text, f"{path.name}: per-file mypy options"
        for number, line in enumerate(text.splitlines(), 1):
            if "type: ignore" in line:
                where = f"{path.name}:{number}"
                assert re.search(r"type: ignore\[[a-z-]+(, *[a-z-]+)*\]", line), \
                    f"{where}: a type: ignore without an error code"
                assert re.search(r"type: ignore\[[^]]*\]\s+#\s*\S", line), \
                    f"{where}: a type: ignore without a comment saying why"


def test_the_package_ships_its_type_information() -> None:
    files = importlib.resources.files("gdfast")
    for name in ("py.typed", "_core.pyi", "_core_avx2.pyi", "_core_avx512.pyi", "_sparse.pyi",
                 "_sparse_avx2.pyi", "_sparse_avx512.pyi", "_stochastic.pyi", "_accurate.pyi",
                 "_accurate_avx2.pyi", "_cd.pyi"):
        assert files.joinpath(name).is_file(), name


# ---------------------------------------------------------------------------------------------
# The stubs of the compiled modules against the modules themselves
# ---------------------------------------------------------------------------------------------

def _stub(name: str) -> ast.Module:
    return ast.parse((PACKAGE / f"{name}.pyi").read_text())


def _stub_functions(body: list[ast.stmt]) -> dict[str, ast.FunctionDef]:
    return {node.name: node for node in body if isinstance(node, ast.FunctionDef)}


def _stub_values(body: list[ast.stmt]) -> dict[str, ast.AnnAssign]:
    return {node.target.id: node for node in body
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)}


def _is_property(node: ast.FunctionDef) -> bool:
    return any(isinstance(d, ast.Name) and d.id == "property" for d in node.decorator_list)


def _stub_parameters(node: ast.FunctionDef) -> list[tuple[str, Any]]:
    """(name, default) per parameter; the default is inspect.Parameter.empty when there is none."""
    args = node.args
    positional = args.posonlyargs + args.args
    defaults = [inspect.Parameter.empty] * (len(positional) - len(args.defaults)) + [
        ast.literal_eval(d) for d in args.defaults]
    params = [(a.arg, d) for a, d in zip(positional, defaults)]
    params += [(a.arg, inspect.Parameter.empty if d is None else ast.literal_eval(d))
               for a, d in zip(args.kwonlyargs, args.kw_defaults)]
    return params


def _runtime_parameters(func: Any) -> list[tuple[str, Any]]:
    return [(p.name, p.default) for p in inspect.signature(func).parameters.values()]


def _public(module: Any) -> set[str]:
    return {n for n in vars(module) if not n.startswith("_") and n != "np"}


def _check_module(module: Any, stub: ast.Module) -> None:
    functions, values = _stub_functions(stub.body), _stub_values(stub.body)
    classes = {node.name: node for node in stub.body if isinstance(node, ast.ClassDef)}
    public_values = {n for n in values if not n.startswith("_")}
    assert _public(module) == set(functions) | public_values | set(classes), module.__name__
    for name in public_values:
        assert isinstance(getattr(module, name), int), name          # the Final[int] codes
    for name, node in functions.items():
        assert _stub_parameters(node) == _runtime_parameters(getattr(module, name)), name
    for name, cls in classes.items():
        runtime = getattr(module, name)
        methods, attributes = _stub_functions(cls.body), _stub_values(cls.body)
        stubbed = {n for n in methods if n != "__init__"} | set(attributes)
        assert {n for n in vars(runtime) if not n.startswith("_")} == stubbed, name
        for method, node in methods.items():
            if method == "__init__" or _is_property(node):
                continue
            assert _stub_parameters(node) == _runtime_parameters(getattr(runtime, method)), \
                f"{name}.{method}"


@pytest.mark.parametrize("isa", list(_dispatch.MODULES))
def test_core_stub_matches_each_built_kernel_module(isa: str) -> None:
    try:
        module = importlib.import_module(f"gdfast.{_dispatch.MODULES[isa]}")
    except ImportError:
        assert isa != "baseline", "gdfast._core must always be built"
        assert isa not in _dispatch.available()
        return                                  # not built for this platform: nothing to check
    _check_module(module, _stub("_core"))


@pytest.mark.parametrize("isa", list(_dispatch.MODULES))
def test_sparse_stub_matches_each_built_kernel_module(isa: str) -> None:
    """The CSR kernels are built for the same instruction sets as the dense ones."""
    name = _dispatch.MODULES[isa].replace("_core", "_sparse")
    try:
        module = importlib.import_module(f"gdfast.{name}")
    except ImportError:
        assert isa != "baseline", "gdfast._sparse must always be built"
        assert isa not in _dispatch.available()
        return                                  # not built for this platform: nothing to check
    _check_module(module, _stub("_sparse"))


@pytest.mark.parametrize("name", ["_core", "_sparse"])
def test_instruction_set_stubs_reexport_the_baseline_stub(name: str) -> None:
    for suffix in ("_avx2", "_avx512"):
        stub = _stub(f"{name}{suffix}")
        imports = [node for node in stub.body if isinstance(node, ast.ImportFrom)]
        assert [(i.module, i.level, [a.name for a in i.names]) for i in imports] == [(name, 1, ["*"])]
        assert all(isinstance(node, (ast.ImportFrom, ast.Expr)) for node in stub.body)


def test_stochastic_stub_matches_the_module() -> None:
    _check_module(_stochastic, _stub("_stochastic"))


def test_cd_stub_matches_the_module() -> None:
    from gdfast import _cd
    _check_module(_cd, _stub("_cd"))


@pytest.mark.parametrize("name", ["_accurate", "_accurate_avx2"])
def test_accurate_stub_matches_each_built_module(name: str) -> None:
    try:
        module = importlib.import_module(f"gdfast.{name}")
    except ImportError:
        assert name != "_accurate", "gdfast._accurate must always be built"
        return                                  # not built for this platform: nothing to check
    _check_module(module, _stub("_accurate"))
    if name != "_accurate":
        stub = _stub(name)
        imports = [node for node in stub.body if isinstance(node, ast.ImportFrom)]
        assert [(i.module, i.level, [a.name for a in i.names]) for i in imports] == \
            [("_accurate", 1, ["*"])]


def _init_parameters(stub: ast.Module, cls: str) -> list[str]:
    node = next(n for n in stub.body if isinstance(n, ast.ClassDef) and n.name == cls)
    return [name for name, _ in _stub_parameters(_stub_functions(node.body)["__init__"])][1:]


def _readonly(cls: ast.ClassDef) -> set[str]:
    return {n for n, node in _stub_functions(cls.body).items() if _is_property(node)}


def test_stub_constructors_and_attributes_match() -> None:
    """``__cinit__`` has no introspectable signature: call it with the stubs' keywords, and
    check that the stubs' properties are read-only and their plain attributes writable."""
    X = np.ones((3, 2))
    y = np.array([0.0, 1.0, 1.0])
    core_stub, sgd_stub = _stub("_core"), _stub("_stochastic")
    assert _init_parameters(core_stub, "Kernel") == [
        "X", "y", "sample_weight", "scale", "loss", "fit_intercept", "alpha", "cost_offset",
        "loss_param", "offset"]
    kernel = _core.Kernel(X=X, y=y, sample_weight=None, scale=1 / 3, loss=_core.loss_codes()["log_loss"],
                          fit_intercept=True, alpha=0.0)
    assert kernel.n_params == 3
    assert _init_parameters(sgd_stub, "Stepper") == [
        "method", "loss", "fit_intercept", "alpha", "n_params", "batch_size", "learning_rate",
        "schedule", "power_t", "momentum", "beta1", "beta2", "eps", "loss_param"]
    stepper = _stochastic.Stepper(method=_stochastic.METHOD_ADAM, loss=_stochastic.loss_codes()["log_loss"],
                                  fit_intercept=True, alpha=0.0, n_params=3, batch_size=2,
                                  learning_rate=0.1, schedule=_stochastic.SCHEDULE_CONSTANT,
                                  power_t=0.5, momentum=0.0, beta1=0.9, beta2=0.999, eps=1e-8)
    assert stepper.run_epoch(X, y, None, np.arange(3, dtype=np.intp), np.zeros(3)) is True
    for instance, stub, cls in ((kernel, core_stub, "Kernel"), (stepper, sgd_stub, "Stepper")):
        node = next(n for n in stub.body if isinstance(n, ast.ClassDef) and n.name == cls)
        for name in _readonly(node):
            with pytest.raises(AttributeError):
                setattr(instance, name, getattr(instance, name))
        for name in _stub_values(node.body):
            setattr(instance, name, getattr(instance, name))


def test_sparse_stub_constructor_and_attributes_match() -> None:
    """SparseKernel takes the same keywords as Kernel, and its n_params is read-only."""
    X = scipy.sparse.csr_array(np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 0.0]]))
    y = np.array([0.0, 1.0, 1.0])
    stub = _stub("_sparse")
    assert _init_parameters(stub, "SparseKernel") == _init_parameters(_stub("_core"), "Kernel")
    kernel = _sparse.SparseKernel(X=X, y=y, sample_weight=None, scale=1 / 3, loss=_sparse.loss_codes()["log_loss"],
                                  fit_intercept=True, alpha=0.0)
    assert kernel.n_params == 3
    node = next(n for n in stub.body if isinstance(n, ast.ClassDef) and n.name == "SparseKernel")
    assert _readonly(node) == {"n_params"} and not _stub_values(node.body)
    with pytest.raises(AttributeError):
        setattr(kernel, "n_params", 4)
    # the module-level checks return what their stubs say
    assert _sparse.structure_error(X.indptr, X.indices, 3, 2) is None
    assert isinstance(_sparse.structure_error(X.indptr, X.indices, 3, 1), str)
    assert _sparse.has_duplicates(X.indptr, X.indices, 2) is False
    assert _sparse.all_finite(X.data) is True


def test_public_api_is_annotated() -> None:
    """Every parameter and return of gdfast's public functions and methods has a type."""
    missing = []
    for name in gdfast.__all__:
        obj = getattr(gdfast, name)
        functions = [obj] if inspect.isfunction(obj) else [
            m for n, m in vars(obj).items() if inspect.isfunction(m)
            and (n == "__init__" or not n.startswith("_"))] if inspect.isclass(obj) else []
        for func in functions:
            if func.__code__.co_filename == "<string>":
                continue                        # made by dataclasses (__init__, __eq__, ...)
            sig = inspect.signature(func)
            untyped = [p.name for p in sig.parameters.values()
                       if p.annotation is inspect.Parameter.empty and p.name not in ("self", "cls")]
            if untyped or sig.return_annotation is inspect.Signature.empty:
                missing.append(f"{func.__qualname__}: {untyped or 'return'}")
    assert not missing, missing
