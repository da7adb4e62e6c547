"""Glue for servers built on the official `mcp` SDK's high-level server (`MCPServer`).

Three small parts, each adapting and adding nothing to the flows themselves:

- `SdkContext`, which presents the SDK's `Context` with the surface `mcp_secrets.elicitation`
  was written against (FastMCP's): a question as a list of options, request-scoped state, and a
  "session" scope. `fetch_secrets` and `retrieve_secret_with_permission` adapt an SDK context
  through `elicitation.CONTEXT_ADAPTERS`, so a tool passes its own `ctx` unchanged.
- `install(server)` (run by `secrets_manager.initialize(server)`), which wraps
  `MCPServer.call_tool` once: every tool result of the server passes through `ToolCalls.__call__`,
  which turns our `InputRequired` into the 2026-07-28 `InputRequiredResult` and our errors into
  tool errors a person can act on. It also checks that `request_state` is sealed.
- `requires_secret(name)`, the one-liner: `api_key: Annotated[str, requires_secret("api_key")]`.

The SDK seals `request_state` itself (AES-GCM, bound to the tool, its arguments and a TTL; a
per-process key unless the server passes its own `RequestStateSecurity`), so what
`elicitation.incoming_state` reads was written by this process for this very call.
"""

from __future__ import annotations

import contextvars
import warnings
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

import mcp_types
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError, UnexpectedToolError
from mcp.server.mcpserver.resolve import Resolve
from mcp.server.request_state import (
    RequestStateBoundary,
    RequestStateSecurity,
    authenticated_principal,
)

from mcp_secrets import elicitation, guard
from mcp_secrets.errors import InputRequired, SecretsError
from mcp_secrets.permissions import finish_call

__all__ = ["SdkContext", "ToolCalls", "adapt", "install", "installed", "requires_secret"]

#: State of the tool call running in this task (`ctx.get_state`/`set_state`): set by
#: `ToolCalls` for each call, so every adapter made during one call shares it.
_CALL_STATE: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "mcp_secrets_call_state", default=None
)
#: One random id per client connection, for "Allow for session" on the handshake era.
_CONNECTION_IDS: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


# ------------------------------------------------------------------ the context adapter


class SdkContext:
    """The SDK's `Context` with the surface `mcp_secrets.elicitation` uses. Anything not
    defined here (session, request_context, request_id, request_state, input_responses,
    report_progress, elicit_url, ...) is the SDK context's own."""

    def __init__(self, ctx: Context[Any, Any]) -> None:
        self._ctx = ctx
        self._own_state: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ctx, name)

    @property
    def request_context(self) -> Any:
        """The SDK's request context, or None outside a request (the SDK raises there)."""
        try:
            return self._ctx.request_context
        except ValueError:
            return None

    async def elicit(self, message: str, options: list[str]) -> mcp_types.ElicitResult:
        """A form-mode single choice, the same schema FastMCP's `ctx.elicit(message, options)`
        sends; the answer is read by `elicitation.read_answer` (`content["value"]`)."""
        answer: mcp_types.ElicitResult = await self._ctx.session.elicit_form(
            message, elicitation.choice_schema(options), related_request_id=self._ctx.request_id
        )
        return answer

    async def info(self, text: str) -> None:
        """A log message to the client (deprecated by the SDK on 2026-07-28, where the client
        only gets it on opt-in; nothing the human must see travels only this way)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            await self._ctx.info(text)

    def _state(self) -> dict[str, Any]:
        call = _CALL_STATE.get()
        return self._own_state if call is None else call

    async def get_state(self, key: str) -> Any:
        return self._state().get(key)

    async def set_state(self, key: str, value: Any, *, serializable: bool = True) -> None:
        self._state()[key] = value

    def _session_scope_key(self) -> str | None:
        """Who "Allow for session" belongs to: this client connection on the handshake era; on
        2026-07-28 the authenticated principal, or the process on stdio (one client per
        process); None for an unauthenticated 2026-07-28 HTTP request."""
        rc = self._ctx.request_context
        if not elicitation.is_modern(self):
            connection = getattr(rc.session, "_connection", None)
            if connection is None:
                return None
            scope = _CONNECTION_IDS.get(connection)
            if scope is None:
                import secrets

                scope = _CONNECTION_IDS[connection] = f"connection:{secrets.token_urlsafe(12)}"
            return scope
        principal = authenticated_principal(rc)
        if principal is not None:
            return f"user:{principal}"
        return "process" if rc.request is None else None

    @property
    def fastmcp(self) -> Any:
        """What `elicitation.require_middleware` inspects: the server's call wrapper, if any."""
        server = self._ctx.mcp_server
        return _Installed([server.call_tool] if installed(server) else [])


class _Installed:
    def __init__(self, middleware: list[Any]) -> None:
        self.middleware = middleware


def adapt(ctx: Any) -> SdkContext:
    """`elicitation.CONTEXT_ADAPTERS`' entry for the SDK's contexts."""
    return ctx if isinstance(ctx, SdkContext) else SdkContext(ctx)


# ------------------------------------------------------------------ every tool result


class ToolCalls:
    """Wraps `MCPServer.call_tool`: the one place where this server's tool results pass.

    - `InputRequired` (a question on 2026-07-28) becomes the `InputRequiredResult` the SDK
      passes through, and its `RequestStateBoundary` seals the state;
    - a `SecretsError` (permission denied, a code to compare, a missing secret) becomes an
      error result carrying its message, where the SDK would hide it as a crash;
    - one-time grants of a call are forgotten once the call has really finished.
    """

    #: Read by `elicitation.middleware_installed` (through `SdkContext.fastmcp`).
    handles_input_required = True

    def __init__(self, call_tool: Callable[..., Awaitable[Any]]) -> None:
        self.wrapped = call_tool

    async def __call__(self, name: str, arguments: dict[str, Any],
                       context: Context[Any, Any] | None = None) -> Any:
        token = _CALL_STATE.set({})
        try:
            return await self._call(name, arguments, context)
        finally:
            _CALL_STATE.reset(token)

    async def _call(self, name: str, arguments: dict[str, Any],
                    context: Context[Any, Any] | None) -> Any:
        guard.guard_notifications(context)
        try:
            result = await self.wrapped(name, arguments, context)
        except InputRequired as ask:
            return ask.result
        except BaseException as exc:
            await _finish_call(context)
            if isinstance(exc, UnexpectedToolError) and isinstance(exc.__cause__, SecretsError):
                # The SDK shows a crash as a bare "Error executing tool"; ours say what to do.
                return _error_result(f"Error executing tool {name}: {exc.__cause__}")
            if isinstance(exc, Exception):  # a ToolError's text reaches the client: guard it
                hidden = guard.masked_error(exc, ToolError)
                if hidden is not None:
                    raise hidden from None
            raise
        if not isinstance(result, mcp_types.InputRequiredResult):
            await _finish_call(context)
        return guard.mask(result)  # every result of this server's tools leaves through here


def guarded(method: Callable[..., Awaitable[Any]], fallback: type[Exception]
            ) -> Callable[..., Awaitable[Any]]:
    """`MCPServer.read_resource` / `get_prompt` with their results, errors and notifications
    through the output guard (tool calls get the same in `ToolCalls`)."""
    if getattr(method, "mcp_secrets_guarded", False):
        return method

    async def call(*args: Any, **kwargs: Any) -> Any:
        guard.guard_notifications(kwargs.get("context", args[-1] if args else None))
        try:
            result = await method(*args, **kwargs)
        except Exception as exc:
            hidden = guard.masked_error(exc, fallback)
            if hidden is not None:
                raise hidden from None
            raise
        return guard.mask(result)

    call.mcp_secrets_guarded = True  # type: ignore[attr-defined]
    return call


def _error_result(text: str) -> mcp_types.CallToolResult:
    return mcp_types.CallToolResult(content=[mcp_types.TextContent(type="text", text=text)],
                                    is_error=True)


async def _finish_call(context: Context[Any, Any] | None) -> None:
    await finish_call(None if context is None else adapt(context))


def install(server: Any) -> None:
    """Wrap the server's tool calls (idempotent) and make sure its `request_state` is sealed:
    a server whose middleware lost the SDK's boundary gets one with a per-process key."""
    if not isinstance(server, MCPServer):
        raise TypeError(
            f"initialize() supports the official SDK's MCPServer, not {type(server).__name__}: "
            "build the server with mcp.server.mcpserver.MCPServer, or pass its name"
        )
    if not any(isinstance(m, RequestStateBoundary) for m in server.middleware):
        server.middleware.append(
            RequestStateBoundary(RequestStateSecurity.ephemeral(), default_audience=server.name)
        )
    if not installed(server):
        server.call_tool = ToolCalls(server.call_tool)  # type: ignore[method-assign]
    server.read_resource = guarded(  # type: ignore[method-assign,assignment]
        server.read_resource, ResourceError)
    server.get_prompt = guarded(  # type: ignore[method-assign,assignment]
        server.get_prompt, RuntimeError)


def installed(server: Any) -> bool:
    return isinstance(getattr(server, "call_tool", None), ToolCalls)


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
) -> Resolve:
    """A resolver that hands a tool the value of secret `name`::

        @mcp.tool()
        async def search(q: str, api_key: Annotated[str, requires_secret("api_key")]) -> str:
            ...

    If the secret is not stored yet it is collected through the out-of-band dialog
    (`fetch_secrets`), then the human is asked for permission to use it (unless
    MCP_BYPASS_SECRET_USE_CONFIRM=true), then the value is injected. The parameter is not in
    the tool's input schema, so a client can never supply or see it. Works on handshake-era and
    2026-07-28 connections; the latter need `secrets_manager.initialize(mcp)` (the server
    object) once at startup. Failures become tool errors with a clear message.
    """
    from mcp_secrets.fetcher import field_info, obtain_secret

    info = field_info(name, label=label, field_type=field_type, required=required,
                      help_text=help_text, placeholder=placeholder)

    async def provide_secret(ctx: Context) -> str:
        try:
            return await obtain_secret(ctx, name, info, reason=reason, manager=manager)
        except SecretsError as exc:
            raise ToolError(str(exc)) from None

    provide_secret.__name__ = provide_secret.__qualname__ = f"requires_secret_{name}"
    return Resolve(provide_secret)
