"""HashiCorp Vault / OpenBao, KV version 2, through `hvac` (pip install 'mcp-secrets[vault]').

Used two ways: `vault://MOUNT/PATH#KEY` references (refs_team.py) read any secret, and
``MCP_SECRETS_BACKEND=vault`` keeps each server's scope there. As a store, secret NAME of server
S is its own KV v2 secret ``MOUNT/PREFIX/com.mcp.S/NAME`` holding one field ``value``, so every
write is a new numbered version (what rotation relies on) and listing is one LIST call.

Address and token: VAULT_ADDR / VAULT_TOKEN, else BAO_ADDR / BAO_TOKEN. A server that is down,
sealed or refuses the token is a `BackendError` saying so; nothing falls back to another store.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from mcp_secrets import config
from mcp_secrets.backends.base import Backend, Probe
from mcp_secrets.backends.extras import Lazy, require
from mcp_secrets.errors import BackendError, StoreEntryNotFound

FIELD = "value"
TIMEOUT_S = 10


class VaultSettings(NamedTuple):
    addr: str | None
    token: str | None

    def __repr__(self) -> str:
        return f"VaultSettings(addr={self.addr!r}, token={'***' if self.token else None})"


def settings() -> VaultSettings:
    return VaultSettings(
        config.VAULT_ADDR.get() or config.BAO_ADDR.get(),
        config.VAULT_TOKEN.get() or config.BAO_TOKEN.get(),
    )


def problem() -> str | None:
    """Why no Vault client can be made here (for selection and doctor), or None."""
    found = settings()
    if not found.addr:
        return "VAULT_ADDR (or BAO_ADDR) is not set"
    if not found.token:
        return "VAULT_TOKEN (or BAO_TOKEN) is not set"
    try:
        require("hvac", "vault", "the vault store")
    except BackendError as exc:
        return str(exc)
    return None


def make_client() -> Any:
    """An `hvac.Client` for the configured server (its requests session is thread-safe)."""
    hvac = require("hvac", "vault", "Vault/OpenBao")
    why = problem()
    if why is not None:
        raise BackendError(f"cannot reach Vault/OpenBao: {why}")
    found = settings()
    return hvac.Client(url=found.addr, token=found.token, timeout=TIMEOUT_S)


NotFound = StoreEntryNotFound


def call(client: Any, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run one hvac call; map its failures to a `BackendError` a person can act on.

    hvac's own messages may quote the server's response; only fixed texts and the address go
    out, so nothing read can leak through an error.
    """
    import hvac.exceptions as hx
    import requests

    where = getattr(client, "url", "?")
    try:
        return fn(*args, **kwargs)
    except hx.InvalidPath:
        raise NotFound(what) from None
    except hx.Forbidden:
        raise BackendError(f"Vault/OpenBao at {where} refused to {what}: permission denied "
                           "(check the token and its policy)") from None
    except hx.Unauthorized:
        raise BackendError(f"Vault/OpenBao at {where} refused the token ({what}); set a valid "
                           "VAULT_TOKEN") from None
    except hx.VaultDown:
        raise BackendError(f"Vault/OpenBao at {where} is sealed or in maintenance ({what})"
                           ) from None
    except (requests.ConnectionError, requests.Timeout):
        raise BackendError(f"Vault/OpenBao at {where} is unreachable ({what}): is the server "
                           "running and VAULT_ADDR right?") from None
    except hx.VaultError as exc:
        raise BackendError(f"Vault/OpenBao at {where} failed to {what} "
                           f"({type(exc).__name__})") from None


def read(client: Any, mount: str, path: str, version: int | None = None) -> dict[str, Any]:
    """The data of KV v2 secret `mount/path` (a version, or the current one)."""
    response = call(
        client, f"read {mount}/{path}", client.secrets.kv.v2.read_secret_version,
        path=path, mount_point=mount, version=version, raise_on_deleted_version=True,
    )
    data = ((response or {}).get("data") or {}).get("data")
    if not isinstance(data, dict):
        raise NotFound(f"read {mount}/{path}")
    return data


def split_path(text: str) -> tuple[str, str]:
    """``MOUNT/PREFIX`` → (mount, prefix); the prefix may be empty."""
    mount, _, prefix = text.strip("/").partition("/")
    if not mount:
        raise BackendError(f"MCP_SECRETS_VAULT_PATH={text!r} must be MOUNT[/PREFIX] "
                           "(e.g. secret/mcp-secrets)")
    return mount, prefix.strip("/")


class VaultBackend(Backend):
    """Each entry is KV v2 secret ``MOUNT/PREFIX/SERVICE/KEY`` with one field, ``value``."""

    name = "vault"  # priority 0: a team store is used only when named

    @classmethod
    def probe(cls, *, explicit: bool = False) -> Probe:
        """Configured? (The server itself is reached on first use, where a server that is down
        is an error, never a fallback.)"""
        why = problem()
        if why is not None:
            return Probe(False, why, "set VAULT_ADDR and VAULT_TOKEN (or BAO_ADDR and "
                                     "BAO_TOKEN); pip install 'mcp-secrets[vault]'")
        return Probe(True, f"{settings().addr}, KV v2 under {config.VAULT_PATH.get()} "
                           "(MCP_SECRETS_VAULT_PATH)")

    def __init__(self, path: str | None = None, client: Any = None) -> None:
        self.mount, self.prefix = split_path(path or config.VAULT_PATH.get() or "")
        self._client = Lazy(lambda: make_client(), client)

    @property
    def client(self) -> Any:
        return self._client.get()

    def _path(self, service: str, key: str | None = None) -> str:
        parts = [p for p in (self.prefix, service, key) if p]
        return "/".join(parts)

    def get(self, service: str, key: str) -> str | None:
        return self.version(service, key, None)

    def version(self, service: str, key: str, version: int | None) -> str | None:
        """The value of one version (None: the current one), or None if there is none."""
        try:
            data = read(self.client, self.mount, self._path(service, key), version)
        except NotFound:
            return None
        value = data.get(FIELD)
        if not isinstance(value, str):
            raise BackendError(f"Vault secret {self.mount}/{self._path(service, key)} has no "
                               f"string field {FIELD!r}; it was not written by mcp-secrets")
        return value

    def current_version(self, service: str, key: str) -> int | None:
        """The current version number of an entry, or None if it does not exist."""
        kv = self.client.secrets.kv.v2
        try:
            meta = call(self.client, f"read metadata of {self._path(service, key)}",
                        kv.read_secret_metadata, path=self._path(service, key),
                        mount_point=self.mount)
        except NotFound:
            return None
        number = (meta.get("data") or {}).get("current_version")
        return int(number) if isinstance(number, int) else None

    def previous(self, service: str, key: str) -> str | None:
        """The value before the current one (a rotation's grace period), or None."""
        current = self.current_version(service, key)
        if current is None or current <= 1:
            return None
        return self.version(service, key, current - 1)

    def set(self, service: str, key: str, value: str) -> None:
        kv = self.client.secrets.kv.v2
        call(self.client, f"write {self.mount}/{self._path(service, key)}",
             kv.create_or_update_secret, path=self._path(service, key),
             secret={FIELD: value}, mount_point=self.mount)

    def delete(self, service: str, key: str) -> bool:
        if self.current_version(service, key) is None:
            return False
        kv = self.client.secrets.kv.v2
        try:
            call(self.client, f"delete {self.mount}/{self._path(service, key)}",
                 kv.delete_metadata_and_all_versions, path=self._path(service, key),
                 mount_point=self.mount)
        except NotFound:
            return False
        return True

    def keys(self, service: str) -> list[str]:
        kv = self.client.secrets.kv.v2
        try:
            listed = call(self.client, f"list {self.mount}/{self._path(service)}",
                          kv.list_secrets, path=self._path(service), mount_point=self.mount)
        except NotFound:
            return []
        names = (listed.get("data") or {}).get("keys") or []
        return [n for n in names if isinstance(n, str) and not n.endswith("/")]

    def describe(self) -> str:
        where = settings().addr or "VAULT_ADDR unset"
        return f"vault (KV v2 {self.mount}/{self.prefix or ''} at {where})"
