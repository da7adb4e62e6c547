"""The one small interface every secret store implements.

A backend is a flat string-to-string map under a *service* (``com.mcp.{server}``). It knows
nothing about indexes, chunking, caching or MCP: `MCPSecretsStorage` adds those on top, so a
new store is three methods and a size limit.
"""

from __future__ import annotations

import abc
import contextlib
from pathlib import Path
from typing import ClassVar


class Backend(abc.ABC):
    """A place to keep string secrets, addressed by (service, key)."""

    #: Short identifier shown by `mcp-secrets doctor` and accepted by MCP_SECRETS_BACKEND.
    name: ClassVar[str] = "abstract"
    #: Largest value (in bytes of `value_encoding`) one entry holds; None means unlimited.
    #: `MCPSecretsStorage` splits larger values into chunks transparently.
    max_value_bytes: ClassVar[int | None] = None
    #: How the store measures a value's size (Windows Credential Manager counts UTF-16).
    value_encoding: ClassVar[str] = "utf-8"

    @abc.abstractmethod
    def get(self, service: str, key: str) -> str | None:
        """The value, or None when there is no such entry."""

    @abc.abstractmethod
    def set(self, service: str, key: str, value: str) -> None:
        """Create or replace an entry."""

    @abc.abstractmethod
    def delete(self, service: str, key: str) -> bool:
        """Remove an entry; True if it existed. Deleting a missing entry is not an error."""

    def keys(self, service: str) -> list[str] | None:
        """Every key under `service` if the store can enumerate, else None (keyring cannot)."""
        return None

    def services(self) -> list[str] | None:
        """Every service holding entries here, if the store can enumerate them (for `repair`
        and `doctor` across all servers), else None."""
        return None

    def coordination_dir(self) -> Path | None:
        """A directory every process that writes this store agrees on whatever its environment
        (XDG_*, MCP_SECRETS_STATE_DIR), for the storage layer's locks and cache counters.
        None: the user's state dir (for stores only one kind of process reaches)."""
        return None

    def write_lock(self, service: str,
                   timeout: float) -> contextlib.AbstractContextManager[None] | None:
        """A cross-process lock on `service` that the store itself provides (one a sandboxed
        writer shares too), or None for a file lock in `coordination_dir()`."""
        return None

    def describe(self) -> str:
        """One line for `doctor`: what this store is and where it keeps things."""
        return self.name

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"
