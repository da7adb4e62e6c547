"""Per-use permission: before a secret is handed to a tool, the human picks Allow, Allow for
session, or Deny (the value itself is never shown).

Where the question is asked:
- in the MCP client (a form-mode choice) when the client can elicit on this connection;
- otherwise, or when MCP_SECRETS_PERMISSION_PROMPT=window, in the native window through the
  dialog protocol's `choice` field, guarded by a verification code. The code must reach the
  human through something every client shows, so the first call returns it in the tool's
  result (`AnswerPendingError`) and the next call reads the window's answer.

"Allow for session" belongs to one client session (on 2026-07-28, to the authenticated principal,
or the process on stdio), never to every client of the server process; grants live in memory
only. MCP_BYPASS_SECRET_USE_CONFIRM=true skips the question for unattended servers. On
2026-07-28 a one-time "Allow" given in an earlier round of the same call is a single-use
server-side token, so a tool needing two secrets works across rounds and a replay cannot reuse it.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

from mcp_secrets import audit, config, elicitation
from mcp_secrets.errors import AnswerPendingError, DialogError, PermissionDeniedError
from mcp_secrets.verification import new_code

ALLOW = "Allow"
ALLOW_SESSION = "Allow for session"
DENY = "Deny"
OPTIONS = [ALLOW, ALLOW_SESSION, DENY]
#: A one-time grant outlives its round trip by at most this long (FastMCP's state TTL).
GRANT_TTL = 600.0
#: A window that fails within this long (no display) is reported instead of its code.
EARLY_EXIT_GRACE = 0.3

#: (session scope, server, secret) of every "Allow for session".
_session_grants: set[tuple[str, str, str]] = set()
_call_grants: dict[str, tuple[str, str, float]] = {}


def permission_message(server_name: str, secret_name: str, reason: str | None) -> str:
    text = f"{server_name} wants to use the secret '{secret_name}'."
    if reason:
        text += f" Reason: {reason}"
    return text + " Allow this use?"


def _next_steps(secret_name: str) -> str:
    return (
        f"call the tool again to be asked again; for an unattended server that may always use "
        f"{secret_name!r}, set MCP_BYPASS_SECRET_USE_CONFIRM=true"
    )


def clear_session_grants() -> None:
    """Forget every "Allow for session" (for tests)."""
    _session_grants.clear()


async def finish_call(ctx: Any) -> None:
    """Invalidate this call's one-time grants once it has really finished (the framework glue
    calls it; `ctx` is a context `elicitation` understands, or None outside a request)."""
    if ctx is None:
        return
    state = elicitation.incoming_state(ctx)
    leg = await elicitation.leg_state(ctx)
    for token in [*state["grants"].values(), *leg["grants"].values()]:
        _call_grants.pop(token, None)


def _decide(choice: str | None, why: str, scope: str | None, key: tuple[str, str]) -> None:
    """Apply an answer: return on Allow / Allow for session, raise on anything else."""
    server_name, secret_name = key
    audit.record("permission", server=server_name, name=secret_name, outcome=choice or "no answer")
    if choice == ALLOW_SESSION:
        if scope is not None:
            _session_grants.add((scope, server_name, secret_name))
        return
    if choice == ALLOW:
        return
    if choice == DENY:
        raise PermissionDeniedError(
            f"permission to use secret {secret_name!r} was denied; " + _next_steps(secret_name)
        )
    raise PermissionDeniedError(
        f"permission to use secret {secret_name!r} was not given: {why}; "
        + _next_steps(secret_name)
    )


def prefers_window() -> bool:
    """MCP_SECRETS_PERMISSION_PROMPT=window: ask in the native window even when the client
    could answer (a client set to auto-approve would answer for the human)."""
    return (config.PERMISSION_PROMPT.get() or "client").strip().lower() == "window"


async def request_permission(
    ctx: Any, server_name: str, secret_name: str, reason: str | None = None
) -> None:
    """Return if the human allows this use of `secret_name`; raise PermissionDeniedError if not,
    AnswerPendingError while the question waits in the native window."""
    if config.BYPASS_CONFIRM.flag():
        return
    ctx = elicitation.adapt(ctx)
    key = (server_name, secret_name)
    scope = elicitation.session_scope(ctx)
    if scope is not None and (scope, server_name, secret_name) in _session_grants:
        return
    if ctx is None:
        raise PermissionDeniedError(
            f"permission to use secret {secret_name!r} is required, but there is no MCP client "
            "to ask; for an unattended server set MCP_BYPASS_SECRET_USE_CONFIRM=true"
        )
    message = permission_message(server_name, secret_name, reason)
    if elicitation.can_elicit(ctx) and not prefers_window():
        if elicitation.is_modern(ctx):
            await _modern(ctx, key, scope, message)
            return
        reply = await elicitation.ask_now(ctx, message, OPTIONS)
        _decide(reply.choice, reply.explain(), scope, key)
        return
    await _in_window(ctx, key, scope, reason)


async def _modern(ctx: Any, key: tuple[str, str], scope: str | None, message: str) -> None:
    server_name, secret_name = key
    ask_key = f"mcp_secrets.permission:{server_name}:{secret_name}"
    reply = await elicitation.response_for(ctx, ask_key, OPTIONS)
    if reply is not None:
        _decide(reply.choice, reply.explain(), scope, key)
        # Allowed: remember it for later rounds of this same call only.
        now = time.monotonic()
        for stale in [t for t, g in _call_grants.items() if g[2] <= now]:
            del _call_grants[stale]
        token = secrets.token_urlsafe(16)
        _call_grants[token] = (server_name, secret_name, now + GRANT_TTL)
        leg = await elicitation.leg_state(ctx)
        leg["grants"][ask_key] = token
        return
    token = elicitation.incoming_state(ctx)["grants"].get(ask_key)
    if token is not None:
        grant = _call_grants.get(token)
        if grant is not None and grant[:2] == key and grant[2] > time.monotonic():
            return
        _call_grants.pop(token, None)
    await elicitation.ask_later(ctx, ask_key, message, OPTIONS)


# ------------------------------------------------------------------ the out-of-band question


def permission_template(server_name: str, secret_name: str, reason: str | None,
                        code: str) -> dict[str, Any]:
    """The dialog template: the code first in the description, one `choice` field."""
    text = f"Verification Code: {code}\n\n" + permission_message(server_name, secret_name, reason)
    text += (
        "\n\nCheck that your MCP client shows the same code before you answer. If the codes "
        "differ, choose Deny: this window is not genuine."
    )
    return {
        "title": f"MCP Secrets for {server_name}"[:200],
        "description": text,
        "fields": [{
            "name": "decision", "label": "Use this secret?", "field_type": "choice",
            "options": list(OPTIONS), "required": True,
        }],
    }


async def _in_window(ctx: Any, key: tuple[str, str], scope: str | None,
                     reason: str | None) -> None:
    server_name, secret_name = key
    pending_key = ("permission", scope, server_name, secret_name)
    pending = elicitation.PENDING.get(pending_key)
    if pending is None:
        await _open_window(ctx, key, scope, reason)  # raises AnswerPendingError with the code
        return
    until = asyncio.get_running_loop().time() + elicitation.call_budget()
    try:
        values = await elicitation.wait_window(ctx, pending, until)
    except DialogError as exc:
        elicitation.PENDING.pop(pending_key, None)
        raise PermissionDeniedError(
            f"permission to use secret {secret_name!r} was not given: the permission window "
            f"ended without an answer ({exc}); " + _next_steps(secret_name)
        ) from None
    if values is None:
        raise AnswerPendingError(
            f"Still waiting for your answer in the window titled 'MCP Secrets for {server_name}' "
            f"(verification code {pending.code}); answer there, then call this tool again."
        )
    elicitation.PENDING.pop(pending_key, None)
    _decide(values.get("decision"), "the window returned no choice", scope, key)


async def _open_window(ctx: Any, key: tuple[str, str], scope: str | None,
                       reason: str | None) -> None:
    from mcp_secrets.dialog.launcher import AsyncUIHandler

    server_name, secret_name = key
    handler = AsyncUIHandler()
    cannot = (
        f"permission to use secret {secret_name!r} cannot be asked: this MCP client cannot "
        "show questions and {why}; use a client with elicitation, or for an unattended server "
        "set MCP_BYPASS_SECRET_USE_CONFIRM=true"
    )
    if problem := elicitation.no_display_now(handler):
        raise PermissionDeniedError(cannot.format(why=f"no window can open here ({problem})"))
    code = new_code()
    try:
        session = await handler.start(permission_template(server_name, secret_name, reason, code))
    except DialogError as exc:
        raise PermissionDeniedError(cannot.format(why=f"the window failed ({exc})")) from None
    if await session.wait_exit(EARLY_EXIT_GRACE):
        try:
            await session.wait()
        except DialogError as exc:
            raise PermissionDeniedError(cannot.format(why=f"the window failed ({exc})")) from None
    elicitation.keep_pending(
        ("permission", scope, server_name, secret_name), elicitation.Pending(code, session)
    )
    raise AnswerPendingError(
        f"{server_name} asks permission to use the secret {secret_name!r} in a separate window "
        f"titled 'MCP Secrets for {server_name}'. Verification code: {code} — answer there only "
        "if the window shows this same code, then call this tool again."
    )
