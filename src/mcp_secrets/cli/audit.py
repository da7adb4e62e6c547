"""`mcp-secrets audit`: show the audit log (filtered by server and time) or verify its chain."""

from __future__ import annotations

import argparse
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from mcp_secrets.cli.errors import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, CLIError

_DURATION = re.compile(r"(\d+)\s*([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def add_parser(sub: Any) -> None:
    a = sub.add_parser("audit", help="show the audit log, or --verify its hash chain",
                       description="Show who wrote, deleted, allowed, collected or read which "
                                   "secret (never a value), or check that the log was not "
                                   "edited (--verify).")
    a.add_argument("--server", metavar="S", help="only events of this server")
    a.add_argument("--since", metavar="T",
                   help="only events since T: an ISO time (2026-11-23T20:00) or an age "
                        "(30m, 12h, 7d)")
    a.add_argument("--json", action="store_true", help="one JSON object per line")
    a.add_argument("--verify", action="store_true",
                   help="check the hash chain; exit 1 and name the first broken line")


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """An age (``30m``, ``12h``, ``7d``, ``1w``) or an ISO time; naive times are UTC."""
    now = now or datetime.now(UTC)
    match = _DURATION.fullmatch(text.strip())
    if match:
        return now - timedelta(**{_UNITS[match[2]]: int(match[1])})
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise CLIError(f"--since {text!r} is neither an ISO time (2026-11-23T20:00) nor an age "
                       "(30m, 12h, 7d)", EXIT_USAGE) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _when(event: dict[str, Any]) -> datetime | None:
    try:
        return datetime.fromisoformat(str(event.get("time", "")).replace("Z", "+00:00"))
    except ValueError:
        return None


def cmd_audit(args: argparse.Namespace) -> int:
    from mcp_secrets import audit

    if args.verify:
        verdict = audit.verify()
        if not verdict.ok:
            raise CLIError(f"audit log NOT intact ({audit.log_path()}): {verdict.problem}",
                           EXIT_FAILURE)
        print(f"audit log intact: {verdict.lines} lines, hash chain unbroken "
              f"({audit.log_path()})")
        return EXIT_OK
    since = parse_since(args.since) if args.since else None
    for line in audit.lines():
        event = line.event
        if event is None:
            continue
        if args.server is not None and event.get("server") != args.server:
            continue
        if since is not None:
            when = _when(event)
            if when is None or when < since:
                continue
        if args.json:
            print(json.dumps({k: event.get(k) for k in audit.FIELDS}, ensure_ascii=False))
            continue
        subject = "/".join(str(event[k]) for k in ("server", "name") if event.get(k))
        print(f"{event.get('time', '?')}  {event.get('action', '?'):<10} "
              f"{event.get('outcome', '?'):<12} {subject or '-'}  "
              f"[{event.get('store') or '-'}] pid {event.get('pid')} {event.get('program')}")
    return EXIT_OK
