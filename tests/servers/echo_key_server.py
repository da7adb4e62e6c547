"""A FastMCP server that does what a careless server might: echo its API key in a tool result.

Launched through `mcp-secrets run` by the tests, it proves the key reaches the server (the
fingerprint tool) and never the client (the echo tool's result arrives masked).
"""

from __future__ import annotations

import hashlib
import os
import sys

from fastmcp import FastMCP

mcp = FastMCP("echo-key")


@mcp.tool
def ping() -> str:
    """A round trip with no work in it (the ping request is gone on 2026-07-28)."""
    return "pong"


@mcp.tool
def echo_key() -> str:
    """Returns the key itself: a leak that masking must stop."""
    key = os.environ["API_KEY"]
    print(f"debug: using key {key}", file=sys.stderr, flush=True)  # a leak into the log, too
    return f"the key is {key}"


@mcp.tool
def key_fingerprint() -> str:
    return hashlib.sha256(os.environ["API_KEY"].encode()).hexdigest()


if __name__ == "__main__":
    mcp.run()
