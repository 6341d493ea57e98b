"""The package's shape: no import cycles (lazy imports included), dependencies pointing one way, and the
CLI's shared helpers importing no subcommand."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

from .conftest import ROOT

PACKAGES = ("mobility", "optimise", "numba_kernels")


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for f in (ROOT / pkg).rglob("*.py"):
            parts = list(f.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = f
    return out


def _type_checking_lines(tree: ast.AST) -> set[int]:
    """Lines inside ``if TYPE_CHECKING:`` blocks (never executed, so not part of the import graph)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for sub in node.body:
                lines.update(range(sub.lineno, (sub.end_lineno or sub.lineno) + 1))
    return lines


def import_graph() -> nx.DiGraph:
    """Module -> module for every import statement anywhere in a module (top level or inside a function)."""
    mods = _modules()
    g = nx.DiGraph()
    g.add_nodes_from(mods)
    for name, path in mods.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        skip = _type_checking_lines(tree)
        is_pkg = path.name == "__init__.py"
        for node in ast.walk(tree):
            if getattr(node, "lineno", None) in skip:
                continue
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".") if is_pkg else name.split(".")[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in mods else mod for a in node.names]
            for t in targets:
                while t and t not in mods and "." in t:  # ``import a.b.c`` of a module: its own file
                    t = t.rsplit(".", 1)[0]
                if t in mods and t != name:
                    g.add_edge(name, t, line=node.lineno)
    return g


def test_the_graph_sees_lazy_imports() -> None:
    g = import_graph()
    # mobility.cli adds every subcommand inside functions; mobility.study imports no application at all
    assert g.has_edge("mobility.cli", "mobility._cli_signals") and g.has_edge("mobility.cli", "mobility._cli_common")
    assert g.has_edge("mobility.parking.study", "mobility.study")
    assert len(g) > 60


def test_no_import_cycles_anywhere() -> None:
    g = import_graph()
    cycles = [sorted(c) for c in nx.strongly_connected_components(g) if len(c) > 1]
    assert not cycles, f"import cycles: {cycles}"


def test_kernels_and_models_import_neither_the_toolkit_nor_sumo() -> None:
    mods = _modules()
    for name, path in mods.items():
        if not name.startswith(("optimise", "numba_kernels")):
            continue
        text = path.read_text()
        for bad in ("import mobility", "from mobility", "import traci", "import libsumo", "import sumolib"):
            assert bad not in text, f"{name} has '{bad}'"


@pytest.mark.parametrize("module", ["mobility._cli_common"])
def test_the_cli_helpers_import_no_subcommand(module: str) -> None:
    g = import_graph()
    subcommands = {m for m in g if m.startswith("mobility._cli_") and m != module} | {"mobility.cli"}
    assert not set(nx.descendants(g, module)) & subcommands
    for m in subcommands - {"mobility.cli"}:
        assert not g.has_edge(m, "mobility.cli"), f"{m} imports mobility.cli back"


def test_no_module_over_700_lines() -> None:
    long = {n: len(p.read_text().splitlines()) for n, p in _modules().items()}
    assert max(long.values()) <= 700, sorted(long.items(), key=lambda kv: -kv[1])[:3]
