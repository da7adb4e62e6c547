"""URL-mode collection, end to end with real parts: a real server subprocess with no display
(tests/servers/url_server.py, memory store), a real `fastmcp.Client` on both protocol eras
whose elicitation handler opens the URL in the real headless Chromium (Debian's
/usr/bin/chromium driven by Playwright), checks that the page does not show the verification
code, types the code from the client's message and submits the form. Hostile requests (foreign
origin, no or wrong CSRF token, no or wrong code, wrong Host, replay, late) go to the same live
page.

Leak canary: every test plants a unique value and checks it never shows up in the server's
stderr log, the tool results, or anything the client was sent (elicitation messages, logs).
The page's own rules without a browser are in tests/test_urlform.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import re
import sys
import threading
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client
from fastmcp.client.elicitation import ElicitResult
from fastmcp.client.transports import StdioTransport

from tests.plain_http import request

pytestmark = pytest.mark.browser

HERE = Path(__file__).resolve().parent
SERVER = HERE / "servers" / "url_server.py"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
MODES = ["legacy", "2026-07-28"]
CODE_RE = re.compile(r"[A-Z2-9]{4}-[A-Z2-9]{4}")

Human = Callable[[str, Any, Any], Awaitable[Any]]


def fingerprint(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:12]


def code_in(text: str) -> str:
    found = CODE_RE.findall(text)
    assert len(found) == 1, f"expected exactly one verification code in {text!r}"
    return found[0]


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    """The system's Chromium, headless; fails loudly (no skip) if it is not installed."""
    from playwright.async_api import async_playwright

    assert Path(CHROMIUM).exists(), "chromium is missing: run scripts/setup (apt chromium)"
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


async def arequest(url: str, **kw: Any) -> tuple[int, str]:
    return await asyncio.to_thread(request, url, **kw)


@dataclass
class UrlRig:
    tmp: Path
    server_name: str
    mode: str
    canary: str = field(default_factory=lambda: f"canary-{uuid.uuid4().hex}")
    env: dict[str, str] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    results: list[str] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("DISPLAY", "WAYLAND_DISPLAY")}  # a headless machine
        self.env.update({
            "SERVER_NAME": self.server_name,
            "FASTMCP_LOG_LEVEL": "DEBUG",
            "MCP_SECRETS_BACKEND": "memory",
            "MCP_SECRETS_STATE_DIR": str(self.tmp / "state"),
            "GUARD": "0",  # the leak checks test our code, not the output guard's net
        })
        self.log = self.tmp / "server.log"

    def client(self, human: Human | None) -> Client[Any]:
        transport = StdioTransport(sys.executable, [str(SERVER)], env=self.env,
                                   log_file=self.log)

        async def log_handler(message: Any) -> None:
            self.logs.append(json.dumps(message.data, default=str))

        if human is None:
            return Client(transport, mode=self.mode, log_handler=log_handler)

        return Client(transport, mode=self.mode, elicitation_handler=self.handler(human),
                      log_handler=log_handler)

    def handler(self, human: Human) -> Any:
        """The client's elicitation handler: records what it was sent, then plays `human`."""
        async def handler(message: str, response_type: Any, params: Any, context: Any) -> Any:
            self.messages.append(message)
            assert getattr(params, "mode", None) == "url", "a secret was asked in form mode"
            self.urls.append(params.url)
            try:
                return await human(message, params.url, params)
            except BaseException as exc:  # the client turns it into -32603: keep it for the test
                self.errors.append(exc)
                raise

        return handler

    async def call(self, c: Client[Any], tool: str = "fetch_key") -> str:
        res = await c.call_tool(tool, {})
        self.check_human()
        text = res.content[0].text if res.content else ""
        self.results.append(text)
        return text

    def check_human(self) -> None:
        """Re-raise what failed inside the elicitation handler (the client hides it)."""
        if self.errors:
            raise self.errors[0]

    def assert_no_leak(self, *, logs_something: bool = True) -> None:
        for text in [*self.results, *self.messages, *self.logs, *self.urls]:
            assert self.canary not in text
        log = self.log.read_text() if self.log.exists() else ""
        if logs_something:  # FastMCP at DEBUG: an empty log would make this check prove nothing
            assert log, "the server wrote no log at all"
        assert self.canary not in log


@pytest.fixture(params=MODES)
def rig(request: pytest.FixtureRequest, tmp_path: Path, server_name: str) -> UrlRig:
    return UrlRig(tmp_path, server_name, request.param)


def accept() -> ElicitResult[Any]:
    return ElicitResult(action="accept")


class Attacker:
    """Another page on 127.0.0.1 (another port: same site, foreign origin) whose form posts
    to the credential page with the right field names and even the right CSRF token."""

    def __init__(self, target: str, csrf: str) -> None:
        form = (f'<form method="post" action="{target}"><input name="csrf" value="{csrf}">'
                '<input name="f:api_key" value="attacker-value">'
                '<button id="go" name="action" value="submit">go</button></form>')

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                data = form.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Attacker:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


async def open_page(browser: Any, url: str, message: str) -> Any:
    """The human opens the address; the page must not show the client's code."""
    page = await browser.new_page()
    response = await page.goto(url)
    assert response.status == 200
    code = code_in(message)
    source = await page.content()
    assert code not in source and code.replace("-", "") not in source
    return page


async def fill_and_submit(page: Any, code: str, api_key: str, endpoint: str = "") -> Any:
    """Type the code the client shows, then the values, and press Save."""
    await page.fill("#code", code)
    await page.fill("#field-0", api_key)
    await page.fill("#field-1", endpoint)
    async with page.expect_navigation() as nav:
        await page.click("#submit")
    return await nav.value


# ---------------------------------------------------------------- the whole flow


def test_browser_collects_the_secret_and_hostile_requests_are_refused(rig: UrlRig) -> None:
    """The client gets a URL-mode request for a 127.0.0.1 page showing the code of its
    message; foreign, tokenless and misaddressed posts are refused, a bad value re-renders the
    form with its error, the real submission stores the secret, a replay is refused, and once
    the tool has returned nothing answers at that address."""
    seen: dict[str, Any] = {}

    async def human(message: str, url: str, params: Any) -> Any:
        parts = urllib.parse.urlsplit(url)
        assert parts.scheme == "http" and parts.hostname == "127.0.0.1" and parts.port
        assert len(parts.path) > 40 and not parts.query  # an unguessable path, nothing else
        assert rig.server_name in message and "api_key" in message
        async with chromium() as browser:
            page = await browser.new_page()
            response = await page.goto(url)
            assert response.status == 200
            headers = response.headers
            assert headers["cache-control"] == "no-store"
            assert headers["x-frame-options"] == "DENY"
            assert headers["referrer-policy"] == "no-referrer"
            assert "frame-ancestors 'none'" in headers["content-security-policy"]
            code = code_in(message)
            source = await page.content()
            assert code not in source and code.replace("-", "") not in source
            assert "Verification code shown by your MCP client" in await page.inner_text(
                "label[for=code]")
            assert rig.server_name in await page.title()
            csrf = await page.get_attribute("input[name=csrf]", "value")
            seen["csrf"] = csrf

            # A page on another 127.0.0.1 port posts to ours, with the right token: refused.
            with Attacker(url, csrf) as attacker:
                other = await browser.new_page()
                await other.goto(attacker.url)
                async with other.expect_navigation() as nav:
                    await other.click("#go")
                assert (await nav.value).status == 403
            good = {"csrf": csrf, "f:api_key": "attacker-value", "action": "submit"}
            assert (await arequest(url, data={**good, "csrf": "wrong"}))[0] == 403
            assert (await arequest(url, data={k: v for k, v in good.items() if k != "csrf"})
                    )[0] == 403
            assert (await arequest(url, data=good, headers={"Origin": "http://evil.example"})
                    )[0] == 403
            rebound = {"Host": f"evil.example:{parts.port}"}  # DNS rebinding
            assert (await arequest(url, headers=rebound))[0] == 421
            assert (await arequest(url, data={**good, "code": code}, headers=rebound))[0] == 421
            # Whoever learned the address (xdg-open's argv is in /proc) fetches the page and
            # posts with its very token, as from the page itself: without the client's code,
            # refused, nothing stored, nothing echoed.
            for guess in ({}, {"code": "WXYZ-2345"}):
                status, body = await arequest(url, data={**good, **guess},
                                              headers={"Origin": "null"})
                assert status == 422 and "attacker-value" not in body and code not in body

            # A bad value: the form comes back with the error, still usable.
            bad = await fill_and_submit(page, code, rig.canary, "ftp://example.com")
            assert bad.status == 422
            assert "https://" in await page.inner_text("#field-1-error")
            assert await page.input_value("#field-0") == ""  # a password is never echoed
            assert await page.input_value("#code") == ""  # nor the code
            assert code not in await page.content()

            done = await fill_and_submit(page, code, rig.canary, "https://api.example.com")
            assert done.status == 200
            assert "close this tab" in await page.inner_text("#message")
            # The same submission again: refused, the first one stands.
            assert (await arequest(url, data={**good, "f:api_key": "replayed"},
                                   headers={"Origin": "null"}))[0] == 410
        return accept()

    async def main() -> tuple[str, str]:
        async with rig.client(human) as c:
            text = await rig.call(c)
            return text, await rig.call(c, "stored")

    text, stored = asyncio.run(main())
    assert text.startswith("OK: Stored api_key, endpoint"), text
    assert json.loads(stored) == {"api_key": fingerprint(rig.canary),
                                  "endpoint": fingerprint("https://api.example.com")}
    assert len(rig.urls) == 1
    assert request(rig.urls[0])[0] == 0  # the page is gone: nothing listens there any more
    rig.assert_no_leak()


def test_decline_stores_nothing_and_closes_the_page(rig: UrlRig) -> None:
    async def human(message: str, url: str, params: Any) -> Any:
        assert (await arequest(url))[0] == 200  # it is up while the client decides
        return ElicitResult(action="decline")

    async def main() -> tuple[str, str]:
        async with rig.client(human) as c:
            return await rig.call(c), await rig.call(c, "stored")

    text, stored = asyncio.run(main())
    assert text.startswith("FAILED: Nothing was stored: you declined"), text
    assert json.loads(stored) == {"api_key": None, "endpoint": None}
    assert request(rig.urls[0])[0] == 0
    rig.assert_no_leak()


def test_slow_human_finds_the_same_page_on_the_next_call(rig: UrlRig) -> None:
    """As real clients do: "accept" right after opening the browser. The human takes longer
    than one call may wait, so the call returns "still open"; the human then submits, and the
    next call stores it: no second page, no second request, the same code."""
    rig.env["MCP_SECRETS_CALL_BUDGET"] = "1.5"

    async def human(message: str, url: str, params: Any) -> Any:
        return accept()

    async def main() -> tuple[str, str, str]:
        async with rig.client(human) as c:
            first = await rig.call(c)
            async with chromium() as browser:
                page = await open_page(browser, rig.urls[0], rig.messages[0])
                await fill_and_submit(page, code_in(rig.messages[0]), rig.canary)
            second = await rig.call(c)
            return first, second, await rig.call(c, "stored")

    first, second, stored = asyncio.run(main())
    assert "still open" in first and code_in(first) == code_in(rig.messages[0]), first
    assert second.startswith("OK: Stored api_key"), second
    assert json.loads(stored)["api_key"] == fingerprint(rig.canary)
    assert len(rig.urls) == 1  # one page, one request
    rig.assert_no_leak()


def test_late_submission_is_refused(rig: UrlRig) -> None:
    """The client opens the page at once; the human fills it in but submits only after the
    page expired: the call ends with a clear "timed out", the late post reaches nothing."""
    rig.env["MCP_SECRETS_PAGE_EXPIRY"] = "3"
    outcome: list[str] = []
    tasks: list[asyncio.Task[None]] = []

    async def main() -> tuple[str, str]:
        async with chromium() as browser:  # started first: the page's clock runs from the call
            async def late(url: str) -> None:
                page = await browser.new_page()
                await page.goto(url)
                await page.fill("#code", code_in(rig.messages[0]))
                await page.fill("#field-0", rig.canary)
                await asyncio.sleep(4)  # the human walks away; the page expires
                try:
                    async with page.expect_navigation() as nav:
                        await page.click("#submit")
                    outcome.append(f"status {(await nav.value).status}")
                except Exception as exc:  # the listener is closed: the browser cannot connect
                    outcome.append(f"refused {type(exc).__name__}")

            async def human(message: str, url: str, params: Any) -> Any:
                tasks.append(asyncio.ensure_future(late(url)))
                return accept()

            async with rig.client(human) as c:
                text = await rig.call(c)
                await asyncio.gather(*tasks)
                return text, await rig.call(c, "stored")

    text, stored = asyncio.run(main())
    assert text.startswith("FAILED: Timed out: nobody submitted the credential page"), text
    assert outcome and (outcome[0].startswith("refused") or outcome[0] == "status 410"), outcome
    assert json.loads(stored)["api_key"] is None
    assert request(rig.urls[0])[0] == 0
    rig.assert_no_leak()


def test_cancel_on_the_page_stores_nothing(rig: UrlRig) -> None:
    """The client opens the page and answers at once (as real ones do); the human presses
    Cancel there: the call ends "cancelled", nothing stored."""
    tasks: list[asyncio.Task[None]] = []

    async def cancel(url: str) -> None:
        async with chromium() as browser:
            page = await browser.new_page()
            await page.goto(url)
            await page.fill("#field-0", rig.canary)
            async with page.expect_navigation():
                await page.click("#cancel")
            assert "Nothing was sent" in await page.inner_text("#message")

    async def human(message: str, url: str, params: Any) -> Any:
        tasks.append(asyncio.ensure_future(cancel(url)))
        return accept()

    async def main() -> tuple[str, str]:
        async with rig.client(human) as c:
            text = await rig.call(c)
            await asyncio.gather(*tasks)
            return text, await rig.call(c, "stored")

    text, stored = asyncio.run(main())
    assert text.startswith("FAILED: Cancelled"), text
    assert json.loads(stored)["api_key"] is None
    rig.assert_no_leak()


def test_an_official_sdk_server_collects_through_the_page(rig: UrlRig) -> None:
    """The same page from a server built on the official `mcp` SDK (tests/servers/
    sdk_server.py, its glue adapting the context), on both eras."""
    rig.env["MCP_BYPASS_SECRET_USE_CONFIRM"] = "true"  # the read-back below asks nobody

    async def main() -> tuple[str, str]:
        async with chromium() as browser:
            async def human(message: str, url: str, params: Any) -> Any:
                page = await open_page(browser, url, message)
                await page.fill("#code", code_in(message))
                await page.fill("#field-0", rig.canary)
                async with page.expect_navigation():
                    await page.click("#submit")
                return accept()

            transport = StdioTransport(sys.executable, [str(HERE / "servers" / "sdk_server.py")],
                                       env=rig.env, log_file=rig.log)
            async with Client(transport, mode=rig.mode, elicitation_handler=rig.handler(human)
                              ) as c:
                text = (await c.call_tool("fetch_only", {})).content[0].text
                used = (await c.call_tool("use_secret", {"name": "api_key"})).content[0].text
                rig.results += [text, used]
                rig.check_human()
                return text, used

    text, used = asyncio.run(main())
    assert text.startswith("OK: Stored api_key"), text
    assert used == f"used api_key {fingerprint(rig.canary)}"
    rig.assert_no_leak(logs_something=False)  # the SDK's server is quiet on stderr by default


def test_a_watcher_who_learned_the_address_cannot_plant_a_value(rig: UrlRig) -> None:
    """The reproduced attack: a local process reads the address off xdg-open's argv, fetches
    the page and posts its own key with the page's CSRF token. Without the client's code it is
    refused (422), nothing is stored; the human, who types the code, still gets theirs in."""
    attempts: list[int] = []

    async def human(message: str, url: str, params: Any) -> Any:
        status, body = await arequest(url)  # the watcher, first
        csrf = re.search(r'name="csrf" value="([^"]+)"', body)
        assert status == 200 and csrf and code_in(message) not in body
        for guess in ({}, {"code": "WXYZ-2345"}, {"code": "abcd efgh"}):
            attempts.append((await arequest(url, data={
                "csrf": csrf.group(1), "action": "submit", "f:api_key": "planted-" + rig.canary,
                **guess}))[0])
        async with chromium() as browser:
            page = await open_page(browser, url, message)
            await fill_and_submit(page, code_in(message), rig.canary)
        return accept()

    async def main() -> tuple[str, str]:
        async with rig.client(human) as c:
            return await rig.call(c), await rig.call(c, "stored")

    text, stored = asyncio.run(main())
    assert attempts == [422, 422, 422]
    assert text.startswith("OK: Stored api_key"), text
    assert json.loads(stored)["api_key"] == fingerprint(rig.canary)  # the human's, not planted
    rig.assert_no_leak()


def test_too_many_wrong_codes_close_the_page_and_the_tool_says_so(rig: UrlRig) -> None:
    """Five wrong codes (a guesser): the page closes for good, the call ends saying so, and
    nothing is stored, not even when the right code comes afterwards. The guesser runs beside
    the client (which answers at once, as real ones do): the call may end before it is done."""
    tasks: list[asyncio.Task[None]] = []

    async def guesser(message: str, url: str) -> None:
        body = (await arequest(url))[1]
        csrf = re.search(r'name="csrf" value="([^"]+)"', body)
        assert csrf
        data = {"csrf": csrf.group(1), "action": "submit", "f:api_key": rig.canary}
        statuses = [(await arequest(url, data={**data, "code": f"WXYZ-234{i}"}))[0]
                    for i in range(5)]
        assert statuses == [422, 422, 422, 422, 403]
        late = (await arequest(url, data={**data, "code": code_in(message)}))[0]
        assert late in (0, 410)

    async def human(message: str, url: str, params: Any) -> Any:
        tasks.append(asyncio.ensure_future(guesser(message, url)))
        return accept()

    async def main() -> tuple[str, str]:
        async with rig.client(human) as c:
            text = await rig.call(c)
            await asyncio.gather(*tasks)
            return text, await rig.call(c, "stored")

    text, stored = asyncio.run(main())
    assert text.startswith("FAILED: Too many wrong verification codes"), text
    assert "Nothing was stored" in text and "call the tool again" in text, text
    assert json.loads(stored)["api_key"] is None
    assert request(rig.urls[0])[0] == 0
    rig.assert_no_leak()


# ---------------------------------------------------------------- when the page is not used


def test_client_without_url_mode_gets_the_set_hint(rig: UrlRig) -> None:
    """No display and no elicitation at all: no page opens, the hint names `mcp-secrets set`."""
    async def main() -> str:
        async with rig.client(None) as c:
            return await rig.call(c)

    text = asyncio.run(main())
    assert text.startswith("FAILED: No display") and "mcp-secrets set" in text, text
    assert "127.0.0.1" not in text


def test_a_form_only_client_gets_the_set_hint_not_a_page(tmp_path: Path,
                                                         server_name: str) -> None:
    """The official TypeScript SDK v1 client declares `elicitation: {form: {}}` only: with no
    display, the server must not send it a URL it never said it could open."""
    import shutil
    import subprocess

    node = shutil.which("node")
    interop = HERE / "interop"
    assert node and (interop / "node_modules").is_dir(), "run scripts/setup (node, npm ci)"
    r = UrlRig(tmp_path, server_name, "legacy")
    plan = {"command": sys.executable, "args": [str(SERVER)], "env": r.env, "mode": "legacy",
            "elicit": True, "answers": [], "calls": [{"tool": "fetch_key"}]}
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan))
    proc = subprocess.run([node, str(interop / "client_v1.mjs"), str(plan_file)], cwd=interop,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert not [line for line in lines if "prompt" in line]  # asked nothing, sent no URL
    (result,) = [line for line in lines if line.get("tool") == "fetch_key"]
    assert result["text"].startswith("FAILED: No display"), result
    assert "mcp-secrets set" in result["text"] and "127.0.0.1" not in result["text"]


@pytest.mark.parametrize("setting", ["window", "bogus"])
def test_the_collect_setting(rig: UrlRig, setting: str) -> None:
    """`window` never serves a page (here: the no-display hint); an unknown value is a clear
    one-line error; neither sends the client anywhere."""
    rig.env["MCP_SECRETS_COLLECT"] = setting

    async def human(message: str, url: str, params: Any) -> Any:
        raise AssertionError("no URL may be sent")

    async def main() -> str:
        async with rig.client(human) as c:
            return await rig.call(c)

    text = asyncio.run(main())
    if setting == "window":
        assert text.startswith("FAILED: No display") and "mcp-secrets set" in text, text
    else:
        assert "MCP_SECRETS_COLLECT is 'bogus'; set it to auto, url or window" in text, text
    assert rig.urls == []


def test_url_setting_prefers_the_page_over_a_display(rig: UrlRig) -> None:
    """MCP_SECRETS_COLLECT=url: the page even where a window could open (DISPLAY is set)."""
    rig.env["MCP_SECRETS_COLLECT"] = "url"
    rig.env["DISPLAY"] = ":97"  # no window is opened, so no X server is needed behind it

    async def human(message: str, url: str, params: Any) -> Any:
        async with chromium() as browser:
            page = await open_page(browser, url, message)
            await fill_and_submit(page, code_in(message), rig.canary)
        return accept()

    async def main() -> str:
        async with rig.client(human) as c:
            return await rig.call(c)

    assert asyncio.run(main()).startswith("OK: Stored api_key")
    rig.assert_no_leak()
