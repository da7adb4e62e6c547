"""A local FastMCP server served by `mcp_secrets.proxy_io.serve_stdio` (the proxy's stdio wire),
with a tool that names the threads alive while it answers."""

from __future__ import annotations

import threading

import anyio
from fastmcp import FastMCP

from mcp_secrets.proxy_io import serve_stdio

mcp = FastMCP("threads")


@mcp.tool
async def threads() -> list[str]:
    """The names of the threads alive now."""
    return sorted(t.name for t in threading.enumerate())


@mcp.tool
async def length(text: str) -> int:
    return len(text)


if __name__ == "__main__":
    anyio.run(serve_stdio, mcp)
