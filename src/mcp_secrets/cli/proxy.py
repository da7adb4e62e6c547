"""`mcp-secrets proxy URL [--header 'NAME: VALUE']... [--bearer REF]`: serve a remote MCP server
to a local client over stdio, adding headers whose secret references are resolved per session."""

from __future__ import annotations

import argparse
from typing import Any

from mcp_secrets.cli.errors import EXIT_USAGE, CLIError
from mcp_secrets.errors import ProxyConfigError


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "proxy", help="serve a remote (HTTP) MCP server over stdio, its token from the keychain",
        description="A local stdio MCP server that relays everything to the remote streamable-HTTP "
                    "MCP server at URL, adding headers whose values are secret references "
                    "(resolved when a session opens, so a rotated token needs no restart). "
                    "Put this in your MCP client's config instead of the URL and token.")
    p.add_argument("url", metavar="URL")
    p.add_argument("--header", action="append", default=[], metavar="'NAME: VALUE'",
                   help="add a header; words of VALUE that are references are resolved "
                        "(e.g. 'Authorization: Bearer mcp-secrets://github/token')")
    p.add_argument("--bearer", metavar="REF",
                   help="shorthand for --header 'Authorization: Bearer REF'")


def cmd_proxy(args: argparse.Namespace) -> int:
    from mcp_secrets import refs
    from mcp_secrets.proxy import build_proxy, parse_header

    try:
        headers = dict(parse_header(h) for h in args.header)
        auth = headers.get("Authorization")
        if auth is not None and not any(refs.is_reference(w) for w in auth.split(" ")):
            raise ProxyConfigError("the Authorization header must hold a secret reference "
                                   "(e.g. 'Bearer mcp-secrets://github/token'), not the token "
                                   "itself: store it with `mcp-secrets set SERVER NAME`")
        if args.bearer is not None:
            if not refs.is_reference(args.bearer):
                raise ProxyConfigError("--bearer takes a secret reference such as "
                                       "mcp-secrets://SERVER/NAME, never the token itself")
            headers["Authorization"] = f"Bearer {args.bearer}"
        proxy = build_proxy(args.url, headers)
    except ProxyConfigError as exc:
        raise CLIError(str(exc), EXIT_USAGE) from None
    import anyio

    from mcp_secrets.proxy_io import serve_stdio

    anyio.run(serve_stdio, proxy)
    return 0
