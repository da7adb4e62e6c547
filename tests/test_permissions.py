"""Permission rules that need no MCP client (Allow/Deny flows: test_mcp_e2e.py)."""

from __future__ import annotations

import asyncio

import pytest

from mcp_secrets import permissions
from mcp_secrets.errors import PermissionDeniedError


def test_message_names_server_secret_and_reason() -> None:
    text = permissions.permission_message("MyServer", "api_key", "Authentication")
    assert "MyServer" in text and "'api_key'" in text and "Reason: Authentication" in text


def test_no_context_is_denied_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MCP_BYPASS_SECRET_USE_CONFIRM", raising=False)
    with pytest.raises(PermissionDeniedError, match="MCP_BYPASS_SECRET_USE_CONFIRM=true"):
        asyncio.run(permissions.request_permission(None, "s", "k", None))


def test_denial_becomes_a_verbatim_tool_error_in_the_glue() -> None:
    from fastmcp.exceptions import ToolError

    from mcp_secrets.integrations.fastmcp import as_tool_error

    err = as_tool_error(PermissionDeniedError("permission to use secret 'k' was denied"))
    assert isinstance(err, ToolError) and isinstance(err, PermissionDeniedError)
    assert str(err) == "permission to use secret 'k' was denied"


def test_bypass_and_session_grants_are_memory_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCP_BYPASS_SECRET_USE_CONFIRM", "true")
    asyncio.run(permissions.request_permission(None, "s", "k", None))
    monkeypatch.delenv("MCP_BYPASS_SECRET_USE_CONFIRM")
    permissions._session_grants.add(("session-1", "s", "k"))
    ctx = _Ctx("session-1")
    try:
        asyncio.run(permissions.request_permission(ctx, "s", "k", None))  # granted: no prompt
    finally:
        permissions.clear_session_grants()
    with pytest.raises(PermissionDeniedError):
        asyncio.run(permissions.request_permission(None, "s", "k", None))


class _Ctx:
    """Only what `session_scope` reads: FastMCP's session scope key."""

    def __init__(self, scope: str) -> None:
        self.scope = scope

    def _session_scope_key(self) -> str:
        return self.scope
