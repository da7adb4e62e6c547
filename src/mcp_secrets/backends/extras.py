"""Optional SDKs (hvac, boto3, google-cloud-secret-manager, onepassword-sdk): imported only when
a store that needs one is used, and a missing one is a one-line error with the install command."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Generic, TypeVar

from mcp_secrets.errors import BackendError, SecretsError

_T = TypeVar("_T")
_R = TypeVar("_R")

#: Reads of one store run on at most this many threads (a team store answers in parallel).
MAX_PARALLEL = 16


def require(module: str, extra: str, what: str,
            error: type[SecretsError] = BackendError) -> ModuleType:
    """Import `module`, or raise `error` saying which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        package = module.split(".")[0]
        raise error(
            f"{what} needs the optional package {package!r}, which is not installed: "
            f"pip install 'mcp-secrets[{extra}]'"
        ) from None


def concurrently(fn: Callable[[_T], _R], items: Sequence[_T]) -> list[_R]:
    """`[fn(x) for x in items]`, run on a thread pool when there is more than one item.

    The first exception (in item order) is raised; the others are dropped.
    """
    if len(items) <= 1:
        return [fn(x) for x in items]
    from concurrent.futures import ThreadPoolExecutor  # not on `run`'s path for one reference

    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(items)),
                            thread_name_prefix="mcp-secrets-read") as pool:
        futures = [pool.submit(fn, x) for x in items]
        return [f.result() for f in futures]


class Lazy(Generic[_T]):
    """A value made on first use, once, even when threads race for it: an SDK client that is slow
    to build (and needs credentials), made only if the store is used. `value` is None until then,
    or is what the caller passed in (a test's client)."""

    def __init__(self, make: Callable[[], _T], value: _T | None = None) -> None:
        self._make = make
        self.value = value
        self._lock = threading.Lock()

    def get(self) -> _T:
        with self._lock:
            if self.value is None:
                self.value = self._make()
            return self.value
