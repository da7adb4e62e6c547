"""A FastMCP server whose tool says which value of a variable it was started with, by
fingerprint only (the value never crosses the wire)."""

from __future__ import annotations

import hashlib
import os

from fastmcp import FastMCP

mcp = FastMCP("env-server")


@mcp.tool
def fingerprint(var: str) -> str:
    return hashlib.sha256(os.environ.get(var, "").encode()).hexdigest()[:12]


if __name__ == "__main__":
    mcp.run(show_banner=False)
