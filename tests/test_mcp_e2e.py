"""End to end: a real `fastmcp.Client` over stdio to a real server subprocess, on both MCP
protocol eras, with the real keychain of the rig. A FAKE dialog (tests/fake_dialog.py) stands
in for the human's window on the fast paths; the tests marked `display` drive the REAL Tk
dialog on Xvfb with xdotool.

Leak canary: every test plants a unique secret value and `Rig.assert_no_leak` checks that it
never shows up in tool results, elicitation messages/schemas, the server's DEBUG log, or the
argv of any process while the dialog runs.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sys
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client
from fastmcp.client.elicitation import ElicitResult
from fastmcp.client.transports import StdioTransport
from fastmcp.exceptions import ToolError

from mcp_secrets.manager import MCPSecretsManager
from tests import dialog_driver
from tests.procs import dead, gone

pytestmark = pytest.mark.keychain  # every server here stores into the rig's real keychain

HERE = Path(__file__).resolve().parent
SERVER = HERE / "servers" / "secrets_server.py"
FAKE = HERE / "fake_dialog.py"
MODES = ["legacy", "2026-07-28"]
CODE_RE = r"[A-Z2-9]{4}-[A-Z2-9]{4}"

Answer = Callable[[str, dict[str, Any]], Awaitable[Any]]


def fingerprint(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:12]


def code_in(text: str) -> str:
    import re

    found = re.findall(CODE_RE, text)
    assert len(found) == 1, f"expected exactly one verification code in {text!r}"
    return found[0]



def argv_of_all_processes() -> list[bytes]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                out.append((entry / "cmdline").read_bytes())
            except OSError:
                continue
    return out


@dataclass
class Rig:
    """One server subprocess configuration plus everything needed to inspect it."""

    tmp: Path
    server_name: str
    mode: str
    canary: str = field(default_factory=lambda: f"canary-{uuid.uuid4().hex}")
    env: dict[str, str] = field(default_factory=dict)
    prompts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    results: list[str] = field(default_factory=list)
    argv_scans: int = 0

    def __post_init__(self) -> None:
        (self.tmp / "record").mkdir()
        (self.tmp / "values.json").write_text(json.dumps({"api_key": self.canary}))
        self.env = {
            **os.environ,
            "SERVER_NAME": self.server_name,
            "FASTMCP_LOG_LEVEL": "DEBUG",
            "GUARD": "0",  # the leak canary checks our code; the guard would hide a leak
            "MCP_SECRETS_DIALOG": f"{sys.executable} {FAKE}",
            "FAKE_DIALOG_RECORD": str(self.tmp / "record"),
            "FAKE_DIALOG_VALUES": str(self.tmp / "values.json"),
        }
        self.log = self.tmp / "server.log"

    @property
    def manager(self) -> MCPSecretsManager:
        return MCPSecretsManager(self.server_name)

    def records(self) -> list[dict[str, Any]]:
        found = [json.loads(p.read_text()) for p in (self.tmp / "record").glob("*.json")]
        return sorted(found, key=lambda r: r["pid"])

    async def wait_records(self, count: int = 1) -> list[dict[str, Any]]:
        for _ in range(2000):
            found = self.records()
            if len(found) >= count:
                return found
            await asyncio.sleep(0.01)
        raise AssertionError("the dialog never started")

    def scan_argv(self) -> None:
        """While a dialog runs: the secret must not be in anyone's command line."""
        assert not any(self.canary.encode() in a for a in argv_of_all_processes())
        self.argv_scans += 1

    def client(self, human: Answer | None) -> Client[Any]:
        transport = StdioTransport(sys.executable, [str(SERVER)], env=self.env,
                                   log_file=self.log)
        if human is None:
            return Client(transport, mode=self.mode)  # declares no elicitation at all

        async def handler(message: str, response_type: Any, params: Any, context: Any) -> Any:
            schema = params.requested_schema
            self.prompts.append((message, schema))
            return await human(message, schema)

        return Client(transport, mode=self.mode, elicitation_handler=handler)

    async def call(self, human: Answer | None, tool: str, args: dict[str, Any] | None = None,
                   client: Client[Any] | None = None) -> str:
        """Call a tool; returns its text, or 'ERROR: <text>' for a tool error."""
        async def go(c: Client[Any]) -> str:
            try:
                res = await c.call_tool(tool, args or {})
                text = res.content[0].text if res.content else ""
            except ToolError as exc:
                text = f"ERROR: {exc}"
            self.results.append(text)
            return text

        if client is not None:
            return await go(client)
        async with self.client(human) as c:
            return await go(c)

    def assert_no_leak(self) -> None:
        c = self.canary
        for text in self.results:
            assert c not in text
        for message, schema in self.prompts:
            assert c not in message and c not in json.dumps(schema)
            # Form elicitations never carry a secret field: only a choice.
            assert set(schema.get("properties", {})) <= {"value"}
            assert schema["properties"]["value"]["type"] == "string"
            assert "enum" in schema["properties"]["value"]
        log = self.log.read_text() if self.log.exists() else ""
        assert c not in log
        for rec in self.records():
            assert c not in json.dumps(rec["template"])


def choose(option: str) -> Answer:
    async def answer(message: str, schema: dict[str, Any]) -> Any:
        assert option in schema["properties"]["value"]["enum"]
        return {"value": option}

    return answer


def action(name: str) -> Answer:
    async def answer(message: str, schema: dict[str, Any]) -> Any:
        return ElicitResult(action=name)

    return answer


@pytest.fixture(params=MODES)
def rig(request: pytest.FixtureRequest, tmp_path: Path, server_name: str,
        monkeypatch: pytest.MonkeyPatch) -> Rig:
    monkeypatch.delenv("MCP_BYPASS_SECRET_USE_CONFIRM", raising=False)
    r = Rig(tmp_path, server_name, request.param)
    yield r
    r.manager.clear_secrets()


# ---------------------------------------------------------------- fetch_secrets


def test_accept_code_matches_and_value_stored(rig: Rig) -> None:
    gate = rig.tmp / "gate"
    rig.env["FAKE_DIALOG_GATE"] = str(gate)

    later: list[asyncio.Future[None]] = []

    async def submit() -> None:
        await rig.wait_records()
        rig.scan_argv()
        gate.touch()  # the human submits the dialog

    async def human(message: str, schema: dict[str, Any]) -> Any:
        if rig.mode == "legacy":  # the window is already open beside the question
            await submit()
        else:  # 2026-07-28: it opens once the human chose Continue
            later.append(asyncio.ensure_future(submit()))
        return {"value": "Continue"}

    text = asyncio.run(rig.call(human, "fetch_only"))
    rec = rig.records()[0]
    # The code in the client equals the code in the dialog's template.
    assert code_in(rig.prompts[0][0]) == code_in(rec["template"]["description"])
    assert rig.server_name in rec["template"]["title"]
    assert text.startswith("OK: Stored api_key"), text
    assert rig.manager.retrieve_secret("api_key") == rig.canary
    assert len(rig.prompts) == 1 and rig.argv_scans == 1
    assert all(gone(r["pid"]) for r in rig.records())
    rig.assert_no_leak()


def test_two_calls_for_one_secret_open_one_dialog(rig: Rig) -> None:
    """Two tool calls at once need the same secret: one window, one code, one question; the
    second call waits for the first flow and finds the secret stored."""
    gate = rig.tmp / "gate"
    rig.env["FAKE_DIALOG_GATE"] = str(gate)

    later: list[asyncio.Future[None]] = []

    async def human(message: str, schema: dict[str, Any]) -> Any:
        if rig.mode == "legacy":
            await rig.wait_records()

        async def submit_later() -> None:
            await asyncio.sleep(0.5)  # give a second dialog every chance to appear (it must not)
            gate.touch()
        later.append(asyncio.ensure_future(submit_later()))
        return {"value": "Continue"}

    async def main() -> list[str]:
        async with rig.client(human) as c:
            return list(await asyncio.gather(*(rig.call(None, "fetch_only", client=c)
                                               for _ in range(2))))

    texts = sorted(asyncio.run(main()))
    assert texts[0].startswith("OK: All requested secrets are already stored"), texts
    assert texts[1].startswith("OK: Stored api_key"), texts
    # 2026-07-28: both first legs may ask (no window exists yet); still only one window.
    assert len(rig.records()) == 1 and len(rig.prompts) == (1 if rig.mode == "legacy" else 2)
    assert rig.manager.retrieve_secret("api_key") == rig.canary
    rig.assert_no_leak()


def test_continue_before_dialog_done(rig: Rig) -> None:
    """The human chooses Continue first; the server keeps waiting for the dialog."""
    gate = rig.tmp / "gate"
    rig.env["FAKE_DIALOG_GATE"] = str(gate)

    async def main() -> str:
        async def human(message: str, schema: dict[str, Any]) -> Any:
            if rig.mode == "legacy":
                await rig.wait_records()
            return {"value": "Continue"}  # gate still closed: the dialog is still "open"

        async def open_gate_later() -> None:
            # Opened only after the client answered Continue (the prompt was recorded).
            while not rig.prompts:
                await asyncio.sleep(0.01)
            await rig.wait_records()
            await asyncio.sleep(0.2)
            gate.touch()

        opener = asyncio.ensure_future(open_gate_later())
        try:
            return await rig.call(human, "fetch_only")
        finally:
            opener.cancel()

    text = asyncio.run(main())
    assert text.startswith("OK: Stored api_key"), text
    assert rig.manager.retrieve_secret("api_key") == rig.canary
    rig.assert_no_leak()


@pytest.mark.parametrize("answer", ["Cancel", "decline", "cancel"])
def test_cancel_or_decline_kills_dialog_stores_nothing(rig: Rig, answer: str) -> None:
    rig.env["FAKE_DIALOG_MODE"] = "hang"
    pids: list[int] = []

    async def human(message: str, schema: dict[str, Any]) -> Any:
        if rig.mode == "legacy":
            pids.append((await rig.wait_records())[0]["pid"])
            assert not gone(pids[0])
        return await (choose("Cancel") if answer == "Cancel" else action(answer))(message, schema)

    text = asyncio.run(rig.call(human, "fetch_only"))
    assert text.startswith("FAILED: Nothing was stored: "), text
    said = {"Cancel": "you chose 'Cancel'", "decline": "you declined",
            "cancel": "dismissed"}[answer]
    assert said in text and "call the tool again" in text and "mcp-secrets set" in text, text
    if rig.mode == "legacy":
        assert pids and gone(pids[0]), "the dialog survived the decline"
    else:  # 2026-07-28: the window opens only once the human agreed; a decline never flashes one
        assert rig.records() == [], "a window opened although the human declined"
    assert not rig.manager.secret_exists("api_key")
    rig.assert_no_leak()


def test_dialog_cancelled(rig: Rig) -> None:
    """The human closes the dialog. Legacy: the pending prompt is withdrawn; modern: the
    answer to the prompt finds the dialog gone. Either way nothing is stored."""
    rig.env["FAKE_DIALOG_MODE"] = "cancel"

    async def human(message: str, schema: dict[str, Any]) -> Any:
        if rig.mode != "legacy":
            return {"value": "Continue"}  # the window opens now, and is closed by the human
        rec = (await rig.wait_records())[0]
        for _ in range(500):
            if gone(rec["pid"]):
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(30)  # the server must not wait for us: it withdraws the prompt
        return {"value": "Continue"}

    text = asyncio.run(asyncio.wait_for(rig.call(human, "fetch_only"), 25))
    assert text.startswith("FAILED: Cancelled: the credential dialog was cancelled"), text
    assert not rig.manager.secret_exists("api_key")
    rig.assert_no_leak()


def test_timeout_after_continue_kills_dialog(rig: Rig) -> None:
    rig.env["FAKE_DIALOG_MODE"] = "hang"
    rig.env["MCP_SECRETS_DIALOG_TIMEOUT"] = "1"
    text = asyncio.run(rig.call(choose("Continue"), "fetch_only"))
    assert text.startswith("FAILED: Timed out: nobody answered the credential dialog"), text
    assert all(gone(r["pid"]) for r in rig.records())
    assert not rig.manager.secret_exists("api_key")
    rig.assert_no_leak()


@pytest.mark.parametrize("rig", ["legacy"], indirect=True)  # 2026-07-28 opens it after Continue
def test_continue_after_the_dialog_timed_out(rig: Rig) -> None:
    """The human answers only after the dialog timed out: the answer hears "timed out"."""
    rig.env["FAKE_DIALOG_MODE"] = "hang"
    rig.env["MCP_SECRETS_DIALOG_TIMEOUT"] = "1"

    async def human(message: str, schema: dict[str, Any]) -> Any:
        pid = (await rig.wait_records())[0]["pid"]
        while not gone(pid):
            await asyncio.sleep(0.05)
        return {"value": "Continue"}

    text = asyncio.run(asyncio.wait_for(rig.call(human, "fetch_only"), 60))
    assert text.startswith("FAILED: Timed out: nobody answered the credential dialog"), text
    assert len(rig.records()) == 1 and len(rig.prompts) == 1
    assert not rig.manager.secret_exists("api_key")


def two_calls(rig: Rig, tool: str = "fetch_only", args: dict[str, Any] | None = None,
              human: Answer | None = None) -> list[str]:
    async def main() -> list[str]:
        async with rig.client(human) as c:
            return [await rig.call(None, tool, args, client=c) for _ in range(2)]

    return asyncio.run(main())


def test_client_without_elicitation_gets_the_code_in_the_result(rig: Rig) -> None:
    """A client that cannot be asked sees the window's code in the tool's own result (a log
    note reaches 2026-07-28 clients only on opt-in); the next call collects the window."""
    first, second = two_calls(rig)
    rec = rig.records()[0]
    assert first.startswith("FAILED: ") and "call this tool again" in first, first
    assert code_in(first) == code_in(rec["template"]["description"])
    assert second.startswith("OK: Stored api_key"), second
    assert len(rig.records()) == 1  # the second call used the same window
    assert rig.manager.retrieve_secret("api_key") == rig.canary
    assert rig.prompts == []
    rig.assert_no_leak()


def test_client_without_elicitation_times_out(rig: Rig) -> None:
    rig.env["FAKE_DIALOG_MODE"] = "hang"
    rig.env["MCP_SECRETS_DIALOG_TIMEOUT"] = "1"
    first, second = two_calls(rig)
    assert "call this tool again" in first
    assert second.startswith("FAILED: Timed out"), second
    assert all(gone(r["pid"]) for r in rig.records())


def test_no_display_says_how_to_provide_it(rig: Rig) -> None:
    """The real default dialog with no DISPLAY at all: no prompt, a precise fallback. (This
    client could open a browser page, URL mode: `window` keeps it to the window here; the page
    is tests/test_urlmode.py's.)"""
    import shlex

    for var in ("DISPLAY", "WAYLAND_DISPLAY", "MCP_SECRETS_DIALOG"):
        rig.env.pop(var, None)
    rig.env["MCP_SECRETS_COLLECT"] = "window"
    text = asyncio.run(rig.call(choose("Continue"), "fetch_only"))
    assert text.startswith("FAILED: No display is available"), text
    assert f"mcp-secrets set {shlex.quote(rig.server_name)} api_key" in text
    assert rig.prompts == []


def test_no_display_reported_by_the_dialog(rig: Rig) -> None:
    rig.env["FAKE_DIALOG_MODE"] = "nodisplay"
    text = asyncio.run(rig.call(choose("Continue"), "fetch_only"))
    assert text.startswith("FAILED: No display is available"), text
    assert "mcp-secrets set" in text and rig.server_name in text
    # (On 2026-07-28 a dialog failing within EARLY_EXIT_GRACE spares the human the question;
    # on a loaded machine it may fail later, so whether a prompt was shown is not asserted.)


def test_modern_without_middleware_says_what_to_do(rig: Rig) -> None:
    rig.env["NO_MIDDLEWARE"] = "1"
    rig.env["FAKE_DIALOG_GATE"] = str(rig.tmp / "gate")
    (rig.tmp / "gate").touch()
    text = asyncio.run(rig.call(choose("Continue"), "fetch_only"))
    if rig.mode == "legacy":
        assert text.startswith("OK: Stored"), text
    else:
        assert text.startswith("ERROR:") and "secrets_manager.initialize(mcp)" in text, text
        assert rig.records() == []  # failed before any dialog was started


def test_modern_without_middleware_still_serves_a_client_that_cannot_elicit(rig: Rig) -> None:
    """The middleware only carries questions; with no question to ask (a client without
    elicitation), seed code that passed mcp.name must still collect through the dialog."""
    rig.env["NO_MIDDLEWARE"] = "1"
    text = two_calls(rig)[1]
    assert text.startswith("OK: Stored api_key"), text
    assert rig.manager.retrieve_secret("api_key") == rig.canary
    rig.assert_no_leak()


# ---------------------------------------------------------------- permission


def test_permission_allow_prompts_every_time(rig: Rig) -> None:
    rig.manager.store_secret("api_key", rig.canary)

    async def main() -> list[str]:
        async with rig.client(choose("Allow")) as c:
            return [await rig.call(None, "use_secret", {"name": "api_key"}, client=c)
                    for _ in range(2)]

    texts = asyncio.run(main())
    assert texts == [f"used api_key {fingerprint(rig.canary)}"] * 2
    assert len(rig.prompts) == 2
    message = rig.prompts[0][0]
    assert rig.server_name in message and "api_key" in message and "unit test" in message
    assert rig.prompts[0][1]["properties"]["value"]["enum"] == ["Allow", "Allow for session",
                                                                 "Deny"]
    rig.assert_no_leak()


def test_permission_allow_for_session(rig: Rig) -> None:
    rig.manager.store_secret("api_key", rig.canary)

    async def main() -> list[str]:
        async with rig.client(choose("Allow for session")) as c:
            return [await rig.call(None, "use_secret", {"name": "api_key"}, client=c)
                    for _ in range(3)]

    assert asyncio.run(main()) == [f"used api_key {fingerprint(rig.canary)}"] * 3
    assert len(rig.prompts) == 1
    # A new server process is a new session: it asks again.
    asyncio.run(rig.call(choose("Allow"), "use_secret", {"name": "api_key"}))
    assert len(rig.prompts) == 2
    rig.assert_no_leak()


@pytest.mark.parametrize("answer", ["Deny", "decline", "cancel"])
def test_permission_denied_is_a_tool_error(rig: Rig, answer: str) -> None:
    rig.manager.store_secret("api_key", rig.canary)
    human = choose("Deny") if answer == "Deny" else action(answer)
    text = asyncio.run(rig.call(human, "use_secret", {"name": "api_key"}))
    assert text.startswith("ERROR:") and "permission to use secret 'api_key'" in text, text
    assert ("denied" in text) == (answer == "Deny")
    rig.assert_no_leak()


@pytest.mark.parametrize("rig", ["2026-07-28"], indirect=True)  # request_state is 2026-era only
def test_permission_answer_cannot_be_replayed(rig: Rig) -> None:
    """2026-07-28: the client echoes the sealed request_state with an "Allow". Sending that
    same retry again (within the state's TTL) must ask the human again, not reuse the Allow."""
    import mcp_types

    rig.manager.store_secret("api_key", rig.canary)
    allow = mcp_types.ElicitResult(action="accept", content={"value": "Allow"})

    async def main() -> list[Any]:
        async with rig.client(choose("Allow")) as c:
            async def leg(responses: Any, state: str | None) -> Any:
                return await c.session.call_tool(
                    name="use_secret", arguments={"name": "api_key"},
                    input_responses=responses, request_state=state, allow_input_required=True)

            first = await leg(None, None)
            assert isinstance(first, mcp_types.InputRequiredResult)
            (key,) = first.input_requests
            answered = await leg({key: allow}, first.request_state)
            replayed = await leg({key: allow}, first.request_state)
            return [answered, replayed]

    answered, replayed = asyncio.run(main())
    assert isinstance(answered, mcp_types.CallToolResult) and not answered.is_error
    assert isinstance(replayed, mcp_types.InputRequiredResult), "a replayed Allow was accepted"
    rig.assert_no_leak()


def window_question(rig: Rig, human: Answer | None = None, calls: int = 2) -> list[str]:
    async def main() -> list[str]:
        async with rig.client(human) as c:
            return [await rig.call(None, "use_secret", {"name": "api_key"}, client=c)
                    for _ in range(calls)]

    return asyncio.run(main())


@pytest.mark.parametrize("choice", ["Allow", "Deny"])
def test_permission_without_elicitation_is_asked_in_the_window(rig: Rig, choice: str) -> None:
    """A client that cannot be asked: the permission question goes to the native window (a
    `choice` field), its code to the tool result; the next call applies the answer."""
    rig.manager.store_secret("api_key", rig.canary)
    rig.env["FAKE_DIALOG_CHOICE"] = choice
    first, second = window_question(rig)
    (rec,) = rig.records()
    (field_,) = rec["template"]["fields"]
    assert field_["field_type"] == "choice"
    assert field_["options"] == ["Allow", "Allow for session", "Deny"]
    assert first.startswith("ERROR:") and "call this tool again" in first, first
    assert code_in(first) == code_in(rec["template"]["description"])
    if choice == "Allow":
        assert second == f"used api_key {fingerprint(rig.canary)}"
    else:
        assert second.startswith("ERROR:") and "was denied" in second, second
        assert "MCP_BYPASS_SECRET_USE_CONFIRM" in second
    rig.assert_no_leak()


def test_permission_window_allow_for_session(rig: Rig) -> None:
    rig.manager.store_secret("api_key", rig.canary)
    rig.env["FAKE_DIALOG_CHOICE"] = "Allow for session"
    texts = window_question(rig, calls=4)
    assert texts[1:] == [f"used api_key {fingerprint(rig.canary)}"] * 3
    assert len(rig.records()) == 1


def test_server_may_prefer_the_window_over_an_auto_approving_client(rig: Rig) -> None:
    """MCP_SECRETS_PERMISSION_PROMPT=window: even a client that can elicit (and here answers
    "Allow" to everything by itself) is not asked; the human answers in the window."""
    rig.manager.store_secret("api_key", rig.canary)
    rig.env["MCP_SECRETS_PERMISSION_PROMPT"] = "window"
    rig.env["FAKE_DIALOG_CHOICE"] = "Deny"
    first, second = window_question(rig, choose("Allow"))
    assert rig.prompts == [], "the permission question went to the auto-approving client"
    assert "call this tool again" in first and code_in(first)
    assert second.startswith("ERROR:") and "was denied" in second, second


def test_permission_without_elicitation_and_no_display_says_what_to_do(rig: Rig) -> None:
    rig.manager.store_secret("api_key", rig.canary)
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "MCP_SECRETS_DIALOG"):
        rig.env.pop(var, None)
    text = asyncio.run(rig.call(None, "use_secret", {"name": "api_key"}))
    assert text.startswith("ERROR:") and "MCP_BYPASS_SECRET_USE_CONFIRM=true" in text, text


def test_bypass_variable(rig: Rig) -> None:
    rig.manager.store_secret("api_key", rig.canary)
    rig.env["MCP_BYPASS_SECRET_USE_CONFIRM"] = "true"
    text = asyncio.run(rig.call(None, "use_secret", {"name": "api_key"}))
    assert text == f"used api_key {fingerprint(rig.canary)}"
    rig.assert_no_leak()


def test_two_secrets_in_one_call(rig: Rig) -> None:
    """Modern era: two questions in two rounds; the first Allow rides along, single-use."""
    rig.manager.store_secret("first", rig.canary + "-1")
    rig.manager.store_secret("second", rig.canary + "-2")

    async def main() -> list[str]:
        async with rig.client(choose("Allow")) as c:
            return [await rig.call(None, "use_two", client=c) for _ in range(2)]

    texts = asyncio.run(main())
    expected = (f"used first {fingerprint(rig.canary + '-1')} "
                f"second {fingerprint(rig.canary + '-2')}")
    assert texts == [expected] * 2
    asked = ["'first'" in m and "'second'" not in m for m, _ in rig.prompts]
    assert asked == [True, False, True, False]  # one-time grants did not outlive their call
    rig.assert_no_leak()
    rig.manager.delete_secret("first")
    rig.manager.delete_secret("second")


# ---------------------------------------------------------------- the seed and the one-liner


def continue_then_allow(rig: Rig, gate: Path | None = None) -> Answer:
    async def human(message: str, schema: dict[str, Any]) -> Any:
        options = schema["properties"]["value"]["enum"]
        if "Continue" in options:
            if rig.mode == "legacy":
                rec = (await rig.wait_records())[-1]
                assert code_in(message) == code_in(rec["template"]["description"])
                rig.scan_argv()
            if gate is not None:
                gate.touch()
            return {"value": "Continue"}
        return {"value": "Allow"}

    return human


def test_seed_example_on_both_eras(rig: Rig) -> None:
    gate = rig.tmp / "gate"
    rig.env["FAKE_DIALOG_GATE"] = str(gate)
    text = asyncio.run(rig.call(continue_then_allow(rig, gate), "secure_api_request"))
    assert text == f"✅ Making API request with key {fingerprint(rig.canary)}"
    assert [p[1]["properties"]["value"]["enum"][0] for p in rig.prompts] == ["Continue", "Allow"]
    rig.assert_no_leak()


def test_seed_example_failure_message(rig: Rig) -> None:
    rig.env["FAKE_DIALOG_MODE"] = "hang"
    text = asyncio.run(rig.call(choose("Cancel"), "secure_api_request"))
    assert text.startswith("ERROR: ❌ Secret access failed: Nothing was stored"), text


def test_requires_secret_one_liner(rig: Rig) -> None:
    async def main() -> tuple[dict[str, Any], str, str]:
        async with rig.client(continue_then_allow(rig)) as c:
            tools = {t.name: t for t in await c.list_tools()}
            first = await rig.call(None, "search", {"q": "cats"}, client=c)
            again = await rig.call(None, "search", {"q": "dogs"}, client=c)
            return tools["search"].input_schema, first, again

    schema, first, again = asyncio.run(main())
    assert set(schema["properties"]) == {"q"}  # the secret is not a tool argument
    assert first == f"searched 'cats' with key {fingerprint(rig.canary)}"
    assert again == f"searched 'dogs' with key {fingerprint(rig.canary)}"
    # Collected once, then only the permission question.
    assert [p[1]["properties"]["value"]["enum"][0] for p in rig.prompts] == [
        "Continue", "Allow", "Allow"]
    rig.assert_no_leak()


def test_requires_secret_denied(rig: Rig) -> None:
    rig.manager.store_secret("api_key", rig.canary)
    text = asyncio.run(rig.call(choose("Deny"), "search", {"q": "x"}))
    assert text.startswith("ERROR:") and "permission to use secret 'api_key' was denied" in text


# ---------------------------------------------------------------- the real Tk dialog


@pytest.mark.display
def test_real_tk_dialog_end_to_end(rig: Rig) -> None:
    """The seed tool with the REAL dialog on Xvfb, typed into with xdotool."""
    rig.env.pop("MCP_SECRETS_DIALOG", None)
    title = f"MCP Secrets for {rig.server_name}"
    shots: list[Path] = []

    drivers: list[asyncio.Future[None]] = []

    async def human(message: str, schema: dict[str, Any]) -> Any:
        if "Continue" not in schema["properties"]["value"]["enum"]:
            return {"value": "Allow"}
        if rig.mode == "legacy":
            await drive()
        else:  # 2026-07-28: the window opens only after Continue
            drivers.append(asyncio.ensure_future(drive()))
        return {"value": "Continue"}

    async def drive() -> None:
        wid = await asyncio.to_thread(dialog_driver.find_window, title)
        await asyncio.to_thread(dialog_driver.wait_focus, wid)
        rig.scan_argv()  # the dialog is up; nothing has the value on its command line
        shot = dialog_driver.ARTIFACTS / f"e2e-dialog-{rig.mode}.png"
        shots.append(await asyncio.to_thread(dialog_driver.screenshot, shot, wid))
        await asyncio.to_thread(dialog_driver.type_text, rig.canary)
        rig.scan_argv()  # typed into the real window, not yet submitted: in no process's argv
        await asyncio.to_thread(dialog_driver.press, "Return")

    text = asyncio.run(rig.call(human, "secure_api_request"))
    assert text == f"✅ Making API request with key {fingerprint(rig.canary)}", text
    assert rig.manager.retrieve_secret("api_key") == rig.canary
    assert shots and shots[0].stat().st_size > 0 and rig.argv_scans == 2
    assert not dialog_driver.window_exists(title)
    rig.assert_no_leak()


@pytest.mark.display
def test_real_tk_dialog_declined_window_closes(rig: Rig) -> None:
    rig.env.pop("MCP_SECRETS_DIALOG", None)
    title = f"MCP Secrets for {rig.server_name}"

    async def human(message: str, schema: dict[str, Any]) -> Any:
        if rig.mode == "legacy":
            await asyncio.to_thread(dialog_driver.find_window, title)
        return ElicitResult(action="decline")

    text = asyncio.run(rig.call(human, "fetch_only"))
    assert text.startswith("FAILED: Nothing was stored: you declined"), text
    # Legacy: the window that opened beside the question is closed. 2026-07-28: it never
    # opened (a client that declines by itself must not flash a window on every call).
    assert not dialog_driver.window_exists(title), "dialog window after decline"


@pytest.mark.display
def test_stale_display_is_no_display(rig: Rig) -> None:
    """A DISPLAY left over from an SSH or tmux session, nothing listening behind it: nobody is
    asked about a window that cannot open, the reason says so, and the hint comes once."""
    rig.env.pop("MCP_SECRETS_DIALOG", None)
    rig.env["DISPLAY"] = ":9999"
    rig.env["MCP_SECRETS_COLLECT"] = "window"  # this client could open a page: the window only
    text = asyncio.run(rig.call(choose("Continue"), "fetch_only"))
    assert text.startswith("FAILED: No display is available"), text
    assert "DISPLAY is ':9999' but no X server listens" in text
    assert text.count("mcp-secrets set") == 1
    assert f"mcp-secrets set {rig.server_name} api_key" in text
    assert rig.prompts == []


@pytest.mark.display
def test_real_tk_permission_window_for_a_client_that_cannot_elicit(rig: Rig) -> None:
    """The permission question in the REAL Tk window (a `choice` field) on Xvfb: the first call
    returns the code, the human picks "Allow for session" with the keyboard, the next calls
    use the secret with no further window."""
    rig.env.pop("MCP_SECRETS_DIALOG", None)
    rig.manager.store_secret("api_key", rig.canary)
    title = f"MCP Secrets for {rig.server_name}"

    async def main() -> list[str]:
        async with rig.client(None) as c:
            first = await rig.call(None, "use_secret", {"name": "api_key"}, client=c)
            wid = await asyncio.to_thread(dialog_driver.find_window, title)
            await asyncio.to_thread(dialog_driver.wait_focus, wid)
            await asyncio.to_thread(dialog_driver.screenshot,
                                    dialog_driver.ARTIFACTS / f"e2e-permission-{rig.mode}.png", wid)
            await asyncio.to_thread(dialog_driver.press, "space")  # first option focused: Allow
            await asyncio.to_thread(dialog_driver.press, "Down")  # -> Allow for session
            await asyncio.to_thread(dialog_driver.press, "Return")
            rest = [await rig.call(None, "use_secret", {"name": "api_key"}, client=c)
                    for _ in range(2)]
            return [first, *rest]

    first, second, third = asyncio.run(main())
    assert first.startswith("ERROR:") and "call this tool again" in first and code_in(first)
    assert second == third == f"used api_key {fingerprint(rig.canary)}"
    assert not dialog_driver.window_exists(title)
    rig.assert_no_leak()


# ---------------------------------------------------------------- a client killed mid-dialog



def test_client_killed_mid_dialog_leaves_no_dialog(rig: Rig) -> None:
    """The MCP client process dies (SIGKILL) while the dialog is open and its question is
    pending: the server must exit and take the dialog with it, on both eras, even for a
    custom MCP_SECRETS_DIALOG that does not watch its parent (the fake just hangs)."""
    import contextlib
    import signal
    import subprocess

    rig.env["FAKE_DIALOG_MODE"] = "hang"
    client = subprocess.Popen(
        [sys.executable, str(HERE / "servers" / "doomed_client.py"), rig.mode, str(SERVER)],
        env=rig.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )
    try:
        assert client.stdout is not None
        assert client.stdout.readline() == b"PROMPTED\n"  # the question is in the client
        rec = asyncio.run(rig.wait_records())[0]
        assert not gone(rec["pid"]) and not gone(rec["ppid"])
        client.send_signal(signal.SIGKILL)
        client.wait()
        assert dead(rec["ppid"]), "the server outlived its client"
        assert dead(rec["pid"]), "orphan dialog: it outlived the server and the client"
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
        for r in rig.records():  # never leave a stray behind, even when the test failed
            with contextlib.suppress(ProcessLookupError):
                os.killpg(r["pid"], signal.SIGKILL)


# ---------------------------------------------------------------- one server, several clients


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.parametrize("rig", MODES, indirect=True)
def test_session_grant_belongs_to_one_client_session(rig: Rig) -> None:
    """Over HTTP one server process serves several clients. Client A's "Allow for session"
    must not hand the secret to client B without asking B's human. On 2026-07-28 without
    authentication nothing identifies a client between calls, so no session grant is kept."""
    import socket
    import subprocess
    import time

    rig.manager.store_secret("api_key", rig.canary)
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(SERVER)], env={**rig.env, "HTTP_PORT": str(port)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port}/mcp"
        seen: dict[str, int] = {"A": 0, "B": 0}

        def client(who: str, option: str) -> Client[Any]:
            async def handler(message: str, response_type: Any, params: Any, ctx: Any) -> Any:
                seen[who] += 1
                return {"value": option}

            return Client(url, mode=rig.mode, elicitation_handler=handler)

        async def main() -> list[str]:
            async with client("A", "Allow for session") as a, client("B", "Deny") as b:
                return [
                    await rig.call(None, "use_secret", {"name": "api_key"}, client=a),
                    await rig.call(None, "use_secret", {"name": "api_key"}, client=a),
                    await rig.call(None, "use_secret", {"name": "api_key"}, client=b),
                ]

        a1, a2, b1 = asyncio.run(main())
    finally:
        proc.terminate()
        proc.wait(10)
    ok = f"used api_key {fingerprint(rig.canary)}"
    assert a1 == ok and a2 == ok
    assert b1.startswith("ERROR:") and "denied" in b1, "client B got A's session grant"
    assert seen["B"] == 1
    assert seen["A"] == (1 if rig.mode == "legacy" else 2)  # no principal on 2026 HTTP
    rig.assert_no_leak()


def test_progress_notifications_while_the_human_types(rig: Rig) -> None:
    """Where the client gave a progress token, the wait for the window sends
    `notifications/progress` (clients that opted in reset their request timeout on them)."""
    from mcp_secrets import elicitation

    rig.env["FAKE_DIALOG_DELAY"] = str(elicitation.PROGRESS_EVERY + 2)
    notes: list[str | None] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        notes.append(message)

    async def main() -> str:
        transport = StdioTransport(sys.executable, [str(SERVER)], env=rig.env, log_file=rig.log)

        async def handler(message: str, response_type: Any, params: Any, context: Any) -> Any:
            rig.prompts.append((message, params.requested_schema))
            return {"value": "Continue"}

        async with Client(transport, mode=rig.mode, elicitation_handler=handler,
                          progress_handler=on_progress) as c:
            return await rig.call(None, "fetch_only", client=c)

    text = asyncio.run(main())
    assert text.startswith("OK: Stored api_key"), text
    assert notes and all(n and code_in(rig.prompts[0][0]) in n for n in notes), notes
    rig.assert_no_leak()
