"""A small MCP server for the migrate demo: it needs an API key in its environment, as most
servers people run with `npx`/`uvx` do, and can tell which key it got by fingerprint only."""

from __future__ import annotations

import hashlib
import os

from fastmcp import FastMCP

mcp = FastMCP("key-check")


@mcp.tool
def key_fingerprint(var: str) -> str:
    """The first 12 hex digits of sha256 of the variable's value ("missing" if unset)."""
    value = os.environ.get(var)
    return "missing" if value is None else hashlib.sha256(value.encode()).hexdigest()[:12]


if __name__ == "__main__":
    mcp.run(show_banner=False)
