"""The dialog's place in the layers, its one display check, and the children's environment.

No display or keyring needed: these read source files and the environment only.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import mcp_secrets

SRC = Path(mcp_secrets.__file__).resolve().parent
#: What the dialog package (and the low modules it uses) may import from mcp_secrets.
DIALOG_MAY_IMPORT = {"mcp_secrets.dialog", "mcp_secrets.errors", "mcp_secrets.config",
                     "mcp_secrets.display", "mcp_secrets.children"}


def imports(path: Path) -> set[str]:
    """Every module `path` imports, at the top or lazily inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module == "mcp_secrets":
            found.update(f"mcp_secrets.{alias.name}" for alias in node.names)  # its modules
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def _ours(name: str) -> bool:
    return name == "mcp_secrets" or name.startswith("mcp_secrets.")


LOW = [*sorted((SRC / "dialog").glob("*.py")), SRC / "display.py", SRC / "children.py"]


@pytest.mark.parametrize("path", LOW, ids=lambda p: p.name)
def test_the_dialog_imports_nothing_of_storage_or_mcp(path: Path) -> None:
    bad = sorted(
        name for name in imports(path)
        if (_ours(name) and not any(name == ok or name.startswith(ok + ".")
                                    for ok in DIALOG_MAY_IMPORT))
        or name.split(".")[0] in ("mcp", "fastmcp", "mcp_types", "keyring", "secretstorage")
    )
    assert not bad, f"{path.name} imports {bad}"


def test_nobody_imports_child_environ_from_a_backend() -> None:
    for path in SRC.rglob("*.py"):
        text = path.read_text()
        assert "encrypted_file import child_environ" not in text, path


def test_one_display_check_for_dialog_fetcher_and_doctor(monkeypatch: pytest.MonkeyPatch) -> None:
    """Wayland without XWayland: all three say "no display", for the same reason."""
    from mcp_secrets.cli.doctor import display_check
    from mcp_secrets.dialog.launcher import AsyncUIHandler
    from mcp_secrets.display import display_problem
    from mcp_secrets.fetcher import _no_display_now

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("MCP_SECRETS_DIALOG", raising=False)
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    reason = display_problem()
    assert reason is not None and "WAYLAND_DISPLAY is set but DISPLAY is not" in reason
    assert _no_display_now(AsyncUIHandler(timeout=5)) == reason
    doctor = display_check()
    assert doctor["tk_opens_display"] is False and reason in doctor["detail"]
    assert display_problem(wayland_ok=True) is None  # a native Wayland dialog may ask so
    monkeypatch.setenv("DISPLAY", ":0")
    assert display_problem() is None


def test_children_get_no_secret_setting_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    from mcp_secrets import config
    from mcp_secrets.children import child_environ

    monkeypatch.setenv("MCP_SECRETS_PASSPHRASE", "canary-pass")
    monkeypatch.setenv("OP_SERVICE_ACCOUNT_TOKEN", "canary-token")
    monkeypatch.setenv("SOME_TOOL_SETTING", "kept")
    env = child_environ()
    assert "MCP_SECRETS_PASSPHRASE" not in env and "OP_SERVICE_ACCOUNT_TOKEN" not in env
    assert env["SOME_TOOL_SETTING"] == "kept"
    assert child_environ(keep=(config.OP_TOKEN,))["OP_SERVICE_ACCOUNT_TOKEN"] == "canary-token"


def test_the_dialog_defines_no_exception_of_its_own() -> None:
    """Its errors live in the one error tree (errors.py), so callers can catch them."""
    for path in sorted((SRC / "dialog").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                bases = {ast.unparse(b) for b in node.bases}
                assert not bases & {"Exception", "ValueError", "RuntimeError"}, \
                    f"{path.name} defines exception {node.name}"
    from mcp_secrets import errors
    from mcp_secrets.cli.errors import CLIError
    from mcp_secrets.dialog import TemplateError

    assert TemplateError is errors.TemplateError and CLIError is errors.CLIError
