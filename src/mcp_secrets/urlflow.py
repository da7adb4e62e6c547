"""Collecting secrets through a browser page (URL-mode elicitation), for where no window opens.

MCP 2025-11-25 says credentials must not travel through form-mode questions; URL mode sends
the human to an address instead. `fetch_secrets` serves its dialog template as a one-time page
on 127.0.0.1 (`urlform`) and asks the client to open it: during the call on handshake-era
revisions (`elicitation/create` with `mode: "url"`), or as the `InputRequiredResult` of the
first leg on 2026-07-28. The client's "accept" means only that the page was opened; the values
come from the page's own submission, which this flow waits for within the call budget. A slow
human finds the page still open on the next call (same page, same code, no second one), as with
a window. The page is bound to the flow by the verification code, which travels only in the
message to the client and which the human types on the page: the address itself leaks (clients
open it with `xdg-open`, visible to every local user). On 2026-07-28 the sealed request state
names the flow whose answer counts.

Used when the client declared `elicitation.url` and either no window can open here or
MCP_SECRETS_COLLECT=url asks for it; `window` never uses it.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from mcp_secrets import config, elicitation
from mcp_secrets.elicitation import Pending
from mcp_secrets.errors import DialogError

if TYPE_CHECKING:  # the page (http.server and friends) loads only when one is served
    from mcp_secrets.urlform import FormPage

MODES = ("auto", "url", "window")

#: The elicitation id and the 2026-07-28 flow id of each page we sent a client to.
_IDS: weakref.WeakKeyDictionary[FormPage, tuple[str, str]] = weakref.WeakKeyDictionary()


class Flow(Protocol):
    """What this module needs of the fetcher's flow (which it cannot import)."""

    server: str
    names: list[str]
    until: float
    parked: bool

    @property
    def pending_key(self) -> tuple[str, ...]: ...
    async def run(
        self, ctx: Any, body: Any, code: str | None = None, *, page: bool = False
    ) -> tuple[bool, str]: ...
    async def store(self, values: Mapping[str, str]) -> tuple[bool, str]: ...
    def failure(self, exc: DialogError) -> tuple[bool, str]: ...
    def call_again(self) -> str: ...
    def manual_fix(self) -> str: ...


def wanted(ctx: Any, handler: Any) -> bool | str:
    """True when this call should collect through a browser page; a one-line error (str) when
    MCP_SECRETS_COLLECT holds something we do not know."""
    setting = (config.COLLECT.get() or "auto").strip().lower()
    if setting not in MODES:
        return (f"MCP_SECRETS_COLLECT is {setting[:20]!r}; set it to auto, url or window. "
                "Nothing was stored.")
    if setting == "window" or not elicitation.can_elicit_url(ctx):
        return False
    return setting == "url" or elicitation.no_display_now(handler) is not None


def is_page(pending: Pending) -> bool:
    from mcp_secrets.urlform import FormPage

    return isinstance(pending.session, FormPage)


def message(flow: Flow, code: str) -> str:
    """What the client shows beside the address (it shows the full address itself). The code
    is only here: the page asks for it, so whoever merely learns the address cannot submit."""
    return (
        f"{flow.server} needs {', '.join(flow.names)}. Open the page at the address below in a "
        f"browser on the machine where {flow.server} runs. Verification code: {code} — type "
        "this code on the page, with your credentials. The page never shows it."
    )


async def collect(ctx: Any, flow: Flow) -> tuple[bool, str]:
    """Open the page and send the client to it, on whichever era this connection speaks."""
    if elicitation.is_modern(ctx):
        elicitation.require_middleware(ctx)  # before a page opens for nobody
        return await flow.run(ctx, _first_leg, page=True)
    return await flow.run(ctx, _handshake, page=True)


async def _handshake(ctx: Any, flow: Flow, code: str, page: FormPage) -> tuple[bool, str]:
    """Send the address and wait for the page; a client may answer before or after it."""
    eid = secrets.token_urlsafe(16)
    _IDS[page] = (eid, "")
    loop = asyncio.get_running_loop()
    question = asyncio.ensure_future(elicitation.ask_url_now(ctx, message(flow, code), page.url,
                                                             eid))
    sent = asyncio.ensure_future(page.wait_exit())
    try:
        done, _ = await asyncio.wait({question, sent}, timeout=max(0.0, flow.until - loop.time()),
                                     return_when=asyncio.FIRST_COMPLETED)
        if question in done:
            reply: elicitation.Reply = question.result()
            if reply.outcome == "error":
                return False, (f"Nothing was stored: {reply.explain()}, so the browser page "
                               "was closed; " + flow.manual_fix() + ".")
            if reply.outcome != "accept":
                return False, (f"Nothing was stored: {reply.explain()}, and the browser page "
                               "was closed; " + flow.call_again() + ".")
            return await _wait_page(ctx, flow, Pending(code, page))
        if not done:
            return False, ("Nothing was stored: the MCP client did not open the browser page in "
                           "time, and it was closed; " + flow.call_again() + ".")
        values = await page.wait()  # raises if the human cancelled it or it expired
        done, _ = await asyncio.wait({question}, timeout=max(0.0, flow.until - loop.time()))
        if done and question.result().outcome in ("decline", "cancel"):
            return False, (f"Nothing was stored: {question.result().explain()}; "
                           + flow.call_again() + ".")
        return await _store(ctx, flow, page, values)
    finally:
        for task in (question, sent):
            if not task.done():
                task.cancel()


async def _first_leg(ctx: Any, flow: Flow, code: str, page: FormPage) -> tuple[bool, str]:
    """2026-07-28: the page is up; end this leg with the URL-mode request. The page stays
    parked for the retry (or any later call), which waits for what the human sends."""
    eid, flow_id = secrets.token_urlsafe(16), secrets.token_urlsafe(12)
    _IDS[page] = (eid, flow_id)
    _park(flow, Pending(code, page))
    await elicitation.ask_url_later(ctx, _question_key(flow_id), message(flow, code), page.url,
                                    eid, flows={_flow_key(flow): flow_id})


async def resume(ctx: Any, flow: Flow, pending: Pending) -> tuple[bool, str]:
    """A page an earlier call (or leg) opened: honour the client's answer to it, if this is
    the 2026-07-28 retry carrying one, then wait for the page within this call's budget."""
    page: FormPage = pending.session
    elicitation.PENDING.pop(flow.pending_key, None)
    flow_id = elicitation.incoming_state(ctx)["flows"].get(_flow_key(flow))
    if flow_id and _IDS.get(page, ("", ""))[1] == flow_id:
        reply = await elicitation.response_for(ctx, _question_key(flow_id), [])
        if reply is not None and reply.outcome != "accept":
            await page.close()
            return False, (f"Nothing was stored: {reply.explain()}, and the browser page was "
                           "closed; " + flow.call_again() + ".")
    try:
        return await _wait_page(ctx, flow, pending)
    except DialogError as exc:
        return flow.failure(exc)
    finally:
        if not flow.parked:
            await page.close()


async def _wait_page(ctx: Any, flow: Flow, pending: Pending) -> tuple[bool, str]:
    """Store what the page sends before this call's budget ends, else park it for the next
    call. Progress goes to the client every few seconds meanwhile."""
    page: FormPage = pending.session
    loop = asyncio.get_running_loop()
    step = 0
    while not await page.wait_exit(min(elicitation.PROGRESS_EVERY,
                                       max(0.0, flow.until - loop.time()))):
        if loop.time() >= flow.until:
            return _park(flow, pending)
        step += 1
        await elicitation.note(ctx, f"Waiting for you in the browser page (verification code "
                               f"{pending.code}).", progress=float(step))
    return await _store(ctx, flow, page, await page.wait())


async def _store(ctx: Any, flow: Flow, page: FormPage, values: Mapping[str, str]
                 ) -> tuple[bool, str]:
    result = await flow.store(values)
    await page.close()
    eid = _IDS.get(page, ("", ""))[0]
    if eid:
        await elicitation.url_done(ctx, eid)
    return result


def _park(flow: Flow, pending: Pending) -> tuple[bool, str]:
    flow.parked = True
    elicitation.keep_pending(flow.pending_key, pending)
    return False, (
        f"The browser page for {flow.server} (verification code {pending.code}) is still "
        "open. Finish it, then call this tool again: what you enter there will be used, no "
        "second page opens. Nothing was stored yet."
    )


def _flow_key(flow: Flow) -> str:
    joined = "\0".join(["url", flow.server, *sorted(flow.names)])
    return "url:" + hashlib.sha256(joined.encode()).hexdigest()[:16]


def _question_key(flow_id: str) -> str:
    return f"mcp_secrets.fetch_url:{flow_id}"
