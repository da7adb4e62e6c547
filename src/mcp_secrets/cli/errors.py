"""How the CLI fails: one line on stderr and an exit code, never a traceback."""

from __future__ import annotations

import sys

EXIT_OK = 0
EXIT_FAILURE = 1  # the command was understood but refused or failed (not found, no keychain, ...)
EXIT_USAGE = 2  # the command line itself is wrong
EXIT_INTERRUPTED = 130


class CLIError(Exception):
    """A user-level failure with a message fit to print as-is (never holds a secret value)."""

    def __init__(self, message: str, code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.code = code


def one_line(message: str) -> str:
    """Collapse a possibly multi-line message so every failure is exactly one stderr line."""
    return " ".join(message.split())


def report(message: str) -> None:
    print(f"mcp-secrets: {one_line(message)}", file=sys.stderr, flush=True)
