"""FastMCP glue: it only adapts. The middleware turns our `InputRequired` into the 2026-07-28
`InputRequiredResult` and our errors into `ToolError`s the client sees verbatim (not masked, no
traceback), and passes results, errors and notifications through the output guard
(`mcp_secrets.guard`); `requires_secret` is the one-line way for a tool to get a secret.

The questions themselves (what the client can do, asking, reading answers, the round state)
live in `mcp_secrets.elicitation`; this module adds nothing to them.
`secrets_manager.initialize(mcp)` installs the middleware; so does `install(mcp)`.
"""

from __future__ import annotations

from typing import Any, TypeVar

import mcp_types
from fastmcp.exceptions import PromptError, ResourceError, ToolError
from fastmcp.prompts.base import PromptResult
from fastmcp.resources.base import ResourceResult
from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext
from fastmcp.tools.base import InputRequiredToolResult, ToolResult

from mcp_secrets import elicitation, guard
from mcp_secrets.elicitation import require_middleware
from mcp_secrets.errors import InputRequired, PermissionDeniedError, SecretsError
from mcp_secrets.permissions import finish_call

__all__ = [
    "InputRequired",
    "PermissionDeniedToolError",
    "SecretsMiddleware",
    "SecretsToolError",
    "install",
    "installed",
    "require_middleware",
    "requires_secret",
]


_R = TypeVar("_R")


class SecretsToolError(ToolError):
    """A secrets failure reported to the client as a tool error with its message intact."""


class PermissionDeniedToolError(PermissionDeniedError, ToolError):
    """PermissionDeniedError that FastMCP reports verbatim (not masked, no traceback)."""


def as_tool_error(exc: SecretsError) -> ToolError:
    """Our error as the ToolError FastMCP shows the client (the message names no value)."""
    if isinstance(exc, PermissionDeniedError):
        return PermissionDeniedToolError(str(exc))
    return SecretsToolError(str(exc))


class SecretsMiddleware(Middleware):
    """Turns `InputRequired` into the 2026-07-28 `InputRequiredResult` and `SecretsError`s into
    tool errors, forgets one-time grants of a call once it is really finished, and (when the
    output guard is on) masks known secret values in results, errors and notifications."""

    #: Read by `elicitation.middleware_installed` (which must not import this module).
    handles_input_required = True

    async def on_call_tool(
        self,
        context: MiddlewareContext[mcp_types.CallToolRequestParams],
        call_next: CallNext[mcp_types.CallToolRequestParams, ToolResult],
    ) -> ToolResult:
        ctx = context.fastmcp_context
        if guard.active():
            guard.guard_notifications(ctx)
        try:
            result = await call_next(context)
        except InputRequired as ask:
            return InputRequiredToolResult(ask.result)  # type: ignore[arg-type]
        except BaseException as exc:
            await finish_call(ctx)
            if isinstance(exc, SecretsError) and not isinstance(exc, ToolError):
                raise as_tool_error(exc) from None
            _raise_masked(exc, ToolError)
            raise
        if not isinstance(result, InputRequiredToolResult):
            await finish_call(ctx)
        return guard.mask(result)

    async def on_read_resource(
        self,
        context: MiddlewareContext[mcp_types.ReadResourceRequestParams],
        call_next: CallNext[mcp_types.ReadResourceRequestParams, ResourceResult],
    ) -> ResourceResult:
        return await _guarded(call_next, context, ResourceError)

    async def on_get_prompt(
        self,
        context: MiddlewareContext[mcp_types.GetPromptRequestParams],
        call_next: CallNext[mcp_types.GetPromptRequestParams, PromptResult],
    ) -> PromptResult:
        return await _guarded(call_next, context, PromptError)


async def _guarded(call_next: CallNext[Any, _R], context: MiddlewareContext[Any],
                   fallback: type[Exception]) -> _R:
    """The result of `call_next`, or its error, through the output guard."""
    try:
        result = await call_next(context)
    except Exception as exc:
        _raise_masked(exc, fallback)
        raise
    return guard.mask(result)


def _raise_masked(exc: BaseException, fallback: type[Exception]) -> None:
    """Raise a masked copy of `exc` if its message holds a known value (a tool author's own
    `raise ValueError(f"bad key {key}")` reaches the client as FastMCP's ToolError with that
    text in it). The copy drops the chain, which still holds the value."""
    if isinstance(exc, Exception):
        hidden = guard.masked_error(exc, fallback)
        if hidden is not None:
            raise hidden from None


def install(server: Any) -> None:
    """Add the middleware to a FastMCP server (idempotent)."""
    if not installed(server):
        server.add_middleware(SecretsMiddleware())


def installed(server: Any) -> bool:
    return elicitation.middleware_installed(server)


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

    from mcp_secrets.fetcher import field_info, obtain_secret

    info = field_info(name, label=label, field_type=field_type, required=required,
                      help_text=help_text, placeholder=placeholder)

    async def provide_secret(ctx: Context = CurrentContext()) -> str:  # noqa: B008
        try:
            return await obtain_secret(ctx, name, info, reason=reason, manager=manager)
        except ToolError:
            raise
        except SecretsError as exc:
            raise as_tool_error(exc) from None

    provide_secret.__name__ = f"requires_secret_{name}"
    return Depends(provide_secret)
