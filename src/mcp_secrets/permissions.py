"""Per-use permission: before a secret is handed to a tool, the human picks Allow, Allow for
session, or Deny in the MCP client (a form-mode choice; the value itself is never shown).

"Session" means this server process: grants live in a module-level set, never on disk, and
die with the process. MCP_BYPASS_SECRET_USE_CONFIRM=true skips the prompt for unattended
servers. On 2026-07-28 connections the question travels as an InputRequiredResult (see
`integrations.fastmcp`); a one-time "Allow" given in an earlier round of the same call is
carried as a single-use server-side token, so a tool needing two secrets works across rounds
and a replayed request cannot reuse it.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable
from typing import Any

from mcp_secrets import audit
from mcp_secrets.errors import PermissionDeniedError

ALLOW = "Allow"
ALLOW_SESSION = "Allow for session"
DENY = "Deny"
OPTIONS = [ALLOW, ALLOW_SESSION, DENY]
#: A one-time grant outlives its round trip by at most this long (FastMCP's state TTL).
GRANT_TTL = 600.0

_session_grants: set[tuple[str, str]] = set()
_call_grants: dict[str, tuple[str, str, float]] = {}


def permission_message(server_name: str, secret_name: str, reason: str | None) -> str:
    text = f"{server_name} wants to use the secret '{secret_name}'."
    if reason:
        text += f" Reason: {reason}"
    return text + " Allow this use?"


def _denied(message: str) -> PermissionDeniedError:
    """PermissionDeniedError, as a FastMCP ToolError too when FastMCP is there, so the client
    sees our message even with mask_error_details (and the log gets no traceback)."""
    try:
        from mcp_secrets.integrations.fastmcp import PermissionDeniedToolError
    except ImportError:
        return PermissionDeniedError(message)
    return PermissionDeniedToolError(message)


def clear_session_grants() -> None:
    """Forget every "Allow for session" (the process is the session; this is for tests)."""
    _session_grants.clear()


def forget_call_grants(tokens: Iterable[str]) -> None:
    """Invalidate one-time grants once their tool call has finished (called by the middleware)."""
    for token in tokens:
        _call_grants.pop(token, None)


def _decide(choice: str | None, key: tuple[str, str], secret_name: str) -> bool:
    """Apply an answer; True = allowed once, raises on anything but Allow/Allow for session."""
    audit.record("permission", server=key[0], name=secret_name, outcome=choice or "no answer")
    if choice == ALLOW_SESSION:
        _session_grants.add(key)
        return True
    if choice == ALLOW:
        return True
    raise _denied(
        f"permission to use secret {secret_name!r} was "
        + ("denied" if choice == DENY else "not given (the prompt was declined or cancelled)")
    )


async def request_permission(
    ctx: Any, server_name: str, secret_name: str, reason: str | None = None
) -> None:
    """Return if the human allows this use of `secret_name`; raise PermissionDeniedError if not."""
    from mcp_secrets.capabilities import form_elicitation_supported, is_modern
    from mcp_secrets.manager import env_flag

    if env_flag("MCP_BYPASS_SECRET_USE_CONFIRM"):
        return
    key = (server_name, secret_name)
    if key in _session_grants:
        return
    if ctx is None or not form_elicitation_supported(ctx):
        raise _denied(
            f"permission to use secret {secret_name!r} is required, but this MCP client cannot "
            "show prompts (it declared no form elicitation); for an unattended server set "
            "MCP_BYPASS_SECRET_USE_CONFIRM=true"
        )
    message = permission_message(server_name, secret_name, reason)
    if is_modern(ctx):
        await _modern(ctx, key, message)
        return
    try:
        answer = await ctx.elicit(message, list(OPTIONS))
    except Exception as exc:  # the client failed to answer: that is not a yes
        raise _denied(
            f"permission to use secret {secret_name!r} could not be asked: "
            f"{type(exc).__name__}"
        ) from None
    choice = answer.data if getattr(answer, "action", None) == "accept" else None
    _decide(choice if isinstance(choice, str) else None, key, secret_name)


async def _modern(ctx: Any, key: tuple[str, str], message: str) -> None:
    from mcp_secrets.integrations import fastmcp as glue

    server_name, secret_name = key
    ask_key = f"mcp_secrets.permission:{server_name}:{secret_name}"
    answer = await glue.response_for(ctx, ask_key)
    if answer is not None:
        _decide(glue.chosen(answer, OPTIONS), key, secret_name)
        # Allowed: remember it for later rounds of this same call only.
        now = time.monotonic()
        for stale in [t for t, g in _call_grants.items() if g[2] <= now]:
            del _call_grants[stale]
        token = secrets.token_urlsafe(16)
        _call_grants[token] = (server_name, secret_name, now + GRANT_TTL)
        leg = await glue.leg_state(ctx)
        leg["grants"][ask_key] = token
        return
    token = glue.incoming_state(ctx)["grants"].get(ask_key)
    if token is not None:
        grant = _call_grants.get(token)
        if grant is not None and grant[:2] == key and grant[2] > time.monotonic():
            return
        _call_grants.pop(token, None)
    await glue.ask(ctx, ask_key, message, glue.choice_schema(OPTIONS))
