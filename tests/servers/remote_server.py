"""A remote MCP server over streamable HTTP that demands a bearer token, for the proxy tests.

    python remote_server.py PORT TOKEN_FILE LOG_FILE

The accepted token is re-read from TOKEN_FILE on every request, so a test can "rotate" it on the
server side. Every Authorization header seen is fingerprinted (never written) into LOG_FILE, one
line per request: "<status> <sha256 prefix>", so tests can count attempts without logging tokens.
LOG_FILE.peers gets the client's TCP port of every HTTP request, one a line, so tests can count
the connections a client opened.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import mcp_types
from fastmcp import Context, FastMCP
from fastmcp.server.auth import AccessToken, TokenVerifier
from fastmcp.server.dependencies import get_http_headers
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

PORT, TOKEN_FILE, LOG_FILE = int(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
PEERS_FILE = LOG_FILE.with_name(LOG_FILE.name + ".peers")


def _note(status: str, token: str) -> None:
    with LOG_FILE.open("a") as fh:
        fh.write(f"{status} {hashlib.sha256(token.encode()).hexdigest()[:12]}\n")


class FileTokenVerifier(TokenVerifier):
    async def verify_token(self, token: str) -> AccessToken | None:
        ok = token == TOKEN_FILE.read_text().strip()
        _note("ok" if ok else "refused", token)
        if not ok:
            return None
        return AccessToken(token=token, client_id="tester", scopes=[])


mcp = FastMCP("remote", auth=FileTokenVerifier())


@mcp.tool
def add(a: int, b: int) -> int:
    """Adds two numbers."""
    return a + b


@mcp.tool
def echo(text: str) -> str:
    """Returns its argument (the tests send megabytes through the proxy's stdio)."""
    return text


@mcp.tool
def leak_header() -> str:
    """A careless tool that echoes the caller's Authorization header back."""
    return "you sent: " + get_http_headers(include={"authorization"}).get("authorization", "")


@mcp.tool
async def favourite_colour(ctx: Context) -> str | mcp_types.InputRequiredResult:
    """Asks the human a question (elicitation on the handshake era, InputRequiredResult after)."""
    if ctx.request_context is not None and ctx.request_context.protocol_version == "2026-07-28":
        answers = ctx.input_responses
        if answers and "colour" in answers:
            content = getattr(answers["colour"], "content", None) or {}
            return f"colour={content.get('colour')}"
        schema = {"type": "object", "properties": {"colour": {"type": "string"}},
                  "required": ["colour"]}
        params = mcp_types.ElicitRequestFormParams(message="Favourite colour?",
                                                   requested_schema=schema)
        return mcp_types.InputRequiredResult(
            input_requests={"colour": mcp_types.ElicitRequest(params=params)})
    result = await ctx.elicit("Favourite colour?", response_type=str)
    return f"colour={getattr(result, 'data', None)}"


@mcp.resource("memo://greeting")
def greeting() -> str:
    return "hello from remote"


@mcp.prompt
def review(code: str) -> str:
    return f"Please review: {code}"


class NotePeers:
    """ASGI middleware: the client's port of every HTTP request, into PEERS_FILE."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("client"):
            with PEERS_FILE.open("a") as fh:
                fh.write(f"{scope['client'][1]}\n")
        await self.app(scope, receive, send)


if __name__ == "__main__":
    mcp.run(transport="http", host="127.0.0.1", port=PORT, show_banner=False,
            middleware=[Middleware(NotePeers)])
