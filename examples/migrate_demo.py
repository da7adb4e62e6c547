"""The second half of `scripts/demo`: keys pasted into MCP client configs, found and moved.

A throwaway HOME gets the configs a new user typically has: API keys pasted into Claude Desktop,
Cursor, VS Code, Claude Code and Codex. Then, as that user would:

    mcp-secrets scan                 lists them
    mcp-secrets migrate --dry-run    shows the change, values masked
    mcp-secrets migrate --yes        stores them in the keychain and rewrites the entries
    (each server started exactly as its client starts it: it still gets its key)
    mcp-secrets scan                 finds nothing; no config file holds a key

It runs on a private D-Bus session with its own gnome-keyring; your real configs and keychain
are never touched.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import secrets
import shlex
import string
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

from tests import rig  # noqa: E402  (the same real components the tests use)

SERVER = HERE / "key_check_server.py"
EXE = str(Path(sys.executable).parent / "mcp-secrets")
PY = sys.executable


def _rand(n: int) -> str:
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(n))


def pasted_keys() -> dict[str, str]:
    return {
        "anthropic": "sk-ant-api03-" + _rand(93) + "AA",
        "github": "ghp_" + _rand(36),
        "openai": "sk-proj-" + _rand(40) + "T3BlbkFJ" + _rand(20),
        "stripe": "sk_live_" + _rand(24),
        "slack": "xoxb-" + _rand(12) + "-" + _rand(24),
    }


Placed = dict[str, tuple[Path, str, str, str]]


def write_configs(home: Path, project: Path, keys: dict[str, str]) -> Placed:
    """The configs, as each client writes them; returns client -> (file, server, var, key)."""
    def server(var: str, key: str) -> dict[str, Any]:
        return {"command": PY, "args": [str(SERVER)], "env": {var: key, "LOG_LEVEL": "info"}}

    files = {
        "Claude Desktop": (home / ".config/Claude/claude_desktop_config.json", "anthropic",
                           "ANTHROPIC_API_KEY", keys["anthropic"]),
        "Cursor": (home / ".cursor/mcp.json", "github", "GITHUB_PERSONAL_ACCESS_TOKEN",
                   keys["github"]),
        "Claude Code": (project / ".mcp.json", "stripe", "STRIPE_SECRET_KEY", keys["stripe"]),
    }
    for path, name, var, key in files.values():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"mcpServers": {name: server(var, key)}}, indent=2) + "\n")
    vscode = home / ".config/Code/User/mcp.json"
    vscode.parent.mkdir(parents=True, exist_ok=True)
    vscode.write_text(
        "{\n\t// my servers\n\t\"servers\": {\n\t\t\"slack\": {\n\t\t\t\"type\": \"stdio\",\n"
        f"\t\t\t\"command\": {json.dumps(PY)},\n\t\t\t\"args\": [{json.dumps(str(SERVER))}],\n"
        f"\t\t\t\"env\": {{\"SLACK_BOT_TOKEN\": \"{keys['slack']}\"}}\n\t\t}}\n\t}}\n}}\n")
    files["VS Code"] = (vscode, "slack", "SLACK_BOT_TOKEN", keys["slack"])
    codex = home / ".codex/config.toml"
    codex.parent.mkdir(parents=True, exist_ok=True)
    codex.write_text(
        "# Codex\nmodel = \"gpt-5-codex\"\n\n[mcp_servers.openai]\n"
        f"command = {json.dumps(PY)}\nargs = [{json.dumps(str(SERVER))}]\n\n"
        f"[mcp_servers.openai.env]\nOPENAI_API_KEY = \"{keys['openai']}\"\n")
    files["Codex CLI"] = (codex, "openai", "OPENAI_API_KEY", keys["openai"])
    return files


def cli(*args: str, cwd: Path) -> int:
    print(f"\n$ mcp-secrets {shlex.join(args)}", flush=True)
    return subprocess.run([EXE, *args], cwd=cwd, stdin=subprocess.DEVNULL, check=False,
                          timeout=180).returncode


def entry_of(path: Path, server: str) -> dict[str, Any]:
    from mcp_secrets.clients import for_path
    from mcp_secrets.configs import load

    return next(e.data for e in load(path, for_path(path)).entries if e.server == server)


async def key_seen_by(entry: dict[str, Any], var: str, home: Path) -> str:
    """Start the server exactly as a client does (command, args, env) and ask it."""
    from fastmcp import Client
    from fastmcp.client.transports import StdioTransport

    env = {"PATH": "/usr/bin:/bin", "HOME": str(home),
           "DBUS_SESSION_BUS_ADDRESS": os.environ["DBUS_SESSION_BUS_ADDRESS"],
           **entry.get("env", {})}
    transport = StdioTransport(entry["command"], entry["args"], env=env,
                               log_file=Path(os.devnull))  # the server's start-up log
    async with Client(transport) as client:
        result = await client.call_tool("key_fingerprint", {"var": var})
        return str(result.data)


def main() -> int:
    root = Path(tempfile.mkdtemp(prefix="mcp-secrets-migrate-demo-"))
    home, project = root / "home", root / "project"
    home.mkdir()
    project.mkdir()
    env = rig.private_home()
    env.update({"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
                "XDG_STATE_HOME": str(home / ".local/state")})
    os.environ.update(env)
    for var in ("MCP_SECRETS_BACKEND", "MCP_SECRETS_PASSPHRASE", "MCP_SECRETS_PROFILE"):
        os.environ.pop(var, None)
    print(f"migrate demo: private HOME {home}; starting a private gnome-keyring", flush=True)
    keyring = rig.start_secret_service(env)
    os.environ.update(keyring.env)
    try:
        keys = pasted_keys()
        files = write_configs(home, project, keys)
        print("migrate demo: API keys pasted into " + ", ".join(files), flush=True)
        ok = cli("scan", cwd=project) == 1
        ok &= cli("migrate", "--dry-run", cwd=project) == 0
        ok &= cli("migrate", "--yes", cwd=project) == 0
        print("\nEach server started as its client starts it (a real MCP client asks it which "
              "key it got):", flush=True)
        for client, (path, server, var, key) in files.items():
            entry = entry_of(path, server)
            seen = asyncio.run(key_seen_by(entry, var, home))
            same = seen == hashlib.sha256(key.encode()).hexdigest()[:12]
            ok &= same and entry["command"] == EXE
            print(f"  {client:15} {server:10} {var:30} "
                  f"{'has its original key' if same else 'WRONG KEY: ' + seen}", flush=True)
        ok &= cli("scan", cwd=project) == 0
        leaks = [str(p) for p, *_ in files.values()
                 if any(k in p.read_text() for k in keys.values())]
        ok &= not leaks
        print("\nno config file holds a key" if not leaks else f"\nKEYS LEFT IN: {leaks}")
        print("migrate demo: " + ("OK" if ok else "FAILED"), flush=True)
        return 0 if ok else 1
    finally:
        keyring.stop()


if __name__ == "__main__":
    sys.exit(main())
