"""Where mcp-secrets keeps its own files. None of these hold plaintext secrets except through
the encrypted file store; every directory is created 0700."""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from mcp_secrets import config

if TYPE_CHECKING:
    from filelock import BaseFileLock


def private_dir(path: Path) -> Path:
    """Create `path` (0700) if missing; refuse one that another local user could tamper with.

    Our locks, counters and encrypted files decide what other processes believe: a directory
    someone else owns, or may write to, would let them swap those for their own (a symlinked
    counter made us write into its target). Refusing is a clear BackendError, before use.
    """
    from mcp_secrets.errors import BackendError

    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.stat(path)
    except OSError as exc:
        raise BackendError(f"cannot use the directory {path}: "
                           f"{exc.strerror or type(exc).__name__}") from None
    if sys.platform != "win32":
        if st.st_uid != os.getuid():
            raise BackendError(f"refusing to use {path}: it belongs to another user (uid "
                               f"{st.st_uid}); remove it or point mcp-secrets elsewhere")
        if st.st_mode & 0o022:
            raise BackendError(f"refusing to use {path}: others may write to it (mode "
                               f"{stat.S_IMODE(st.st_mode):o}); run `chmod go-w '{path}'`")
    return path


def data_dir() -> Path:
    """The encrypted file store lives here (MCP_SECRETS_DATA_DIR overrides)."""
    override = config.DATA_DIR.get()
    if override:
        return private_dir(Path(override))
    import platformdirs

    return private_dir(Path(platformdirs.user_data_dir("mcp-secrets", appauthor=False)))


def state_dir() -> Path:
    """Locks and cache-generation counters (no secret material). MCP_SECRETS_STATE_DIR overrides."""
    override = config.STATE_DIR.get()
    if override:
        return private_dir(Path(override))
    import platformdirs

    return private_dir(Path(platformdirs.user_state_dir("mcp-secrets", appauthor=False)))


def user_shared_dir() -> Path:
    """Cache counters of the OS keychain: one directory per user that depends on nothing in
    the environment, so two processes with different XDG_* or MCP_SECRETS_STATE_DIR still
    agree (shared memory on Linux, where `/dev/shm` is a per-boot tmpfs; elsewhere the
    state dir, where those variables are not how desktop apps are sandboxed)."""
    shm = Path("/dev/shm")  # noqa: S108 (a fixed, per-user, checked subdirectory)
    if sys.platform.startswith("linux") and shm.is_dir():
        return private_dir(shm / f"mcp-secrets-{os.getuid()}")
    return state_dir()


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
    except OSError as exc:  # e.g. a lock file we may not open: say which, not a raw OSError
        raise BackendError(f"cannot use the lock file {lock.lock_file}: "
                           f"{exc.strerror or type(exc).__name__}; nothing was changed") from None
    try:
        yield
    finally:
        lock.release()


@contextlib.contextmanager
def flocked(path: Path, timeout: float, busy: str) -> Iterator[None]:
    """Hold an exclusive lock on the file `path` (created 0600); if it cannot be had within
    `timeout` seconds, BackendError(`busy`) before anything was changed.

    On POSIX this is `flock`, which is what filelock uses there, so the two exclude each other;
    it spares a launch through `run` importing filelock (with dataclasses, logging, decimal...)
    to write one audit line. Elsewhere it is filelock.
    """
    if sys.platform == "win32":  # pragma: no cover - not run here
        from filelock import FileLock

        with holding(FileLock(str(path), timeout=timeout, mode=0o600), busy):
            yield
        return
    import fcntl
    import time

    from mcp_secrets.errors import BackendError

    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise BackendError(f"cannot use the lock file {path}: "
                           f"{exc.strerror or type(exc).__name__}; nothing was changed") from None
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise BackendError(busy) from None
                time.sleep(0.01)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


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
