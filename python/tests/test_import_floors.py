"""The package's floors, read from the source (ast, nothing imported): who may import whom.

    driver API (sparktf/*.py) --> program/ --> node/context.py (the ctx: program's one way in)
                        program/, node/, serving/ --> wire/ --> v1 (generated stubs)

* The driver API (``cluster``, ``ml``, ...) runs in the user's driver with pyspark; nothing a
  node or model server runs may import it (it would pull pyspark and py4j into every node). It
  may import ``program/`` for the programs it ships (``TFEstimator``'s default program exports).
* ``program/`` is what a user's ``main_fun`` imports: it reaches the node only through the
  ``ctx`` (``sparktf.node.context``), never through the node's servers, queue or runtime; it
  may use ``wire/`` (the role rules every side shares).
* ``node/`` and ``serving/`` stand on ``wire/``, and never import each other.
* ``wire/`` stands on the generated stubs (``v1``) alone.

Alias modules (``sys.modules[__name__] = ...``, old import paths) are checked apart: each names a
``program/`` module and nothing else.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sparktf"

# floor -> floors its modules may import (besides their own)
ALLOWED: dict[str, set[str]] = {
    "v1": set(),
    "wire": {"v1"},
    "node": {"wire", "v1"},
    "serving": {"wire", "v1"},
    "program": {"wire", "v1"},
    "driver": {"program", "v1"},
}
# Modules of another floor a floor may import although ALLOWED does not list that floor: the
# documented surfaces.
SURFACES: dict[str, set[str]] = {"program": {"sparktf.node.context"}}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def floor_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) >= 2 and parts[1] in ALLOWED and (PACKAGE / parts[1]).is_dir():
        return parts[1]
    return "driver"  # sparktf itself and its top-level modules


def _is_package(module: str) -> bool:
    return MODULES.get(module, Path()).name == "__init__.py"


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not _is_package(module):
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _under_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(module: str, top_level_only: bool = False, source: str | None = None) -> set[str]:
    """The sparktf modules ``module`` imports (its file, or ``source``); with ``top_level_only``,
    only those imported when it loads (not inside functions, not under TYPE_CHECKING): the edges
    a cycle could use."""
    text = MODULES[module].read_text(encoding="utf-8") if source is None else source
    tree = ast.parse(text)
    found: set[str] = set()

    def visit(nodes: list[ast.stmt] | list[ast.AST]) -> None:
        for node in nodes:
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                source = _resolve(module, node)
                for a in node.names:
                    child = f"{source}.{a.name}"
                    found.add(child if child in MODULES else source)
            elif top_level_only and isinstance(
                node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
            ):
                continue
            elif top_level_only and isinstance(node, ast.If) and _under_type_checking(node):
                visit(node.orelse)
                continue
            else:
                visit(list(ast.iter_child_nodes(node)))

    visit(tree.body)
    return {m for m in found if m == "sparktf" or m.startswith("sparktf.")}


def _is_alias(module: str) -> bool:
    for node in ast.walk(ast.parse(MODULES[module].read_text(encoding="utf-8"))):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if (
                    isinstance(target, ast.Subscript)
                    and ast.unparse(target.value) == "sys.modules"
                    and ast.unparse(target.slice) == "__name__"
                ):
                    return True
    return False


ALIASES = sorted(m for m in MODULES if _is_alias(m))


def test_the_package_is_found_and_the_floors_are_there():
    floors = {floor_of(m) for m in MODULES}
    assert {"driver", "program", "wire", "node", "serving"} <= floors, floors
    assert "sparktf.node.data_feed" in MODULES and "sparktf.cluster" in MODULES


def test_the_floor_table_has_no_cycle():
    def reaches(start: str, goal: str, seen: frozenset[str] = frozenset()) -> bool:
        return any(
            f == goal or (f not in seen and reaches(f, goal, seen | {f})) for f in ALLOWED[start]
        )

    assert not [f for f in ALLOWED if reaches(f, f)]


def wrong_imports(module: str, imports: set[str]) -> list[str]:
    floor = floor_of(module)
    return sorted(
        target
        for target in imports
        if floor_of(target) != floor
        and floor_of(target) not in ALLOWED[floor]
        and target not in SURFACES.get(floor, set())
    )


@pytest.mark.parametrize("module", sorted(set(MODULES) - set(ALIASES)))
def test_module_imports_only_its_floor_and_the_floors_below(module):
    floor = floor_of(module)
    wrong = wrong_imports(module, imports_of(module))
    assert not wrong, (
        f"{module} ({floor}/) imports {wrong}; {floor}/ may import only "
        f"{sorted(ALLOWED[floor] | SURFACES.get(floor, set()))} (see this test's "
        "docstring for why)"
    )


@pytest.mark.parametrize("module", ALIASES)
def test_alias_modules_name_one_program_module(module):
    targets = imports_of(module) - {"sparktf"}
    assert len(targets) == 1 and floor_of(next(iter(targets))) == "program", (module, targets)


def test_no_import_cycle_when_modules_load():
    graph = {m: imports_of(m, top_level_only=True) & set(MODULES) for m in MODULES}
    cycles = []

    def walk(m: str, path: list[str], done: set[str]) -> None:
        if m in path:
            cycles.append(path[path.index(m) :] + [m])
            return
        if m in done:
            return
        for target in sorted(graph[m]):
            walk(target, path + [m], done)
        done.add(m)

    done: set[str] = set()
    for m in sorted(graph):
        walk(m, [], done)
    assert not cycles, " ; ".join(" -> ".join(c) for c in cycles)


def test_the_checks_see_a_wrong_import():
    # A check that cannot fail proves nothing: plant imports that break the floors.
    planted = """
from sparktf.node import feed_queue
from ..node.data_feed import DataFeed
from sparktf.wire.column_batch import Column
import sparktf.cluster

def later():
    from sparktf.program.export import export_model
"""
    module = "sparktf.serving.model_server"
    assert wrong_imports(module, imports_of(module, source=planted)) == [
        "sparktf.cluster",
        "sparktf.node.data_feed",
        "sparktf.node.feed_queue",
        "sparktf.program.export",
    ]
    assert imports_of(module, top_level_only=True, source=planted) == {
        "sparktf.cluster",
        "sparktf.node.data_feed",
        "sparktf.node.feed_queue",
        "sparktf.wire.column_batch",
    }
    program = "sparktf.program.export"
    assert wrong_imports(program, {"sparktf.node.context", "sparktf.node.feed_queue"}) == [
        "sparktf.node.feed_queue"
    ]
