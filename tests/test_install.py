"""The install paths users take, tried the way a new user would, away from this repository.

The wheel and sdist are built once (`uv build`) and checked with `twine check`. Then the wheel is
installed with `uv tool install` (and `pipx install`) into fresh environments under a temporary
directory, every command runs from a directory holding no source, and the example server runs
from that install under a real MCP client (fastmcp.Client over stdio).

The second `uv tool install` uses a Python whose `tkinter` cannot be imported: a copy of this
Python's installation (the binary copied, the standard library linked) whose lib-dynload lacks
the `_tkinter` extension, which is exactly how Debian's python3 without python3-tk and
Homebrew's Python without python-tk look. The failure is genuine for any interpreter mode,
`python -I` included. There a secret is collected through the zenity window, which the test
finds on the rig's Xvfb and types into with xdotool.

Dependencies come from uv's cache, pinned to uv.lock, so an install costs seconds, not a
download.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.dialog_driver import ARTIFACTS, press, screenshot, type_text

pytestmark = pytest.mark.keychain  # servers store what they collect in the real keychain

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
SERVER = "Weather Demo"  # the example server's name
CANARY = "canary-Inst-4kP8wZ"
TIMEOUT = 300


def _tool(name: str) -> str:
    """A dev tool from this virtualenv (scripts/setup installs them from uv.lock)."""
    path = Path(sys.executable).parent / name
    found = str(path) if path.exists() else shutil.which(name)
    assert found, f"{name} is missing: run scripts/setup"
    return found


def _real_cache(kind: str) -> str:
    """The invoking user's cache (the rig gives tests a private, empty HOME)."""
    return str(Path(pwd.getpwuid(os.getuid()).pw_dir) / ".cache" / kind)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("VIRTUAL_ENV", "PYTHON", "UV_", "PIP_", "PIPX_"))}
    env.update(UV_CACHE_DIR=os.environ.get("UV_CACHE_DIR") or _real_cache("uv"),
               PIP_CACHE_DIR=_real_cache("pip"), UV_PYTHON_DOWNLOADS="never",
               MCP_SECRETS_BACKEND="secret-service")
    env.update(extra)
    return env


def _run(argv: list[str], cwd: Path, env: dict[str, str] | None = None,
         stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(argv, cwd=cwd, env=env or _env(), input=stdin, capture_output=True,
                       text=True, timeout=TIMEOUT)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, argv[:4]))} failed ({r.returncode}):\n"
                             f"{r.stdout[-2000:]}\n{r.stderr[-3000:]}")
    return r


@dataclass(frozen=True)
class Built:
    wheel: Path
    sdist: Path
    constraints: Path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    out = tmp_path_factory.mktemp("dist")
    _run([_tool("uv"), "build", "--out-dir", str(out), str(REPO)], cwd=out)
    (wheel,) = out.glob("mcp_secrets-*.whl")
    (sdist,) = out.glob("mcp_secrets-*.tar.gz")
    constraints = out / "constraints.txt"
    exported = _run([_tool("uv"), "export", "--project", str(REPO), "--frozen", "--all-extras",
                     "--no-emit-project", "--no-hashes", "--no-header", "--quiet"], cwd=out)
    constraints.write_text(exported.stdout)
    return Built(wheel, sdist, constraints)


def _uv_tool_install(built: Built, root: Path, python: str) -> tuple[Path, Path]:
    """`uv tool install "<wheel>[mcp]"` into `root`; returns (bin dir, the tool's python)."""
    tools, bin_dir = root / "tools", root / "bin"
    env = _env(UV_TOOL_DIR=str(tools), UV_TOOL_BIN_DIR=str(bin_dir))
    _run([_tool("uv"), "tool", "install", "--python", python, "--constraints",
          str(built.constraints), f"{built.wheel}[mcp]"], cwd=root, env=env)
    tool_python = tools / "mcp-secrets" / "bin" / "python"
    assert (bin_dir / "mcp-secrets").exists() and (bin_dir / "mcp-secrets-dialog").exists()
    where = "import mcp_secrets; print(mcp_secrets.__file__)"
    located = _run([str(tool_python), "-I", "-c", where], cwd=root).stdout.strip()
    assert Path(located).is_relative_to(tools / "mcp-secrets"), located  # not the source tree
    return bin_dir, tool_python


def _user_dir(tmp_path: Path) -> Path:
    """A directory with no trace of the repository, holding only the example server's files."""
    home = tmp_path / "user"
    home.mkdir()
    for name in ("weather_server.py", "fake_weather_api.py"):
        shutil.copy(EXAMPLES / name, home / name)
    return home


def _base_python() -> str:
    """The interpreter this virtualenv was made from (a real installation, with Tk)."""
    return os.path.realpath(getattr(sys, "_base_executable", sys.executable))


def python_without_tk(dest: Path) -> Path:
    """A working copy of this Python whose standard library has no `_tkinter` extension."""
    base = Path(sys.base_prefix)
    ver = f"python{sys.version_info.major}.{sys.version_info.minor}"
    (dest / "bin").mkdir(parents=True)
    exe = dest / "bin" / ver
    shutil.copy2(_base_python(), exe)  # copied, so the prefix is found beside it
    (dest / "lib").mkdir()
    for entry in (base / "lib").iterdir():
        if entry.name != ver:
            (dest / "lib" / entry.name).symlink_to(entry)  # libpython and friends
    std = dest / "lib" / ver
    (std / "lib-dynload").mkdir(parents=True)
    (std / "site-packages").mkdir()
    for entry in (base / "lib" / ver).iterdir():
        if entry.name not in ("lib-dynload", "site-packages"):
            (std / entry.name).symlink_to(entry)
    for entry in (base / "lib" / ver / "lib-dynload").iterdir():
        if not entry.name.startswith("_tkinter"):
            (std / "lib-dynload" / entry.name).symlink_to(entry)
    return exe


def _forecast(tool_python: Path, cwd: Path, env: dict[str, str], drive: Any = None) -> str:
    """Call get_forecast on the installed example server through a real MCP client."""
    from fastmcp import Client
    from fastmcp.client.transports import StdioTransport

    async def go() -> str:
        transport = StdioTransport(str(tool_python), ["weather_server.py"], env=env,
                                   cwd=str(cwd), log_file=cwd / "server.log")
        async with Client(transport) as client:  # declares no elicitation: the dialog alone
            def call() -> Any:
                return client.call_tool("get_forecast", {"city": "Paris"}, raise_on_error=False)

            if drive is None:
                res = await call()
            else:
                # A client that cannot ask gets the window's code in the first result; the
                # human answers the window, and the next call collects what they entered.
                first = await call()
                assert re.search(r"[A-Z2-9]{4}-[A-Z2-9]{4}", first.content[0].text), first
                res, _ = await asyncio.gather(call(), asyncio.to_thread(drive))
            return str(res.content[0].text) if res.content else ""

    return asyncio.run(go())


def _server_env(**extra: str) -> dict[str, str]:
    return _env(WEATHER_API_KEY_SHA256=hashlib.sha256(CANARY.encode()).hexdigest(),
                MCP_BYPASS_SECRET_USE_CONFIRM="true", **extra)


def test_wheel_and_sdist_pass_twine_check_and_hold_what_users_need(built: Built) -> None:
    r = _run([_tool("twine"), "check", "--strict", str(built.wheel), str(built.sdist)],
             cwd=built.wheel.parent)
    assert r.stdout.count("PASSED") == 2, r.stdout
    with zipfile.ZipFile(built.wheel) as whl:
        names = set(whl.namelist())
        meta_dir = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        entry_points = whl.read(f"{meta_dir}/entry_points.txt").decode()
        metadata = whl.read(f"{meta_dir}/METADATA").decode()
    for module in ("tk_app", "zenity", "kdialog", "osascript", "powershell", "kinds", "native"):
        assert f"mcp_secrets/dialog/{module}.py" in names
    assert "mcp_secrets/py.typed" in names
    assert not any(n.startswith(("tests/", "examples/")) for n in names)
    assert "mcp-secrets = mcp_secrets.cli:main" in entry_points
    assert "mcp-secrets-dialog = mcp_secrets.dialog.__main__:main" in entry_points
    assert "Provides-Extra: mcp" in metadata and "License-Expression: MIT" in metadata
    with tarfile.open(built.sdist) as sdist:
        members = {m.split("/", 1)[1] for m in sdist.getnames() if "/" in m}
    assert {"README.md", "pyproject.toml", "src/mcp_secrets/dialog/zenity.py"} <= members


def test_uv_tool_install_gives_working_commands_and_runs_the_example_server(
        built: Built, tmp_path: Path) -> None:
    bin_dir, tool_python = _uv_tool_install(built, tmp_path, _base_python())
    cwd = _user_dir(tmp_path)
    doctor = json.loads(_run([str(bin_dir / "mcp-secrets"), "doctor", "--json"], cwd=cwd).stdout)
    assert doctor["ok"] and doctor["backend"] == "secret-service"
    assert doctor["python"]["executable"].startswith(str(tmp_path))
    assert doctor["display"]["kind"] == "tk"
    assert _run([str(bin_dir / "mcp-secrets-dialog"), "--help"], cwd=cwd).stdout.startswith(
        "usage: mcp-secrets-dialog")
    mcp_secrets = str(bin_dir / "mcp-secrets")
    _run([mcp_secrets, "clear", SERVER, "--yes"], cwd=cwd)
    try:
        _run([mcp_secrets, "set", SERVER, "api_key"], cwd=cwd, stdin=CANARY + "\n")
        text = _forecast(tool_python, cwd, _server_env())
        assert "matches the fingerprint" in text, text
        assert CANARY not in text
    finally:
        _run([mcp_secrets, "clear", SERVER, "--yes"], cwd=cwd)


def _zenity_window(timeout: float = 30.0) -> str:
    """The id of a mapped window whose title starts with a verification code."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = subprocess.run(["xdotool", "search", "--onlyvisible", "--name",
                            r"^[A-Z0-9]{4}-[A-Z0-9]{4} — MCP Secrets for "],
                           capture_output=True, text=True, timeout=30)
        if r.returncode == 0 and r.stdout.strip():
            return r.stdout.split()[0]
        time.sleep(0.1)
    raise AssertionError("no dialog window titled with a verification code appeared")


@pytest.mark.display
def test_on_a_python_without_tk_the_zenity_window_collects_the_secret(
        built: Built, tmp_path: Path) -> None:
    no_tk = python_without_tk(tmp_path / "python-without-tk")
    broken = _run([str(no_tk), "-I", "-c", "import tkinter"], cwd=tmp_path, check=False)
    assert broken.returncode == 1 and "No module named '_tkinter'" in broken.stderr
    bin_dir, tool_python = _uv_tool_install(built, tmp_path, str(no_tk))
    cwd = _user_dir(tmp_path)
    doctor = json.loads(_run([str(bin_dir / "mcp-secrets"), "doctor", "--json"], cwd=cwd).stdout)
    assert doctor["ok"] and doctor["display"]["kind"] == "zenity", doctor["display"]
    assert doctor["display"]["kind_steps"][0].startswith("tk: tkinter is not importable")
    mcp_secrets = str(bin_dir / "mcp-secrets")
    _run([mcp_secrets, "clear", SERVER, "--yes"], cwd=cwd)
    seen: dict[str, Any] = {}

    def human() -> None:
        wid = _zenity_window()
        pid = subprocess.run(["xdotool", "getwindowpid", wid], capture_output=True, text=True,
                             timeout=30, check=True).stdout.strip()
        seen["program"] = Path(f"/proc/{pid}/comm").read_text().strip()
        seen["argv"] = Path(f"/proc/{pid}/cmdline").read_bytes()
        time.sleep(0.3)
        type_text(CANARY)
        screenshot(ARTIFACTS / "install_no_tk_zenity.png", wid)
        press("Tab", "Tab", "Return")

    try:
        text = _forecast(tool_python, cwd, _server_env(MCP_SECRETS_DIALOG_TIMEOUT="120"), human)
        assert seen["program"] == "zenity"
        assert CANARY.encode() not in seen["argv"] and b"--add-password=" in seen["argv"]
        assert "matches the fingerprint" in text, text
        listed = _run([mcp_secrets, "list", SERVER], cwd=cwd).stdout
        assert re.search(r"\bapi_key\b", listed), listed
    finally:
        _run([mcp_secrets, "clear", SERVER, "--yes"], cwd=cwd)


def test_pipx_install_gives_working_commands(built: Built, tmp_path: Path) -> None:
    env = _env(PIPX_HOME=str(tmp_path / "pipx"), PIPX_BIN_DIR=str(tmp_path / "bin"),
               PIPX_MAN_DIR=str(tmp_path / "man"))
    _run([_tool("pipx"), "install", "--python", _base_python(), str(built.wheel)],
         cwd=tmp_path, env=env)
    cli = tmp_path / "bin" / "mcp-secrets"
    doctor = json.loads(_run([str(cli), "doctor", "--json"], cwd=tmp_path, env=env).stdout)
    assert doctor["ok"] and doctor["python"]["executable"].startswith(str(tmp_path / "pipx"))
    dialog = _run([str(tmp_path / "bin" / "mcp-secrets-dialog")], cwd=tmp_path, env=env,
                  stdin="{}", check=False)
    assert dialog.returncode == 2 and dialog.stderr.startswith("error: bad template")


def test_readme_opens_with_both_installs_and_lists_every_extra() -> None:
    import tomllib

    readme = (REPO / "README.md").read_text()
    first_screen = "\n".join(readme.splitlines()[:20])
    for line in ('uv add "mcp-secrets[mcp]"', 'pip install "mcp-secrets[mcp]"',
                 'uv tool install "mcp-secrets[mcp,migrate]"',
                 'pipx install "mcp-secrets[mcp,migrate]"'):
        assert line in first_screen, line
    assert first_screen.index("uv add") < first_screen.index("uv tool install")
    assert "scripts/" not in first_screen  # developing comes later
    table = readme.split("### Extras", 1)[1].split("\n\n#", 1)[0]
    listed = set(re.findall(r"^\| `([a-z0-9-]+)` \|", table, re.MULTILINE))
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    assert listed == set(extras) - {"dev"}, "README's extras table and pyproject.toml differ"
    (everything,) = extras["all"]
    assert set(everything.split("[", 1)[1].rstrip("]").split(",")) == set(extras) - {"dev", "all"}
