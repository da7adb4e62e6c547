"""The OS keychain through the `keyring` library: macOS Keychain, Windows Credential Manager,
or whatever keyring picks. On Linux the faster `SecretServiceBackend` is preferred."""

from __future__ import annotations

import sys
from typing import Any

from mcp_secrets.backends.base import Backend, Probe
from mcp_secrets.errors import BackendError

_LINUX_SKIP = (
    "skipped on Linux (its import can stall on a broken D-Bus; MCP_SECRETS_BACKEND=keyring "
    "forces it, e.g. for KWallet)"
)


def keyring_verdict(kr: Any) -> str | None:
    """None if `kr` (a keyring backend object) is a real keychain, else why it is not."""
    cls = type(kr)
    module, name = cls.__module__, cls.__name__
    if module.startswith(("keyring.backends.fail", "keyring.backends.null")):
        return f"keyring found no keychain ({module}.{name})"
    if "plaintext" in name.lower() or "plaintext" in module.lower():
        return f"keyring would store secrets in plain text ({module}.{name}); refused"
    if name == "ChainerBackend":
        chained = list(getattr(kr, "backends", []) or [])
        if not chained:
            return "keyring's chainer has no keychain to chain"
        return keyring_verdict(chained[0])
    try:
        priority = float(kr.priority)
    except Exception:
        priority = 1.0
    if priority <= 0:
        return f"keyring's backend {module}.{name} has priority {priority:g} (not viable)"
    return None


class KeyringBackend(Backend):
    name = "keyring"
    #: After the Secret Service on Linux (where its probe declines unless named), first elsewhere.
    priority = 20.0
    is_keychain = True

    def __init__(self, keyring_backend: Any = None) -> None:
        import keyring

        self._kr = keyring_backend or keyring.get_keyring()

    @classmethod
    def probe(cls, *, explicit: bool = False) -> Probe:
        if sys.platform.startswith("linux") and not explicit:
            return Probe(False, _LINUX_SKIP)
        try:
            import keyring

            kr = keyring.get_keyring()
        except Exception as exc:
            return Probe(False, f"failed to load ({type(exc).__name__})",
                         "install a keyring backend for this platform")
        problem = keyring_verdict(kr)
        if problem is not None:
            return Probe(False, problem, "install a keyring backend for this platform")
        return Probe(True, f"{type(kr).__module__}.{type(kr).__name__}")

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
