"""Dict-valued stores with one interface, the `SecretStore` protocol (the ``secretstore``
surface MCP server code already uses).

Every store has ``save(key, dict)``, ``get(key) -> dict | None``, ``delete(key) -> bool`` and
``list() -> list[str]``. Dicts are stored as JSON and come back *exactly* as saved: nested
dicts and lists, unicode, ints, floats, bools and None. Anything JSON cannot represent exactly
(tuples, sets, non-string keys, NaN, bytes, objects) is refused with `ValueTypeError` (a
TypeError) before
anything is stored — never ``str()``-flattened. ``repr`` shows where, never what.

Pick by deployment, not by code: `KeyringStorage` on desktops, `EncryptedFileStorage` on
machines without a keychain, `EnvVarStorage` in containers and CI, `OnePasswordStorage` for
teams, `EphemeralStorage` in tests.
"""

from __future__ import annotations

import builtins
import json
import os
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from mcp_secrets.backends.memory import MemoryBackend
from mcp_secrets.errors import (
    BackendError,
    InvalidSecretName,
    InvalidValueError,
    ReadOnlyStoreError,
    ValueTypeError,
)
from mcp_secrets.names import validate_name

if TYPE_CHECKING:
    from mcp_secrets.backends.onepassword import OnePasswordTransport
    from mcp_secrets.storage import MCPSecretsStorage

_SCALARS = (str, int, float, bool, type(None))


@runtime_checkable
class SecretStore(Protocol):
    """What every dict-valued store here offers; type against this, pick the class by
    deployment. A third-party store that has these four methods fits anywhere one of ours does.
    """

    def save(self, key: str, value: dict[str, Any]) -> None:
        """Create or replace `key`; nothing is stored if the key or value is refused."""

    def get(self, key: str) -> dict[str, Any] | None:
        """The dict saved under `key`, exactly as saved, or None."""

    def delete(self, key: str) -> bool:
        """Remove `key`; True if it existed."""

    def list(self) -> builtins.list[str]:
        """The keys, sorted."""


def _check_json(value: Any, where: str) -> None:
    """Raise ValueTypeError unless `value` survives a JSON round trip unchanged (names types,
    never values)."""
    kind = type(value)
    if kind is dict:
        for k, v in value.items():
            if type(k) is not str:
                raise ValueTypeError(
                    f"{where} has a {type(k).__name__} key; JSON keys must be str "
                    "(it would come back as a different key)"
                )
            _check_json(v, f"{where}[{k!r}]")
    elif kind is list:
        for i, v in enumerate(value):
            _check_json(v, f"{where}[{i}]")
    elif kind is float:
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueTypeError(f"{where} is NaN or infinite, which JSON cannot hold")
    elif kind not in _SCALARS:
        raise ValueTypeError(
            f"{where} is a {kind.__name__}; only dict, list, str, int, float, bool and None "
            "round-trip exactly through JSON"
        )


def encode(value: object) -> str:
    """The JSON text for a secret dict, after checking it round-trips exactly."""
    if type(value) is not dict:
        raise ValueTypeError(f"the value must be a dict, not {type(value).__name__}")
    _check_json(value, "value")
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def decode(text: str, key: str, where: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise BackendError(
            f"entry {key!r} in {where} is not a JSON object (was it stored as a plain string, "
            "e.g. by MCPSecretsManager, under the same server name?)"
        )
    return value


class _StorageBacked:
    """A dict store on top of `MCPSecretsStorage` (index, locking, chunking, cache)."""

    def __init__(self, storage: MCPSecretsStorage) -> None:
        self._storage = storage

    @property
    def storage(self) -> MCPSecretsStorage:
        return self._storage

    def save(self, key: str, value: dict[str, Any]) -> None:
        validate_name(key)
        self._storage.store_secret(key, encode(value))

    def get(self, key: str) -> dict[str, Any] | None:
        raw = self._storage.retrieve_secret(key)
        return None if raw is None else decode(raw, key, self._storage.service)

    def delete(self, key: str) -> bool:
        return self._storage.delete_secret(key)

    def list(self) -> builtins.list[str]:
        return self._storage.list_secrets()

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self._storage.service!r} on {self._storage.backend.name}>"
        )


class EphemeralStorage:
    """In memory, this process only: for tests and throwaway sessions.

    A `MemoryBackend` under one service, values kept as JSON text, so callers can never mutate
    stored state through a dict they saved or got back.
    """

    _SERVICE = "ephemeral"

    def __init__(self) -> None:
        self._backend = MemoryBackend()

    def save(self, key: str, value: dict[str, Any]) -> None:
        key = validate_name(key)
        self._backend.set(self._SERVICE, key, encode(value))

    def get(self, key: str) -> dict[str, Any] | None:
        key = validate_name(key)
        text = self._backend.get(self._SERVICE, key)
        return None if text is None else decode(text, key, "EphemeralStorage")

    def delete(self, key: str) -> bool:
        key = validate_name(key)
        return self._backend.delete(self._SERVICE, key)

    def list(self) -> builtins.list[str]:
        return sorted(self._backend.keys(self._SERVICE))

    def __repr__(self) -> str:
        return f"<EphemeralStorage in memory, {len(self.list())} entries>"


class KeyringStorage(_StorageBacked):
    """The OS keychain (Secret Service on Linux, macOS Keychain, Windows Credential Manager).

    Secrets live under service ``com.mcp.<name>`` — the same namespace `MCPSecretsManager(name)`
    uses. Never falls back to a file or to memory: with no keychain, NoKeychainError says how
    to get one (or to use `EncryptedFileStorage` instead).
    """

    def __init__(self, name: str) -> None:
        from mcp_secrets import selection
        from mcp_secrets.storage import MCPSecretsStorage

        super().__init__(MCPSecretsStorage(name, backend=selection.keychain_backend()))


class EncryptedFileStorage(_StorageBacked):
    """An AES-256-GCM file per name, for machines with no OS keychain.

    The passphrase is `passphrase` if given, else MCP_SECRETS_PASSPHRASE, else the file named
    by MCP_SECRETS_PASSPHRASE_FILE, else a hidden prompt on the terminal. `directory`
    overrides the data directory (default: MCP_SECRETS_DATA_DIR or the platform's).
    """

    def __init__(
        self,
        name: str,
        passphrase: str | Callable[[], str] | None = None,
        *,
        directory: str | os.PathLike[str] | None = None,
    ) -> None:
        from mcp_secrets.backends.encrypted_file import EncryptedFileBackend
        from mcp_secrets.storage import MCPSecretsStorage

        backend = EncryptedFileBackend(directory, passphrase=passphrase)
        super().__init__(MCPSecretsStorage(name, backend=backend))


_ENV_KEY = re.compile(r"[A-Za-z0-9]+")
_ENV_FIELD = re.compile(r"[a-z0-9][a-z0-9_]*")
_ENV_PREFIX = re.compile(r"[A-Za-z0-9_]*")


class EnvVarStorage:
    """Secrets from environment variables: for containers and CI.

    Mapping (exact): with ``prefix="myapp"`` the variable ``MYAPP_<KEY>_<FIELD>`` is field
    ``<field>`` of key ``<key>``. The prefix is uppercased and joined with ``_`` (``""`` means
    no prefix). The key is the single word up to the first ``_`` after the prefix, uppercased
    in the variable and given in lowercase to `get`/`save`; keys are letters and digits only,
    so the split is never ambiguous. Everything after that ``_`` is the field, lowercased, and
    multi-word fields keep their underscores: ``MYAPP_API_KEY=x`` and
    ``MYAPP_API_CLIENT_ID=y`` read as ``get("api") -> {"key": "x", "client_id": "y"}``.
    All values are strings.

    Read-only by default (writes raise ReadOnlyStoreError). With ``auto_save=True``, `save`
    and `delete` change ``os.environ`` of *this process only* — nothing is persisted, and the
    change is inherited by child processes started afterwards, like any environment variable.
    """

    def __init__(self, prefix: str = "", auto_save: bool = False) -> None:
        if not isinstance(prefix, str) or not _ENV_PREFIX.fullmatch(prefix):
            raise InvalidSecretName(
                "EnvVarStorage prefix must be letters, digits and underscores (e.g. 'MYAPP')"
            )
        upper = prefix.upper()
        self._prefix = upper if not upper or upper.endswith("_") else upper + "_"
        self.auto_save = auto_save

    @property
    def prefix(self) -> str:
        return self._prefix

    def _stem(self, key: str) -> str:
        if not isinstance(key, str) or not _ENV_KEY.fullmatch(key):
            raise InvalidSecretName(
                f"EnvVarStorage keys are letters and digits only (got {key!r}): the first '_' "
                "after the prefix separates the key from the field"
            )
        return f"{self._prefix}{key.upper()}_"

    def _matching(self, key: str) -> dict[str, str]:
        """{variable name: field name} for every variable of `key`."""
        stem = self._stem(key)
        return {
            name: name[len(stem) :].lower()
            for name in os.environ
            if name.startswith(stem) and len(name) > len(stem)
        }

    def get(self, key: str) -> dict[str, Any] | None:
        found = {field: os.environ[name] for name, field in sorted(self._matching(key).items())}
        return found or None

    def list(self) -> builtins.list[str]:
        keys = set()
        for name in os.environ:
            if not name.startswith(self._prefix):
                continue
            word, sep, field = name[len(self._prefix) :].partition("_")
            if sep and field and _ENV_KEY.fullmatch(word) and word == word.upper():
                keys.add(word.lower())
        return sorted(keys)

    def _writable(self, action: str) -> None:
        if not self.auto_save:
            raise ReadOnlyStoreError(
                f"EnvVarStorage is read-only, so it cannot {action}: set the environment "
                "variables outside the process, or create it with auto_save=True to change "
                "os.environ of this process"
            )

    def save(self, key: str, value: dict[str, Any]) -> None:
        stem = self._stem(key)
        self._writable(f"save {key!r}")
        if type(value) is not dict:
            raise ValueTypeError(f"the value must be a dict, not {type(value).__name__}")
        if not value:
            raise InvalidValueError("EnvVarStorage cannot hold an empty dict (no variables to set)")
        for field, v in value.items():
            if not isinstance(field, str) or not _ENV_FIELD.fullmatch(field):
                raise InvalidSecretName(
                    f"EnvVarStorage field names are lowercase letters, digits and '_' "
                    f"(got {field!r}): they are read back lowercased"
                )
            if type(v) is not str:
                raise ValueTypeError(
                    f"field {field!r} is a {type(v).__name__}; environment variables hold "
                    "strings only (use another store for nested or typed values)"
                )
            if "\0" in v:
                raise InvalidValueError(f"field {field!r} contains a NUL character, which "
                                 "environment variables cannot hold")
            try:
                os.fsencode(v)  # what os.environ does on assignment: fail here, not half-way
            except UnicodeEncodeError as exc:
                raise InvalidValueError(
                    f"field {field!r} is not valid text (bad character at position "
                    f"{exc.start}); nothing was changed") from None
        wanted = {stem + field.upper() for field in value}
        for name in self._matching(key):
            if name not in wanted:
                del os.environ[name]
        for field, v in value.items():
            os.environ[stem + field.upper()] = v

    def delete(self, key: str) -> bool:
        names = builtins.list(self._matching(key))
        self._writable(f"delete {key!r}")
        for name in names:
            del os.environ[name]
        return bool(names)

    def __repr__(self) -> str:
        mode = "auto_save" if self.auto_save else "read-only"
        return f"<EnvVarStorage prefix={self._prefix!r} {mode}>"


class OnePasswordStorage:
    """Items in a 1Password vault: `get(key)` reads the item titled `key` as a field dict.

    Transport: the official SDK when OP_SERVICE_ACCOUNT_TOKEN is set (pip install
    'mcp-secrets[onepassword]'), else the `op` CLI with whatever account it is signed in to.
    `name` scopes `list()`: items saved here are tagged ``mcp-secrets/<name>`` and `list()`
    returns those; `get`, `save` and `delete` address any item by title in `vault`.
    See `mcp_secrets.backends.onepassword` for how fields map to dict values.
    """

    def __init__(
        self,
        name: str,
        vault: str = "Private",
        *,
        transport: OnePasswordTransport | None = None,
        op_path: str | None = None,
    ) -> None:
        self.name = validate_name(name, kind="server name")
        self.vault = validate_name(vault, kind="vault name")
        self._transport = transport
        self._op_path = op_path

    @property
    def transport(self) -> OnePasswordTransport:
        if self._transport is None:
            from mcp_secrets.backends.onepassword import default_transport

            self._transport = default_transport(self._op_path)
        return self._transport

    def save(self, key: str, value: dict[str, Any]) -> None:
        from mcp_secrets.backends.onepassword import tag_for

        key = validate_name(key)
        encode(value)  # the same exact-round-trip check as every other store
        self.transport.save_item(self.vault, key, value, tag_for(self.name))

    def get(self, key: str) -> dict[str, Any] | None:
        key = validate_name(key)
        return self.transport.get_item(self.vault, key)

    def delete(self, key: str) -> bool:
        key = validate_name(key)
        return self.transport.delete_item(self.vault, key)

    def list(self) -> builtins.list[str]:
        from mcp_secrets.backends.onepassword import tag_for

        return self.transport.list_items(self.vault, tag_for(self.name))

    def __repr__(self) -> str:
        via = self._transport.name if self._transport is not None else "auto"
        return f"<OnePasswordStorage {self.name!r} vault={self.vault!r} via {via}>"


__all__ = [
    "EncryptedFileStorage",
    "EnvVarStorage",
    "EphemeralStorage",
    "KeyringStorage",
    "OnePasswordStorage",
    "SecretStore",
    "decode",
    "encode",
]
