"""The package's import graph has no circles, and the layers point one way. Every import
counts, including those inside functions and under TYPE_CHECKING: a lazy import that closes a
circle still ties the modules together."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = "mcp_secrets"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The package modules `path` imports (`from pkg import mod` resolves to the module)."""
    name = module_name(path)
    is_pkg = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_pkg else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name and target.startswith(PACKAGE):
                found.add(target)
    return found


def graph(root: Path = SRC / PACKAGE) -> dict[str, set[str]]:
    files = {module_name(p): p for p in root.rglob("*.py")}
    modules = set(files)
    # A package's __init__ re-exporting its children is not a dependency of the children.
    return {
        m: {t for t in imports_of(p, modules) if not m.startswith(t + ".") or t == m}
        for m, p in files.items()
    }


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_detector_finds_a_planted_circle(tmp_path: Path) -> None:
    pkg = tmp_path / PACKAGE
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from mcp_secrets import b\n")
    (pkg / "b.py").write_text("from mcp_secrets.a import f\n")
    global SRC
    old, SRC = SRC, tmp_path
    try:
        assert find_cycle(graph(pkg)) == ["mcp_secrets.a", "mcp_secrets.b", "mcp_secrets.a"]
    finally:
        SRC = old


def test_no_import_circle_in_the_package() -> None:
    cycle = find_cycle(graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


LOWER = {  # a module on the left must never import one on the right
    "mcp_secrets.elicitation": ["mcp_secrets.fetcher", "mcp_secrets.permissions",
                                "mcp_secrets.manager", "mcp_secrets.integrations"],
    "mcp_secrets.permissions": ["mcp_secrets.integrations", "mcp_secrets.manager",
                                "mcp_secrets.fetcher"],
    "mcp_secrets.fetcher": ["mcp_secrets.integrations", "mcp_secrets.permissions"],
    "mcp_secrets.manager": ["mcp_secrets.integrations", "mcp_secrets.fetcher"],
}


@pytest.mark.parametrize("module", sorted(LOWER))
def test_layers_point_down(module: str) -> None:
    edges = graph()
    bad = [t for t in edges[module] if any(t == f or t.startswith(f + ".") for f in LOWER[module])]
    assert not bad, f"{module} imports {bad}"
