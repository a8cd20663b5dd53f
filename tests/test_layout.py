"""The layout is the architecture: the package-level import graph of ``core`` has no cycle.

``lint-imports`` (contracts in pyproject.toml) checks the layers; this test checks what a layers contract
cannot: that no two packages (or top-level modules) of ``core`` import each other, directly or round a loop.
"""

from __future__ import annotations

import grimp
import pytest


def _node(module: str, packages: set[str]) -> str:
    """A module's package (its deepest enclosing package); top-level modules of ``core`` stand alone."""
    if module in packages:
        return module
    parent = module.rsplit(".", 1)[0]
    return module if parent == "core" else parent


def package_graph() -> dict[str, set[str]]:
    graph = grimp.build_graph("core")
    modules = graph.modules
    packages = {m for m in modules if any(other.startswith(m + ".") for other in modules)}
    edges: dict[str, set[str]] = {}
    for module in modules:
        source = _node(module, packages)
        edges.setdefault(source, set())
        for imported in graph.find_modules_directly_imported_by(module):
            target = _node(imported, packages)
            if target != source:
                edges[source].add(target)
    return edges


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 visiting, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_find_cycle_detects_a_loop():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("root", ["core"])
def test_package_graph_has_no_cycle(root):
    edges = package_graph()
    assert "core.aigvdet.data" in edges and "core.avforensics.training" in edges  # the graph covers sub-packages
    assert find_cycle(edges) is None, f"import cycle between packages: {' -> '.join(find_cycle(edges))}"
