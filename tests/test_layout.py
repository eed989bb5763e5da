"""The package's import graph, read from the source (nothing is imported): no module imports one
that imports it back, at module level or inside functions; only the command line reaches up to
the ready-made runs in asrlab.recipes; and the library never imports the course above it
(asrlab.course), which only the course itself and the command line import."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "asrlab"


def modules() -> dict[str, Path]:
    """``{"asrlab.models.checkpoint": path, "asrlab.models": .../models/__init__.py, ...}``."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the asrlab modules it imports anywhere in its body (``if TYPE_CHECKING:`` blocks
    left out); ``from a.b import c`` counts as ``a.b.c`` when that is a module, else ``a.b``."""
    mods = modules()
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in _nodes(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parent + ([base] if base else []))
                targets |= {f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names}
        graph[name] = {t for t in targets if t in mods and t != name}
    return graph


def _nodes(tree: ast.AST):
    """Every node below ``tree`` except inside ``if TYPE_CHECKING:`` blocks (annotations only)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for other in node.orelse for n in [other, *_nodes(other)])
            continue
        yield node
        yield from _nodes(node)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_one_that_imports_it_back() -> None:
    graph = import_graph()
    assert graph["asrlab.models.checkpoint"] and graph["asrlab.decoding.tune"]  # the walk found imports
    assert cycles(graph) == []


def test_only_the_command_line_imports_the_ready_made_runs() -> None:
    importers = sorted(name for name, targets in import_graph().items() if "asrlab.recipes" in targets)
    assert importers == ["asrlab.cli"]


def test_the_library_never_imports_the_course() -> None:
    importers = sorted(name for name, targets in import_graph().items()
                       if any(t == "asrlab.course" or t.startswith("asrlab.course.") for t in targets)
                       and not (name == "asrlab.course" or name.startswith("asrlab.course.")))
    assert importers == ["asrlab.cli"]
