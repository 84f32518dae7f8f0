"""The import graph of plans/ and tracker/, read from the source (ast): no cycle, and the layers point one way.

Every import statement counts, at module level or inside a function, since a function-level import
that closes a cycle only hides it until the function runs.
"""

import ast
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("plans", "tracker")
PURE = ("plans.rollup", "plans.dates")
MODELS_MAY_NOT_IMPORT = ("plans.views", "plans.services", "plans.tasks", "plans.api", "plans.forms")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))}


def resolve(importer: str, node: ast.ImportFrom) -> str:
    """The absolute module an ``ImportFrom`` names, relative levels resolved from ``importer``'s package."""
    if node.level == 0:
        return node.module
    is_package = modules()[importer].name == "__init__.py"
    package = importer.split(".") if is_package else importer.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


@cache
def imports_of(name: str) -> frozenset[str]:
    """Every module ``name`` imports (absolute names, project or not): ``from M import x`` names ``M.x``
    when that is a project module (``from . import charts``), else ``M``."""
    tree = ast.parse(modules()[name].read_text(encoding="utf-8"), filename=str(modules()[name]))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = resolve(name, node)
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                found.add(submodule if submodule in modules() else target)
    return frozenset(found)


def project_graph() -> dict[str, set[str]]:
    return {name: {m for m in imports_of(name) if m in modules()} for name in modules()}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module, or a module importing itself (Tarjan)."""
    index, low, stack, on_stack, cycles, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph[v]:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def test_the_scan_sees_the_modules_and_resolves_relative_imports():
    assert {"plans.rollup", "plans.dates", "plans.services", "plans.models.base", "tracker.urls"} <= modules().keys()
    graph = project_graph()
    assert "plans.charts" in graph["plans.views.items"]  # from .. import charts
    assert "plans.choices" in graph["plans.models.base"]  # from plans.choices import Status
    assert "plans.models.teams" in graph["plans.models.api"]  # from .teams import Team
    assert "plans.models" in graph["plans.api.views"]  # from ..models import ...


def test_cycle_finder_reports_a_cycle_and_only_the_modules_on_it():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert find_cycles(graph) == [["a", "b", "c"], ["e"]]


def test_import_graph_has_no_cycle():
    assert find_cycles(project_graph()) == []


@pytest.mark.parametrize("name", PURE)
def test_pure_modules_import_only_the_standard_library(name):
    outside = {m for m in imports_of(name) if m.split(".")[0] not in sys.stdlib_module_names | {"__future__"}}
    assert outside == set()


@pytest.mark.parametrize("name", sorted(n for n in modules() if n == "plans.models" or n.startswith("plans.models.")))
def test_models_never_import_views_services_tasks_api_or_forms(name):
    upward = {
        m
        for m in imports_of(name)
        for layer in MODELS_MAY_NOT_IMPORT
        if m == layer or m.startswith((layer + ".", layer + "_"))
    }
    assert upward == set()
