"""FastMCP glue: the middleware that makes our prompts work on 2026-07-28 connections, and
`requires_secret`, the one-line way for a tool to get a secret.

On a 2026-07-28 (stateless) connection a tool cannot call `ctx.elicit`; it must *return* an
`InputRequiredResult` and be called again with the answer. `fetch_secrets` and the permission
check run deep inside a tool, so they raise `InputRequired` (a BaseException, so a tool's own
`except Exception` wrapper cannot swallow it) and the middleware turns it into the result.
`secrets_manager.initialize(mcp)` installs the middleware; so does `install(mcp)`.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from typing import Any, NoReturn

import mcp_types
from fastmcp.exceptions import ToolError
from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext
from fastmcp.tools.base import InputRequiredToolResult, ToolResult

from mcp_secrets.errors import PermissionDeniedError

#: Our top-level key inside the (sealed) request_state JSON.
STATE_ROOT = "mcp_secrets"
_LEG_KEY = "mcp_secrets.leg"


class InputRequired(BaseException):
    """Raised inside a tool to end this leg with an `InputRequiredResult` (2026-07-28 era).

    Derived from BaseException on purpose: the seed's tools wrap everything in
    `except Exception as e: raise ToolError(...)`, which must not eat the question.
    """

    def __init__(self, result: mcp_types.InputRequiredResult) -> None:
        super().__init__("the MCP client must answer a question and retry this call")
        self.result = result


class SecretsToolError(ToolError):
    """A secrets failure reported to the client as a tool error with its message intact."""


class PermissionDeniedToolError(PermissionDeniedError, ToolError):
    """PermissionDeniedError that FastMCP reports verbatim (not masked, no traceback)."""


class SecretsMiddleware(Middleware):
    """Turns `InputRequired` into the 2026-07-28 `InputRequiredResult`, and forgets one-time
    grants of a call once it is really finished."""

    async def on_call_tool(
        self,
        context: MiddlewareContext[mcp_types.CallToolRequestParams],
        call_next: CallNext[mcp_types.CallToolRequestParams, ToolResult],
    ) -> ToolResult:
        ctx = context.fastmcp_context
        try:
            result = await call_next(context)
        except InputRequired as ask:
            return InputRequiredToolResult(ask.result)
        except BaseException:
            await _finish_call(ctx)
            raise
        if not isinstance(result, InputRequiredToolResult):
            await _finish_call(ctx)
        return result


async def _finish_call(ctx: Any) -> None:
    if ctx is None:
        return
    from mcp_secrets.permissions import forget_call_grants

    state = incoming_state(ctx)
    leg = await leg_state(ctx)
    tokens = [*state["grants"].values(), *leg["grants"].values()]
    forget_call_grants(tokens)


def install(server: Any) -> None:
    """Add the middleware to a FastMCP server (idempotent)."""
    if not installed(server):
        server.add_middleware(SecretsMiddleware())


def installed(server: Any) -> bool:
    return any(isinstance(m, SecretsMiddleware) for m in getattr(server, "middleware", ()))


def require_middleware(ctx: Any) -> None:
    """On a 2026-07-28 connection, fail clearly when nobody will turn questions into results."""
    server = getattr(ctx, "fastmcp", None)
    if server is None or not installed(server):
        raise SecretsToolError(
            "this MCP client uses the stateless 2026-07-28 protocol, where mcp-secrets needs its "
            "middleware: call secrets_manager.initialize(mcp) with the FastMCP server object "
            "(not its name), or mcp_secrets.integrations.fastmcp.install(mcp), at startup"
        )


# ------------------------------------------------------------------ round state (2026-07-28)


#: Questions sent and not yet answered: nonce -> expiry (monotonic). The sealed state can be
#: echoed again for its whole TTL; the nonce makes each answer count once.
_OPEN_QUESTIONS: dict[str, float] = {}
QUESTION_TTL = 600.0  # FastMCP's request_state TTL


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


async def response_for(ctx: Any, key: str) -> mcp_types.ElicitResult | None:
    """The client's answer to `key`, only if we really asked it last leg (the sealed state
    says so) and that question was not answered before: a client can neither skip a prompt
    by sending an unasked-for "Allow" nor replay an old retry to reuse one."""
    state = incoming_state(ctx)
    if key not in state["asked"]:
        return None
    responses = getattr(ctx, "input_responses", None) or {}
    answer = responses.get(key) if isinstance(responses, Mapping) else None
    if not isinstance(answer, mcp_types.ElicitResult):
        return None
    leg = await leg_state(ctx)
    nonce = state["nonce"]
    if nonce not in leg["answered"]:  # first look in this leg: the question must be open
        expiry = _OPEN_QUESTIONS.pop(nonce, None)
        if expiry is None or expiry <= time.monotonic():
            return None
        leg["answered"].append(nonce)
    return answer


def _open_question() -> str:
    now = time.monotonic()
    for stale in [n for n, exp in _OPEN_QUESTIONS.items() if exp <= now]:
        del _OPEN_QUESTIONS[stale]
    nonce = secrets.token_urlsafe(16)
    _OPEN_QUESTIONS[nonce] = now + QUESTION_TTL
    return nonce


async def ask(
    ctx: Any, key: str, message: str, schema: dict[str, Any], *, flows: dict[str, str] | None = None
) -> NoReturn:
    """End this leg with one form-mode question; everything still needed rides in the state."""
    require_middleware(ctx)
    incoming = incoming_state(ctx)
    leg = await leg_state(ctx)
    state = {
        "asked": [key],
        "flows": {**incoming["flows"], **leg["flows"], **(flows or {})},
        "grants": {**incoming["grants"], **leg["grants"]},
        "nonce": _open_question(),
    }
    params = mcp_types.ElicitRequestFormParams(message=message, requested_schema=schema)
    raise InputRequired(
        mcp_types.InputRequiredResult(
            input_requests={key: mcp_types.ElicitRequest(params=params)},
            request_state=json.dumps({STATE_ROOT: state}),
        )
    )


def choice_schema(options: list[str]) -> dict[str, Any]:
    """The same single-choice schema `ctx.elicit(message, options)` sends (era parity)."""
    from fastmcp.server.elicitation import parse_elicit_response_type

    schema: dict[str, Any] = parse_elicit_response_type(list(options)).schema
    return schema


def chosen(answer: mcp_types.ElicitResult, options: list[str]) -> str | None:
    """The option picked in an accepted answer, else None (decline, cancel, garbage)."""
    if answer.action != "accept" or not isinstance(answer.content, Mapping):
        return None
    value = answer.content.get("value")
    return value if isinstance(value, str) and value in options else None


# ------------------------------------------------------------------ the one-liner


def requires_secret(
    name: str,
    *,
    label: str | None = None,
    field_type: str = "password",
    required: bool = True,
    reason: str | None = None,
    help_text: str | None = None,
    placeholder: str | None = None,
    manager: Any = None,
) -> Any:
    """A FastMCP dependency that hands a tool the value of secret `name`::

        @mcp.tool
        async def search(q: str, api_key: str = requires_secret("api_key", reason="Search API")):
            ...

    If the secret is not stored yet it is collected through the out-of-band dialog
    (`fetch_secrets`), then the human is asked for permission to use it (unless
    MCP_BYPASS_SECRET_USE_CONFIRM=true), then the value is injected. The parameter does not
    appear in the tool's input schema, so a client can never supply or see it. Works on
    handshake-era and 2026-07-28 connections; the latter need `secrets_manager.initialize(mcp)`
    (the server object) once at startup. Failures become tool errors with a clear message.
    """
    from fastmcp.dependencies import CurrentContext, Depends
    from fastmcp.server.context import Context

    from mcp_secrets.names import validate_name

    validate_name(name)
    info = {
        "label": label or name.replace("_", " ").title(),
        "field_type": field_type,
        "required": required,
        "help_text": help_text,
        "placeholder": placeholder,
    }

    async def provide_secret(ctx: Context = CurrentContext()) -> str:  # noqa: B008
        from mcp_secrets.errors import SecretsError
        from mcp_secrets.fetcher import fetch_secrets
        from mcp_secrets.manager import secrets_manager

        mgr = secrets_manager if manager is None else manager
        try:
            if not mgr.secret_exists(name):
                ok, message = await fetch_secrets(ctx, {name: info}, manager=mgr)
                if not ok:
                    raise SecretsToolError(message)
            value: str = await mgr.retrieve_secret_with_permission(name, ctx, reason=reason)
        except ToolError:
            raise
        except SecretsError as exc:
            raise SecretsToolError(str(exc)) from None
        return value

    provide_secret.__name__ = f"requires_secret_{name}"
    return Depends(provide_secret)
