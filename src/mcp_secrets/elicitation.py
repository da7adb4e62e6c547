"""Talking to the MCP client about a question, in one place: what the client can do (negotiated
revision and declared capabilities), asking it a Continue/Cancel or Allow/Deny question on
either protocol era, and reading its answer.

Two eras. On handshake-era revisions (2024-11-05 … 2025-11-25) the server sends
`elicitation/create` during the tool call (`ctx.elicit`). On 2026-07-28 there is no
back-channel: the tool *returns* an `InputRequiredResult` and the client retries the same call
with the answer; deep inside a tool that is done by raising `InputRequired`, which the FastMCP
middleware turns into the result. Elicitation exists only from revision 2025-06-18: below it a
client cannot be asked anything, whatever it declares.

The sealed `request_state` (FastMCP seals and TTL-bounds it) carries which question we asked,
one-time grants and flow ids between rounds; a nonce per question makes every answer count once.
Imports nothing heavy at module level: `mcp_types` and FastMCP are loaded when a question is asked.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, NoReturn

from mcp_secrets.errors import InputRequired, MiddlewareMissingError

#: Every released revision, oldest first (revisions are an enumerated set, not dates).
REVISIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28")
#: The first revision with `elicitation/create`, the first with form/url modes, the stateless one.
ELICITATION_SINCE = "2025-06-18"
MODES_SINCE = "2025-11-25"
MODERN = "2026-07-28"

#: Our top-level key inside the (sealed) request_state JSON.
STATE_ROOT = "mcp_secrets"
_LEG_KEY = "mcp_secrets.leg"
#: A question's answer is accepted for this long (FastMCP's request_state TTL).
QUESTION_TTL = 600.0


# ------------------------------------------------------------------ other frameworks' contexts


#: Contexts of frameworks other than FastMCP, by the top-level module of their class ->
#: "module:function" returning an object with the surface used here (FastMCP's Context's).
#: Imported by name when such a context arrives, so this layer never imports the glue.
CONTEXT_ADAPTERS: dict[str, str] = {"mcp": "mcp_secrets.integrations.mcp_sdk:adapt"}


def adapt(ctx: Any) -> Any:
    """`ctx` as this module expects it: FastMCP's Context (and None) unchanged, another
    framework's context through its adapter (the official SDK's `MCPServer` Context)."""
    if ctx is None:
        return None
    target = CONTEXT_ADAPTERS.get(type(ctx).__module__.partition(".")[0])
    if target is None:
        return ctx
    module, _, function = target.partition(":")
    return getattr(importlib.import_module(module), function)(ctx)


# ------------------------------------------------------------------ what the client can do


def negotiated_revision(ctx: Any) -> str | None:
    """The protocol revision of this connection, or None outside a request."""
    rc = getattr(ctx, "request_context", None)
    version = getattr(rc, "protocol_version", None)
    return version if isinstance(version, str) else None


def _at_least(version: str | None, floor: str) -> bool:
    """Unknown revision strings compare conservatively (as too old)."""
    if version not in REVISIONS:
        return False
    return REVISIONS.index(version) >= REVISIONS.index(floor)


def is_modern(ctx: Any) -> bool:
    """True on a 2026-07-28 (stateless) connection, where `ctx.elicit` is unavailable."""
    return negotiated_revision(ctx) == MODERN


def can_elicit(ctx: Any) -> bool:
    """True if this client can be asked a form-mode question on this connection: it negotiated
    2025-06-18 or later *and* declared form elicitation (`{}` alone means form)."""
    if not _at_least(negotiated_revision(ctx), ELICITATION_SINCE):
        return False
    try:
        caps = ctx.session.client_capabilities
    except Exception:
        return False
    elicitation = getattr(caps, "elicitation", None)
    if elicitation is None:
        return False
    form, url = getattr(elicitation, "form", None), getattr(elicitation, "url", None)
    return form is not None or url is None


def session_scope(ctx: Any) -> str | None:
    """Who "Allow for session" is granted to: this client session on a handshake-era
    connection; on 2026-07-28 the authenticated principal, or the server process on stdio
    (one client per process). None when nothing identifies the client from one call to the next
    (an unauthenticated 2026-07-28 HTTP request): then no session grant can be kept."""
    scope = getattr(ctx, "_session_scope_key", None)  # FastMCP's own rule for session state
    if callable(scope):
        try:
            value = scope()
        except Exception:
            return None
        return value if isinstance(value, str) else None
    if ctx is None or is_modern(ctx):
        return None
    try:
        return str(ctx.session_id)
    except Exception:
        return None


# ------------------------------------------------------------------ answers


@dataclass(frozen=True)
class Reply:
    """What came back from a question. `choice` is set only for an accepted, valid option."""

    outcome: Literal["accept", "decline", "cancel", "error"]
    choice: str | None = None
    detail: str = ""

    def explain(self) -> str:
        """What happened, in words a person can act on (never "cancelled" for a client error)."""
        if self.outcome == "decline":
            return "you declined the question in the MCP client"
        if self.outcome == "cancel":
            return "the question was dismissed in the MCP client"
        if self.outcome == "error":
            return f"the MCP client could not show the question ({self.detail})"
        if self.choice is not None:
            return f"you chose {self.choice!r} in the MCP client"
        return "the answer was not one of the offered options"


def read_answer(answer: Any, options: list[str]) -> Reply:
    """The one reader of an elicitation answer: FastMCP's `AcceptedElicitation(data=…)` on the
    handshake era, `ElicitResult(action, content={"value": …})` on 2026-07-28."""
    action = getattr(answer, "action", None)
    if action in ("decline", "cancel"):
        return Reply(action)
    if action != "accept":
        return Reply("error", detail="it sent an answer we cannot read")
    value = getattr(answer, "data", None)
    if value is None:
        content = getattr(answer, "content", None)
        value = content.get("value") if isinstance(content, Mapping) else None
    if isinstance(value, str) and value in options:
        return Reply("accept", value)
    return Reply("accept")


def describe_failure(exc: BaseException) -> str:
    """A client-side failure in words: unsupported method, timeout, or a lost connection."""
    code = getattr(exc, "code", None)
    if not isinstance(code, int):
        code = getattr(getattr(exc, "error", None), "code", None)
    if code == -32601:
        return "it does not support elicitation (-32601 method not found)"
    if isinstance(exc, TimeoutError) or code == -32001:
        return "it did not answer in time"
    if isinstance(code, int):
        return f"it answered with error {code}"
    return f"the connection failed: {type(exc).__name__}"


async def ask_now(ctx: Any, message: str, options: list[str]) -> Reply:
    """Handshake era: ask through `ctx.elicit` and wait for the answer (at 2025-06-18, which
    has no elicitation modes, without the `mode` field FastMCP would add)."""
    try:
        if _at_least(negotiated_revision(ctx), MODES_SINCE):
            answer = await ctx.elicit(message, list(options))
        else:
            answer = await _ask_without_mode(ctx, message, options)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # the client failed to answer: that is not the human's choice
        return Reply("error", detail=describe_failure(exc))
    return read_answer(answer, options)


async def _ask_without_mode(ctx: Any, message: str, options: list[str]) -> Any:
    """`elicitation/create` as revision 2025-06-18 defines it: message and schema only."""
    import mcp_types
    from mcp.shared.message import ServerMessageMetadata

    params = mcp_types.ElicitRequestFormParams.model_construct(
        message=message, requested_schema=choice_schema(options), mode=None
    )
    return await ctx.session.send_request(
        mcp_types.ElicitRequest(params=params),
        mcp_types.ElicitResult,
        metadata=ServerMessageMetadata(related_request_id=ctx.request_id),
    )


# ------------------------------------------------------------------ 2026-07-28 rounds


#: Questions sent and not yet answered: nonce -> expiry (monotonic). The sealed state can be
#: echoed again for its whole TTL; the nonce makes each answer count once.
_OPEN_QUESTIONS: dict[str, float] = {}


def _empty_state() -> dict[str, Any]:
    return {"asked": [], "flows": {}, "grants": {}, "nonce": "", "answered": []}


def incoming_state(ctx: Any) -> dict[str, Any]:
    """Our part of the request_state the client echoed (sealed by FastMCP, so it is ours)."""
    state = _empty_state()
    raw = getattr(ctx, "request_state", None)
    if not raw:
        return state
    try:
        data = json.loads(raw)
    except ValueError:
        return state
    ours = data.get(STATE_ROOT) if isinstance(data, dict) else None
    if isinstance(ours, dict):
        asked = ours.get("asked")
        if isinstance(asked, list):
            state["asked"] = [a for a in asked if isinstance(a, str)]
        if isinstance(ours.get("nonce"), str):
            state["nonce"] = ours["nonce"]
        for section in ("flows", "grants"):
            value = ours.get(section)
            if isinstance(value, dict):
                state[section] = {k: v for k, v in value.items() if isinstance(v, str)}
    return state


async def leg_state(ctx: Any) -> dict[str, Any]:
    """What this leg added (grants made, flows started); request-scoped, never serialized."""
    leg = await ctx.get_state(_LEG_KEY)
    if isinstance(leg, dict):
        return leg
    fresh = _empty_state()
    await ctx.set_state(_LEG_KEY, fresh, serializable=False)
    return fresh


async def response_for(ctx: Any, key: str, options: list[str]) -> Reply | None:
    """The client's answer to `key`, only if we really asked it last leg (the sealed state
    says so) and that question was not answered before: a client can neither skip a prompt
    by sending an unasked-for "Allow" nor replay an old retry to reuse one."""
    state = incoming_state(ctx)
    if key not in state["asked"]:
        return None
    responses = getattr(ctx, "input_responses", None) or {}
    answer = responses.get(key) if isinstance(responses, Mapping) else None
    if answer is None or not hasattr(answer, "action"):
        return None
    leg = await leg_state(ctx)
    nonce = state["nonce"]
    if nonce not in leg["answered"]:  # first look in this leg: the question must be open
        expiry = _OPEN_QUESTIONS.pop(nonce, None)
        if expiry is None or expiry <= time.monotonic():
            return None
        leg["answered"].append(nonce)
    return read_answer(answer, options)


def _open_question() -> str:
    now = time.monotonic()
    for stale in [n for n, exp in _OPEN_QUESTIONS.items() if exp <= now]:
        del _OPEN_QUESTIONS[stale]
    nonce = secrets.token_urlsafe(16)
    _OPEN_QUESTIONS[nonce] = now + QUESTION_TTL
    return nonce


def middleware_installed(server: Any) -> bool:
    """True when the server has a middleware that turns `InputRequired` into a result (the
    FastMCP glue's middleware says so with `handles_input_required`)."""
    return any(
        getattr(m, "handles_input_required", False) for m in getattr(server, "middleware", ())
    )


def require_middleware(ctx: Any) -> None:
    """On a 2026-07-28 connection, fail clearly when nobody will turn questions into results."""
    if not middleware_installed(getattr(ctx, "fastmcp", None)):
        raise MiddlewareMissingError(
            "this MCP client uses the stateless 2026-07-28 protocol, where mcp-secrets needs its "
            "middleware: call secrets_manager.initialize(mcp) with the server object (FastMCP's "
            "or the official SDK's MCPServer, not its name) at startup"
        )


def choice_schema(options: list[str]) -> dict[str, Any]:
    """The same single-choice schema `ctx.elicit(message, options)` sends (era parity)."""
    from fastmcp.server.elicitation import parse_elicit_response_type

    schema: dict[str, Any] = parse_elicit_response_type(list(options)).schema
    return schema


async def ask_later(
    ctx: Any, key: str, message: str, options: list[str], *, flows: dict[str, str] | None = None
) -> NoReturn:
    """2026-07-28: end this leg with one form-mode question; what is still needed rides in the
    sealed state, and the client retries the call with the answer."""
    import mcp_types

    params = mcp_types.ElicitRequestFormParams(
        message=message, requested_schema=choice_schema(options)
    )
    await _end_leg(ctx, key, params, flows)


async def _end_leg(ctx: Any, key: str, params: Any, flows: dict[str, str] | None) -> NoReturn:
    """Raise the `InputRequiredResult` asking `params` under `key`; the sealed state says we
    asked it (so only its answer counts, once) and carries grants and flow ids forward."""
    import mcp_types

    require_middleware(ctx)
    incoming = incoming_state(ctx)
    leg = await leg_state(ctx)
    state = {
        "asked": [key],
        "flows": {**incoming["flows"], **leg["flows"], **(flows or {})},
        "grants": {**incoming["grants"], **leg["grants"]},
        "nonce": _open_question(),
    }
    raise InputRequired(
        mcp_types.InputRequiredResult(
            input_requests={key: mcp_types.ElicitRequest(params=params)},
            request_state=json.dumps({STATE_ROOT: state}),
        )
    )


# ------------------------------------------------------------------ telling the client we wait


async def note(ctx: Any, text: str, progress: float | None = None) -> None:
    """Best-effort progress: `notifications/progress` when the client sent a progress token
    (clients that opted in reset their timeout on it), and a log message. A gone client must
    not fail the flow, and nothing the human must see travels only this way."""
    if ctx is None:
        return
    if progress is not None:
        with contextlib.suppress(Exception):  # best effort by design
            await ctx.report_progress(progress, None, text)
    try:
        await ctx.info(text)
    except Exception:
        return


# ------------------------------------------------------------------ answers still in a window


@dataclass
class Pending:
    """An out-of-band window the human has not finished yet. It outlives the tool call that
    opened it, so the next call uses what the human entered (no second window, same code)."""

    code: str
    session: Any  # ui_handler.DialogSession (the dialog layer sits beside this one)


#: Open windows by what they ask: ("fetch", server, *names) or ("permission", scope, server, name).
PENDING: dict[tuple[str | None, ...], Pending] = {}


def keep_pending(key: tuple[str | None, ...], pending: Pending) -> None:
    """Remember `pending` under `key` until its window exits and a later call collects it (or
    the dialog's own timeout closes it, after which the entry is dropped)."""
    PENDING[key] = pending

    def drop(_session: Any) -> None:
        loop = asyncio.get_running_loop()
        loop.call_later(QUESTION_TTL, lambda: PENDING.pop(key, None) if PENDING.get(key) is pending
                        else None)

    pending.session.add_done_callback(drop)


def call_budget() -> float:
    """Seconds one tool call may wait for a human (below common clients' 60 s timeout)."""
    from mcp_secrets import config

    raw = config.CALL_BUDGET.get() or "45"
    try:
        value = float(raw)
    except ValueError:
        value = 45.0
    return value if value > 0 else 45.0


async def wait_window(ctx: Any, pending: Pending, until: float) -> dict[str, str] | None:
    """The window's values, or None if the human is still at it when the loop clock reaches
    `until` (the window stays open). Progress goes to the client every few seconds meanwhile.
    Raises the dialog's own errors (cancelled, timed out, no display)."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(asyncio.shield(pending.session.wait_exit()))
    try:
        step = 0
        while True:
            left = until - loop.time()
            if left <= 0:
                return None
            done, _ = await asyncio.wait({task}, timeout=min(PROGRESS_EVERY, left))
            if done:
                values: dict[str, str] = await pending.session.wait()
                return values
            step += 1
            await note(ctx, f"Waiting for you in the window (verification code {pending.code}).",
                       progress=float(step))
    finally:
        if not task.done():
            task.cancel()


#: Seconds between progress notes while the human is at the window.
PROGRESS_EVERY = 10.0


def no_display_now(handler: Any) -> str | None:
    """Why our own dialog could not show a window here (None: it can, or it is not ours), so
    nobody is shown a code for a window that cannot open."""
    from mcp_secrets.display import display_problem

    return display_problem() if handler.is_default_dialog else None


# ------------------------------------------------------------------ URL mode (a browser page)


def can_elicit_url(ctx: Any) -> bool:
    """True if this client can be sent to an address (URL-mode elicitation): it negotiated
    2025-11-25 or later *and* declared `elicitation.url`. Never assume it from form mode."""
    if not _at_least(negotiated_revision(ctx), MODES_SINCE):
        return False
    try:
        caps = ctx.session.client_capabilities
    except Exception:
        return False
    return getattr(getattr(caps, "elicitation", None), "url", None) is not None


async def ask_url_now(ctx: Any, message: str, url: str, elicitation_id: str) -> Reply:
    """Handshake era: send a URL-mode `elicitation/create` and wait for the client's answer.
    "accept" only means the human agreed to open the address, not that anything was sent."""
    try:
        answer = await ctx.session.elicit_url(
            message, url, elicitation_id, related_request_id=ctx.request_id
        )
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # the client failed to answer: that is not the human's choice
        return Reply("error", detail=describe_failure(exc))
    return read_answer(answer, [])


async def ask_url_later(
    ctx: Any, key: str, message: str, url: str, elicitation_id: str,
    *, flows: dict[str, str] | None = None,
) -> NoReturn:
    """2026-07-28: end this leg with one URL-mode request (`flows` names the page's flow)."""
    import mcp_types

    params = mcp_types.ElicitRequestURLParams(
        message=message, url=url, elicitation_id=elicitation_id
    )
    await _end_leg(ctx, key, params, flows)


async def url_done(ctx: Any, elicitation_id: str) -> None:
    """Best effort `notifications/elicitation/complete` (handshake era: on 2026-07-28 the
    retried call's result is the completion), so a client can close what it showed."""
    if ctx is None or is_modern(ctx):
        return
    with contextlib.suppress(Exception):
        await ctx.session.send_elicit_complete(elicitation_id, related_request_id=ctx.request_id)
