"""Cross-process invalidation for the in-process read cache: one shared 8-byte counter per service.

The counter lives in a small file under the store's coordination dir (see
`Backend.coordination_dir`: a place every writer of that store agrees on) mapped with
`mmap(MAP_SHARED)`, so every process sees a bump the instant it happens and a reader checks
it with one memory load (`memoryview.cast("Q")[0]`; no system call: an `os.stat` per read
would cost ~46x a dict lookup). The file holds a number only, never a secret.

It is a seqlock: writers (holding the service's file lock) make it *odd* before touching the
store and *even* after. A reader caches only what it read while the counter was even and
unchanged, so a write in progress, or a writer killed mid-write (counter left odd), makes every
reader go to the store until the next write finishes.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import re
import stat
from pathlib import Path

_SIZE = 8
_registry: dict[tuple[str, str], Generation] = {}


def state_file_stem(service: str) -> str:
    """A file-name-safe, collision-free stem for `service` (readable prefix + hash)."""
    readable = re.sub(r"[^A-Za-z0-9._-]", "_", service)[:64]
    digest = hashlib.sha256(service.encode("utf-8")).hexdigest()[:16]
    return f"{readable}-{digest}"


class Generation:
    """The shared counter of one service. Get instances with `Generation.for_service`."""

    def __init__(self, path: Path) -> None:
        from mcp_secrets.errors import BackendError

        self.path = path
        # Never through a symlink (one planted here made us write into its target), and only
        # a plain file of ours; `private_dir` already refused a directory others can write.
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(path, flags, 0o600)
        except OSError as exc:
            raise BackendError(f"cannot use the cache counter {path}: "
                               f"{exc.strerror or type(exc).__name__} (a symlink or other "
                               "non-file there is refused); remove it") from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or (hasattr(os, "getuid")
                                                and st.st_uid != os.getuid()):
                raise BackendError(f"refusing the cache counter {path}: not a regular file of "
                                   "this user; remove it")
            if st.st_size < _SIZE:
                os.ftruncate(fd, _SIZE)  # zero-fills; racing creators all agree on zero
            self._mm = mmap.mmap(fd, _SIZE, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        finally:
            os.close(fd)
        #: Live view of the shared counter: `view[0]` is the current generation.
        self.view = memoryview(self._mm).cast("Q")

    @classmethod
    def for_service(cls, service: str, base: Path | None = None) -> Generation:
        """One mapping per service per process (a MAP_SHARED mapping survives `fork` as-is),
        under `base` (the store's coordination dir; default: the user's state dir).

        No thread lock (one held at fork time would deadlock the child): racing threads may
        each map the file; both mappings see the same counter and `setdefault` keeps one.
        """
        key = (str(base), service)
        gen = _registry.get(key)
        if gen is None:
            from mcp_secrets.paths import private_dir, state_dir

            folder = private_dir((base or state_dir()) / "generations")
            gen = _registry.setdefault(key, cls(folder / f"{state_file_stem(service)}.gen"))
        return gen

    @property
    def value(self) -> int:
        return int(self.view[0])

    def begin_write(self) -> None:
        """Mark a write in progress (odd). Call only while holding the service's file lock."""
        current = self.view[0]
        self.view[0] = current + (1 if current % 2 == 0 else 2)

    def end_write(self) -> None:
        """Mark the write finished (even): every reader's cache of this service is now stale."""
        current = self.view[0]
        self.view[0] = current + (1 if current % 2 == 1 else 2)

    def __repr__(self) -> str:
        return f"<Generation {self.path.name} = {self.value}>"
