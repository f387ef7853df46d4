"""The package's shape (SPEC §1, issue 22): imports flow one way. No module imports another that
imports it back (directly or around a cycle), and the engine knows nothing of the warehouse,
the reports or the command line. The graph is read from the source (every `import` and
`from ... import`, including those inside functions), so a lazy import cannot hide a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "sqlorch"
LOWER_LAYERS_ONLY = {  # subpackage: the sqlorch subpackages it must not import
    "engine": {"store", "report", "cli", "backtest", "grid", "config"},
    "bars": {"engine", "store", "report", "cli", "backtest", "grid", "config", "strategies"},
    "store": {"engine", "report", "cli", "backtest", "grid", "config", "strategies"},
    "config": {"store", "report", "cli", "backtest", "grid"},
    "backtest": {"report", "cli", "grid"},
    "grid": {"report", "cli"},
    "report": {"cli"},
}


def module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The sqlorch modules `path` imports (a `from package import module` counts as the module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {name for name in names if name in modules}
    return found


def graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    paths = {module_name(p, root): p for p in root.rglob("*.py")}
    return {name: imports_of(path, set(paths)) - {name} for name, path in paths.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def subpackage(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and (PACKAGE / parts[1]).is_dir()) else None


def test_no_import_cycles() -> None:
    edges = graph()
    # a package's __init__ re-exporting its modules is not a cycle to forbid: leave the package
    # itself out of its members' imports
    for name, targets in edges.items():
        edges[name] = {t for t in targets if not name.startswith(t + ".")}
    assert cycles(edges) == []


@pytest.mark.parametrize("layer", sorted(LOWER_LAYERS_ONLY))
def test_imports_flow_one_way(layer: str) -> None:
    forbidden = LOWER_LAYERS_ONLY[layer]
    wrong = sorted(f"{name} imports {target}" for name, targets in graph().items() if subpackage(name) == layer
                   for target in targets if subpackage(target) in forbidden)
    assert wrong == []


def test_the_checks_catch_what_they_look_for(tmp_path: Path) -> None:
    """A cycle and a forbidden import, planted in a copy-shaped tree, are both found."""
    package = tmp_path / "sqlorch"
    (package / "engine").mkdir(parents=True)
    (package / "store").mkdir()
    for init in (package, package / "engine", package / "store"):
        (init / "__init__.py").write_text("")
    (package / "engine" / "a.py").write_text("from sqlorch.engine import b\nfrom sqlorch.store.w import x\n")
    (package / "engine" / "b.py").write_text("def f():\n    import sqlorch.engine.a\n")
    (package / "store" / "w.py").write_text("x = 1\n")
    edges = graph(package)
    assert cycles(edges) == [["sqlorch.engine.a", "sqlorch.engine.b"]]
    assert "sqlorch.store.w" in edges["sqlorch.engine.a"]
