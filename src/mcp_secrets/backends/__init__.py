"""The stores mcp-secrets can use, found by name through the ``mcp_secrets.backends`` entry-point
group, so a third-party store plugs in with one line in its own ``pyproject.toml``::

    [project.entry-points."mcp_secrets.backends"]
    vault = "my_package.vault:VaultBackend"      # a subclass of mcp_secrets.backends.base.Backend

Our own stores are registered in that group too. A class is imported only when selection
probes it or someone names it, so a store's heavy library is never imported by a process that
does not use it. `_BUILTIN` repeats our own entry points for a source tree run without being
installed (no package metadata); a test keeps the two equal.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mcp_secrets.backends.base import Backend

ENTRY_POINT_GROUP = "mcp_secrets.backends"

_BUILTIN: dict[str, str] = {
    "secret-service": "mcp_secrets.backends.secret_service:SecretServiceBackend",
    "keyring": "mcp_secrets.backends.keyring_backend:KeyringBackend",
    "file": "mcp_secrets.backends.encrypted_file:EncryptedFileBackend",
    "memory": "mcp_secrets.backends.memory:MemoryBackend",
    "vault": "mcp_secrets.backends.vault:VaultBackend",
    "aws": "mcp_secrets.backends.aws:AwsBackend",
    "gcp": "mcp_secrets.backends.gcp:GcpBackend",
    "1password": "mcp_secrets.backends.onepassword_backend:OnePasswordBackend",
}
_registered: dict[str, str | type[Backend]] = {}
_entry_points_cache: dict[str, str] | None = None


def _entry_points() -> dict[str, str]:
    """Our group's entry points of every installed distribution, read straight from the
    ``entry_points.txt`` files: importing `importlib.metadata` costs tens of milliseconds,
    more than `mcp-secrets run` may spend before starting its command. The first
    distribution on `sys.path` wins a name, as with `importlib.metadata`."""
    global _entry_points_cache
    if _entry_points_cache is None:
        found: dict[str, str] = {}
        for folder in sys.path:
            try:
                names = os.listdir(folder or ".")
            except OSError:
                continue
            for name in names:
                if name.endswith((".dist-info", ".egg-info")):
                    for key, value in _read_group(os.path.join(folder or ".", name)).items():
                        found.setdefault(key, value)
        _entry_points_cache = found
    return _entry_points_cache


def _read_group(dist_info: str) -> dict[str, str]:
    try:
        with open(os.path.join(dist_info, "entry_points.txt"), encoding="utf-8") as fh:
            text = fh.read()
    except OSError:
        return {}
    header = f"[{ENTRY_POINT_GROUP}]"
    if header not in text:
        return {}
    out: dict[str, str] = {}
    inside = False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("["):
            inside = line == header
        elif inside and "=" in line and not line.startswith(("#", ";")):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def register(name: str, backend: str | type[Backend]) -> None:
    """Add a store at run time: a class, or "module:Class" to import on first use."""
    _registered[name] = backend


def unregister(name: str) -> None:
    _registered.pop(name, None)


def names() -> list[str]:
    """Every store that can be named (MCP_SECRETS_BACKEND / --backend), sorted."""
    return sorted({*_BUILTIN, *_entry_points(), *_registered})


def load(name: str) -> type[Backend]:
    """The class registered as `name`; KeyError if none. ImportError propagates (the store's
    library is missing) so selection can say so."""
    from mcp_secrets.backends.base import Backend
    from mcp_secrets.errors import UnsupportedBackendError

    target = _registered.get(name) or _entry_points().get(name) or _BUILTIN.get(name)
    if target is None:
        raise KeyError(name)
    if isinstance(target, str):
        module, _, attr = target.partition(":")
        cls = getattr(importlib.import_module(module), attr)
    else:
        cls = target
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise UnsupportedBackendError(
            f"the store registered as {name!r} ({target!r}) is not a Backend class")
    return cls
