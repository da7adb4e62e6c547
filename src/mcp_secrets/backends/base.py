"""The one small interface every secret store implements, and how a store describes itself.

A backend is a flat string-to-string map under a *service* (``com.mcp.{server}``). It knows
nothing about indexes, chunking, caching or MCP: `MCPSecretsStorage` adds those on top, so a
new store is three methods and a size limit.

Like jaraco/keyring's backends, each class also says whether it can work here and how much it
wants to be chosen: `probe()` answers "usable? why not? how to fix?" without storing anything,
and `priority` orders the usable ones. `selection` only sorts and explains; it knows no store's
insides. A third-party store plugs in through the ``mcp_secrets.backends`` entry-point group.
"""

from __future__ import annotations

import abc
import contextlib
from pathlib import Path
from typing import ClassVar, NamedTuple


class Probe(NamedTuple):
    """A store's answer to "can you work here, now?": never holds a secret."""

    usable: bool
    #: What was found: why it is usable ("reachable and unlocked") or why not.
    reason: str
    #: What a person can do to make it usable; None when usable or when nothing can be done.
    fix: str | None = None
    #: Present but unusable right now (locked, slow): it still holds this user's secrets, so
    #: selection keeps it — its calls ask to unlock or fail clearly — rather than let another
    #: store answer "not stored" for them and take second copies.
    transient: bool = False


class Backend(abc.ABC):
    """A place to keep string secrets, addressed by (service, key)."""

    #: Short identifier shown by `mcp-secrets doctor` and accepted by MCP_SECRETS_BACKEND; the
    #: entry point's name must be the same.
    name: ClassVar[str] = "abstract"
    #: Automatic selection tries usable stores from the highest priority down. 0 or less: never
    #: chosen automatically, only by name (MCP_SECRETS_BACKEND / --backend).
    priority: ClassVar[float] = 0.0
    #: An OS keychain (what `KeyringStorage` accepts), rather than a file or process memory.
    is_keychain: ClassVar[bool] = False
    #: The store refuses writes (a read-only view, e.g. a mounted secrets directory).
    read_only: ClassVar[bool] = False
    #: Largest value (in bytes of `value_encoding`) one entry holds; None means unlimited.
    #: `MCPSecretsStorage` splits larger values into chunks transparently.
    max_value_bytes: ClassVar[int | None] = None
    #: How the store measures a value's size (Windows Credential Manager counts UTF-16).
    value_encoding: ClassVar[str] = "utf-8"

    @classmethod
    def probe(cls, *, explicit: bool = False) -> Probe:
        """Can this store be used here, now? Bounded in time, stores and reads nothing secret.

        `explicit` is True when a person named this store; a store may then skip a check that
        only guards automatic selection. The default says yes; a store that depends on a
        daemon, a library or a passphrase overrides it."""
        return Probe(True, "available")

    @classmethod
    def create(cls) -> Backend:
        """The instance selection hands out once `probe()` said yes."""
        return cls()

    @property
    def needs_chunking(self) -> bool:
        """True when `MCPSecretsStorage` must split long values for this store."""
        return self.max_value_bytes is not None

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
