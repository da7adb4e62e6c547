"""An MCP server for the e2e tests, run as a real subprocess over stdio.

SERVER_NAME names it (each test uses its own, so secrets never cross tests);
NO_MIDDLEWARE=1 initialises the manager with the *name* only (seed 001's original line), to
prove the modern era fails with a clear instruction instead of hanging. GUARD=0 turns the output
guard off (leak checks then test our code, not the net). HTTP_PORT=N serves
streamable HTTP on 127.0.0.1:N instead of stdio (several clients of one server process).
"""

from __future__ import annotations

import hashlib
import os

from fastmcp import Context, FastMCP
from fastmcp.exceptions import ToolError

from mcp_secrets import secrets_manager
from mcp_secrets.fetcher import fetch_secrets
from mcp_secrets.integrations.fastmcp import requires_secret

SECRETS_INFO = {
    "api_key": {
        "label": "API Key",
        "field_type": "password",
        "required": True,
        "help_text": "Your secret API key",
    }
}

mcp = FastMCP(os.environ["SERVER_NAME"])
if os.environ.get("NO_MIDDLEWARE") == "1":
    secrets_manager.initialize(mcp.name)
else:
    # GUARD=0: the tests' leak checks must see what our code sends, not the output guard's net.
    secrets_manager.initialize(mcp, guard=os.environ.get("GUARD") != "0")


def fingerprint(value: str) -> str:
    """Lets a test check the right value arrived without the value crossing the wire."""
    return hashlib.sha256(value.encode()).hexdigest()[:12]


@mcp.tool
async def ping() -> str:
    return "pong"


@mcp.tool
async def secure_api_request(ctx: Context) -> str:
    """Seed 001's example, verbatim but for the last line (the seed echoed key[:8])."""
    try:
        # Check if secrets exist without retrieving them
        if not secrets_manager.secret_exists("api_key"):
            # Need to fetch secrets first
            status, message = await fetch_secrets(ctx, SECRETS_INFO)
            if not status:
                raise ToolError(message)

        # Retrieve secret with permission check
        api_key = await secrets_manager.retrieve_secret_with_permission(
            "api_key", ctx, reason="Authentication with external API"
        )
        return f"✅ Making API request with key {fingerprint(api_key)}"
    except Exception as e:
        raise ToolError(f"❌ Secret access failed: {e!s}") from None


@mcp.tool
async def fetch_only(ctx: Context) -> str:
    ok, message = await fetch_secrets(ctx, SECRETS_INFO)
    return f"{'OK' if ok else 'FAILED'}: {message}"


@mcp.tool
async def use_secret(name: str, ctx: Context) -> str:
    value = await secrets_manager.retrieve_secret_with_permission(name, ctx, reason="unit test")
    return f"used {name} {fingerprint(value)}"


@mcp.tool
async def use_two(ctx: Context) -> str:
    a = await secrets_manager.retrieve_secret_with_permission("first", ctx, reason="one")
    b = await secrets_manager.retrieve_secret_with_permission("second", ctx, reason="two")
    return f"used first {fingerprint(a)} second {fingerprint(b)}"


@mcp.tool
async def search(q: str, api_key: str = requires_secret("api_key", reason="Search API")) -> str:
    return f"searched {q!r} with key {fingerprint(api_key)}"


if __name__ == "__main__":
    if os.environ.get("HTTP_PORT"):
        mcp.run(transport="http", host="127.0.0.1", port=int(os.environ["HTTP_PORT"]),
                show_banner=False)
    else:
        mcp.run(show_banner=False)
