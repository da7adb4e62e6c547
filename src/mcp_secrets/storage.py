"""MCPSecretsStorage: one server's secrets on top of any `Backend`.

It adds what a flat keychain lacks:

* **Scoping**: every entry lives under service ``com.mcp.{server}``; servers never see each
  other's entries.
* **An index** (key ``__secret_index__``) so `list_secrets()` is one backend read.
  *Invariant: index ⊇ stored names.* Writers hold a per-service file lock and order their
  writes so a process killed at any point leaves at worst a *ghost* (indexed, not stored),
  never a stored secret missing from the index: `store` adds the name to the index (marked
  *pending*) before writing the value; `delete` removes the value before the name. The next
  writer checks the pending name and drops it if its value never arrived; a writer that finds
  the shared counter odd (its predecessor died mid-write) runs `repair()` first, so ghosts and
  orphan chunks are healed by the next write. `check()` finds damage without changing it.
* **Chunking** for stores with a size limit (Windows: 2560 bytes of UTF-16): chunks are written
  under fresh keys first, then the head entry is switched to a marker naming them and carrying
  their SHA-256, then the old chunks go. A kill at any point leaves the old or the new value,
  never a mix. Reads take no lock: chunks that do not fit their marker are read again under
  the lock (a writer may have swapped them meanwhile), and only then reported as corruption.
* **A read cache** invalidated across processes by a shared generation counter (see cache.py),
  so a repeated `retrieve_secret` costs about a dict lookup. Writes by programs that bypass
  mcp-secrets (e.g. `keyring set`) are not seen until our next write or a new process.

No method logs, raises or reprs a secret value.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from mcp_secrets import audit
from mcp_secrets.cache import Generation, state_file_stem
from mcp_secrets.errors import (
    BackendError,
    CorruptedEntryError,
    InvalidValueError,
    SecretsError,
    StoreDamagedError,
    UnsupportedBackendError,
    ValueTooLargeError,
    ValueTypeError,
)
from mcp_secrets.names import RESERVED_PREFIX, profile_name, service_name, validate_name
from mcp_secrets.paths import ForkSafeLock

if TYPE_CHECKING:
    import logging

    from filelock import FileLock

    from mcp_secrets.backends.base import Backend

def _log() -> logging.Logger:
    """This module's logger, imported on first use: a launch through `run` only reads."""
    import logging

    return logging.getLogger(__name__)
_T = TypeVar("_T")

INDEX_KEY = "__secret_index__"
CHUNK_PREFIX = "__chunk__"
PREVIOUS_PREFIX = "__previous__"  # a rotated secret's grace-period record (rotation.py)
MARKER_PREFIX = "mcp-secrets:chunked:v1:"
_MARKER_RE = re.compile(r"mcp-secrets:chunked:v1:(\d{1,6}):([0-9a-f]{8}):([0-9a-f]{64})")
#: Longest value accepted, in characters (a keychain is not a file store).
MAX_VALUE_CHARS = 1 << 20
#: A limited backend must hold at least a chunk marker (~110 characters) per entry.
MIN_LIMIT_BYTES = 256
MAX_CACHE_ENTRIES = 4096
LOCK_TIMEOUT = 60.0

#: Every value this process has read from a store or written to one, for any server: what the
#: output guard (guard.py) masks. Added on the slow paths only (a store read, a write), never on
#: a cached read; it never shrinks, so its length tells a reader whether anything was added.
_handled: dict[str, None] = {}

_file_locks: dict[tuple[str, str, int], FileLock] = {}
#: Guards every instance's cache fields. Never held across I/O. Fresh in a forked child.
_cache_lock = ForkSafeLock()


def handled_values() -> list[str]:
    """The values this process has read or stored (a snapshot; insertion order)."""
    return list(_handled.copy())


def handled_count() -> int:
    """How many values `handled_values` holds: a cheap check for "anything new?"."""
    return len(_handled)


def remember_handled(value: str) -> None:
    """Note a value this process now knows (read outside `retrieve_secret`, e.g. rotation)."""
    _handled.setdefault(value, None)


def _file_lock(service: str, timeout: float, base: Path | None) -> FileLock:
    """The cross-process lock of `service` under `base` (the store's coordination dir, default
    the state dir), one object per process (fresh after fork).

    No thread lock: racing threads may each build a FileLock, `setdefault` keeps one.
    """
    key = (str(base), service, os.getpid())
    lock = _file_locks.get(key)
    if lock is None:
        from filelock import FileLock

        from mcp_secrets.paths import private_dir, state_dir

        folder = private_dir((base or state_dir()) / "locks")
        lock = _file_locks.setdefault(key, FileLock(
            folder / f"{state_file_stem(service)}.lock", timeout=timeout, mode=0o600))
    return lock


class _Index:
    __slots__ = ("_sorted", "dirty", "names", "pending")

    def __init__(self, names: set[str] | None = None, pending: list[str] | None = None,
                 dirty: bool = False) -> None:
        self.names = set() if names is None else names
        self.pending: list[str] = [] if pending is None else pending
        self.dirty = dirty
        self._sorted: list[str] | None = None

    @property
    def sorted_names(self) -> list[str]:
        if self._sorted is None:
            self._sorted = sorted(self.names)
        return self._sorted

    @sorted_names.setter
    def sorted_names(self, names: list[str]) -> None:
        self._sorted = names

    def dump(self) -> str:
        return json.dumps({"v": 1, "names": sorted(self.names), "pending": self.pending},
                          separators=(",", ":"))


class _Tx:
    """What a write changed, so this process's cache can carry over instead of being flushed."""

    __slots__ = ("healed", "names", "reset", "values")

    def __init__(self) -> None:
        self.values: dict[str, str | None] = {}
        self.names: list[str] | None = None
        self.reset = False
        #: The repair this write did first because the previous writer died mid-write.
        self.healed: dict[str, Any] | None = None


class MCPSecretsStorage:
    """The secrets of one server in one profile, under keychain service ``com.mcp.{server_name}``
    (default profile) or ``com.mcp.{server_name}/{profile}``."""

    __slots__ = ("__weakref__", "_base", "_cache", "_cgen", "_gen", "_gv", "_lock_timeout",
                 "_names", "backend", "profile", "server_name", "service")

    def __init__(self, server_name: str, backend: Backend | None = None, *,
                 profile: str | None = None, lock_timeout: float = LOCK_TIMEOUT) -> None:
        # profile None: MCP_SECRETS_PROFILE, else the default profile (scope com.mcp.{server}).
        self.service = service_name(server_name, profile)
        self.profile = profile_name(profile)
        self.server_name = validate_name(server_name, kind="server name")
        if backend is None:
            from mcp_secrets.selection import default_backend

            backend = default_backend()
        limit = backend.max_value_bytes
        if limit is not None and limit < MIN_LIMIT_BYTES:
            raise UnsupportedBackendError(f"{backend.name} holds only {limit} bytes per entry; "
                             f"MCPSecretsStorage needs at least {MIN_LIMIT_BYTES} to chunk")
        self.backend = backend
        self._lock_timeout = lock_timeout
        # Lock and counter live where every writer of *this store* agrees, not in a per-process
        # state dir: two writers with different XDG_*/MCP_SECRETS_STATE_DIR lost entries.
        self._base = backend.coordination_dir()
        self._gen = Generation.for_service(self.service, self._base)
        self._gv = self._gen.view
        self._cache: dict[str, str | None] = {}
        self._names: list[str] | None = None
        self._cgen = -1  # generation the cache is valid for; never odd

    # ------------------------------------------------------------ public API

    @audit.audited("write")
    def store_secret(self, name: str, value: str) -> None:
        """Create or replace `name`; nothing is stored if the name or value is bad."""
        name = validate_name(name)
        self._check_value(value)
        with self._write() as tx:
            index = self._load_index()
            self._heal_pending(index, keep=name)
            added = name not in index.names
            if added:
                index.names.add(name)
                index.pending = [name]
                index.dirty = True
            if index.dirty:
                self._put(INDEX_KEY, index.dump())  # index first: a kill leaves a ghost at worst
            try:
                self._put(name, value)
            except Exception:
                if added:  # the store refused the value: take the name back out (best effort)
                    index.names.discard(name)
                    index.pending = []
                    with contextlib.suppress(Exception):
                        self._put(INDEX_KEY, index.dump())
                raise
            tx.values[name] = value
            tx.names = sorted(index.names)
        _handled.setdefault(value, None)
        _log().debug("stored secret %r for %s", name, self.service)

    def retrieve_secret(self, name: str) -> str | None:
        """The value of `name`, or None. Served from the cache while no process has written."""
        if self._gv[0] == self._cgen:
            try:
                return self._cache[name]
            except (KeyError, TypeError):
                pass
        return self._retrieve_uncached(name)

    def secret_exists(self, name: str) -> bool:
        return self.retrieve_secret(name) is not None

    @audit.audited("delete")
    def delete_secret(self, name: str) -> bool:
        """Remove `name`; True if it was stored."""
        raw, name = name, validate_name(name)
        # A name stored before names were normalized goes too (it is the same name).
        forms = [name] if raw == name else [name, raw]
        with self._write() as tx:
            index = self._load_index()
            self._heal_pending(index, keep=None)
            existed = False
            for form in forms:
                existed = self._remove(form) or existed  # value first: a kill leaves a ghost
                if form in index.names:
                    index.names.discard(form)
                    index.dirty = True
                self._remove(PREVIOUS_PREFIX + form)
            if index.dirty:
                self._put(INDEX_KEY, index.dump())
            tx.values[name] = None
            tx.names = sorted(index.names)
        _log().debug("deleted secret %r for %s (existed=%s)", name, self.service, existed)
        return existed

    def list_secrets(self) -> list[str]:
        """Sorted names of this server's secrets: one backend read, or none when cached.

        May include a ghost left by a writer killed mid-write until the next write or repair().
        """
        if self._gv[0] == self._cgen:
            names = self._names
            if names is not None:
                return list(names)
        g0 = self._gv[0]
        result = self._load_index().sorted_names
        self._remember(g0, names=result)
        return list(result)

    @audit.audited("clear")
    def clear_secrets(self) -> int:
        """Delete every secret of this server (indexed or found by enumeration); the count."""
        with self._write() as tx:
            index = self._load_index(tolerate_corrupt=True)
            keys = self._bkeys()
            removed = sum(1 for n in sorted(_candidates(index, keys)) if self._remove(n))
            for n in _candidates(index, keys):
                self._remove(PREVIOUS_PREFIX + n)
            self._remove(INDEX_KEY)
            if keys is not None:
                for key in self._bkeys() or []:
                    if key.startswith(CHUNK_PREFIX):
                        self._bdel(key)
            tx.reset = True
            tx.names = []
        _log().debug("cleared %d secrets for %s", removed, self.service)
        return removed

    def repair(self) -> dict[str, Any]:
        """Make the index equal what is really stored and drop orphaned chunks.

        Returns counts only (never values). Without an enumerable backend it can remove ghosts
        but cannot discover unindexed entries or orphan chunks (`"enumerable": False`).
        """
        with self._write() as tx:
            report = tx.healed if tx.healed is not None else self._scan(apply=True)
            tx.reset = True
            tx.names = report.pop("_names")
        _log().debug("repaired %s: %s", self.service, report)
        return report

    def check(self) -> dict[str, Any]:
        """What `repair()` would fix, changing nothing (for `mcp-secrets doctor`): the same
        counts. Taken under the write lock so a write in progress is not mistaken for damage."""
        with self._locked():
            report = self._scan(apply=False)
        report.pop("_names")
        return report

    @staticmethod
    def damaged(report: dict[str, Any]) -> bool:
        """True if a `check()`/`repair()` report found anything to fix."""
        return bool(report["ghosts_removed"] or report["unindexed_added"]
                    or report["orphan_chunks_removed"] or report["index_rebuilt"])

    def _scan(self, *, apply: bool) -> dict[str, Any]:
        """Compare the index with the store (under the lock); with `apply`, rewrite the index
        and delete orphan chunks. Counts only; `_names` carries the true names for the cache."""
        index = self._load_index(tolerate_corrupt=True)
        rebuilt = index.dirty
        keys = self._bkeys()
        ghosts = 0
        referenced: set[str] = set()
        names: set[str] = set()
        invalid = 0
        for name in sorted(_candidates(index, keys)):
            try:
                validate_name(name)
            except ValueError:
                invalid += 1
                continue
            head = self._bget(name)
            if head is None:
                ghosts += name in index.names
                continue
            names.add(name)
            referenced |= self._chunk_keys(name, head)
        unindexed = len(names - index.names)
        if apply:
            self._put(INDEX_KEY, _Index(names=names).dump())
        orphans = 0
        if keys is not None:
            referenced |= self._chunk_keys(INDEX_KEY, self._bget(INDEX_KEY))
            for key in (self._bkeys() if apply else keys) or []:
                if key.startswith(CHUNK_PREFIX) and key not in referenced:
                    orphans += self._bdel(key) if apply else 1
        return {
            "secrets": len(names),
            "ghosts_removed": ghosts,
            "unindexed_added": unindexed,
            "orphan_chunks_removed": orphans,
            "invalid_names_skipped": invalid,
            "index_rebuilt": rebuilt,
            "enumerable": keys is not None,
            "_names": sorted(names),
        }

    def __repr__(self) -> str:
        return f"<MCPSecretsStorage {self.service} on {self.backend!r}>"

    # ----------------------------------------------------------------- cache

    def _retrieve_uncached(self, name: str) -> str | None:
        nfc = validate_name(name)
        g0 = self._gv[0]  # read before the store: a write after this makes the entry stale
        value = self._get(nfc)
        if value is None and nfc != name:
            value = self._get(name)  # stored before names were normalized: still readable
        audit.first_read(self, name, value is not None)
        if value is not None:
            _handled.setdefault(value, None)
        self._remember(g0, name=name, value=value)
        return value

    def _remember(self, g0: int, *, name: str | None = None, value: str | None = None,
                  names: list[str] | None = None) -> None:
        if g0 & 1:
            return  # a write was in progress (or its writer died): do not cache
        with _cache_lock:
            if self._cgen != g0:
                if self._gv[0] != g0:
                    return  # changed while we read: what we read may already be stale
                self._cache = {}
                self._names = None
                self._cgen = g0
            if name is not None:
                if len(self._cache) >= MAX_CACHE_ENTRIES:
                    self._cache.clear()
                self._cache[name] = value
            if names is not None:
                self._names = names

    @contextlib.contextmanager
    def _write(self) -> Iterator[_Tx]:
        """Hold the service's file lock, bracket the write in the shared counter, and carry
        this process's still-valid cache forward with what the write changed."""
        with self._locked():
            start = self._gv[0]
            carry = start == self._cgen
            tx = _Tx()
            self._gen.begin_write()
            ok = False
            try:
                if start & 1:
                    # Odd while we hold the lock: the last writer died mid-write, so ghosts
                    # and orphan chunks may be left. Heal them now rather than wait for a repair.
                    tx.healed = self._scan(apply=True)
                    tx.reset = True
                    _log().debug("healed %s after an interrupted write: %s", self.service,
                              tx.healed)
                yield tx
                ok = True
            finally:
                self._gen.end_write()
                end = self._gv[0]
                with _cache_lock:
                    if ok:  # we held the lock: what we wrote is exactly the state at `end`
                        if tx.reset or not carry:
                            self._cache = {}
                        self._cache.update(tx.values)
                        self._names = tx.names
                        self._cgen = end
                    else:  # failed part-way: trust nothing
                        self._cache = {}
                        self._names = None
                        self._cgen = -1

    def _locked(self) -> contextlib.AbstractContextManager[None]:
        """Hold the service's cross-process file lock (reentrant within a thread)."""
        from mcp_secrets.paths import holding

        own = self.backend.write_lock(self.service, self._lock_timeout)
        if own is not None:
            return own
        lock = _file_lock(self.service, self._lock_timeout, self._base)
        return holding(lock, f"timed out after {self._lock_timeout:g} s waiting for "
                             f"{lock.lock_file}: another process is writing {self.service}'s "
                             "secrets (or is stuck); try again")

    # ------------------------------------------------------- index and entries

    def _load_index(self, *, tolerate_corrupt: bool = False) -> _Index:
        try:
            raw = self._get(INDEX_KEY)
        except CorruptedEntryError:
            if tolerate_corrupt:
                return _Index(dirty=True)
            raise
        if raw is None:
            return _Index()
        try:
            data = json.loads(raw)
            if isinstance(data, list):  # the first cut's format: a bare JSON list
                return _Index(names={str(n) for n in data}, dirty=True)
            names = data["names"]
            pending = data.get("pending", [])
            if isinstance(names, list) and isinstance(pending, list):
                index = _Index(names={str(n) for n in names}, pending=[str(p) for p in pending])
                if all(isinstance(n, str) for n in names) and names == sorted(names):
                    index.sorted_names = names  # as dumped: spares a sort when listing
                return index
        except (ValueError, TypeError, KeyError, AttributeError):
            pass
        if tolerate_corrupt:
            return _Index(dirty=True)
        raise StoreDamagedError(
            f"the secret index of {self.service} is unreadable; run "
            f"`mcp-secrets repair {self.server_name}` to rebuild it from what is stored"
        )

    def _heal_pending(self, index: _Index, keep: str | None) -> None:
        """Drop names a killed writer indexed but never stored (checked only for `pending`)."""
        if not index.pending:
            return
        for name in index.pending:
            if name != keep and name in index.names and self._bget(name) is None:
                index.names.discard(name)
                _log().debug("dropped ghost %r from the index of %s", name, self.service)
        index.pending = []
        index.dirty = True

    def _check_value(self, value: object) -> None:
        if not isinstance(value, str):
            raise ValueTypeError(f"secret values must be str, not {type(value).__name__}; "
                            f"nothing was stored")
        if len(value) > MAX_VALUE_CHARS:
            raise ValueTooLargeError(f"the value is {len(value)} characters long; the limit is "
                                     f"{MAX_VALUE_CHARS}; nothing was stored")
        try:
            value.encode("utf-8")
            value.encode(self.backend.value_encoding)
        except UnicodeEncodeError as exc:
            raise InvalidValueError(
                f"the value is not valid Unicode text (bad character at position {exc.start}); "
                f"nothing was stored"
            ) from None

    def _put(self, key: str, text: str) -> None:
        """Write one logical entry, chunked when it does not fit (or looks like a marker)."""
        stale = self._chunk_keys(key, self._bget(key))
        limit = self.backend.max_value_bytes
        enc = self.backend.value_encoding
        fits = limit is None or len(text.encode(enc)) <= limit
        if fits and not text.startswith(MARKER_PREFIX):
            self._bset(key, text)
        else:
            nonce = os.urandom(4).hex()
            while _chunk_key(key, nonce, 0) in stale:  # never overwrite the chunks in use
                nonce = os.urandom(4).hex()
            pieces = _split(text, limit, enc) if limit is not None else [text]
            for i, piece in enumerate(pieces):
                self._bset(_chunk_key(key, nonce, i), piece)
            digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
            self._bset(key, f"{MARKER_PREFIX}{len(pieces)}:{nonce}:{digest}")
            _log().debug("wrote %r of %s as %d chunks", key, self.service, len(pieces))
        for chunk in stale:
            self._bdel(chunk)

    def _get(self, key: str) -> str | None:
        """The logical value of `key`. Reads take no lock, so a writer may swap a chunked
        value's chunks between our read of its marker and of a chunk; a torn read is redone
        under the lock, where no writer is mid-way and a second failure is real corruption."""
        try:
            return self._read(key)
        except CorruptedEntryError:
            pass
        with self._locked():
            return self._read(key)

    def _read(self, key: str) -> str | None:
        head = self._bget(key)
        if head is None or not head.startswith(MARKER_PREFIX):
            return head
        match = _MARKER_RE.fullmatch(head)
        if match is None:
            raise self._corrupted(key, "its chunk marker is malformed")
        count, nonce, digest = int(match[1]), match[2], match[3]
        pieces = []
        for i in range(count):
            piece = self._bget(_chunk_key(key, nonce, i))
            if piece is None:
                raise self._corrupted(key, f"chunk {i + 1} of {count} is missing")
            pieces.append(piece)
        text = "".join(pieces)
        if hashlib.sha256(text.encode("utf-8")).hexdigest() != digest:
            raise self._corrupted(key, "its chunks do not match their checksum")
        return text

    def _remove(self, key: str) -> bool:
        head = self._bget(key)
        if head is None:
            return False
        existed = self._bdel(key)
        for chunk in self._chunk_keys(key, head):
            self._bdel(chunk)
        return existed

    # ------------------------------------------------- guarded backend calls
    # A third-party backend's exception may quote the value it was handed: only its type
    # name travels on.

    def _guarded(self, what: str, call: Callable[..., _T], *args: str) -> _T:
        try:
            return call(self.service, *args)
        except SecretsError:
            raise
        except Exception as exc:
            raise BackendError(f"{self.backend.name} {what} failed for {self.service} "
                               f"({type(exc).__name__})") from None

    def _bget(self, key: str) -> str | None:
        return self._guarded("read", self.backend.get, key)

    def _bset(self, key: str, value: str) -> None:
        self._guarded("write", self.backend.set, key, value)

    def _bdel(self, key: str) -> bool:
        return self._guarded("delete", self.backend.delete, key)

    def _bkeys(self) -> list[str] | None:
        return self._guarded("listing", self.backend.keys)

    @staticmethod
    def _chunk_keys(key: str, head: str | None) -> set[str]:
        if head is None:
            return set()
        match = _MARKER_RE.fullmatch(head)
        if match is None:
            return set()
        return {_chunk_key(key, match[2], i) for i in range(int(match[1]))}

    def _corrupted(self, key: str, why: str) -> CorruptedEntryError:
        what = "the secret index" if key == INDEX_KEY else f"secret {key!r}"
        return CorruptedEntryError(f"{what} of {self.service} is corrupted: {why}. Store it "
                                   f"again, or delete it and run "
                                   f"`mcp-secrets repair {self.server_name}`")



def _candidates(index: _Index, keys: list[str] | None) -> set[str]:
    """Every name that may be stored: the indexed ones, plus each non-internal key where the
    backend can enumerate (entries a killed writer stored but never indexed)."""
    names = set(index.names)
    if keys is not None:
        names |= {k for k in keys if not k.startswith(RESERVED_PREFIX)}
    return names


def _chunk_key(key: str, nonce: str, i: int) -> str:
    return f"{CHUNK_PREFIX}{key}__{nonce}__{i}"


def _split(text: str, limit: int, encoding: str) -> list[str]:
    """Split `text` into pieces whose encoding fits `limit` bytes (never inside a character)."""
    unit = max(1, len(("a" * 2).encode(encoding)) - len("a".encode(encoding)))
    pieces: list[str] = []
    i = 0
    while i < len(text):
        n = max(1, limit // unit)
        piece = text[i : i + n]
        size = len(piece.encode(encoding))
        while size > limit and n > 1:
            n = max(1, n - max(1, (size - limit) // 4))
            piece = text[i : i + n]
            size = len(piece.encode(encoding))
        if size > limit:
            raise ValueTooLargeError(f"one character does not fit the store's {limit}-byte limit")
        pieces.append(piece)
        i += n
    return pieces
