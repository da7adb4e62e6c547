"""An MCP server for tests/test_urlmode.py, run as a real subprocess over stdio with no display.

It keeps its secrets in the in-process memory store (no keychain needed), so the `stored` tool
tells the test what arrived: a fingerprint per secret, never a value. GUARD=0 turns the output
guard off.
"""

from __future__ import annotations

import hashlib
import json
import os

from fastmcp import Context, FastMCP

from mcp_secrets import secrets_manager
from mcp_secrets.fetcher import fetch_secrets

SECRETS_INFO = {
    "api_key": {
        "label": "API Key",
        "field_type": "password",
        "required": True,
        "help_text": "Your secret API key",
    },
    "endpoint": {
        "label": "Endpoint",
        "field_type": "url",
        "required": False,
        "placeholder": "https://api.example.com",
    },
}

mcp = FastMCP(os.environ["SERVER_NAME"])
# GUARD=0: the tests' leak checks must see what our code sends, not the output guard's net.
secrets_manager.initialize(mcp, guard=os.environ.get("GUARD") != "0")


def fingerprint(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:12]


@mcp.tool
async def fetch_key(ctx: Context) -> str:
    ok, message = await fetch_secrets(ctx, SECRETS_INFO)
    return f"{'OK' if ok else 'FAILED'}: {message}"


@mcp.tool
def stored() -> str:
    found = {name: secrets_manager.retrieve_secret(name) for name in SECRETS_INFO}
    return json.dumps({n: fingerprint(v) if v else None for n, v in found.items()})


if __name__ == "__main__":
    mcp.run(show_banner=False)
