"""The audit log: who wrote, deleted, was allowed, collected or first read which secret, when.

One JSON line per event — time, server, profile, name, action, outcome, store, pid, program —
never a value. Each line carries ``prev``, the SHA-256 of the line before it, and a small
``audit.head`` file holds the hash of the last line, so `verify()` finds an edited, removed or
reordered line (and a removed last line) and says where. This is tamper-*evident* against
someone who edits the file; a writer who can also rewrite every later line and the head can
hide an edit, as with any hash chain that is not anchored elsewhere.

The file is 0600, appended under a file lock, and rotated by size (``audit.jsonl`` →
``audit.jsonl.1`` … ``.9``) without breaking the chain: the first line of a new file carries
the hash of the last line of the old one.

Cheap by construction: the storage hooks sit on writes and on the *uncached* read path only,
and a read is logged once per (server, name) per process, so a cached read costs exactly what
it did. MCP_SECRETS_AUDIT=false turns the log off. A log that cannot be written is a warning,
not a failed secret operation.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from mcp_secrets import config

if TYPE_CHECKING:
    from pathlib import Path

# Imported on every launch through `run` (it resolves references): only cheap modules up front;
# hashlib and logging are loaded on the first event (and no datetime, no filelock at all).
_F = TypeVar("_F", bound=Callable[..., Any])

GENESIS = "0" * 64
KEEP = 9  # rotated files kept: audit.jsonl.1 … .9
LOCK_TIMEOUT = 10.0
FIELDS = ("time", "server", "profile", "name", "action", "outcome", "store", "pid", "program")

_seen_reads: set[tuple[str, str]] = set()
_pid = os.getpid()
_thread_lock = threading.Lock()


def _fresh_after_fork() -> None:
    global _seen_reads, _pid, _thread_lock
    _seen_reads = set()
    _pid = os.getpid()
    _thread_lock = threading.Lock()


os.register_at_fork(after_in_child=_fresh_after_fork)


def enabled() -> bool:
    return (config.AUDIT.get() or "true").strip().lower() not in ("0", "false", "no", "off")


def log_path() -> Path:
    from pathlib import Path

    override = config.AUDIT_FILE.get()
    if override:
        return Path(override)
    from mcp_secrets.paths import state_dir

    return state_dir() / "audit.jsonl"


def _head_path(path: Path) -> Path:
    return path.with_name(path.name + ".head")


def _program() -> str:
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] else sys.executable
    return os.path.basename(argv0)[:64]


def _digest(line: bytes) -> str:
    import hashlib

    return hashlib.sha256(line).hexdigest()


# --------------------------------------------------------------------------- writing


def record(action: str, *, server: str | None = None, name: str | None = None,
           outcome: str = "ok", store: str | None = None, profile: str | None = None) -> None:
    """Append one event. Never pass a value: only names and outcomes go in."""
    _write([_event(action, server, name, outcome, store, profile)])


def _event(action: str, server: str | None, name: str | None, outcome: str,
           store: str | None, profile: str | None) -> dict[str, Any]:
    import time

    now = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"
    return {
        "time": stamp,
        "server": server, "profile": profile, "name": name, "action": action,
        "outcome": outcome, "store": store, "pid": _pid, "program": _program(),
    }


_quiet = threading.local()


@contextlib.contextmanager
def suppressed() -> Iterator[None]:
    """Log nothing from this thread meanwhile: for `run --watch`'s periodic re-checks, which
    are not uses (a change it acts on is logged once, as ``inject``)."""
    _quiet.on = True
    try:
        yield
    finally:
        _quiet.on = False


def _write(events: list[dict[str, Any]]) -> None:
    if not events or getattr(_quiet, "on", False) or not enabled():
        return
    try:
        _append(log_path(), events)
    except Exception as exc:  # the log must not take the secret operation down with it
        import logging

        logging.getLogger(__name__).warning(
            "mcp-secrets could not write the audit log (%s)", type(exc).__name__)


def first_read(storage: Any, name: str, found: bool) -> None:
    """Log the first read of (server, name) in this process; later ones are free."""
    key = (storage.server_name, name)
    if key in _seen_reads:
        return
    _seen_reads.add(key)
    _storage_event(storage, "read", name, "ok" if found else "missing")


def resolved(refs: Mapping[str, Any]) -> None:
    """Log each reference `resolve_all` turned into a value (what `run` injects): the label
    (usually the variable) as name, the scheme as store; a reference holds no value."""
    _write([_event("resolve", ref.host or None, label, "ok", ref.scheme, None)
            for label, ref in refs.items()])


def _lock(path: Path) -> contextlib.AbstractContextManager[None]:
    from mcp_secrets.paths import flocked

    lock = path.with_name(path.name + ".lock")
    return flocked(lock, LOCK_TIMEOUT, f"timed out waiting for the audit log lock {lock}")


def _open_private(path: Path, flags: int) -> int:
    fd = os.open(path, flags | os.O_CLOEXEC, 0o600)
    if os.fstat(fd).st_mode & 0o077:
        os.fchmod(fd, 0o600)
    return fd


def _last_hash(path: Path) -> str:
    head = _head_path(path)
    try:
        text = head.read_text().strip()
    except FileNotFoundError:
        return GENESIS
    return text.split()[0] if text else GENESIS


def _write_head(path: Path, digest: str) -> None:
    """Overwrite the head in place (one 65-byte write under the lock): a rename per event
    costs ~10 ms on some filesystems."""
    fd = _open_private(_head_path(path), os.O_WRONLY | os.O_CREAT)
    try:
        os.pwrite(fd, (digest + "\n").encode(), 0)
    finally:
        os.close(fd)


def _rotate(path: Path) -> None:
    oldest = path.with_name(f"{path.name}.{KEEP}")
    oldest.unlink(missing_ok=True)
    for k in range(KEEP - 1, 0, -1):
        src = path.with_name(f"{path.name}.{k}")
        if src.exists():
            os.replace(src, path.with_name(f"{path.name}.{k + 1}"))
    os.replace(path, path.with_name(f"{path.name}.1"))


def _max_bytes() -> int:
    try:
        return max(4096, int(config.AUDIT_MAX_BYTES.get() or "0"))
    except ValueError:
        return 10_000_000


def _append(path: Path, events: list[dict[str, Any]]) -> None:
    """Append `events` in one locked step, each line chained to the one before."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with _thread_lock, _lock(path):
        prev = _last_hash(path)
        for event in events:
            line = json.dumps({**event, "prev": prev}, separators=(",", ":"),
                              ensure_ascii=False).encode("utf-8")
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_size + len(line) + 1 > _max_bytes():
                    _rotate(path)
            fd = _open_private(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
            try:
                os.write(fd, line + b"\n")
            finally:
                os.close(fd)
            prev = _digest(line)
        _write_head(path, prev)


def audited(action: str) -> Callable[[_F], _F]:
    """Decorate a `MCPSecretsStorage` method: log `action` with its outcome. The first
    positional argument, if any, is the secret's *name*; later ones (values) are never read."""

    def wrap(fn: _F) -> _F:
        @functools.wraps(fn)
        def inner(storage: Any, *args: Any, **kwargs: Any) -> Any:
            name = args[0] if args and isinstance(args[0], str) else kwargs.get("name")
            try:
                result = fn(storage, *args, **kwargs)
            except Exception as exc:
                _storage_event(storage, action, name, f"failed: {type(exc).__name__}")
                raise
            _storage_event(storage, action, name, "ok")
            return result

        return inner  # type: ignore[return-value]

    return wrap


def _storage_event(storage: Any, action: str, name: str | None, outcome: str) -> None:
    backend = getattr(storage, "backend", None)
    record(action, server=getattr(storage, "server_name", None), name=name, outcome=outcome,
           store=getattr(backend, "name", None), profile=getattr(storage, "profile", None))


# --------------------------------------------------------------------------- reading


def files(path: Path | None = None) -> list[Path]:
    """The log's files, oldest first (rotated ones, then the current one)."""
    path = path or log_path()
    rotated = [path.with_name(f"{path.name}.{k}") for k in range(KEEP, 0, -1)]
    return [p for p in [*rotated, path] if p.exists()]


class Line(NamedTuple):
    file: Path
    number: int  # 1-based within its file
    raw: bytes
    event: dict[str, Any] | None  # None: not JSON

    @property
    def where(self) -> str:
        return f"{self.file.name} line {self.number}"


def lines(path: Path | None = None) -> Iterator[Line]:
    for file in files(path):
        with file.open("rb") as fh:
            for number, raw in enumerate(fh, 1):
                raw = raw.rstrip(b"\n")
                try:
                    event = json.loads(raw)
                except ValueError:
                    event = None
                yield Line(file, number, raw, event if isinstance(event, dict) else None)


class Verdict(NamedTuple):
    ok: bool
    lines: int
    problem: str | None = None


def verify(path: Path | None = None) -> Verdict:
    """Check the chain over every file; the first break is named by file and line.

    The oldest kept file may start mid-chain (older files were rotated away): its first
    ``prev`` is taken as given.
    """
    path = path or log_path()
    prev: str | None = None
    before = "the start"
    count = 0
    for line in lines(path):
        count += 1
        if line.event is None:
            return Verdict(False, count, f"{line.where} is not a JSON audit record (edited?)")
        claimed = line.event.get("prev")
        if prev is not None and claimed != prev:
            return Verdict(False, count, f"the chain breaks between {before} and {line.where}: "
                                         f"{before} was edited, or a line between them was "
                                         "removed, or lines were reordered")
        prev = _digest(line.raw)
        before = line.where
    if prev is not None and _last_hash(path) != prev:
        return Verdict(False, count, "the last line does not match audit.jsonl.head: the last "
                                     "line was edited or lines were removed from the end")
    if prev is None and _last_hash(path) != GENESIS:
        return Verdict(False, 0, "the log is empty but its head says it was not: it was "
                                 "emptied or removed")
    return Verdict(True, count)
