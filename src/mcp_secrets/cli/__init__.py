"""The `mcp-secrets` command: manage a server's secrets and diagnose the store from a shell.

Only the standard library is imported up front, so `mcp-secrets --help` starts instantly;
stores and keychain libraries load when a command actually needs them.
"""

from __future__ import annotations

from mcp_secrets.cli.main import main

__all__ = ["main"]
