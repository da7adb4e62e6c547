"""The error hierarchy. Every message is written for a person and never holds a secret value.

Catch `SecretsError` for "anything mcp-secrets refused or could not do"; the subclasses say
what went wrong specifically enough to act on it.
"""

from __future__ import annotations


class SecretsError(Exception):
    """Base class of every error mcp-secrets raises on purpose."""


class InvalidSecretName(SecretsError, ValueError):
    """A secret or server name is empty, too long, or contains forbidden characters."""


class NoKeychainError(SecretsError):
    """No usable secret store on this machine; the message spells out the fix."""


class KeychainLockedError(SecretsError):
    """The keychain exists but is locked, and unlocking was refused or impossible."""


class WrongPassphraseError(KeychainLockedError):
    """The encrypted file exists but the passphrase we were given does not open it."""


class UnknownBackendError(SecretsError, ValueError):
    """MCP_SECRETS_BACKEND (or --backend) names a store we do not have."""


class BackendError(SecretsError):
    """The store failed while we talked to it (daemon died, file unreadable, CLI failed)."""


class StoreDamagedError(BackendError):
    """Stored data is damaged or was tampered with (not a wrong passphrase: another fix).
    The message names the repair, if there is one (`mcp-secrets repair SERVER`)."""


class ValueTooLargeError(SecretsError, ValueError):
    """A value exceeds what the store can hold even after chunking."""


class ReadOnlyStoreError(SecretsError):
    """A write was attempted on a store opened read-only (e.g. EnvVarStorage without auto_save)."""


class PermissionDeniedError(SecretsError):
    """The human denied (or could not be asked for) permission to use a secret."""


class DialogError(SecretsError):
    """The credential dialog failed: bad template, bad output, crash, or no display."""


class NoDisplayError(DialogError):
    """No window can be shown here (the dialog program exited 3)."""


class DialogCancelled(DialogError):
    """The human closed or cancelled the credential dialog."""


class DialogTimeout(DialogError):
    """The human did not answer the credential dialog in time; the dialog was closed."""


class TemplateError(DialogError, ValueError):
    """A dialog template (or the values collected for it) breaks the dialog protocol; the
    message is one line, names no value, and says what to fix."""


class CLIError(SecretsError):
    """A command-line failure with a message fit to print as-is, and the exit code to use."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class SecretReferenceError(SecretsError, ValueError):
    """A secret reference is malformed, of an unknown scheme, or names a secret that is missing.

    The message names the variable and the reference (``API_KEY (mcp-secrets://s/k)``), never a
    value."""


class ConfigFileError(SecretsError):
    """An MCP client's config file cannot be read, parsed or safely rewritten (malformed,
    read-only, changed by another program meanwhile). The message names the file, never a value."""


class MigrationError(SecretsError):
    """`mcp-secrets migrate` stopped before changing a file (values could not be stored, or a
    config cannot be rewritten safely). The message says what to do."""


class ProxyConfigError(SecretsError, ValueError):
    """`mcp-secrets proxy` was given a URL or header it cannot use; nothing was started."""
