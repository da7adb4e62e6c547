"""The output guard: what a tool returns, raises or logs never carries a secret value.

End to end: a real careless FastMCP server subprocess (tests/servers/guard_server.py) reads a
canary stored in the rig's real keychain and leaks it every way it can; a real
`fastmcp.Client` over stdio, on both protocol eras, and the server's own log see only the
marker. With `initialize(mcp, guard=False)` the same calls show the canary, so the checks can
fail. Below those, the masking function, the error rebuild and the log-record factory without
the rig.
"""

from __future__ import annotations

import json
import logging
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mcp_types as mt
import pytest
from fastmcp import Client, Context, FastMCP
from fastmcp.client.transports import StdioTransport
from fastmcp.exceptions import ToolError
from mcp.server.mcpserver import Context as SdkContext
from mcp.server.mcpserver.exceptions import ResourceError
from mcp.shared.exceptions import MCPError

from mcp_secrets import guard, storage
from mcp_secrets.backends.memory import MemoryBackend
from mcp_secrets.manager import MCPSecretsManager
from mcp_secrets.masking import MARKER, MIN_LENGTH, Masker
from mcp_secrets.storage import MCPSecretsStorage

SERVER = Path(__file__).resolve().parent / "servers" / "guard_server.py"
MODES = ["legacy", "2026-07-28"]


def make_canary() -> str:
    # A quote, a backslash, a slash and a non-ASCII letter: its JSON-escaped forms differ.
    return f'canary/"{uuid.uuid4().hex}\\é'


def forms(value: str) -> set[str]:
    """The value raw and as it looks inside JSON (ASCII-escaped or not)."""
    return {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}


def holds(text: str, value: str) -> bool:
    squeezed = "".join(text.split())  # a console handler may wrap a long line
    return any(f in text or f in squeezed for f in forms(value))


# ------------------------------------------------------------------ a real server, both eras


def strings(obj: Any) -> str:
    """Every string inside `obj` (keys too), one a line: escaped exactly once, as sent."""
    if isinstance(obj, str):
        return obj
    if isinstance(obj, dict):
        return "\n".join(strings(k) + "\n" + strings(v) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return "\n".join(strings(v) for v in obj)
    return ""


async def exercise(client: Client[Any]) -> dict[str, str]:
    """Every leaky tool, resource and prompt; every string the client got from each."""
    seen: dict[str, str] = {}
    for tool in ("echo_key", "structured_key", "escaped_key", "log_key"):
        res = await client.call_tool(tool, {})
        seen[tool] = strings([[c.model_dump() for c in res.content], res.structured_content])
    try:
        await client.call_tool("raise_key", {})
        seen["raise_key"] = "no error"
    except ToolError as exc:
        seen["raise_key"] = str(exc)
    contents = await client.read_resource("secret://key")
    seen["resource"] = strings([c.model_dump(mode="json") for c in contents])
    prompt = await client.get_prompt("key_prompt")
    seen["prompt"] = strings([m.model_dump(mode="json") for m in prompt.messages])
    return seen


def run_server(tmp: Path, server_name: str, mode: str, *, guard_on: bool,
               canary: str) -> tuple[dict[str, str], list[str], str]:
    import asyncio
    import os

    MCPSecretsManager(server_name).store_secret("api_key", canary)
    log_file = tmp / "server.log"
    env = {**os.environ, "SERVER_NAME": server_name, "FASTMCP_LOG_LEVEL": "DEBUG",
           "COLUMNS": "100000", "GUARD": "1" if guard_on else "0"}
    logs: list[str] = []

    async def on_log(message: Any) -> None:
        logs.append(strings(message.data))

    async def main() -> dict[str, str]:
        transport = StdioTransport(sys.executable, [str(SERVER)], env=env, log_file=log_file)
        async with Client(transport, mode=mode, log_handler=on_log) as client:
            return await exercise(client)

    try:
        seen = asyncio.run(main())
    finally:
        MCPSecretsManager(server_name).clear_secrets()
    return seen, logs, log_file.read_text()


@pytest.mark.keychain
@pytest.mark.parametrize("mode", MODES)
def test_client_and_logs_see_only_the_marker(tmp_path: Path, server_name: str,
                                             mode: str) -> None:
    canary = make_canary()
    seen, logs, server_log = run_server(tmp_path, server_name, mode, guard_on=True,
                                        canary=canary)
    for what, text in seen.items():
        assert not holds(text, canary), f"{what} leaked the value: {text}"
        if what != "log_key":
            assert MARKER in text, f"{what}: expected the marker in {text}"
    assert "Bearer <concealed by mcp-secrets>" in seen["escaped_key"]  # the prefix survives
    assert seen["raise_key"].endswith(f"bad key {MARKER}")
    for line in logs:
        assert not holds(line, canary)
    if mode == "legacy":  # the 2026-07-28 client does not opt in to log notifications
        assert any(MARKER in line for line in logs), logs
    assert not holds(server_log, canary), "the server's log holds the value"
    # The records were masked, not dropped: message, traceback and the to-client echo.
    assert f"calling the API with key {MARKER}" in server_log
    assert f"RuntimeError: the API refused {MARKER}" in server_log
    assert f"ValueError: bad key {MARKER}" in server_log


@pytest.mark.keychain
@pytest.mark.parametrize("mode", MODES)
def test_with_the_guard_off_the_value_passes(tmp_path: Path, server_name: str,
                                             mode: str) -> None:
    """`initialize(mcp, guard=False)`: the same calls show the value (the checks can fail)."""
    canary = make_canary()
    seen, logs, server_log = run_server(tmp_path, server_name, mode, guard_on=False,
                                        canary=canary)
    for what in ("echo_key", "structured_key", "escaped_key", "raise_key", "resource",
                 "prompt"):
        assert holds(seen[what], canary), f"{what} without the guard: {seen[what]}"
        assert MARKER not in seen[what]
    if mode == "legacy":
        assert any(holds(line, canary) for line in logs)
    assert holds(server_log, canary)
    assert MARKER not in server_log


# ------------------------------------------------------------------ the masking function


@pytest.fixture
def known() -> Iterator[None]:
    """A clean registry of handled values and the guard on; both restored afterwards."""
    saved_handled, saved_built, saved_on = storage._handled, guard._built, guard._enabled
    storage._handled = {}
    guard._built = (0, Masker(()))
    guard.enable()
    yield
    storage._handled, guard._built, guard._enabled = saved_handled, saved_built, saved_on


def learn(*values: str) -> None:
    for v in values:
        storage.remember_handled(v)


def test_mask_walks_mcp_results_and_returns_a_copy(known: None) -> None:
    learn("s3cret-value")
    result = mt.CallToolResult(
        content=[
            mt.TextContent(type="text", text="key: s3cret-value"),
            mt.EmbeddedResource(type="resource", resource=mt.TextResourceContents(
                uri="secret://k", text="s3cret-value", mime_type="text/plain")),
            mt.TextContent(type="text", text="nothing here"),
        ],
        structured_content={"key": "s3cret-value", "list": [1, "x s3cret-value"],
                            "s3cret-value": True},
    )
    masked = guard.mask(result)
    assert masked is not result and type(masked) is mt.CallToolResult
    assert masked.content[0].text == f"key: {MARKER}"  # type: ignore[union-attr]
    assert masked.content[1].resource.text == MARKER  # type: ignore[union-attr]
    assert masked.content[2] is result.content[2]  # untouched parts are shared, not copied
    assert masked.structured_content == {"key": MARKER, "list": [1, f"x {MARKER}"],
                                         MARKER: True}
    # The original is unchanged, and the wire form holds no value.
    assert result.content[0].text == "key: s3cret-value"  # type: ignore[union-attr]
    assert "s3cret-value" not in masked.model_dump_json()


def test_mask_covers_plain_data_bytes_and_escaped_forms(known: None) -> None:
    value = 'p/"w\\é-long'
    learn(value)
    escaped = json.dumps({"auth": f"Bearer {value}"})  # \" \\ \u00e9 inside text
    assert value not in escaped
    assert guard.mask(escaped) == json.dumps({"auth": "Bearer PLACEHOLDER"}).replace(
        "PLACEHOLDER", MARKER)
    # Inside a model too: its JSON form escapes the escapes, and the quick check must see that.
    content = guard.mask(mt.TextContent(type="text", text=escaped))
    assert content.text == guard.mask(escaped) and value not in content.model_dump_json()
    assert guard.mask(("a", value)) == ("a", MARKER)
    assert guard.mask(f"x{value}".encode()) == f"x{MARKER}".encode()
    clean = {"a": ["b", {"c": 1}]}
    assert guard.mask(clean) is clean  # nothing to hide: no copy at all


@pytest.mark.parametrize("value", ["plain-secret-42", 'q"uo\\te/sl-1', "ééééé-x", "tab\there-1234",
                                   "-----BEGIN KEY-----\nMIIEabcdef\n-----END KEY-----"])
def test_every_form_of_a_value_is_masked_inside_a_result(known: None, value: str) -> None:
    learn(value)
    for form in [*sorted(forms(value)), json.dumps({"k": value}),
                 json.dumps({"k": value}, ensure_ascii=False)]:
        result = mt.CallToolResult(content=[mt.TextContent(type="text", text=f"x {form} y")],
                                   structured_content={"t": form})
        out = guard.mask(result)
        for text in (out.content[0].text, out.structured_content["t"]):  # type: ignore
            assert MARKER in text and not any(f in text for f in forms(value)), text


def test_short_values_and_a_guard_that_is_off_mask_nothing(known: None) -> None:
    short = "x" * (MIN_LENGTH - 1)
    learn(short, "long-enough-value")
    assert guard.mask(f"{short} long-enough-value") == f"{short} {MARKER}"
    guard.disable()
    assert guard.mask("long-enough-value") == "long-enough-value"
    assert guard.masked_error(ValueError("long-enough-value")) is None


def test_values_read_or_stored_are_known_without_touching_the_cached_read(
        known: None) -> None:
    backend = MemoryBackend()
    writer = MCPSecretsStorage(f"guard-unit-{uuid.uuid4().hex[:8]}", backend=backend)
    writer.store_secret("written", "value-written-here")
    assert "value-written-here" in storage.handled_values()
    backend.set(writer.service, "direct", "value-read-from-store")  # as another process would
    assert "value-read-from-store" not in storage.handled_values()
    assert writer.retrieve_secret("direct") == "value-read-from-store"
    assert guard.mask("value-read-from-store") == MARKER


def test_errors_are_rebuilt_masked_and_without_their_chain(known: None) -> None:
    learn("token-1234567")
    try:
        try:
            raise ValueError("bad key token-1234567")
        except ValueError as inner:
            raise ToolError(f"Error calling tool 'x': {inner}") from inner
    except ToolError as exc:
        hidden = guard.masked_error(exc, ToolError)
    assert isinstance(hidden, ToolError)
    assert str(hidden) == f"Error calling tool 'x': bad key {MARKER}"
    assert hidden.__cause__ is None and hidden.__traceback__ is None
    mcp_error = guard.masked_error(
        MCPError(-32000, "token-1234567 refused", {"t": "token-1234567"}))
    assert isinstance(mcp_error, MCPError)
    assert (mcp_error.code, mcp_error.message, mcp_error.data) == (
        -32000, f"{MARKER} refused", {"t": MARKER})

    class Picky(Exception):
        def __init__(self, code: int, what: str) -> None:
            super().__init__(f"{code}: {what}")

    odd = guard.masked_error(Picky(3, "token-1234567"), ToolError)
    assert isinstance(odd, ToolError) and str(odd) == f"3: {MARKER}"
    assert guard.masked_error(ValueError("nothing secret")) is None


def test_log_records_of_any_logger_are_masked(known: None,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    learn("log-secret-99")
    # A logger that does not propagate, with a handler added after the guard was on.
    logger = logging.getLogger(f"guard-test-{uuid.uuid4().hex[:6]}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger.addHandler(handler)
    records: list[logging.LogRecord] = []
    keep = logging.Handler()
    keep.emit = records.append  # type: ignore[method-assign]
    logger.addHandler(keep)
    try:
        logger.warning("key %s in use", "log-secret-99")
        try:
            raise RuntimeError("refused log-secret-99")
        except RuntimeError:
            logger.exception("failed")
        logger.info("plain %s", "args stay")
    finally:
        logger.removeHandler(handler)
        logger.removeHandler(keep)
    err = capsys.readouterr().err
    assert "log-secret-99" not in err
    assert f"key {MARKER} in use" in err
    assert f"RuntimeError: refused {MARKER}" in err and "Traceback" in err
    assert records[2].msg == "plain %s" and records[2].args == ("args stay",)  # untouched


def test_initialize_turns_the_guard_on_and_guard_false_off(known: None) -> None:
    import asyncio

    async def returns_value(mgr: MCPSecretsManager) -> tuple[str, str]:
        server = FastMCP("guard-inproc")
        mgr.initialize(server, backend=MemoryBackend(), guard=mgr_guard)
        mgr.store_secret("k", "inproc-secret-value")

        @server.tool
        def leak() -> str:
            return str(mgr.retrieve_secret("k"))

        async with Client(server) as client:
            res = await client.call_tool("leak", {})
        return res.content[0].text, res.data  # type: ignore[union-attr,return-value]

    mgr_guard = True
    assert asyncio.run(returns_value(MCPSecretsManager())) == (MARKER, MARKER)
    mgr_guard = False
    assert asyncio.run(returns_value(MCPSecretsManager()))[0] == "inproc-secret-value"


def test_fastmcp_results_private_wire_copy_and_bytes_are_masked(known: None) -> None:
    from fastmcp.resources.base import ResourceContent, ResourceResult
    from fastmcp.tools.base import ToolResult

    learn("wire-secret-value")
    proxied = ToolResult.from_mcp_result(mt.CallToolResult(
        content=[mt.TextContent(type="text", text="wire-secret-value")]))
    wire = guard.mask(proxied).to_mcp_result()  # what FastMCP sends for a proxied call
    assert isinstance(wire, mt.CallToolResult)
    assert wire.content[0].text == MARKER  # type: ignore[union-attr]
    blob = ResourceResult([ResourceContent(b"k=wire-secret-value", mime_type="text/plain")])
    assert guard.mask(blob).contents[0].content == f"k={MARKER}".encode()


def test_resource_and_prompt_errors_and_progress_are_masked(known: None) -> None:
    """In process (no rig): the errors a resource or a prompt raises, and a progress message."""
    import asyncio

    server = FastMCP("guard-errors")
    mgr = MCPSecretsManager()
    mgr.initialize(server, backend=MemoryBackend())
    mgr.store_secret("k", "err-secret-value")

    @server.resource("secret://broken")
    def broken() -> str:
        raise ValueError(f"cannot use {mgr.retrieve_secret('k')}")

    @server.prompt
    def broken_prompt() -> str:
        raise RuntimeError(f"prompt needs {mgr.retrieve_secret('k')}")

    @server.tool
    async def progress(ctx: Context) -> str:
        await ctx.report_progress(1, 2, f"sent {mgr.retrieve_secret('k')}")
        return "done"

    seen: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(str(message))

    async def main() -> None:
        async with Client(server, mode="legacy", progress_handler=on_progress) as client:
            for call in (client.read_resource("secret://broken"),
                         client.get_prompt("broken_prompt")):
                try:
                    await call
                except Exception as exc:
                    seen.append(str(exc))
            await client.call_tool("progress", {})

    asyncio.run(main())
    assert len(seen) == 3, seen
    assert all("err-secret-value" not in s and MARKER in s for s in seen), seen


def test_official_sdk_tool_results_and_tool_errors_are_masked(known: None) -> None:
    """The official SDK's MCPServer, its tool calls through our wrapper (in process)."""
    import asyncio

    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError as SdkToolError

    server = MCPServer("guard-sdk")
    mgr = MCPSecretsManager()
    mgr.initialize(server, backend=MemoryBackend())
    mgr.store_secret("k", "sdk-secret-value")

    @server.tool()
    def leak() -> str:
        return f"key={mgr.retrieve_secret('k')}"

    @server.tool()
    def boom() -> str:
        raise SdkToolError(f"bad key {mgr.retrieve_secret('k')}")

    async def main() -> tuple[Any, str]:
        result = await server.call_tool("leak", {})
        try:
            await server.call_tool("boom", {})
        except SdkToolError as exc:
            return result, str(exc)
        return result, "no error"

    result, error = asyncio.run(main())
    assert "sdk-secret-value" not in repr(result) and MARKER in repr(result)
    assert error == f"Error executing tool boom: bad key {MARKER}"


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
def test_official_sdk_resources_prompts_and_notifications_are_masked(known: None,
                                                                     mode: str) -> None:
    """MCPServer under the SDK's own `mcp.Client` (in process), both eras: a resource and a
    prompt holding the key, a resource raising with it, a tool sending it in `ctx.info`. The
    client sees the marker only; without `initialize(server)` the same calls leak (so this
    test can fail)."""
    import asyncio

    from mcp import Client
    from mcp.server.mcpserver import MCPServer

    def build(guarded: bool) -> MCPServer:
        server = MCPServer("guard-sdk-more")
        mgr = MCPSecretsManager()
        mgr.initialize(server if guarded else "guard-sdk-more", backend=MemoryBackend())
        mgr.store_secret("k", "sdk-resource-secret")

        @server.resource("secret://key")
        def key_resource() -> str:
            return f"key={mgr.retrieve_secret('k')}"

        @server.resource("secret://broken")
        def broken_resource() -> str:
            raise ResourceError(f"bad key {mgr.retrieve_secret('k')}")

        @server.prompt()
        def key_prompt() -> str:
            return f"use {mgr.retrieve_secret('k')}"

        @server.tool()
        async def chatty(ctx: SdkContext) -> str:
            await ctx.info(f"using {mgr.retrieve_secret('k')}")
            return "done"

        return server

    async def seen_by_client(server: MCPServer) -> str:
        logs: list[str] = []

        async def on_log(params: Any) -> None:
            logs.append(repr(params))

        async with Client(server, mode=mode, logging_callback=on_log) as client:
            parts = [repr(await client.read_resource("secret://key")),
                     repr(await client.get_prompt("key_prompt"))]
            try:
                await client.read_resource("secret://broken")
            except Exception as exc:
                parts.append(str(exc))
            parts.append(repr(await client.call_tool("chatty", {})))
        return "\n".join(parts + logs)

    guard.disable()
    leaked = asyncio.run(seen_by_client(build(guarded=False)))
    assert "sdk-resource-secret" in leaked  # the calls really carry the key
    seen = asyncio.run(seen_by_client(build(guarded=True)))
    assert "sdk-resource-secret" not in seen
    # Resource, prompt, error, and the log notification (on 2026-07-28 logs reach only a
    # client that opted in for the request, which this one did not).
    assert seen.count(MARKER) == (4 if mode == "legacy" else 3), seen
