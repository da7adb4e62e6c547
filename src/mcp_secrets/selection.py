"""Which backend to use on this machine, and why (STUB: the backends helper replaces this)."""

from __future__ import annotations

import os

from mcp_secrets.backends.base import Backend

_default: Backend | None = None


def default_backend() -> Backend:
    global _default
    if _default is None:
        choice = os.environ.get("MCP_SECRETS_BACKEND", "")
        if choice == "memory":
            from mcp_secrets.backends.memory import MemoryBackend

            _default = MemoryBackend()
        else:
            from mcp_secrets.backends.keyring_backend import KeyringBackend

            _default = KeyringBackend()
    return _default
