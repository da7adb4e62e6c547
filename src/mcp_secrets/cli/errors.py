"""How the CLI fails: one line on stderr and an exit code, never a traceback."""

from __future__ import annotations

import sys

from mcp_secrets.errors import CLIError

__all__ = ["EXIT_FAILURE", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "CLIError", "one_line",
           "report"]

EXIT_OK = 0
EXIT_FAILURE = 1  # the command was understood but refused or failed (not found, no keychain, ...)
EXIT_USAGE = 2  # the command line itself is wrong
EXIT_INTERRUPTED = 130


def one_line(message: str) -> str:
    """Collapse a possibly multi-line message so every failure is exactly one stderr line."""
    return " ".join(message.split())


def report(message: str) -> None:
    print(f"mcp-secrets: {one_line(message)}", file=sys.stderr, flush=True)
