"""Rotating a secret: a new value now, the old one still readable for a grace period.

`rotate()` writes, under the server's write lock, a *previous* record (``__previous__NAME``:
when the grace period ends and, for stores without versions, the old value), then the new
value. Readers in other processes see the new value on their next read through the shared
cache generation, like any write. A kill between the two writes leaves the old value current
and a harmless previous record equal to it: never a mix.

Stores with versions keep the old value themselves: Vault/OpenBao as the version before the
current one, AWS as ``AWSPREVIOUS``. For them the record only holds the deadline, and
`previous_secret()` reads the old value from the store.

`previous_secret()` returns the old value until the deadline, then None: a server that is
still being handed the old key by a client (or has requests in flight) can accept both.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from mcp_secrets import audit
from mcp_secrets.errors import SecretsError
from mcp_secrets.names import validate_name
from mcp_secrets.storage import PREVIOUS_PREFIX, remember_handled

if TYPE_CHECKING:
    from mcp_secrets.storage import MCPSecretsStorage

DEFAULT_GRACE_S = 3600.0


def _native_previous(storage: MCPSecretsStorage) -> Any:
    """The store's own "value before the current one" reader, if it keeps versions."""
    return getattr(storage.backend, "previous", None)


def rotate(storage: MCPSecretsStorage, name: str, value: str,
           grace: float = DEFAULT_GRACE_S) -> None:
    """Make `value` current; keep the old value readable for `grace` seconds."""
    validate_name(name)
    if grace < 0:
        raise ValueError("the grace period cannot be negative")
    with storage._locked():  # reentrant: store_secret takes it again
        old = storage._get(name)
        if old is None:
            raise SecretsError(f"secret {name!r} is not stored for server "
                               f"{storage.server_name!r}, so there is nothing to rotate; store "
                               "it first (mcp-secrets set)")
        record: dict[str, Any] = {"v": 1, "until": time.time() + grace}
        if _native_previous(storage) is None:
            record["value"] = old
        storage._put(PREVIOUS_PREFIX + name, json.dumps(record))
        storage.store_secret(name, value)
    audit.record("rotate", server=storage.server_name, name=name, outcome=f"grace {grace:g}s",
                 store=storage.backend.name)


def previous_secret(storage: MCPSecretsStorage, name: str) -> str | None:
    """The value `name` had before its last rotation, while the grace period lasts."""
    validate_name(name)
    raw = storage._get(PREVIOUS_PREFIX + name)
    if raw is None:
        return None
    try:
        record = json.loads(raw)
        until = float(record["until"])
    except (ValueError, TypeError, KeyError):
        return None
    if time.time() >= until:
        return None
    native = _native_previous(storage)
    if native is not None:
        found: str | None = native(storage.service, name)
    else:
        value = record.get("value")
        found = value if isinstance(value, str) else None
    if found is not None:
        remember_handled(found)  # a tool holding the old value must not return it either
    return found


def parse_duration(text: str) -> float:
    """Seconds in ``90``, ``90s``, ``15m``, ``2h``, ``1d``; ValueError otherwise."""
    text = text.strip().lower()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    number, unit = (text[:-1], text[-1]) if text and text[-1] in units else (text, "s")
    if not number.isdigit():
        raise ValueError(f"{text!r} is not a duration (e.g. 90s, 15m, 2h, 1d)")
    return float(int(number) * units[unit])
