"""The dialog's place in the layers, its one display check, and the children's environment.

No display or keyring needed: these read source files and the environment only.
"""

from __future__ import annotations

import ast
import contextlib
import socket
from collections.abc import Iterator
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
    from mcp_secrets.elicitation import no_display_now as _no_display_now

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("MCP_SECRETS_DIALOG", raising=False)
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    reason = display_problem()
    assert reason is not None and "WAYLAND_DISPLAY is set but DISPLAY is not" in reason
    assert _no_display_now(AsyncUIHandler(timeout=5)) == reason
    doctor = display_check()
    assert doctor["tk_opens_display"] is False and reason in doctor["detail"]
    assert display_problem(wayland_ok=True) is None  # a native Wayland dialog may ask so
    with listening_x_server() as display:  # an X socket, so DISPLAY is not stale
        monkeypatch.setenv("DISPLAY", display)
        assert display_problem() is None


@contextlib.contextmanager
def listening_x_server() -> Iterator[str]:
    """Something listening where `:N` points (Linux's abstract X socket): no real X needed."""
    for number in range(4000, 4100):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(f"\0/tmp/.X11-unix/X{number}")
        except OSError:
            sock.close()
            continue
        sock.listen(4)
        try:
            yield f":{number}"
        finally:
            sock.close()
        return
    raise AssertionError("no free display number in 4000-4099")


def test_a_stale_display_is_no_display(monkeypatch: pytest.MonkeyPatch) -> None:
    """DISPLAY set by an old SSH or tmux session, its X server gone: the dialog, the fetcher's
    choice between window and page, and doctor all see no display (and say why)."""
    from mcp_secrets.dialog.launcher import AsyncUIHandler
    from mcp_secrets.display import display_problem, x_server_problem
    from mcp_secrets.elicitation import no_display_now

    monkeypatch.delenv("MCP_SECRETS_DIALOG", raising=False)
    with listening_x_server() as display:
        monkeypatch.setenv("DISPLAY", display)
        assert display_problem() is None
        assert x_server_problem(display + ".0") is None
    reason = display_problem()  # the same number, nobody listening any more
    socket_path = f"/tmp/.X11-unix/X{display[1:]}"
    assert reason == f"DISPLAY is {display!r} but no X server listens at {socket_path}"
    assert no_display_now(AsyncUIHandler(timeout=5)) == reason
    with socket.socket() as free:  # a TCP display (SSH forwarding) whose port is closed
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    if port >= 6000:
        assert "no X server answers" in str(x_server_problem(f"127.0.0.1:{port - 6000}"))
    assert x_server_problem("not a display") is None  # left for the X library to judge


def test_no_display_failure_gives_one_hint() -> None:
    from mcp_secrets.display import no_display_message
    from mcp_secrets.errors import NoDisplayError
    from mcp_secrets.fetcher import _failure

    _, text = _failure(NoDisplayError(no_display_message("Tk: couldn't connect")), "s", ["k"])
    assert "(Tk: couldn't connect)" in text and text.count("mcp-secrets set") == 1


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
