"""The import layers, checked from the source (AST, every import including the ones inside
functions), so a back edge fails CI the day it is written:

    cli, integrations                      the command line and the FastMCP glue
      -> manager, fetcher, permissions     what a server author (or `migrate`) calls
      -> elicitation, dialog, scan, ...    asking the human, reading client configs (the
                                           dialog imports no storage, no MCP)
      -> storage, stores, selection, ...   keeping secrets (knows nothing of MCP)
      -> backends                          one store each
      -> config, errors, paths, ...        settings, the error tree, file locations, how
                                           children start, whether a window can show

A module may import its own layer and any layer below, never above. A new module must be
placed in `LAYERS` (the test says so), which is the point: where it sits is a decision.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "mcp_secrets"

#: Top to bottom. A name is a top-level module or package of mcp_secrets.
LAYERS: list[set[str]] = [
    {"cli", "integrations", "proxy", "proxy_io"},
    {"manager", "fetcher", "urlflow", "permissions", "migrate", "guard"},
    {"elicitation", "ui_handler", "dialog", "urlform", "verification", "scan", "detect",
     "configs", "rewrite", "clients", "jsonc"},
    {"storage", "stores", "selection", "cache", "names", "refs", "refs_local", "refs_team",
     "rotation", "masking"},
    {"backends"},
    {"config", "errors", "paths", "audit", "children", "display"},
]
#: Never import these (nor their submodules), at any depth of the package tree.
FORBIDDEN: dict[str, set[str]] = {
    # The dialog is a separate program: it must run with nothing of storage or MCP.
    "dialog": {"storage", "stores", "selection", "cache", "names", "backends", "refs",
               "refs_local", "manager", "fetcher", "permissions", "integrations", "elicitation",
               "cli", "mcp", "fastmcp"},
    # The browser page is the dialog served over HTTP: the same boundary.
    "urlform": {"storage", "stores", "selection", "cache", "names", "backends", "refs",
                "refs_local", "manager", "fetcher", "permissions", "integrations", "elicitation",
                "cli", "mcp", "fastmcp"},
    # The output guard walks any result generically: the glue decides where to call it.
    "guard": {"mcp", "fastmcp", "mcp_types"},
    # Storage knows nothing of MCP.
    **{low: {"mcp", "fastmcp"} for low in ("storage", "stores", "selection", "cache", "names",
                                            "refs", "refs_local", "refs_team", "rotation",
                                            "masking", "backends", "config", "errors", "paths",
                                            "audit")},
}
#: Back edges tolerated for now; each must still exist (once gone, delete it here so it cannot
#: come back). Empty: the elicitation layer broke the fetcher/permissions/manager/glue circle.
KNOWN: set[tuple[str, str]] = set()


def _layer_of(top: str) -> int | None:
    for i, layer in enumerate(LAYERS):
        if top in layer:
            return i
    return None


def _top(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py")


def _imports(path: Path) -> set[str]:
    """Top-level names imported by `path`: mcp_secrets' own as their first part below
    mcp_secrets, third-party ones as their distribution-level name."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ".".join(("mcp_secrets", *path.relative_to(SRC).with_suffix("").parts[:-1]))
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            else:
                module = node.module or ""
            names = ([f"{module}.{a.name}" for a in node.names] if module == "mcp_secrets"
                     else [module])
        for name in names:
            parts = name.split(".")
            if parts[0] == "mcp_secrets":
                if len(parts) > 1 and not parts[1].startswith("__"):
                    found.add(parts[1])
            else:
                found.add(parts[0])
    return found


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if p != SRC / "__init__.py")


def _violations() -> tuple[set[tuple[str, str]], list[str]]:
    edges: set[tuple[str, str]] = set()
    unplaced: list[str] = []
    for path in _modules():
        top = _top(path)
        mine = _layer_of(top)
        if mine is None:
            unplaced.append(top)
            continue
        for target in _imports(path):
            theirs = _layer_of(target)
            upward = theirs is not None and theirs < mine
            if upward or target in FORBIDDEN.get(top, set()):
                edges.add((top, target))
    return edges, sorted(set(unplaced))


def test_every_module_has_a_layer() -> None:
    _edges, unplaced = _violations()
    assert not unplaced, (
        f"place {unplaced} in LAYERS of tests/test_layers.py (which layer may import it, and "
        "what it may import, is a design decision)"
    )


def test_no_import_goes_up_a_layer_or_crosses_a_boundary() -> None:
    edges, _ = _violations()
    new = edges - KNOWN
    assert not new, f"imports against the layers (module -> what it imports): {sorted(new)}"


def test_known_back_edges_still_exist() -> None:
    edges, _ = _violations()
    gone = KNOWN - edges
    assert not gone, f"{sorted(gone)} no longer happen: remove them from KNOWN"


def test_the_checker_sees_lazy_and_relative_imports(tmp_path: Path) -> None:
    sample = SRC / "backends" / "memory.py"
    assert "backends" in _imports(sample) and "paths" not in _imports(sample)
    doctor = SRC / "cli" / "doctor.py"
    assert "selection" in _imports(doctor)  # imported inside a function
