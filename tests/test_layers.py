"""The import graph of ``stalkview/`` points one way: no cycle, no arrow up a layer.

Every module's imports are read from its source, the ones inside functions
included (a lazy import is still a dependency); imports under
``if TYPE_CHECKING:`` are left out of the cycle check, since they never run,
but they may not point up a layer either. The layers, lowest first, are
described in ``stalkview/ARCHITECTURE.md``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "stalkview"

#: Lowest first; a module belongs to the layer of its longest matching prefix.
#: A module may import from its own layer and the ones below, never above.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("base", ("stalkview", "stalkview.format", "stalkview.paths")),
    ("client", ("stalkview.client",)),
    ("model", ("stalkview.model", "stalkview.binlog")),
    # Everything else at the top level: the scan, polling, operations, files.
    ("core", ("stalkview.",)),
    ("app", ("stalkview.app",)),
    ("demo", ("stalkview.demo",)),
    ("cli", ("stalkview.cli", "stalkview.__main__")),
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> int:
    best, rank = -1, -1
    for n, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            matches = module == prefix or (
                module.startswith(prefix if prefix.endswith(".") else prefix + ".")
            )
            if matches and len(prefix) > best:
                best, rank = len(prefix), n
    assert rank >= 0, f"{module} is in no layer: add it to LAYERS"
    return rank


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _target(module: str, is_package: bool, node: ast.ImportFrom, alias: str) -> str:
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - node.level + 1]
        source = ".".join(base + ([node.module] if node.module else []))
    else:
        source = node.module or ""
    # ``from stalkview.app import app`` imports the module stalkview.app.app.
    return f"{source}.{alias}" if f"{source}.{alias}" in MODULES else source


def imports_of(module: str) -> Iterator[tuple[str, bool]]:
    """(imported stalkview module, runs at run time) for every import in ``module``."""
    path = MODULES[module]
    is_package = path.name == "__init__.py"

    def walk(nodes: list[ast.stmt] | list[ast.AST], runtime: bool) -> Iterator[tuple[str, bool]]:
        for node in nodes:
            if isinstance(node, ast.If) and _is_type_checking(node.test):
                yield from walk(node.body, False)
                yield from walk(node.orelse, runtime)
                continue
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield alias.name, runtime
            elif isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    yield _target(module, is_package, node, alias.name), runtime
            yield from walk(list(ast.iter_child_nodes(node)), runtime)

    tree = ast.parse(path.read_text(encoding="utf-8"))
    for name, runtime in walk(tree.body, True):
        if name in MODULES and name != module:
            yield name, runtime


GRAPH = {module: sorted(set(imports_of(module))) for module in MODULES}


def test_every_module_has_a_layer_and_no_import_points_up() -> None:
    upward = [
        f"{module} ({LAYERS[layer_of(module)][0]}) imports {target} ({LAYERS[layer_of(target)][0]})"
        for module, targets in GRAPH.items()
        for target, _ in targets
        if layer_of(target) > layer_of(module)
    ]
    assert upward == []


def test_the_run_time_import_graph_has_no_cycle() -> None:
    edges = {m: {t for t, runtime in targets if runtime} for m, targets in GRAPH.items()}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in sorted(edges[module]):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        path.pop()
        state[module] = 2
        return None

    for module in sorted(edges):
        if module not in state:
            cycle = visit(module)
            assert cycle is None, " -> ".join(cycle)


def test_the_graph_reader_sees_function_level_and_type_only_imports() -> None:
    # A lazy import inside a method counts (the app imports the fleet screen's module).
    assert ("stalkview.app.fleetapp", True) in GRAPH["stalkview.app"]
    # Imports under TYPE_CHECKING are read, as not running.
    assert ("stalkview.inventory", False) in GRAPH["stalkview.app.messages"]
    assert layer_of("stalkview.client.protocol") < layer_of("stalkview.ops")
    assert layer_of("stalkview.ops") < layer_of("stalkview.app.screens.main")


@pytest.mark.parametrize("layer", [name for name, _ in LAYERS if name != "app"])
def test_the_headless_core_does_not_import_textual(layer: str) -> None:
    # (``python -m stalkview`` runs the command line when imported.)
    modules = [m for m in MODULES if LAYERS[layer_of(m)][0] == layer and m != "stalkview.__main__"]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]", f"{layer} imports {out.stdout.strip()}"
