"""`mcp-secrets proxy` against a REAL remote FastMCP server over streamable HTTP on 127.0.0.1 that
demands a bearer token (tests/servers/remote_server.py), driven by a real `fastmcp.Client` over
stdio on both protocol eras. The token lives in the rig's real gnome-keyring.

Canary: the token is a unique value per test; it must never appear in the proxy's argv, its stderr
log, or anything the client receives.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client
from fastmcp.client.transports import StdioTransport
from fastmcp.exceptions import ToolError
from mcp.shared.exceptions import MCPError

from mcp_secrets.proxy import MASK
from mcp_secrets.storage import MCPSecretsStorage

pytestmark = pytest.mark.keychain

HERE = Path(__file__).resolve().parent
REMOTE = HERE / "servers" / "remote_server.py"
MODES = ["legacy", "2026-07-28"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Remote:
    url: str
    token_file: Path
    log: Path
    proc: subprocess.Popen[bytes]

    def accept(self, token: str) -> None:
        self.token_file.write_text(token)

    def attempts(self) -> list[str]:
        return [line.split()[0] for line in self.log.read_text().splitlines()]

    def peers(self) -> list[str]:
        """The client's TCP port of every HTTP request the remote served, in order."""
        peers = self.log.with_name(self.log.name + ".peers")
        return peers.read_text().split() if peers.exists() else []

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def start_remote(tmp_path: Path, token: str, port: int | None = None) -> Remote:
    port = port or _free_port()
    token_file, log = tmp_path / "accepted", tmp_path / "attempts"
    token_file.write_text(token)
    log.touch()
    proc = subprocess.Popen([sys.executable, str(REMOTE), str(port), str(token_file), str(log)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            assert proc.poll() is None, "the remote test server died at start-up"
            time.sleep(0.1)
    else:
        proc.kill()
        raise AssertionError("the remote test server did not listen within 30 s")
    return Remote(f"http://127.0.0.1:{port}/mcp", token_file, log, proc)


@pytest.fixture
def token() -> str:
    return f"ghp_CANARY{uuid.uuid4().hex}"


@pytest.fixture
def remote(tmp_path: Path, token: str) -> Iterator[Remote]:
    r = start_remote(tmp_path, token)
    yield r
    r.stop()


@pytest.fixture
def stored(server_name: str, token: str) -> str:
    """The token in the real keychain; returns its reference."""
    MCPSecretsStorage(server_name).store_secret("token", token)
    return f"mcp-secrets://{server_name}/token"


def proxy_transport(tmp_path: Path, *args: str) -> StdioTransport:
    return StdioTransport(sys.executable, ["-m", "mcp_secrets.cli", "proxy", *args],
                          env=dict(os.environ), log_file=tmp_path / "proxy.stderr")


async def _answer_colour(message: str, response_type: Any, params: Any, ctx: Any) -> Any:
    schema = params.requested_schema  # the remote's question, relayed unchanged by the proxy
    return {name: "blue" for name in schema["properties"]}


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def assert_absent(token: str, *texts: str) -> None:
    for text in texts:
        assert token not in text


def set_via_cli(server: str, name: str, value: str) -> None:
    """Rotate the way a user would: another process, value on stdin."""
    out = subprocess.run([sys.executable, "-m", "mcp_secrets.cli", "set", server, name],
                         input=value.encode(), capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize("mode", MODES)
def test_relays_tools_resources_prompts_and_input_with_the_keychain_token(
        tmp_path: Path, remote: Remote, stored: str, token: str, mode: str) -> None:
    seen: list[str] = []

    async def go() -> None:
        transport = proxy_transport(tmp_path, remote.url, "--bearer", stored)
        async with Client(transport, mode=mode, elicitation_handler=_answer_colour) as c:
            assert {t.name for t in await c.list_tools()} >= {"add", "leak_header",
                                                             "favourite_colour"}
            assert (await c.call_tool("add", {"a": 2, "b": 3})).data == 5
            colour = await c.call_tool("favourite_colour", {})
            assert colour.content[0].text == "colour=blue"  # the human's answer went upstream
            contents = await c.read_resource("memo://greeting")
            assert contents[0].text == "hello from remote"
            prompt = await c.get_prompt("review", {"code": "x = 1"})
            seen.append(str(prompt))
            assert "Please review: x = 1" in str(prompt)
            leaked = await c.call_tool("leak_header", {})
            seen.append(leaked.content[0].text)
            seen.append(str(leaked.structured_content))
            # While the proxy runs, no process's argv holds the token.
            for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
                with contextlib.suppress(OSError):
                    assert token.encode() not in cmdline.read_bytes()

    run(go())
    assert seen[1] == f"you sent: Bearer {MASK}"  # the careless tool's echo reached us masked
    assert "ok" in remote.attempts()
    assert_absent(token, *seen, (tmp_path / "proxy.stderr").read_text())


@pytest.mark.parametrize("mode", MODES)
def test_calls_share_one_upstream_connection_and_megabyte_messages_pass(
        tmp_path: Path, remote: Remote, stored: str, mode: str) -> None:
    """The SDK drops the connection of every SSE answer; the proxy keeps it (a new TCP
    connection per call was a third of the proxy's cost). Its stdio, served on the event loop,
    carries lines far past a pipe's buffer and asyncio's default line limit (64 KiB)."""
    big = "x" * 400_000  # twice in the answer: under the SDK's 1 MiB limit on an SSE event

    async def go() -> list[str]:
        async with Client(proxy_transport(tmp_path, remote.url, "--bearer", stored),
                          mode=mode) as c:
            assert (await c.call_tool("add", {"a": 0, "b": 1})).data == 1  # the session opens
            before = len(remote.peers())
            for i in range(20):
                assert (await c.call_tool("add", {"a": i, "b": 1})).data == i + 1
            calls = remote.peers()[before:]
            assert (await c.call_tool("echo", {"text": big})).data == big
            return calls

    calls = run(go())
    assert len(calls) == 20
    assert len(set(calls)) <= 2, f"{len(set(calls))} connections for 20 calls"


@pytest.mark.parametrize("mode", MODES)
def test_a_rotated_token_is_picked_up_without_restart(
        tmp_path: Path, remote: Remote, stored: str, server_name: str, mode: str) -> None:
    new = f"ghp_ROTATED{uuid.uuid4().hex}"

    async def go() -> None:
        transport = proxy_transport(tmp_path, remote.url, "--bearer", stored)
        async with Client(transport, mode=mode) as c:
            assert (await c.call_tool("add", {"a": 1, "b": 1})).data == 2
            remote.accept(new)  # the remote side rotated...
            set_via_cli(server_name, "token", new)  # ...and so did the keychain, elsewhere
            assert (await c.call_tool("add", {"a": 2, "b": 2})).data == 4

    run(go())
    assert_absent(new, (tmp_path / "proxy.stderr").read_text())


@pytest.mark.parametrize("mode", MODES)
def test_a_refused_token_is_a_clear_error_after_one_fresh_retry(
        tmp_path: Path, remote: Remote, stored: str, token: str, mode: str) -> None:
    remote.accept("something-else-entirely")

    async def go() -> str:
        transport = proxy_transport(tmp_path, remote.url, "--bearer", stored)
        async with Client(transport, mode=mode) as c:
            with pytest.raises(MCPError) as info:
                await c.list_tools()
            return str(info.value)

    message = run(go())
    assert "refused the credentials" in message and "HTTP 401" in message
    assert stored in message and "mcp-secrets set" in message
    attempts = remote.attempts()
    # Every refused request was sent exactly twice: once, then once more after re-resolving.
    assert attempts and set(attempts) == {"refused"} and len(attempts) % 2 == 0
    assert_absent(token, message, (tmp_path / "proxy.stderr").read_text())


def test_an_unresolvable_reference_is_a_clear_error_naming_it(
        tmp_path: Path, remote: Remote, server_name: str) -> None:
    missing = f"mcp-secrets://{server_name}/nope"

    async def go() -> str:
        async with Client(proxy_transport(tmp_path, remote.url, "--bearer", missing)) as c:
            with pytest.raises(ToolError) as info:
                await c.call_tool("add", {"a": 1, "b": 1})
            return str(info.value)

    message = run(go())
    assert missing in message and "mcp-secrets set" in message
    assert remote.attempts() == []  # nothing was sent without the credential


def test_a_remote_that_is_down_is_a_clear_error(tmp_path: Path, stored: str) -> None:
    url = f"http://127.0.0.1:{_free_port()}/mcp"

    async def go() -> str:
        async with Client(proxy_transport(tmp_path, url, "--bearer", stored)) as c:
            with pytest.raises(MCPError) as info:
                await c.list_tools()
            return str(info.value)

    message = run(go())
    assert "cannot reach the remote MCP server" in message and url in message


@pytest.mark.parametrize("args, expected", [
    (["ftp://example.com/mcp"], "must start with http"),
    (["https://user:pw@example.com/mcp"], "must not carry a user or password"),
    (["https://example.com/mcp", "--bearer", "ghp_NOTAREFERENCE"], "never the token itself"),
    (["https://example.com/mcp", "--header", "Authorization: Bearer ghp_LITERAL"],
     "must hold a secret reference"),
    (["https://example.com/mcp", "--header", "no colon here"], "must look like 'Name: value'"),
])
def test_bad_arguments_are_one_line_usage_errors_that_echo_no_value(
        args: list[str], expected: str) -> None:
    out = subprocess.run([sys.executable, "-m", "mcp_secrets.cli", "proxy", *args],
                         capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert out.returncode == 2, out.stderr
    assert expected in out.stderr and len(out.stderr.strip().splitlines()) == 1
    for secretish in ("ghp_NOTAREFERENCE", "ghp_LITERAL", "pw@"):
        assert secretish not in out.stderr
