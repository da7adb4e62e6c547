"""Test-only backends. Each is a named FAKE or a thin wrapper around a real one, used only where
a test is *about* the behaviour it adds (a size limit, a crash at an exact point, a failure)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from mcp_secrets.backends.base import Backend
from mcp_secrets.backends.memory import MemoryBackend
from mcp_secrets.backends.secret_service import SecretServiceBackend
from mcp_secrets.errors import BackendError

SMALL_LIMIT = 256  # bytes of UTF-16-LE per entry: Windows' rule, with a tenth of its room


class FakeSmallLimitBackend(MemoryBackend):
    """FAKE of Windows Credential Manager's rule: an entry over `SMALL_LIMIT` bytes of UTF-16
    fails (as CredWrite does with error 1783). Records the largest entry it accepted."""

    name = "fake-small-limit"
    max_value_bytes = SMALL_LIMIT
    value_encoding = "utf-16-le"

    def __init__(self) -> None:
        super().__init__()
        self.largest = 0

    def set(self, service: str, key: str, value: str) -> None:
        size = len(value.encode(self.value_encoding))
        if size > SMALL_LIMIT:
            raise BackendError(f"entry of {size} bytes exceeds {SMALL_LIMIT} (error 1783)")
        self.largest = max(self.largest, size)
        super().set(service, key, value)


class LimitedSecretService(SecretServiceBackend):
    """The REAL Secret Service, but declaring and enforcing the small UTF-16 limit, so chunking
    can be crashed with a real SIGKILL against a real store."""

    name = "limited-secret-service"
    max_value_bytes = SMALL_LIMIT
    value_encoding = "utf-16-le"

    def set(self, service: str, key: str, value: str) -> None:
        if len(value.encode(self.value_encoding)) > SMALL_LIMIT:
            raise BackendError("entry exceeds the small limit")
        super().set(service, key, value)


class SigkillOnSet:
    """Mixin: SIGKILL this process at an exact write (the `nth` set whose key starts with
    `prefix`), `before` or after it reaches the store. Used in subprocesses only."""

    def __init__(self, prefix: str, nth: int = 1, before: bool = True, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[call-arg]
        self._prefix, self._nth, self._before, self._seen = prefix, nth, before, 0

    def set(self, service: str, key: str, value: str) -> None:
        hit = False
        if key.startswith(self._prefix):
            self._seen += 1
            hit = self._seen == self._nth
        if hit and self._before:
            os.kill(os.getpid(), signal.SIGKILL)
        super().set(service, key, value)  # type: ignore[misc]
        if hit:
            os.kill(os.getpid(), signal.SIGKILL)


class SigkillOnDelete:
    """Mixin: SIGKILL right after the first delete of a key starting with `prefix`."""

    def __init__(self, prefix: str, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[call-arg]
        self._prefix = prefix

    def delete(self, service: str, key: str) -> bool:
        result: bool = super().delete(service, key)  # type: ignore[misc]
        if key.startswith(self._prefix):
            os.kill(os.getpid(), signal.SIGKILL)
        return result


class KillingSecretService(SigkillOnSet, SecretServiceBackend):
    pass


class KillingOnDeleteSecretService(SigkillOnDelete, SecretServiceBackend):
    pass


class KillingLimitedSecretService(SigkillOnSet, LimitedSecretService):
    pass


class CountingBackend(Backend):
    """Wraps a real backend and counts calls, to prove a read was (not) served by the cache."""

    name = "counting"

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def _count(self, op: str) -> None:
        with self._lock:
            self.calls[op] += 1

    def get(self, service: str, key: str) -> str | None:
        self._count("get")
        return self.inner.get(service, key)

    def set(self, service: str, key: str, value: str) -> None:
        self._count("set")
        self.inner.set(service, key, value)

    def delete(self, service: str, key: str) -> bool:
        self._count("delete")
        return self.inner.delete(service, key)

    def keys(self, service: str) -> list[str] | None:
        self._count("keys")
        return self.inner.keys(service)


class FakeLeakyBrokenBackend(MemoryBackend):
    """FAKE third-party backend that fails *and quotes the value in its exception* — the worst
    case the storage layer must not pass on."""

    name = "fake-leaky-broken"

    def __init__(self, fail_on: set[str]) -> None:
        super().__init__()
        self.fail_on = fail_on

    def set(self, service: str, key: str, value: str) -> None:
        if "set" in self.fail_on and not key.startswith("__"):
            raise RuntimeError(f"cannot store {value!r}")
        super().set(service, key, value)

    def get(self, service: str, key: str) -> str | None:
        value = super().get(service, key)
        if "get" in self.fail_on and value is not None and not key.startswith("__"):
            raise RuntimeError(f"cannot decode {value!r}")
        return value


def wait_child(pid: int, limit: float = 60.0) -> int:
    """A forked child's exit code; one still running after `limit` s is killed and reported
    as -1, so a deadlocked child fails the test instead of hanging the run."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return -1


@contextlib.contextmanager
def lock_held_elsewhere(lock_file: Path) -> Iterator[None]:
    """Hold a FileLock on `lock_file` in a separate process for the duration of the block."""
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, filelock; lock = filelock.FileLock(sys.argv[1]); lock.acquire(); "
         "print('held', flush=True); sys.stdin.read()", str(lock_file)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield
    finally:
        holder.kill()
        holder.wait(timeout=30)
