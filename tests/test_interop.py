"""Interop: MCP clients this project did not write, against the test server as a real
subprocess over stdio, on both protocol eras.

- the official TypeScript SDK v1 client (`@modelcontextprotocol/sdk@1`, handshake era) and v2
  client (`@modelcontextprotocol/client@2`, `legacy` and pinned 2026-07-28), under node, from
  `tests/interop/` (installed by `scripts/setup` with `npm ci`);
- the official Python SDK (`mcp`): `ClientSession` over `stdio_client` with the handshake done
  at an explicit revision (2024-11-05 … 2025-11-25), and `mcp.Client` on 2026-07-28.

A FAKE dialog (tests/fake_dialog.py) plays the human at the native window; the clients' own
elicitation handlers play the human at the MCP client. Canary values are planted and checked
absent from everything a client received.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from mcp_secrets.manager import MCPSecretsManager

pytestmark = pytest.mark.keychain  # servers store what they collect in the real keychain

HERE = Path(__file__).resolve().parent
INTEROP = HERE / "interop"
SERVER = HERE / "servers" / "secrets_server.py"
FAKE = HERE / "fake_dialog.py"
CODE_RE = re.compile(r"[A-Z2-9]{4}-[A-Z2-9]{4}")
TS_CLIENTS = {  # name -> (script, mode)
    "ts-v1": ("client_v1.mjs", "legacy"),
    "ts-v2": ("client_v2.mjs", "legacy"),
    "ts-v2-2026": ("client_v2.mjs", "modern"),
}


def node() -> str:
    found = shutil.which("node")
    assert found, "node is missing: run scripts/setup (it installs node 20 and the TS clients)"
    assert (INTEROP / "node_modules" / "@modelcontextprotocol" / "client").is_dir(), (
        "the TypeScript MCP clients are not installed: run scripts/setup (npm ci in tests/interop)"
    )
    return found


class Server:
    """One test server configuration: its name, environment, canary and dialog records."""

    def __init__(self, tmp: Path, name: str) -> None:
        self.tmp, self.name = tmp, name
        self.canary = f"canary-{uuid.uuid4().hex}"
        (tmp / "record").mkdir()
        (tmp / "values.json").write_text(json.dumps({"api_key": self.canary}))
        self.env = {
            **os.environ,
            "SERVER_NAME": name,
            "GUARD": "0",  # the leak canary checks our code; the guard would hide a leak
            "MCP_SECRETS_DIALOG": f"{sys.executable} {FAKE}",
            "FAKE_DIALOG_RECORD": str(tmp / "record"),
            "FAKE_DIALOG_VALUES": str(tmp / "values.json"),
        }
        self.env.pop("MCP_BYPASS_SECRET_USE_CONFIRM", None)

    def records(self) -> list[dict[str, Any]]:
        found = [json.loads(p.read_text()) for p in (self.tmp / "record").glob("*.json")]
        return sorted(found, key=lambda r: r["pid"])

    def window_codes(self) -> list[str]:
        return [CODE_RE.findall(r["template"]["description"])[0] for r in self.records()]

    @property
    def manager(self) -> MCPSecretsManager:
        return MCPSecretsManager(self.name)

    def assert_no_leak(self, *texts: str) -> None:
        for text in texts:
            assert self.canary not in text


@pytest.fixture
def server(tmp_path: Path, server_name: str) -> Server:
    s = Server(tmp_path, server_name)
    yield s
    s.manager.clear_secrets()


def run_ts(client: str, server: Server, calls: list[str], answers: list[str],
           elicit: bool = True, timeout: float = 240) -> list[dict[str, Any]]:
    """Run one TypeScript client; returns its JSON lines (prompts, call results)."""
    script, mode = TS_CLIENTS[client]
    plan = {
        "command": sys.executable, "args": [str(SERVER)], "env": server.env, "mode": mode,
        "elicit": elicit, "answers": answers, "calls": [{"tool": t} for t in calls],
    }
    plan_file = server.tmp / f"plan-{uuid.uuid4().hex[:8]}.json"
    plan_file.write_text(json.dumps(plan))
    proc = subprocess.run([node(), str(INTEROP / script), str(plan_file)], cwd=INTEROP,
                          capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    server.assert_no_leak(proc.stdout, proc.stderr)
    return lines


def results(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if "tool" in line]


def prompts(lines: list[dict[str, Any]]) -> list[str]:
    return [line["prompt"] for line in lines if "prompt" in line]


# ---------------------------------------------------------------- TypeScript SDK clients


@pytest.mark.parametrize("client", sorted(TS_CLIENTS))
def test_ts_client_seed_tool_collects_and_asks_permission(client: str, server: Server) -> None:
    lines = run_ts(client, server, ["secure_api_request"], ["Continue", "Allow"])
    (connected,) = [line for line in lines if "connected" in line]
    if client == "ts-v2-2026":
        assert connected["protocolVersion"] == "2026-07-28"
    (result,) = results(lines)
    assert not result.get("failed") and not result["isError"], result
    assert result["text"].startswith("✅ Making API request with key")
    asked = prompts(lines)
    assert len(asked) == 2 and "Allow this use?" in asked[1]
    assert CODE_RE.findall(asked[0]) == server.window_codes()  # one window, the same code
    assert server.manager.retrieve_secret("api_key") == server.canary


def test_ts_v2_modern_decline_opens_no_window(server: Server) -> None:
    """A 2026-07-28 client that declines by itself never sees a window flash."""
    lines = run_ts("ts-v2-2026", server, ["fetch_only", "fetch_only"], ["decline", "decline"])
    for result in results(lines):
        assert "you declined" in result["text"] and "no window was opened" in result["text"]
    assert server.records() == []


@pytest.mark.parametrize("client", ["ts-v1", "ts-v2-2026"])
def test_ts_client_that_cannot_elicit_sees_the_code_in_the_result(client: str,
                                                                   server: Server) -> None:
    lines = run_ts(client, server, ["fetch_only", "fetch_only"], [], elicit=False)
    first, second = results(lines)
    assert first["text"].startswith("FAILED:") and "call this tool again" in first["text"]
    assert CODE_RE.findall(first["text"]) == server.window_codes()
    assert second["text"].startswith("OK: Stored api_key"), second
    assert server.manager.retrieve_secret("api_key") == server.canary


def test_ts_clients_survive_a_human_slower_than_their_timeout(tmp_path: Path,
                                                               server_name: str) -> None:
    """The human takes 70 s at the window; the TS clients give up on a request after 60 s by
    default. The first call comes back in time saying "finish, then call again"; the window
    stays open; the next call uses it (no second window), on both eras."""
    servers = {}
    for client in ("ts-v1", "ts-v2-2026"):
        (tmp_path / client).mkdir()
        s = Server(tmp_path / client, f"{server_name}-{client}")
        s.env["FAKE_DIALOG_DELAY"] = "70"
        servers[client] = s

    async def both() -> list[list[dict[str, Any]]]:
        return list(await asyncio.gather(*(
            asyncio.to_thread(run_ts, c, s, ["fetch_only", "fetch_only"], ["Continue"])
            for c, s in servers.items()
        )))

    try:
        for client, lines in zip(servers, asyncio.run(both()), strict=True):
            s = servers[client]
            first, second = results(lines)
            assert not first.get("failed"), f"{client}: {first}"  # no client-side timeout
            assert "still open" in first["text"] and "call this tool again" in first["text"]
            assert CODE_RE.findall(first["text"]) == s.window_codes()
            assert not second.get("failed") and second["text"].startswith("OK: Stored"), second
            assert len(s.records()) == 1, f"{client}: a second window opened"
            assert s.manager.retrieve_secret("api_key") == s.canary
    finally:
        for s in servers.values():
            s.manager.clear_secrets()


# ---------------------------------------------------------------- the official Python SDK


async def _session_call(server: Server, revision: str, declare: bool,
                        calls: list[str], answers: list[str],
                        refuse: bool = False,
                        wire: Path | None = None) -> tuple[list[str], list[str]]:
    """`ClientSession` over `stdio_client`, handshake done at `revision` by hand (the SDK's
    `initialize()` always offers its latest handshake revision)."""
    import mcp_types as types
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    asked: list[str] = []
    queue = list(answers)

    async def elicit(context: Any, params: Any) -> Any:
        asked.append(params.message)
        if refuse or revision < "2025-06-18":  # a client that has no such method
            return types.ErrorData(code=-32601, message="Method not found")
        return types.ElicitResult(action="accept", content={"value": queue.pop(0)})

    params = StdioServerParameters(command=sys.executable, args=[str(SERVER)], env=server.env)
    if wire is not None:  # keep a copy of everything the server sends
        params = StdioServerParameters(
            command="bash", args=["-c", '"$0" "$1" | tee "$2"', sys.executable, str(SERVER),
                                  str(wire)], env=server.env)
    texts = []
    async with stdio_client(params) as (read, write), ClientSession(
        read, write, elicitation_callback=elicit
    ) as session:
        caps = types.ClientCapabilities(
            elicitation=types.ElicitationCapability() if declare else None
        )
        result = await session.send_request(
            types.InitializeRequest(params=types.InitializeRequestParams(
                protocol_version=revision, capabilities=caps,
                client_info=types.Implementation(name="interop-py", version="1"))),
            types.InitializeResult,
        )
        assert result.protocol_version == revision
        session.adopt(result)
        await session.send_notification(types.InitializedNotification())
        for tool in calls:
            res = await session.call_tool(tool, {})
            texts.append("".join(getattr(c, "text", "") for c in res.content))
    return asked, texts


@pytest.mark.parametrize("revision", ["2024-11-05", "2025-03-26"])
def test_python_session_at_an_old_revision_is_never_elicited(revision: str,
                                                             server: Server) -> None:
    """Below 2025-06-18 a client cannot elicit, whatever it declares: no elicitation/create,
    the code in the result, the next call collects."""
    asked, texts = asyncio.run(_session_call(server, revision, True,
                                             ["fetch_only", "fetch_only"], []))
    assert asked == [], "elicitation/create was sent at a revision that lacks it"
    assert "call this tool again" in texts[0] and CODE_RE.findall(texts[0]) == server.window_codes()
    assert texts[1].startswith("OK: Stored api_key"), texts
    server.assert_no_leak(*texts)


@pytest.mark.parametrize("revision", ["2025-06-18", "2025-11-25"])
def test_python_session_at_an_eliciting_revision(revision: str, server: Server) -> None:
    """Elicitation from 2025-06-18; the `mode` field only from 2025-11-25 (checked on the wire)."""
    server.env["FAKE_DIALOG_DELAY"] = "0.3"
    wire = server.tmp / "wire.jsonl"
    asked, texts = asyncio.run(_session_call(server, revision, True, ["secure_api_request"],
                                             ["Continue", "Allow"], wire=wire))
    sent = [json.loads(line) for line in wire.read_text().splitlines() if line.startswith("{")]
    elicits = [m for m in sent if m.get("method") == "elicitation/create"]
    assert len(elicits) == 2
    assert all(("mode" in m["params"]) == (revision >= "2025-11-25") for m in elicits)
    assert len(asked) == 2 and CODE_RE.findall(asked[0]) == server.window_codes()
    assert texts[0].startswith("✅ Making API request"), texts
    server.assert_no_leak(*texts, *asked)


def test_python_client_on_2026_07_28(server: Server) -> None:
    """`mcp.Client`, pinned to 2026-07-28: the questions travel as input_required results."""
    import mcp_types as types
    from mcp import Client, StdioServerParameters

    asked: list[str] = []
    queue = ["Continue", "Allow"]

    async def elicit(context: Any, params: Any) -> Any:
        asked.append(params.message)
        return types.ElicitResult(action="accept", content={"value": queue.pop(0)})

    async def main() -> str:
        params = StdioServerParameters(command=sys.executable, args=[str(SERVER)],
                                       env=server.env)
        async with Client(params, mode="2026-07-28", elicitation_callback=elicit) as client:
            res = await client.call_tool("secure_api_request", {})
            return "".join(getattr(c, "text", "") for c in res.content)

    text = asyncio.run(main())
    assert text.startswith("✅ Making API request"), text
    assert len(asked) == 2 and CODE_RE.findall(asked[0]) == server.window_codes()
    server.assert_no_leak(text, *asked)


def test_client_error_is_not_reported_as_the_humans_cancel(server: Server) -> None:
    """A client that declared elicitation but answers -32601: the result says the client
    could not show the question (not "cancelled"), carries the window's code, and the next call
    collects what the human entered."""
    asked, texts = asyncio.run(_session_call(server, "2025-11-25", True,
                                             ["fetch_only", "fetch_only"], [], refuse=True))
    assert len(asked) == 1
    first, second = texts
    assert "could not show the question" in first and "-32601" in first, first
    assert "cancel" not in first.lower(), first
    assert CODE_RE.findall(first) == server.window_codes() and "call this tool again" in first
    assert second.startswith("OK: Stored api_key"), second


def test_ts_client_that_cannot_elicit_uses_the_seed_tool_safely(server: Server) -> None:
    """No elicitation, no MCP_BYPASS_SECRET_USE_CONFIRM: the key is collected in one window
    and the permission asked in another, each code in a tool result, then the tool works."""
    server.env["FAKE_DIALOG_CHOICE"] = "Allow"
    lines = run_ts("ts-v1", server, ["secure_api_request"] * 3, [], elicit=False)
    first, second, third = results(lines)
    codes = server.window_codes()
    assert len(codes) == 2, "expected one collection window and one permission window"
    assert first["isError"] and CODE_RE.findall(first["text"]) == codes[:1], first
    assert second["isError"] and CODE_RE.findall(second["text"]) == codes[1:], second
    assert "permission" in second["text"] and "call this tool again" in second["text"]
    assert not third["isError"] and third["text"].startswith("✅ Making API request"), third
    fields = [r["template"]["fields"][0]["field_type"] for r in server.records()]
    assert fields == ["password", "choice"]
