"""A server built on the official `mcp` SDK's `MCPServer` (tests/servers/sdk_server.py, a real
subprocess over stdio) under real clients, on both protocol eras:

- the official Python SDK: `ClientSession` over `stdio_client` with the handshake done at
  2025-06-18 or 2025-11-25, and `mcp.Client` pinned to 2026-07-28;
- `fastmcp.Client` in `legacy` and `2026-07-28` mode;
- the official TypeScript SDK v2 client (tests/interop) on 2026-07-28.

A FAKE dialog (tests/fake_dialog.py) plays the human at the native window; the clients'
elicitation handlers play the human at the MCP client. A canary value is planted and checked
absent from everything a client received and from the server's stderr.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mcp.server.mcpserver import Context as SdkContext  # module level: tools' hints resolve here

from mcp_secrets.manager import MCPSecretsManager

pytestmark = pytest.mark.keychain  # the servers store what they collect in the rig's keychain

HERE = Path(__file__).resolve().parent
SERVER = HERE / "servers" / "sdk_server.py"
FAKE = HERE / "fake_dialog.py"
CODE_RE = re.compile(r"[A-Z2-9]{4}-[A-Z2-9]{4}")
HANDSHAKE = ["2025-06-18", "2025-11-25"]
#: (client, era) pairs that can elicit.
CLIENTS = [("session", "2025-06-18"), ("session", "2025-11-25"), ("mcp.Client", "2026-07-28"),
           ("fastmcp", "legacy"), ("fastmcp", "2026-07-28")]


class Server:
    """One server configuration: name, environment, canary, dialog records, stderr log."""

    def __init__(self, tmp: Path, name: str, script: Path = SERVER) -> None:
        self.tmp, self.name, self.script = tmp, name, script
        self.canary = f"canary-{uuid.uuid4().hex}"
        (tmp / "record").mkdir()
        (tmp / "values.json").write_text(json.dumps({"api_key": self.canary}))
        self.stderr = tmp / "server.stderr"
        self.wire = tmp / "server.wire"
        self.env = {
            **os.environ,
            "SERVER_NAME": name,
            "GUARD": "0",  # the leak canary checks our code; the guard would hide a leak
            "MCP_SECRETS_DIALOG": f"{sys.executable} {FAKE}",
            "FAKE_DIALOG_RECORD": str(tmp / "record"),
            "FAKE_DIALOG_VALUES": str(tmp / "values.json"),
        }
        self.env.pop("MCP_BYPASS_SECRET_USE_CONFIRM", None)
        self.seen: list[str] = []  # everything a client received or was asked

    @property
    def command(self) -> tuple[str, list[str]]:
        """The server under bash, so its stderr and everything it sends land in files."""
        return "bash", ["-c", '"$0" "$1" 2>>"$2" | tee -a "$3"', sys.executable,
                        str(self.script), str(self.stderr), str(self.wire)]

    def sent(self) -> list[dict[str, Any]]:
        """Every JSON-RPC message the server wrote to its clients over stdio."""
        text = self.wire.read_text() if self.wire.exists() else ""
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]

    @property
    def manager(self) -> MCPSecretsManager:
        return MCPSecretsManager(self.name)

    def records(self) -> list[dict[str, Any]]:
        found = [json.loads(p.read_text()) for p in (self.tmp / "record").glob("*.json")]
        return sorted(found, key=lambda r: r["pid"])

    def window_codes(self) -> list[str]:
        return [CODE_RE.findall(r["template"]["description"])[0] for r in self.records()]

    def assert_no_leak(self) -> None:
        for text in self.seen:
            assert self.canary not in text
        for path in (self.stderr, self.wire):
            assert self.canary not in (path.read_text() if path.exists() else "")


@pytest.fixture
def server(tmp_path: Path, server_name: str) -> Any:
    s = Server(tmp_path, server_name)
    yield s
    s.manager.clear_secrets()
    s.assert_no_leak()


def _text(result: Any) -> str:
    return "".join(getattr(c, "text", "") for c in result.content)


# ---------------------------------------------------------------- the clients


Human = Callable[[str], Any]  # message -> "Continue"/"Allow"/... or an action name


def answers(*options: str) -> Human:
    """A human who answers the client's questions in order (an action name or an option)."""
    queue = list(options)

    def human(message: str) -> Any:
        return queue.pop(0)

    return human


def _elicit_result(answer: str) -> Any:
    import mcp_types as types

    if answer in ("decline", "cancel"):
        return types.ElicitResult(action=answer)
    return types.ElicitResult(action="accept", content={"value": answer})


async def _session(server: Server, revision: str, human: Human | None,
                   calls: list[tuple[str, dict[str, Any]]]) -> tuple[list[str], list[Any]]:
    """`ClientSession` over `stdio_client`, handshake done at `revision` by hand."""
    import mcp_types as types
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    asked: list[str] = []

    async def elicit(context: Any, params: Any) -> Any:
        asked.append(params.message)
        assert human is not None
        return _elicit_result(human(params.message))

    command, args = server.command
    params = StdioServerParameters(command=command, args=args, env=server.env)
    results = []
    async with stdio_client(params) as (read, write), ClientSession(
        read, write, elicitation_callback=elicit if human else None
    ) as session:
        caps = types.ClientCapabilities(
            elicitation=types.ElicitationCapability() if human else None
        )
        init = await session.send_request(
            types.InitializeRequest(params=types.InitializeRequestParams(
                protocol_version=revision, capabilities=caps,
                client_info=types.Implementation(name="sdk-test", version="1"))),
            types.InitializeResult,
        )
        assert init.protocol_version == revision
        session.adopt(init)
        await session.send_notification(types.InitializedNotification())
        for tool, arguments in calls:
            results.append(await session.call_tool(tool, arguments))
    return asked, results


async def _mcp_client(server: Server, human: Human | None,
                      calls: list[tuple[str, dict[str, Any]]]) -> tuple[list[str], list[Any]]:
    """`mcp.Client` pinned to 2026-07-28 (it retries input_required results itself)."""
    from mcp import Client, StdioServerParameters

    asked: list[str] = []

    async def elicit(context: Any, params: Any) -> Any:
        asked.append(params.message)
        assert human is not None
        return _elicit_result(human(params.message))

    command, args = server.command
    params = StdioServerParameters(command=command, args=args, env=server.env)
    results = []
    kwargs: dict[str, Any] = {"elicitation_callback": elicit} if human else {}
    async with Client(params, mode="2026-07-28", **kwargs) as client:
        assert client.protocol_version == "2026-07-28"
        for tool, arguments in calls:
            results.append(await client.call_tool(tool, arguments))
    return asked, results


async def _fastmcp(server: Server, mode: str, human: Human | None,
                   calls: list[tuple[str, dict[str, Any]]]) -> tuple[list[str], list[Any]]:
    from fastmcp import Client
    from fastmcp.client.elicitation import ElicitResult
    from fastmcp.client.transports import StdioTransport

    asked: list[str] = []

    async def handler(message: str, response_type: Any, params: Any, context: Any) -> Any:
        asked.append(message)
        assert human is not None
        answer = human(message)
        if answer in ("decline", "cancel"):
            return ElicitResult(action=answer)
        return {"value": answer}

    command, args = server.command
    transport = StdioTransport(command, args, env=server.env)
    client = (Client(transport, mode=mode, elicitation_handler=handler) if human
              else Client(transport, mode=mode))
    results = []
    async with client:
        for tool, arguments in calls:
            results.append(await client.call_tool(tool, arguments, raise_on_error=False))
    return asked, results


def run(server: Server, client: str, era: str, human: Human | None,
        *calls: str | tuple[str, dict[str, Any]]) -> tuple[list[str], list[tuple[bool, str]]]:
    """Call the tools in order on one connection; returns (questions asked, [(is_error,
    text)]) and records all of it for the leak check."""
    plan = [(c, {}) if isinstance(c, str) else c for c in calls]
    if client == "session":
        coro = _session(server, era, human, plan)
    elif client == "mcp.Client":
        coro = _mcp_client(server, human, plan)
    else:
        coro = _fastmcp(server, era, human, plan)
    asked, results = asyncio.run(coro)
    out = [(bool(r.is_error), _text(r)) for r in results]
    server.seen += asked + [text for _, text in out]
    return asked, out


# ---------------------------------------------------------------- collect, then permission


@pytest.mark.parametrize(("client", "era"), CLIENTS)
def test_seed_tool_collects_then_asks_permission(client: str, era: str, server: Server) -> None:
    asked, [(failed, text)] = run(server, client, era, answers("Continue", "Allow"),
                                  "secure_api_request")
    assert not failed and text.startswith("✅ Making API request with key"), text
    assert len(asked) == 2 and "Allow this use?" in asked[1]
    assert CODE_RE.findall(asked[0]) == server.window_codes()  # one window, the same code
    assert server.manager.retrieve_secret("api_key") == server.canary
    elicits = [m for m in server.sent() if m.get("method") == "elicitation/create"]
    if era == "2026-07-28":  # no back-channel: the questions travel in results
        assert elicits == []
    else:  # `mode` exists from 2025-11-25 on; only a choice is ever asked, never a value
        assert len(elicits) == 2
        assert all(("mode" in m["params"]) == (era != "2025-06-18") for m in elicits)
        assert all(set(m["params"]["requestedSchema"]["properties"]) == {"value"}
                   for m in elicits)


@pytest.mark.parametrize(("client", "era"), CLIENTS)
def test_the_one_liner_collects_and_injects(client: str, era: str, server: Server) -> None:
    asked, [(failed, text)] = run(server, client, era, answers("Continue", "Allow"),
                                  ("search", {"q": "weather"}))
    assert not failed and text.startswith("searched 'weather' with key"), text
    assert len(asked) == 2 and CODE_RE.findall(asked[0]) == server.window_codes()
    assert server.manager.retrieve_secret("api_key") == server.canary


def test_the_one_liner_hides_its_parameter(server: Server) -> None:
    """A client can neither see nor supply the injected value."""
    from mcp import Client, StdioServerParameters

    async def main() -> Any:
        command, args = server.command
        params = StdioServerParameters(command=command, args=args, env=server.env)
        async with Client(params, mode="2026-07-28") as client:
            return {t.name: t.input_schema for t in (await client.list_tools()).tools}

    schemas = asyncio.run(main())
    assert set(schemas["search"]["properties"]) == {"q"}


@pytest.mark.parametrize(("client", "era"), CLIENTS)
def test_allow_for_session_asks_once(client: str, era: str, server: Server) -> None:
    server.manager.store_secret("api_key", server.canary)
    use = ("use_secret", {"name": "api_key"})
    asked, results = run(server, client, era, answers("Allow for session"), use, use)
    assert len(asked) == 1, asked
    assert all(not failed and text.startswith("used api_key") for failed, text in results)


@pytest.mark.parametrize(("client", "era"), CLIENTS)
def test_allow_asks_every_time_and_deny_refuses(client: str, era: str, server: Server) -> None:
    server.manager.store_secret("api_key", server.canary)
    use = ("use_secret", {"name": "api_key"})
    asked, [first, second] = run(server, client, era, answers("Allow", "Deny"), use, use)
    assert len(asked) == 2
    assert first == (False, first[1]) and first[1].startswith("used api_key"), first
    failed, text = second
    assert failed and "permission to use secret 'api_key' was denied" in text, text
    assert "MCP_BYPASS_SECRET_USE_CONFIRM" in text  # what to do next, not a bare crash


@pytest.mark.parametrize(("client", "era"), CLIENTS)
def test_decline_stores_nothing(client: str, era: str, server: Server) -> None:
    asked, [(failed, text)] = run(server, client, era, answers("decline"), "fetch_only")
    assert len(asked) == 1 and not failed
    assert text.startswith("FAILED:") and "you declined" in text, text
    assert not server.manager.secret_exists("api_key")
    if era == "2026-07-28":  # the window opens only after Continue
        assert server.records() == []


@pytest.mark.parametrize(("client", "era"), [("session", "2025-11-25"),
                                             ("mcp.Client", "2026-07-28")])
def test_permission_question_declined(client: str, era: str, server: Server) -> None:
    server.manager.store_secret("api_key", server.canary)
    asked, [(failed, text)] = run(server, client, era, answers("decline"),
                                  ("use_secret", {"name": "api_key"}))
    assert len(asked) == 1 and failed
    assert "was not given: you declined the question in the MCP client" in text, text


@pytest.mark.parametrize(("client", "era"), [("session", "2025-11-25"),
                                             ("mcp.Client", "2026-07-28")])
def test_two_secrets_in_one_call(client: str, era: str, server: Server) -> None:
    server.manager.store_secret("first", "one-" + server.canary)
    server.manager.store_secret("second", "two-" + server.canary)
    asked, [(failed, text)] = run(server, client, era, answers("Allow", "Allow"), "use_two")
    assert not failed and text.startswith("used first"), text
    assert len(asked) == 2 and "'first'" in asked[0] and "'second'" in asked[1]


# ---------------------------------------------------------------- clients that cannot ask


@pytest.mark.parametrize(("client", "era"), [("session", "2025-11-25"),
                                             ("mcp.Client", "2026-07-28"),
                                             ("fastmcp", "legacy")])
def test_client_without_elicitation_gets_the_code_in_the_result(client: str, era: str,
                                                                server: Server) -> None:
    server.env["FAKE_DIALOG_CHOICE"] = "Allow"
    asked, results = run(server, client, era, None, *["secure_api_request"] * 3)
    first, second, third = results
    codes = server.window_codes()
    assert asked == [] and len(codes) == 2
    assert first[0] and CODE_RE.findall(first[1]) == codes[:1], first
    assert second[0] and CODE_RE.findall(second[1]) == codes[1:], second
    assert "permission" in second[1] and "call this tool again" in second[1]
    assert not third[0] and third[1].startswith("✅ Making API request"), third


def test_uncaught_permission_question_reaches_the_client(server: Server) -> None:
    """A tool that lets `retrieve_secret_with_permission` raise: the SDK would report a bare
    "Error executing tool"; the glue passes our message (with the window's code) through."""
    server.manager.store_secret("api_key", server.canary)
    server.env["FAKE_DIALOG_CHOICE"] = "Allow"
    use = ("use_secret", {"name": "api_key"})
    asked, [first, second] = run(server, "session", "2025-11-25", None, use, use)
    assert asked == []
    assert first[0] and "Verification code" in first[1], first
    assert CODE_RE.findall(first[1]) == server.window_codes()
    assert second == (False, second[1]) and second[1].startswith("used api_key"), second


def test_modern_era_without_the_glue_says_what_to_do(server: Server) -> None:
    """`initialize("name")` instead of `initialize(mcp)`: the one-liner says what to do on a
    2026-07-28 connection instead of failing silently or hanging."""
    server.env["NO_GLUE"] = "1"
    asked, [(failed, text)] = run(server, "mcp.Client", "2026-07-28", answers("Continue"),
                                  ("search", {"q": "x"}))
    assert asked == [] and failed
    assert "secrets_manager.initialize(mcp)" in text and "MCPServer" in text, text


# ---------------------------------------------------------------- request_state


def _manual_client(server: Server) -> Any:
    """`mcp.Client` on 2026-07-28 that declares elicitation; the test drives the rounds."""
    from mcp import Client, StdioServerParameters

    async def never(context: Any, params: Any) -> Any:
        raise AssertionError("the rounds are driven by hand here")

    command, args = server.command
    params = StdioServerParameters(command=command, args=args, env=server.env)
    return Client(params, mode="2026-07-28", elicitation_callback=never)


async def _first_leg(server: Server, client: Any, tool: str,
                     arguments: dict[str, Any]) -> Any:
    import mcp_types as types

    leg = await client.session.call_tool(tool, arguments, allow_input_required=True)
    assert isinstance(leg, types.InputRequiredResult), leg
    return leg


def test_forged_request_state_is_refused(server: Server) -> None:
    """A client that writes its own state claiming the permission question was asked, with an
    "Allow" answer, gets an error and no value: the SDK seals the state."""
    import mcp_types as types
    from mcp.shared.exceptions import MCPError

    server.manager.store_secret("api_key", server.canary)
    key = f"mcp_secrets.permission:{server.name}:api_key"

    async def main() -> tuple[str, str]:
        async with _manual_client(server) as client:
            leg = await _first_leg(server, client, "use_secret", {"name": "api_key"})
            assert key in leg.input_requests
            sealed = leg.request_state
            assert sealed and "mcp_secrets" not in sealed  # the client cannot read it either
            forged = json.dumps({"mcp_secrets": {"asked": [key], "nonce": "x", "flows": {},
                                                 "grants": {key: "x"}}})
            allow = {key: types.ElicitResult(action="accept", content={"value": "Allow"})}
            errors = []
            for state in (forged, sealed[:-4] + "AAAA"):
                try:
                    res = await client.session.call_tool(
                        "use_secret", {"name": "api_key"}, input_responses=allow,
                        request_state=state, allow_input_required=True)
                except MCPError as exc:
                    errors.append(str(exc))
                else:
                    errors.append(f"ACCEPTED {res}")
            return errors[0], errors[1]

    forged, tampered = asyncio.run(main())
    server.seen += [forged, tampered]
    for error in (forged, tampered):
        assert "Invalid or expired requestState" in error, error


def test_replayed_request_state_asks_again(server: Server) -> None:
    """The real sealed state with the human's "Allow", sent a second time: the answer counted
    once; the replay gets the question again, never the value."""
    import mcp_types as types

    server.manager.store_secret("api_key", server.canary)

    async def main() -> tuple[Any, Any]:
        async with _manual_client(server) as client:
            leg = await _first_leg(server, client, "use_secret", {"name": "api_key"})
            (key,) = leg.input_requests
            allow = {key: types.ElicitResult(action="accept", content={"value": "Allow"})}
            once = await client.session.call_tool(
                "use_secret", {"name": "api_key"}, input_responses=allow,
                request_state=leg.request_state, allow_input_required=True)
            again = await client.session.call_tool(
                "use_secret", {"name": "api_key"}, input_responses=allow,
                request_state=leg.request_state, allow_input_required=True)
            return once, again

    once, again = asyncio.run(main())
    assert isinstance(once, types.CallToolResult) and _text(once).startswith("used api_key")
    assert isinstance(again, types.InputRequiredResult), again
    server.seen += [_text(once), again.model_dump_json()]


def test_state_bound_to_other_arguments_is_refused(server: Server) -> None:
    import mcp_types as types
    from mcp.shared.exceptions import MCPError

    server.manager.store_secret("api_key", server.canary)
    server.manager.store_secret("other", "other-" + server.canary)

    async def main() -> str:
        async with _manual_client(server) as client:
            leg = await _first_leg(server, client, "use_secret", {"name": "api_key"})
            allow = {f"mcp_secrets.permission:{server.name}:other":
                     types.ElicitResult(action="accept", content={"value": "Allow"})}
            try:
                res = await client.session.call_tool(
                    "use_secret", {"name": "other"}, input_responses=allow,
                    request_state=leg.request_state, allow_input_required=True)
            except MCPError as exc:
                return str(exc)
            return f"ACCEPTED {res}"

    error = asyncio.run(main())
    server.seen.append(error)
    assert "Invalid or expired requestState" in error, error


# ---------------------------------------------------------------- a TypeScript client


@pytest.mark.parametrize("client", ["ts-v1", "ts-v2-2026"])
def test_typescript_clients(client: str, server: Server) -> None:
    """The official TypeScript SDK v1 client (handshake era) and v2 client pinned to
    2026-07-28, under node, against the MCPServer-built server."""
    from tests.test_interop import INTEROP, TS_CLIENTS, node

    script, mode = TS_CLIENTS[client]
    command, args = server.command
    plan = {"command": command, "args": args, "env": server.env, "mode": mode,
            "elicit": True, "answers": ["Continue", "Allow"],
            "calls": [{"tool": "secure_api_request"}]}
    plan_file = server.tmp / "plan.json"
    plan_file.write_text(json.dumps(plan))
    proc = subprocess.run([node(), str(INTEROP / script), str(plan_file)], cwd=INTEROP,
                          capture_output=True, text=True, timeout=240, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    server.seen += [proc.stdout, proc.stderr]
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    (connected,) = [line for line in lines if "connected" in line]
    if client == "ts-v2-2026":
        assert connected["protocolVersion"] == "2026-07-28"
    (result,) = [line for line in lines if "tool" in line]
    assert not result.get("failed") and not result["isError"], result
    assert result["text"].startswith("✅ Making API request with key")
    assert server.manager.retrieve_secret("api_key") == server.canary


# ---------------------------------------------------------------- the README's example


EXAMPLE = HERE.parent / "examples" / "sdk_weather_server.py"
EXAMPLE_NAME = "Weather Demo (official SDK)"


@pytest.fixture
def example(tmp_path: Path) -> Any:
    import hashlib

    s = Server(tmp_path, EXAMPLE_NAME, script=EXAMPLE)
    s.env["WEATHER_API_KEY_SHA256"] = hashlib.sha256(s.canary.encode()).hexdigest()
    s.manager.clear_secrets()
    yield s
    s.manager.clear_secrets()
    s.assert_no_leak()


def test_example_server_on_both_eras(example: Server) -> None:
    """examples/sdk_weather_server.py as a user runs it: the one-liner collects the key on
    2026-07-28, the explicit style uses it on the handshake era, and the fake weather API says
    the key it got is the one the human typed."""
    asked, [(failed, text)] = run(example, "fastmcp", "2026-07-28", answers("Continue", "Allow"),
                                  ("get_alerts", {"region": "north"}))
    assert not failed and "its SHA-256 matches" in text, text
    assert len(asked) == 2
    asked, [(failed, text)] = run(example, "session", "2025-11-25", answers("Allow"),
                                  ("get_forecast", {"city": "Oslo"}))
    assert not failed and "its SHA-256 matches" in text, text
    assert len(example.records()) == 1  # one window, in the first call only


def test_readme_example_is_the_tested_one() -> None:
    """Every line of the README's official-SDK example is a line of the example the test above
    runs, so the README cannot drift into code that does not work."""
    readme = (HERE.parent / "README.md").read_text()
    section = readme.split("### For servers built on the official `mcp` SDK", 1)[1]
    block = section.split("```python\n", 1)[1].split("```", 1)[0]
    lines = {line.strip() for line in EXAMPLE.read_text().splitlines()}
    missing = [line for line in block.splitlines()
               if line.strip() and line.strip() != "..." and line.strip() not in lines]
    assert not missing, f"README lines not in {EXAMPLE.name}: {missing}"


# ---------------------------------------------------------------- install, in process


def _server_with_a_permission_tool(name: str) -> tuple[Any, MCPSecretsManager]:
    from mcp.server.mcpserver import MCPServer

    from mcp_secrets.backends.memory import MemoryBackend

    mcp = MCPServer(name)
    manager = MCPSecretsManager()
    manager.initialize(name, backend=MemoryBackend())
    manager.store_secret("api_key", "value-never-sent")

    @mcp.tool()
    async def use(ctx: SdkContext) -> str:
        await manager.retrieve_secret_with_permission("api_key", ctx)
        return "used"

    return mcp, manager


async def _forge(mcp: Any, name: str) -> str:
    """Call `use` with a state claiming the permission question was asked and an "Allow"."""
    import mcp_types as types
    from mcp import Client
    from mcp.shared.exceptions import MCPError

    key = f"mcp_secrets.permission:{name}:api_key"
    forged = json.dumps({"mcp_secrets": {"asked": [key], "nonce": "x"}})
    allow = {key: types.ElicitResult(action="accept", content={"value": "Allow"})}

    async def never(context: Any, params: Any) -> Any:
        raise AssertionError("no question is answered here")

    async with Client(mcp, mode="2026-07-28", elicitation_callback=never) as client:
        try:
            res = await client.session.call_tool("use", {}, input_responses=allow,
                                                 request_state=forged, allow_input_required=True)
        except MCPError as exc:
            return f"refused: {exc}"
        return f"answered: {type(res).__name__} {getattr(res, 'content', '')}"


def test_install_restores_a_removed_state_seal(server_name: str) -> None:
    """A server whose middleware lost the SDK's request-state boundary takes a forged state as
    its own: the plaintext reaches the tool (whose one-time question nonce still asks again).
    `install` puts a seal back, so the same forgery is refused at the door."""
    from mcp.server.request_state import RequestStateBoundary

    from mcp_secrets.integrations import mcp_sdk

    mcp, _ = _server_with_a_permission_tool(server_name)
    mcp.middleware[:] = [m for m in mcp.middleware if not isinstance(m, RequestStateBoundary)]
    mcp.call_tool = mcp_sdk.ToolCalls(mcp.call_tool)  # the glue, but no seal
    unsealed = asyncio.run(_forge(mcp, server_name))
    assert unsealed.startswith("answered:") and "InputRequiredResult" in unsealed, unsealed

    mcp, _ = _server_with_a_permission_tool(server_name)
    mcp.middleware[:] = [m for m in mcp.middleware if not isinstance(m, RequestStateBoundary)]
    mcp_sdk.install(mcp)
    assert "Invalid or expired requestState" in asyncio.run(_forge(mcp, server_name))


def test_initialize_takes_an_mcpserver_or_a_subclass(server_name: str) -> None:
    from mcp.server.mcpserver import MCPServer

    from mcp_secrets.backends.memory import MemoryBackend
    from mcp_secrets.integrations import mcp_sdk

    class MyServer(MCPServer):  # type: ignore[type-arg]
        pass

    for cls in (MCPServer, MyServer):
        mcp = cls(server_name)
        manager = MCPSecretsManager()
        manager.initialize(mcp, backend=MemoryBackend())
        manager.initialize(mcp, backend=MemoryBackend())  # twice: still one wrapper
        assert manager.server_name == server_name
        assert mcp_sdk.installed(mcp) and not isinstance(mcp.call_tool.wrapped, mcp_sdk.ToolCalls)


def test_initialize_refuses_the_low_level_server_clearly() -> None:
    from mcp.server.lowlevel import Server

    with pytest.raises(TypeError, match="supports the official SDK's MCPServer, not Server"):
        MCPSecretsManager().initialize(Server("low"))


def test_fastmcp_contexts_are_not_adapted() -> None:
    from fastmcp import Context, FastMCP

    from mcp_secrets import elicitation
    from mcp_secrets.integrations import mcp_sdk

    ctx = Context(FastMCP("x"))
    assert elicitation.adapt(ctx) is ctx and elicitation.adapt(None) is None
    wrapped = mcp_sdk.SdkContext(object())  # type: ignore[arg-type]
    assert elicitation.adapt(wrapped) is wrapped


def test_a_tool_called_outside_a_request(server_name: str,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """`await mcp.call_tool(...)` from Python (no client, the SDK's context has no request):
    the permission check says it cannot ask instead of crashing. (The window it falls back to
    is a fake that cannot open, so no real window outlives this test.)"""
    monkeypatch.setenv("MCP_SECRETS_DIALOG", f"{sys.executable} {FAKE}")
    monkeypatch.setenv("FAKE_DIALOG_MODE", "nodisplay")
    mcp, _ = _server_with_a_permission_tool(server_name)
    from mcp_secrets.integrations import mcp_sdk

    mcp_sdk.install(mcp)
    result = asyncio.run(mcp.call_tool("use", {}))
    assert result.is_error and "cannot be asked" in _text(result), result


# ---------------------------------------------------------------- several clients, progress


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
def test_session_grant_belongs_to_one_http_client(mode: str, server: Server) -> None:
    """One MCPServer process over streamable HTTP, two clients. A's "Allow for session" must
    not hand the secret to B without asking B's human; on 2026-07-28 without authentication
    nothing identifies a client between calls, so no session grant is kept at all."""
    import socket
    import time

    from fastmcp import Client

    server.manager.store_secret("api_key", server.canary)
    port = _free_port()
    with server.stderr.open("ab") as err:
        proc = subprocess.Popen([sys.executable, str(SERVER)],
                                env={**server.env, "HTTP_PORT": str(port)},
                                stdout=subprocess.DEVNULL, stderr=err)
    try:
        for _ in range(300):
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port}/mcp"
        seen = {"A": 0, "B": 0}

        def client(who: str, option: str) -> Any:
            async def handler(message: str, response_type: Any, params: Any, ctx: Any) -> Any:
                seen[who] += 1
                server.seen.append(message)
                return {"value": option}

            return Client(url, mode=mode, elicitation_handler=handler)

        async def main() -> list[tuple[bool, str]]:
            out = []
            async with client("A", "Allow for session") as a, client("B", "Deny") as b:
                for c in (a, a, b):
                    res = await c.call_tool("use_secret", {"name": "api_key"},
                                            raise_on_error=False)
                    out.append((bool(res.is_error), _text(res)))
            return out

        a1, a2, b1 = asyncio.run(main())
    finally:
        proc.terminate()
        proc.wait(10)
    server.seen += [a1[1], a2[1], b1[1]]
    assert not a1[0] and not a2[0] and a1[1].startswith("used api_key"), (a1, a2)
    assert b1[0] and "denied" in b1[1], "client B got A's session grant"
    assert seen["B"] == 1
    assert seen["A"] == (1 if mode == "legacy" else 2)


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
def test_progress_while_the_human_is_at_the_window(mode: str, server: Server) -> None:
    """The wait for the window sends `notifications/progress` carrying the code, where the
    client gave a progress token (clients that opted in reset their timeout on them)."""
    from fastmcp import Client
    from fastmcp.client.transports import StdioTransport

    from mcp_secrets import elicitation

    server.env["FAKE_DIALOG_DELAY"] = str(elicitation.PROGRESS_EVERY + 2)
    notes: list[str | None] = []
    asked: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        notes.append(message)

    async def handler(message: str, response_type: Any, params: Any, context: Any) -> Any:
        asked.append(message)
        return {"value": "Continue"}

    async def main() -> str:
        command, args = server.command
        async with Client(StdioTransport(command, args, env=server.env), mode=mode,
                          elicitation_handler=handler, progress_handler=on_progress) as c:
            return _text(await c.call_tool("fetch_only", {}))

    text = asyncio.run(main())
    server.seen += [text, *asked, *(n or "" for n in notes)]
    assert text.startswith("OK: Stored api_key"), text
    (code,) = CODE_RE.findall(asked[0])
    assert notes and all(n and code in n for n in notes), notes


# ---------------------------------------------------------------- the real window


@pytest.mark.display
@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
def test_real_tk_dialog_with_the_one_liner(mode: str, server: Server) -> None:
    """The one-liner with the REAL Tk dialog on Xvfb, typed into with xdotool: the client's
    question carries the code, the human types the key into the window, the tool runs with it
    and the window is gone. (The fake-dialog tests compare the window's code with the client's.)"""
    from fastmcp import Client
    from fastmcp.client.transports import StdioTransport

    from tests import dialog_driver

    server.env.pop("MCP_SECRETS_DIALOG", None)
    title = f"MCP Secrets for {server.name}"
    codes: list[str] = []
    drivers: list[asyncio.Future[None]] = []

    async def drive() -> None:
        wid = await asyncio.to_thread(dialog_driver.find_window, title)
        await asyncio.to_thread(dialog_driver.wait_focus, wid)
        await asyncio.to_thread(dialog_driver.type_text, server.canary)
        await asyncio.to_thread(dialog_driver.press, "Return")

    async def handler(message: str, response_type: Any, params: Any, context: Any) -> Any:
        server.seen.append(message)
        options = params.requested_schema["properties"]["value"]["enum"]
        if "Continue" not in options:
            return {"value": "Allow"}
        codes.extend(CODE_RE.findall(message))
        if mode == "legacy":  # the window is already open beside the question
            await drive()
        else:  # 2026-07-28: it opens only after Continue
            drivers.append(asyncio.ensure_future(drive()))
        return {"value": "Continue"}

    async def main() -> str:
        command, args = server.command
        async with Client(StdioTransport(command, args, env=server.env), mode=mode,
                          elicitation_handler=handler) as c:
            res = await c.call_tool("search", {"q": "tk"}, raise_on_error=False)
            await asyncio.gather(*drivers)
            return _text(res)

    text = asyncio.run(main())
    server.seen.append(text)
    assert text.startswith("searched 'tk' with key"), text
    assert len(codes) == 1
    assert server.manager.retrieve_secret("api_key") == server.canary
    assert not dialog_driver.window_exists(title)
