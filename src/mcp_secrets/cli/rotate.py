"""`mcp-secrets rotate SERVER NAME [--grace DURATION]`: a new value, the old one kept readable
for the grace period (see rotation.py). The value comes from a hidden prompt or stdin."""

from __future__ import annotations

import argparse
from typing import Any

from mcp_secrets.cli.errors import EXIT_OK, EXIT_USAGE, CLIError


def add_parser(sub: Any, parents: Any = ()) -> None:
    r = sub.add_parser("rotate", parents=list(parents),
                       help="replace a secret, keeping the old value readable for a grace period",
                       description="Replace a secret atomically. Running servers see the new "
                                   "value on their next read; the previous value stays "
                                   "readable (MCPSecretsManager.previous_secret) until the "
                                   "grace period ends. Team stores get a new version.")
    r.add_argument("server")
    r.add_argument("name")
    r.add_argument("--grace", default="1h", metavar="DURATION",
                   help="how long the previous value stays readable (90s, 15m, 2h, 1d; "
                        "default 1h; 0 ends it now)")


def cmd_rotate(args: argparse.Namespace) -> int:
    from mcp_secrets.cli.commands import open_storage
    from mcp_secrets.cli.prompts import read_secret_value
    from mcp_secrets.rotation import parse_duration, rotate

    try:
        grace = parse_duration(args.grace)
    except ValueError as exc:
        raise CLIError(f"--grace: {exc}", EXIT_USAGE) from None
    storage = open_storage(args.server, args.name, args.profile, backend=args.backend)
    if not storage.secret_exists(args.name):
        raise CLIError(f"{args.name!r} is not stored for server {args.server!r}: nothing to "
                       f"rotate (store it with: mcp-secrets set {args.server} {args.name})")
    value = read_secret_value(f"the new {args.name!r} of server {args.server!r}")
    rotate(storage, args.name, value, grace)
    print(f"rotated {args.name!r} for server {args.server!r} in {storage.backend.name}; the "
          f"previous value stays readable for {args.grace}")
    return EXIT_OK
