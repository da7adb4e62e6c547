"""`mcp-secrets migrate` on remote entries (a URL plus a header holding the token), in a private
HOME, against a real Secret Service and a REAL remote FastMCP server over streamable HTTP that
demands the token (tests/servers/remote_server.py).

The new user's path of issue 9: a remote server whose token sat in ~/.cursor/mcp.json (and the
same in Claude Code, VS Code, Windsurf, Codex, Gemini and Goose configs) is migrated; afterwards
the token is in the keychain, no config holds it, and each rewritten entry, launched exactly as
its client would (command, args, env) under a real `fastmcp.Client` over stdio, reaches the
remote server through `mcp-secrets proxy` and calls a tool.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mcp_secrets.clients import for_path
from mcp_secrets.configs import launch_of, load
from tests import rig
from tests.test_migrate import _entry_spans, _outside
from tests.test_proxy import start_remote
from tests.test_scan import EXE, home_env


@pytest.fixture
def bus() -> Iterator[str]:
    """A private, unlocked gnome-keyring on its own D-Bus session."""
    comp = rig.start_secret_service(rig.private_home())
    try:
        yield comp.env["DBUS_SESSION_BUS_ADDRESS"]
    finally:
        comp.stop()


def cli(*args: str, home: Path, bus: str) -> subprocess.CompletedProcess[str]:
    env = home_env(home, DBUS_SESSION_BUS_ADDRESS=bus)
    env.pop("MCP_SECRETS_BACKEND", None)
    return subprocess.run([EXE, *args], capture_output=True, text=True, cwd=home, env=env,
                          stdin=subprocess.DEVNULL, timeout=180)


def stored(home: Path, bus: str, server: str, name: str) -> str | None:
    r = cli("get", server, name, "--reveal", "-n", home=home, bus=bus)
    return r.stdout if r.returncode == 0 else None


def token() -> str:
    return "ghp_" + uuid.uuid4().hex + "Zq9x"  # a GitHub token's shape; unique: a canary


# client -> (file under HOME, server name, key path of the entry)
CLIENTS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "cursor": (".cursor/mcp.json", "github-remote", ("mcpServers", "github-remote")),
    "claude_code": (".claude.json", "cc-remote", ("mcpServers", "cc-remote")),
    "vscode": (".config/Code/User/mcp.json", "vs-remote", ("servers", "vs-remote")),
    "windsurf": (".codeium/windsurf/mcp_config.json", "ws-remote", ("mcpServers", "ws-remote")),
    "codex": (".codex/config.toml", "codex-remote", ("mcp_servers", "codex-remote")),
    "gemini": (".gemini/settings.json", "gem-remote", ("mcpServers", "gem-remote")),
    "goose": (".config/goose/config.yaml", "goose-remote", ("extensions", "goose-remote")),
}
QUERY_TOKEN = "sk_live_" + "Qy7w" * 6


def write_configs(home: Path, url: str, tokens: dict[str, str]) -> dict[str, Path]:
    """Each client's config, written the way that client writes a remote entry."""
    files = {c: home / rel for c, (rel, _, _) in CLIENTS.items()}
    for f in files.values():
        f.parent.mkdir(parents=True, exist_ok=True)
    t = tokens
    files["cursor"].write_text(json.dumps({"mcpServers": {
        "filesystem": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem",
                                                  "/tmp"]},
        "github-remote": {"url": url, "headers": {"Authorization": f"Bearer {t['cursor']}",
                                                  "X-Client": "cursor"}},
        "search": {"url": f"https://search.example.com/mcp?api_key={QUERY_TOKEN}"},
    }}, indent=2) + "\n")
    files["claude_code"].write_text(json.dumps({
        "numStartups": 7, "theme": "dark", "tipsHistory": {"memory": 3},
        "mcpServers": {"cc-remote": {"type": "http", "url": url, "headers": {
            "Authorization": f"Bearer {t['claude_code']}"}}},
        "projects": {"/home/me/app": {"allowedTools": [], "mcpServers": {}}},
    }, indent=2))
    files["vscode"].write_text(
        "{\n"
        "\t// my servers\n"
        "\t\"servers\": {\n"
        "\t\t/* the team's remote one */\n"
        "\t\t\"vs-remote\": {\n"
        "\t\t\t\"type\": \"http\",\n"
        f"\t\t\t\"url\": {json.dumps(url)},\n"
        f"\t\t\t\"headers\": {{\"Authorization\": \"Bearer {t['vscode']}\"}}, // TODO move\n"
        "\t\t},\n"
        "\t},\n"
        "\t\"inputs\": [],\n"
        "}\n")
    files["windsurf"].write_text(json.dumps({"mcpServers": {"ws-remote": {
        "serverUrl": url, "headers": {"Authorization": f"Bearer {t['windsurf']}"}}}}, indent=2))
    files["codex"].write_text(
        "# Codex configuration\n"
        "model = \"gpt-5-codex\"\n"
        "\n"
        "[mcp_servers.codex-remote]\n"
        f"url = {json.dumps(url)}\n"
        "startup_timeout_sec = 20  # slow start\n"
        "\n"
        "[mcp_servers.codex-remote.http_headers]\n"
        f"Authorization = \"Bearer {t['codex']}\"\n"
        "\n"
        "[profiles.fast]\n"
        "model = \"gpt-5-mini\"\n")
    files["gemini"].write_text(json.dumps({"theme": "Default", "mcpServers": {"gem-remote": {
        "httpUrl": url, "timeout": 30000,
        "headers": {"Authorization": f"Bearer {t['gemini']}"}}}}, indent=2))
    files["goose"].write_text(
        "GOOSE_PROVIDER: openai\n"
        "extensions:\n"
        "  developer:\n"
        "    bundled: true\n"
        "    enabled: true\n"
        "    name: developer\n"
        "    type: builtin\n"
        "  goose-remote:\n"
        "    enabled: true\n"
        "    name: goose-remote\n"
        "    type: streamable_http\n"
        f"    uri: {url}\n"
        "    headers:\n"
        f"      Authorization: Bearer {t['goose']}\n"
        "    timeout: 300\n"
        "GOOSE_MODEL: gpt-4o\n")
    return files


def entry_of(f: Path, server: str) -> dict[str, Any]:
    return next(e.data for e in load(f, for_path(f)).entries if e.server == server)


async def call_add(entry: dict[str, Any], home: Path, bus: str, mode: str | None) -> Any:
    """Start the entry exactly as a desktop client would: its command, its args, a minimal
    environment plus the entry's own env; then call a remote tool through it."""
    from fastmcp import Client
    from fastmcp.client.transports import StdioTransport

    launch = launch_of(entry)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "DBUS_SESSION_BUS_ADDRESS": bus,
           **{k: str(v) for k, v in launch.env.items()}}
    transport = StdioTransport(launch.command, [str(a) for a in launch.args], env=env,
                               log_file=home / "proxy.stderr")
    kwargs: dict[str, Any] = {"mode": mode} if mode else {}
    async with Client(transport, **kwargs) as client:
        return (await client.call_tool("add", {"a": 2, "b": 3})).data


@pytest.mark.keychain
def test_remote_tokens_move_to_the_keychain_and_every_client_still_reaches_the_server(
        tmp_path: Path, bus: str) -> None:
    home = tmp_path / "home"
    home.mkdir()
    tokens = {c: token() for c in CLIENTS}
    remote = start_remote(tmp_path, tokens["cursor"])
    try:
        files = write_configs(home, remote.url, tokens)
        before = {c: f.read_text() for c, f in files.items()}
        r = cli("migrate", "--yes", home=home, bus=bus)
        assert r.returncode == 0, r.stderr
        for value in [*tokens.values(), QUERY_TOKEN]:
            assert value not in r.stdout + r.stderr

        # the token (without "Bearer ") is in the real keychain under the entry's server name,
        # and no config holds it any more (the backups do, and the user is told)
        for c, (_, server, _) in CLIENTS.items():
            assert stored(home, bus, server, "AUTHORIZATION") == tokens[c], c
        every_config = "".join(f.read_text() for f in files.values())
        for value in tokens.values():
            assert value not in every_config
        assert "rm -r" in r.stdout
        # a token in a URL's query string cannot move: left as it was, with the reason
        assert "search url" in r.stdout and "query string cannot be moved" in r.stdout
        assert entry_of(files["cursor"], "search") == {
            "url": f"https://search.example.com/mcp?api_key={QUERY_TOKEN}"}

        # each client's stdio shape: url and headers gone, command + args, type says stdio
        cursor = entry_of(files["cursor"], "github-remote")
        assert cursor == {"command": EXE, "args": [
            "proxy", remote.url, "--bearer", "mcp-secrets://github-remote/AUTHORIZATION",
            "--header", "X-Client: cursor"]}
        assert entry_of(files["claude_code"], "cc-remote")["type"] == "stdio"
        assert entry_of(files["vscode"], "vs-remote")["type"] == "stdio"
        assert set(entry_of(files["windsurf"], "ws-remote")) == {"command", "args"}
        assert set(entry_of(files["codex"], "codex-remote")) == {
            "command", "args", "startup_timeout_sec"}
        assert set(entry_of(files["gemini"], "gem-remote")) == {"command", "args", "timeout"}
        goose = entry_of(files["goose"], "goose-remote")
        assert goose["type"] == "stdio" and goose["cmd"] == EXE and "uri" not in goose
        assert "headers" not in goose and goose["timeout"] == 300

        # every byte outside the rewritten entries is kept
        for c in ("cursor", "claude_code", "vscode", "windsurf", "gemini"):
            where = {CLIENTS[c][2]}
            after = files[c].read_text()
            assert _outside(before[c], _entry_spans(before[c], where)) == \
                _outside(after, _entry_spans(after, where)), c
        vs = files["vscode"].read_text()
        assert "\t\t/* the team's remote one */\n" in vs and "\t\t\t\"type\": \"stdio\",\n" in vs
        codex = files["codex"].read_text()
        assert codex.startswith("# Codex configuration\nmodel = \"gpt-5-codex\"\n")
        assert codex.endswith("[profiles.fast]\nmodel = \"gpt-5-mini\"\n")
        assert "startup_timeout_sec = 20  # slow start\n" in codex
        goose_text = files["goose"].read_text()
        assert goose_text.startswith(before["goose"][:before["goose"].index("  goose-remote:")])
        assert goose_text.endswith("    timeout: 300\nGOOSE_MODEL: gpt-4o\n")

        # each rewritten entry, launched as its client would, reaches the remote server with
        # that client's token (the server accepts one token at a time: it is switched per client)
        for c, (_, server, _) in CLIENTS.items():
            remote.accept(tokens[c])
            assert asyncio.run(call_add(entry_of(files[c], server), home, bus, None)) == 5, c
        remote.accept(tokens["cursor"])
        assert asyncio.run(call_add(cursor, home, bus, "2026-07-28")) == 5
        assert remote.attempts().count("ok") >= len(CLIENTS) + 1
        assert "refused" not in remote.attempts()
        for value in tokens.values():
            assert value not in (home / "proxy.stderr").read_text()

        # scan finds only the query token now, and no note on the proxy's references
        s = cli("scan", "--json", home=home, bus=bus)
        report = json.loads(s.stdout)
        assert [(f["server"], f["field"]) for f in report["findings"]] == [("search", "url")]
        assert report["notices"] == []

        # idempotent: a second run changes nothing
        snapshot = {f: f.read_bytes() for f in files.values()}
        again = cli("migrate", "--yes", home=home, bus=bus)
        assert again.returncode == 0, again.stderr
        assert "nothing to migrate" in again.stdout
        assert {f: f.read_bytes() for f in files.values()} == snapshot
    finally:
        remote.stop()


@pytest.mark.keychain
def test_dry_run_shows_the_remote_rewrite_masked_and_writes_nothing(tmp_path: Path,
                                                                    bus: str) -> None:
    home = tmp_path / "home"
    home.mkdir()
    tokens = {c: token() for c in CLIENTS}
    files = write_configs(home, "https://mcp.example.com/mcp", tokens)
    before = {f: f.read_bytes() for f in files.values()}
    r = cli("migrate", "--dry-run", home=home, bus=bus)
    assert r.returncode == 0, r.stderr
    for value in tokens.values():
        assert value not in r.stdout + r.stderr
    assert "‹secret›" in r.stdout and "nothing was written" in r.stdout
    assert '+      "command": ' in r.stdout and "mcp-secrets://github-remote/AUTHORIZATION" in \
        r.stdout
    assert {f: f.read_bytes() for f in files.values()} == before
    assert stored(home, bus, "github-remote", "AUTHORIZATION") is None


# --- what is moved how, and what is left (the plan only: the store is a dict here) ------------

def _plan(tmp_path: Path, name: str, text: str) -> tuple[Any, dict[tuple[str, str, str], str]]:
    from mcp_secrets import migrate

    f = tmp_path / name
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text(text)
    kept: dict[tuple[str, str, str], str] = {}
    plan = migrate.plan([f], lookup=lambda s, pr, n: kept.get((s, pr, n)), exe="/opt/ms")
    migrate.run(plan, store=lambda s, pr, n, v: kept.__setitem__((s, pr, n), v))
    return plan, kept


def test_other_headers_and_schemes_become_header_references(tmp_path: Path) -> None:
    key, tok = "sk_live_" + "Ab3d" * 6, token()
    _, kept = _plan(tmp_path, ".cursor/mcp.json", json.dumps({"mcpServers": {"api": {
        "url": "https://api.example.com/mcp",
        "headers": {"X-API-Key": key, "Authorization": f"Token {tok}", "X-Region": "eu"}}}}))
    entry = json.loads((tmp_path / ".cursor/mcp.json").read_text())["mcpServers"]["api"]
    assert entry == {"command": "/opt/ms", "args": [
        "proxy", "https://api.example.com/mcp",
        "--header", "X-API-Key: mcp-secrets://api/X_API_KEY",
        "--header", "Authorization: Token mcp-secrets://api/AUTHORIZATION",
        "--header", "X-Region: eu"]}
    assert kept == {("api", "default", "X_API_KEY"): key,
                    ("api", "default", "AUTHORIZATION"): tok}


@pytest.mark.parametrize(("name", "entry", "reason"), [
    (".cursor/mcp.json", {"type": "sse", "url": "https://a.example.com/sse",
                          "headers": {"Authorization": "Bearer " + "ghp_" + "k" * 36}},
     "SSE server"),
    (".gemini/settings.json", {"url": "https://a.example.com/events",
                               "headers": {"Authorization": "Bearer " + "ghp_" + "k" * 36}},
     "SSE server"),
    (".cursor/mcp.json", {"url": "https://a.example.com/mcp", "headers": {
        "Authorization": "Bearer ${env:GITHUB_TOKEN}", "X-API-Key": "sk_live_" + "Ab3d" * 6}},
     "Authorization header holds a value the client fills in"),
    (".cursor/mcp.json", {"url": "ftp://a.example.com/mcp",
                          "headers": {"Authorization": "Bearer " + "ghp_" + "k" * 36}},
     "not an http(s) URL"),
])
def test_remote_entries_the_proxy_cannot_take_are_left_with_a_reason(
        tmp_path: Path, name: str, entry: dict[str, Any], reason: str) -> None:
    text = json.dumps({"mcpServers": {"r": entry}}, indent=2)
    plan, kept = _plan(tmp_path, name, text)
    assert not plan.files and not kept
    assert plan.skipped and all(reason in s.reason for s in plan.skipped)
    assert (tmp_path / name).read_text() == text


def test_codex_entry_with_a_token_variable_is_left_with_a_reason(tmp_path: Path) -> None:
    text = ("[mcp_servers.r]\nurl = \"https://a.example.com/mcp\"\n"
            "bearer_token_env_var = \"R_TOKEN\"\n"
            "http_headers = { \"X-API-Key\" = \"sk_live_" + "Ab3d" * 6 + "\" }\n")
    plan, kept = _plan(tmp_path, ".codex/config.toml", text)
    assert not plan.files and not kept
    assert "bearer_token_env_var" in plan.skipped[0].reason
    assert (tmp_path / ".codex/config.toml").read_text() == text


def test_member_order_and_commas_survive_in_every_position(tmp_path: Path) -> None:
    """The header table first, last, or with a trailing comma (JSONC): the result is valid and
    the other members keep their text and order."""
    tok = [token() for _ in range(3)]
    text = ("{\n  \"servers\": {\n"
            f"    \"a\": {{\"headers\": {{\"Authorization\": \"Bearer {tok[0]}\"}}, "
            "\"url\": \"https://a.example.com/mcp\", \"type\": \"http\"},\n"
            "    \"b\": {\n      \"type\": \"http\",\n      \"url\": \"https://b.example.com/mcp\",\n"
            f"      \"headers\": {{\"Authorization\": \"Bearer {tok[1]}\"}}\n    }},\n"
            "    \"c\": {\n      \"url\": \"https://c.example.com/mcp\",\n"
            f"      \"headers\": {{\"Authorization\": \"Bearer {tok[2]}\"}},\n"
            "      \"disabled\": false, // off for now\n    },\n"
            "  },\n}\n")
    _, kept = _plan(tmp_path, ".vscode/mcp.json", text)
    out = (tmp_path / ".vscode/mcp.json").read_text()
    assert sorted(kept.values()) == sorted(tok)
    from mcp_secrets import jsonc

    servers = jsonc.parse(out).value["servers"]
    for name in "abc":
        ref = f"mcp-secrets://{name}/AUTHORIZATION"
        assert servers[name]["args"] == ["proxy", f"https://{name}.example.com/mcp",
                                         "--bearer", ref]
    assert list(servers["a"]) == ["command", "args", "type"] and servers["a"]["type"] == "stdio"
    assert list(servers["b"]) == ["type", "command", "args"]
    assert list(servers["c"]) == ["command", "args", "disabled"]
    assert "\"disabled\": false, // off for now\n    },\n  },\n}\n" in out
