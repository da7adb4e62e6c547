"""The OS keychain through the `keyring` library: macOS Keychain, Windows Credential Manager,
or whatever keyring picks. On Linux the faster `SecretServiceBackend` is preferred."""

from __future__ import annotations

import sys
from typing import Any

from mcp_secrets.backends.base import Backend
from mcp_secrets.errors import BackendError


class KeyringBackend(Backend):
    name = "keyring"

    def __init__(self, keyring_backend: Any = None) -> None:
        import keyring

        self._kr = keyring_backend or keyring.get_keyring()

    @property
    def max_value_bytes(self) -> int | None:  # type: ignore[override]
        # Windows Credential Manager: CredWrite fails (error 1783) over 2560 bytes of UTF-16.
        return 2560 if sys.platform == "win32" else None

    @property
    def value_encoding(self) -> str:  # type: ignore[override]
        return "utf-16-le" if sys.platform == "win32" else "utf-8"

    def get(self, service: str, key: str) -> str | None:
        try:
            value: str | None = self._kr.get_password(service, key)
            return value
        except Exception as exc:
            raise BackendError(f"keychain read failed: {type(exc).__name__}") from None

    def set(self, service: str, key: str, value: str) -> None:
        try:
            self._kr.set_password(service, key, value)
        except Exception as exc:
            raise BackendError(f"keychain write failed: {type(exc).__name__}") from None

    def delete(self, service: str, key: str) -> bool:
        import keyring.errors

        try:
            self._kr.delete_password(service, key)
            return True
        except keyring.errors.PasswordDeleteError:
            return False
        except Exception as exc:
            raise BackendError(f"keychain delete failed: {type(exc).__name__}") from None

    def describe(self) -> str:
        return f"keyring ({type(self._kr).__module__}.{type(self._kr).__name__})"
