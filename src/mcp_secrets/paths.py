"""Where mcp-secrets keeps its own files. None of these hold plaintext secrets except through
the encrypted file store; every directory is created 0700."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from filelock import BaseFileLock


def _private_dir(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    """The encrypted file store lives here (MCP_SECRETS_DATA_DIR overrides)."""
    override = os.environ.get("MCP_SECRETS_DATA_DIR")
    if override:
        return _private_dir(Path(override))
    import platformdirs

    return _private_dir(Path(platformdirs.user_data_dir("mcp-secrets", appauthor=False)))


def state_dir() -> Path:
    """Locks and cache-generation counters (no secret material). MCP_SECRETS_STATE_DIR overrides."""
    override = os.environ.get("MCP_SECRETS_STATE_DIR")
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
