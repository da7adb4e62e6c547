"""1Password as a `Backend` (``MCP_SECRETS_BACKEND=1password``), through the same transports as
`OnePasswordStorage` (backends/onepassword.py): the SDK when OP_SERVICE_ACCOUNT_TOKEN is set,
else the `op` CLI.

Each server's scope ``com.mcp.S`` is one item of that title in MCP_SECRETS_1PASSWORD_VAULT; its
secrets are the item's fields. Through a service account the store is read-only (service
accounts are meant for reading in production): a write raises `ReadOnlyStoreError`, and the
names of an item made by hand are its field labels, so a server can list what it may read.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from mcp_secrets import config
from mcp_secrets.backends.base import Backend, Probe
from mcp_secrets.backends.extras import Lazy
from mcp_secrets.errors import ReadOnlyStoreError

if TYPE_CHECKING:
    from mcp_secrets.backends.onepassword import OnePasswordTransport

INDEX_KEY = "__secret_index__"  # storage's index entry (see storage.py)


def _default_transport() -> OnePasswordTransport:
    from mcp_secrets.backends.onepassword import default_transport

    return default_transport()


class OnePasswordBackend(Backend):
    """Item ``SERVICE`` in the vault; one field per key."""

    name = "1password"  # priority 0: a team store is used only when named

    @classmethod
    def probe(cls, *, explicit: bool = False) -> Probe:
        """The SDK with a service-account token (read-only), else a signed-in `op` CLI."""
        import shutil

        vault = config.OP_VAULT.get()
        if config.OP_TOKEN.is_set():
            try:
                import onepassword  # noqa: F401
            except ImportError:
                return Probe(False, "OP_SERVICE_ACCOUNT_TOKEN is set but the 1Password SDK is "
                                    "not installed", "pip install 'mcp-secrets[onepassword]'")
            return Probe(True, f"SDK with a service account, vault {vault!r}, read-only")
        if shutil.which("op") is None:
            return Probe(False, "the `op` CLI is not on PATH and OP_SERVICE_ACCOUNT_TOKEN is "
                                "not set", "install the 1Password CLI and sign in, or set "
                                "OP_SERVICE_ACCOUNT_TOKEN")
        return Probe(True, f"the `op` CLI, vault {vault!r} (MCP_SECRETS_1PASSWORD_VAULT)")

    def __init__(self, vault: str | None = None,
                 transport: OnePasswordTransport | None = None) -> None:
        self.vault = vault or config.OP_VAULT.get() or "Private"
        self._transport = Lazy(_default_transport, transport)

    @property
    def transport(self) -> OnePasswordTransport:
        return self._transport.get()

    @property
    def service_account(self) -> bool:
        from mcp_secrets.backends.onepassword import OnePasswordSDK

        return isinstance(self.transport, OnePasswordSDK)

    def _fields(self, service: str) -> dict[str, Any]:
        return self.transport.get_item(self.vault, service) or {}

    def get(self, service: str, key: str) -> str | None:
        fields = self._fields(service)
        value = fields.get(key)
        if value is None and key == INDEX_KEY and fields:
            # An item made by hand has no index: its field labels are the names.
            return json.dumps({"v": 1, "names": sorted(fields), "pending": []})
        return value if isinstance(value, str) or value is None else json.dumps(value)

    def _refuse(self) -> None:
        if self.service_account:
            raise ReadOnlyStoreError(
                f"the 1password store (vault {self.vault!r}) is read-only through a service "
                "account: change the item in 1Password, or unset OP_SERVICE_ACCOUNT_TOKEN to "
                "write through a signed-in `op`"
            )

    def set(self, service: str, key: str, value: str) -> None:
        from mcp_secrets.backends.onepassword import tag_for

        self._refuse()
        fields = self._fields(service)
        fields[key] = value
        self.transport.save_item(self.vault, service, fields, tag_for(service))

    def delete(self, service: str, key: str) -> bool:
        from mcp_secrets.backends.onepassword import tag_for

        self._refuse()
        fields = self._fields(service)
        if key not in fields:
            return False
        del fields[key]
        if fields:
            self.transport.save_item(self.vault, service, fields, tag_for(service))
        else:
            self.transport.delete_item(self.vault, service)
        return True

    def keys(self, service: str) -> list[str]:
        return sorted(self._fields(service))

    def describe(self) -> str:
        via = "service account, read-only" if config.OP_TOKEN.is_set() else "op CLI"
        return f"1password (vault {self.vault!r}, one item per server, {via})"
