"""mcp-secrets: credentials for MCP servers, kept in the OS keychain and asked for out of band.

Everything is imported lazily, so an MCP server that imports us starts no slower for it::

    from mcp_secrets import secrets_manager
    from mcp_secrets.fetcher import fetch_secrets
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mcp_secrets import errors as _errors

__version__ = "0.1.0"

_EXPORTS = {
    "secrets_manager": "mcp_secrets.manager",
    "MCPSecretsManager": "mcp_secrets.manager",
    "MCPSecretsStorage": "mcp_secrets.storage",
    "EphemeralStorage": "mcp_secrets.stores",
    "KeyringStorage": "mcp_secrets.stores",
    "EncryptedFileStorage": "mcp_secrets.stores",
    "EnvVarStorage": "mcp_secrets.stores",
    "OnePasswordStorage": "mcp_secrets.stores",
    "AsyncUIHandler": "mcp_secrets.ui_handler",
    "fetch_secrets": "mcp_secrets.fetcher",
    "requires_secret": "mcp_secrets.integrations.fastmcp",
    "SecretStore": "mcp_secrets.stores",
    "probe_all": "mcp_secrets.selection",
}

__all__ = [  # literal, so type checkers see the lazy re-exports
    "AnswerPendingError",
    "AsyncUIHandler",
    "BackendError",
    "CLIError",
    "ConfigFileError",
    "CorruptedEntryError",
    "DBusCallError",
    "DialogCancelled",
    "DialogError",
    "DialogTimeout",
    "EncryptedFileStorage",
    "EnvVarStorage",
    "EphemeralStorage",
    "InputRequired",
    "InvalidSecretName",
    "InvalidValueError",
    "KeychainLockedError",
    "KeyringStorage",
    "MCPSecretsManager",
    "MCPSecretsStorage",
    "MiddlewareMissingError",
    "MigrationError",
    "NoDisplayError",
    "NoKeychainError",
    "OnePasswordStorage",
    "PassphraseError",
    "PermissionDeniedError",
    "ProxyConfigError",
    "ReadOnlyStoreError",
    "SecretReferenceError",
    "SecretStore",
    "SecretsError",
    "StoreDamagedError",
    "StoreEntryNotFound",
    "TemplateError",
    "TooManyWrongCodes",
    "UnknownBackendError",
    "UnsupportedBackendError",
    "ValueTooLargeError",
    "ValueTypeError",
    "WrongPassphraseError",
    "fetch_secrets",
    "probe_all",
    "requires_secret",
    "secrets_manager",
]

if TYPE_CHECKING:
    from mcp_secrets.errors import (
        AnswerPendingError,
        BackendError,
        CLIError,
        ConfigFileError,
        CorruptedEntryError,
        DBusCallError,
        DialogCancelled,
        DialogError,
        DialogTimeout,
        InputRequired,
        InvalidSecretName,
        InvalidValueError,
        KeychainLockedError,
        MiddlewareMissingError,
        MigrationError,
        NoDisplayError,
        NoKeychainError,
        PassphraseError,
        PermissionDeniedError,
        ProxyConfigError,
        ReadOnlyStoreError,
        SecretReferenceError,
        SecretsError,
        StoreDamagedError,
        StoreEntryNotFound,
        TemplateError,
        TooManyWrongCodes,
        UnknownBackendError,
        UnsupportedBackendError,
        ValueTooLargeError,
        ValueTypeError,
        WrongPassphraseError,
    )
    from mcp_secrets.fetcher import fetch_secrets
    from mcp_secrets.integrations.fastmcp import requires_secret
    from mcp_secrets.manager import MCPSecretsManager, secrets_manager
    from mcp_secrets.selection import probe_all
    from mcp_secrets.storage import MCPSecretsStorage
    from mcp_secrets.stores import (
        EncryptedFileStorage,
        EnvVarStorage,
        EphemeralStorage,
        KeyringStorage,
        OnePasswordStorage,
        SecretStore,
    )
    from mcp_secrets.ui_handler import AsyncUIHandler


# The whole error tree, so `from mcp_secrets import X` works for every class. errors.py imports
# nothing, so reading its list costs no start-up time.
_EXPORTS.update(dict.fromkeys(_errors.__all__, "mcp_secrets.errors"))


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mcp_secrets' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
