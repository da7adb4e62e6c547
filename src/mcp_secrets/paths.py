"""Where mcp-secrets keeps its own files. None of these hold plaintext secrets except through
the encrypted file store; every directory is created 0700."""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from mcp_secrets import config

if TYPE_CHECKING:
    from filelock import BaseFileLock


def _private_dir(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    """The encrypted file store lives here (MCP_SECRETS_DATA_DIR overrides)."""
    override = config.DATA_DIR.get()
    if override:
        return _private_dir(Path(override))
    import platformdirs

    return _private_dir(Path(platformdirs.user_data_dir("mcp-secrets", appauthor=False)))


def state_dir() -> Path:
    """Locks and cache-generation counters (no secret material). MCP_SECRETS_STATE_DIR overrides."""
    override = config.STATE_DIR.get()
    if override:
        return _private_dir(Path(override))
    import platformdirs

    return _private_dir(Path(platformdirs.user_state_dir("mcp-secrets", appauthor=False)))


@contextlib.contextmanager
def holding(lock: BaseFileLock, busy: str) -> Iterator[None]:
    """Hold a cross-process file lock; if it cannot be had in time, BackendError(`busy`)
    before anything was changed."""
    from filelock import Timeout

    from mcp_secrets.errors import BackendError

    try:
        lock.acquire()
    except Timeout:
        raise BackendError(busy) from None
    try:
        yield
    finally:
        lock.release()


class ForkSafeLock:
    """A thread lock that a forked child gets fresh.

    A thread that held a plain lock at `fork` time does not exist in the child, so the child
    would wait for it forever. Every `ForkSafeLock` is replaced by a new, unheld lock in the
    child (one `os.register_at_fork` hook for all of them). Use it as ``with lock:``.
    """

    __slots__ = ("__weakref__", "_factory", "_lock")

    def __init__(self, *, reentrant: bool = False) -> None:
        self._factory = threading.RLock if reentrant else threading.Lock
        self._lock = self._factory()
        _fork_safe.add(self)

    def __enter__(self) -> bool:
        return self._lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self._lock.release()

    def _renew(self) -> None:
        self._lock = self._factory()


_fork_safe: weakref.WeakSet[ForkSafeLock] = weakref.WeakSet()


def _renew_after_fork() -> None:
    for lock in list(_fork_safe):
        lock._renew()


os.register_at_fork(after_in_child=_renew_after_fork)
