"""A server built on the official `mcp` SDK's `MCPServer` (no FastMCP), run as a real
subprocess over stdio by tests/test_official_sdk.py: the same tools as secrets_server.py.

SERVER_NAME names it; NO_GLUE=1 initialises the manager with the name only (so the modern era
must fail with a clear instruction); GUARD=0 turns the output guard off; HTTP_PORT=N serves
streamable HTTP on 127.0.0.1:N instead of stdio (several clients of one server process).
"""

from __future__ import annotations

import hashlib
import os
from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from mcp_secrets import secrets_manager
from mcp_secrets.fetcher import fetch_secrets
from mcp_secrets.integrations.mcp_sdk import requires_secret

SECRETS_INFO = {
    "api_key": {
        "label": "API Key",
        "field_type": "password",
        "required": True,
        "help_text": "Your secret API key",
    }
}

mcp = MCPServer(os.environ["SERVER_NAME"])
if os.environ.get("NO_GLUE") == "1":
    secrets_manager.initialize(mcp.name)
else:
    # GUARD=0: the tests' leak checks must see what our code sends, not the output guard's net.
    secrets_manager.initialize(mcp, guard=os.environ.get("GUARD") != "0")


def fingerprint(value: str) -> str:
    """Lets a test check the right value arrived without the value crossing the wire."""
    return hashlib.sha256(value.encode()).hexdigest()[:12]


@mcp.tool()
async def secure_api_request(ctx: Context) -> str:
    """The seed's example with the official SDK's Context and ToolError."""
    try:
        if not secrets_manager.secret_exists("api_key"):
            status, message = await fetch_secrets(ctx, SECRETS_INFO)
            if not status:
                raise ToolError(message)
        api_key = await secrets_manager.retrieve_secret_with_permission(
            "api_key", ctx, reason="Authentication with external API"
        )
        return f"✅ Making API request with key {fingerprint(api_key)}"
    except Exception as e:
        raise ToolError(f"❌ Secret access failed: {e!s}") from None


@mcp.tool()
async def fetch_only(ctx: Context) -> str:
    ok, message = await fetch_secrets(ctx, SECRETS_INFO)
    return f"{'OK' if ok else 'FAILED'}: {message}"


@mcp.tool()
async def use_secret(name: str, ctx: Context) -> str:
    """retrieve_secret_with_permission straight from a tool, its errors not caught."""
    value = await secrets_manager.retrieve_secret_with_permission(name, ctx, reason="unit test")
    return f"used {name} {fingerprint(value)}"


@mcp.tool()
async def use_two(ctx: Context) -> str:
    a = await secrets_manager.retrieve_secret_with_permission("first", ctx, reason="one")
    b = await secrets_manager.retrieve_secret_with_permission("second", ctx, reason="two")
    return f"used first {fingerprint(a)} second {fingerprint(b)}"


@mcp.tool()
async def search(q: str,
                 api_key: Annotated[str, requires_secret("api_key", reason="Search API")]) -> str:
    return f"searched {q!r} with key {fingerprint(api_key)}"


if __name__ == "__main__":
    if os.environ.get("HTTP_PORT"):
        mcp.run(transport="streamable-http", host="127.0.0.1", port=int(os.environ["HTTP_PORT"]))
    else:
        mcp.run()
