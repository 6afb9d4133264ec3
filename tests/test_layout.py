"""The code's layout shows its architecture: app/ in families, small modules, imports that go one way."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGES = ("app", "model")
MAX_LINES = 400
TOP_OF_APP = 8  # the entry point, the app factory, the settings, the registry (and __init__)
# The packages, lowest first: each may import its own and those before it, never one after it (an import
# inside a function counts). The machinery (transport/) knows no feature; the registry gathers them.
LAYERS = (
    "model",
    "app.config",
    "app.pictures",
    "app.transport",
    "app.api",
    "app.interop",
    "app.drawings",
    "app.classes",
    "app.registry",
    "app.main",
    "app.__main__",
)


def modules() -> dict[str, Path]:
    """Dotted name -> file, for every module of app/ and model/."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> list[tuple[str, bool]]:
    """(module imported, whether inside a function) for each of the module's imports of app/ or model/."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text())
    inside = {
        id(n) for f in ast.walk(tree) if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef) for n in ast.walk(f)
    }
    found = []
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from package import module` imports the module; its package is already importing it
            submodules = [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in known]
            targets = submodules or [base]
        for target in targets:
            if target in known:
                found.append((target, id(node) in inside))
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: {target for target, _ in imports(name, path, known)} - {name} for name, path in known.items()}


def test_no_module_of_app_or_model_is_over_400_lines():
    long = {name: n for name, path in modules().items() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert not long


def test_the_top_of_app_holds_only_the_entry_point_the_factory_the_settings_and_the_registry():
    top = sorted(p.name for p in (ROOT / "app").glob("*.py"))
    assert len(top) <= TOP_OF_APP
    assert set(top) == {"__init__.py", "__main__.py", "main.py", "config.py", "registry.py"}


def layer_of(module: str) -> str:
    """The package a module belongs to in LAYERS: model.x.y -> model, app.x.y -> app.x, app.main -> app.main."""
    parts = module.split(".")
    return "model" if parts[0] == "model" else ".".join(parts[:2])


def upward() -> list[str]:
    """Every import of a package from one before it in LAYERS (or of one LAYERS does not name)."""
    found = []
    for name, targets in graph().items():
        if name == "app":
            continue
        for target in sorted(targets):
            here, there = layer_of(name), layer_of(target)
            if here != there and (
                there not in LAYERS or here not in LAYERS or LAYERS.index(there) > LAYERS.index(here)
            ):
                found.append(f"{name} -> {target}")
    return found


def test_packages_import_one_way_only():
    """transport/ imports no feature; api/ < interop/ < drawings/ < classes/; the registry above them all."""
    assert not upward()


def test_an_upward_import_would_be_found(tmp_path, monkeypatch):
    """The check above is not blind: the machinery importing a feature, inside a function, is flagged."""
    for package in ("app", "app/transport", "app/api"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "app" / "api" / "handlers.py").write_text("from app.transport import jobs\n")
    (tmp_path / "app" / "transport" / "jobs.py").write_text("def f():\n    from app.api.handlers import g\n")
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    monkeypatch.setattr(f"{__name__}.PACKAGES", ("app",))
    assert upward() == ["app.transport.jobs -> app.api.handlers"]


def test_no_import_cycle_counting_imports_inside_functions():
    edges = graph()
    state: dict[str, int] = {}  # 1: on the path being explored, 2: done
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        path.append(name)
        for target in sorted(edges[name]):
            if state.get(target) == 1:
                return path[path.index(target) :] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[name] = 2
        return None

    for name in sorted(edges):
        if name not in state and (cycle := visit(name)):
            raise AssertionError(f"an import cycle: {' -> '.join(cycle)}")


def test_a_cycle_would_be_found(tmp_path, monkeypatch):
    """The search above is not blind: two modules that import each other inside functions are a cycle."""
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "a.py").write_text("def f():\n    from . import b\n")
    (tmp_path / "app" / "b.py").write_text("def g():\n    from .a import f\n")
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    monkeypatch.setattr(f"{__name__}.PACKAGES", ("app",))
    with pytest.raises(AssertionError, match="app.a -> app.b -> app.a"):
        test_no_import_cycle_counting_imports_inside_functions()


def third_party_at_top(path: Path) -> set[str]:
    """The packages outside the project and the standard library that a module imports at its top."""
    roots = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            roots.add(node.module.split(".")[0])
    return roots - set(sys.stdlib_module_names) - {*PACKAGES, "__future__"}


def test_app_has_no_lazy_import_that_hides_nothing():
    """An import inside a function may put off a costly or optional package (onnx, say); one of the
    project's modules that brings no such package with it hides nothing."""
    known = modules()
    lazy = [
        (name, target)
        for name, path in known.items()
        if name.startswith("app")
        for target, inside in imports(name, path, known)
        if inside and not third_party_at_top(known[target]) - third_party_at_top(path)
    ]
    assert not lazy


# model/fast/'s parts that compute; fast/memory.py tunes malloc and may be imported anywhere
FAST_PATH = ("model.fast", "model.fast.banded", "model.fast.gradients", "model.fast.inference")


def test_one_place_chooses_between_the_fast_path_and_the_reference():
    """model/cnn.py alone imports the fast path (outside model/fast/ itself): every answer and every
    training step that could take either asks it, so CNN_FAST switches them all in one place."""
    known = modules()
    choosers = {
        name
        for name, path in known.items()
        if not name.startswith("model.fast")
        for target, _ in imports(name, path, known)
        if target in FAST_PATH
    }
    assert choosers == {"model.cnn"}


# Each family's parts have the same names (their declarations, models, handlers, store); any other file
# name says one thing: not two jobs.py, nor a schema.py beside a schemas.py, nor three routes.py.
FAMILY_PARTS = {"__init__.py", "endpoints.py", "models.py", "answers.py", "store.py"}


def test_no_two_modules_of_app_share_a_name_unless_it_is_a_family_s_part():
    names: dict[str, list[str]] = {}
    for path in sorted((ROOT / "app").rglob("*.py")):
        names.setdefault(path.name, []).append(str(path.relative_to(ROOT)))
    assert not {name: paths for name, paths in names.items() if len(paths) > 1 and name not in FAMILY_PARTS}


def imports_of_tests(path: Path) -> list[str]:
    """The modules of tests/ a file imports, at its top or inside a function."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + ([f"{node.module}.{a.name}" for a in node.names] if node.module == "tests" else [])
        found += [n for n in names if n == "tests" or n.startswith("tests.")]
    return found


def test_bench_stands_on_its_own():
    """What the benchmarks and the tests share lives in bench/ (the tests import it from there), never the reverse."""
    leaning = {str(p.relative_to(ROOT)): imports_of_tests(p) for p in sorted((ROOT / "bench").rglob("*.py"))}
    assert not {p: names for p, names in leaning.items() if names}
    planted = ROOT / "bench" / "servers.py"
    assert imports_of_tests(planted) == []
    assert imports_of_tests(Path(__file__)) == ["tests.conftest"]  # the check sees an import of tests/
