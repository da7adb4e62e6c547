"""The one error tree. Every message is written for a person and never holds a secret value.

Catch `SecretsError` for "anything mcp-secrets refused or could not do"; the subclasses say
what went wrong specifically enough to act on it. Every class mcp-secrets raises on purpose is
defined here and exported from ``mcp_secrets``; no other module defines its own::

    SecretsError
    ├── InvalidSecretName            (also ValueError) a bad server, secret or vault name
    ├── InvalidValueError            (also ValueError) a value no store can hold as given
    ├── ValueTypeError               (also TypeError)  a value of a type that does not round-trip
    ├── ValueTooLargeError           (also ValueError) larger than the store holds, even chunked
    ├── UnknownBackendError          (also ValueError) MCP_SECRETS_BACKEND / --backend unknown
    ├── UnsupportedBackendError      (also ValueError) a backend object storage cannot use
    ├── NoKeychainError              no usable store on this machine; the fix is spelled out
    ├── KeychainLockedError          the keychain exists but stays locked
    │   └── WrongPassphraseError     (also PassphraseError) the encrypted file's passphrase is wrong
    ├── PassphraseError              no passphrase, or an unreadable / empty passphrase file
    ├── BackendError                 the store failed while we talked to it
    │   ├── StoreDamagedError        stored data is damaged; the message names the repair
    │   │   └── CorruptedEntryError  an entry's chunks do not fit its marker
    │   ├── DBusCallError            a Secret Service call answered with a D-Bus error
    │   └── StoreEntryNotFound       a team store has no such secret, version or stage
    ├── ReadOnlyStoreError           a write to a store opened read-only
    ├── PermissionDeniedError        the human denied (or could not be asked for) permission
    ├── DialogError                  the credential dialog failed
    │   ├── TemplateError            (also ValueError) a template breaks the dialog protocol
    │   ├── NoDisplayError           there is no display to show it on
    │   ├── DialogCancelled          the human closed or cancelled it
    │   ├── DialogTimeout            the human did not answer in time
    │   └── TooManyWrongCodes        the browser page got too many wrong verification codes
    ├── SecretReferenceError         (also ValueError) a bad or dangling secret reference
    ├── ConfigFileError              an MCP client's config file cannot be read or rewritten
    ├── MigrationError               `mcp-secrets migrate` stopped before changing a file
    ├── ProxyConfigError             (also ValueError) a proxy URL or header it cannot use
    ├── MiddlewareMissingError       a 2026-07-28 question, but initialize(mcp) never ran
    ├── AnswerPendingError           finish the out-of-band window, then call the tool again
    └── CLIError                     a command-line failure, with its exit code

    InputRequired (a BaseException: a question to the client, not a failure, so that a
                   tool's `except Exception` cannot swallow it)
"""

from __future__ import annotations


class SecretsError(Exception):
    """Base class of every error mcp-secrets raises on purpose."""


class InvalidSecretName(SecretsError, ValueError):
    """A secret or server name is empty, too long, or contains forbidden characters."""


class InvalidValueError(SecretsError, ValueError):
    """A value cannot be stored as given (not valid text, empty, a NUL in an env var)."""


class ValueTypeError(SecretsError, TypeError):
    """A value's type cannot be stored so that it comes back exactly (a non-str secret, a set,
    a NaN in a dict…). A TypeError too, as it was before the tree existed."""


class NoKeychainError(SecretsError):
    """No usable secret store on this machine; the message spells out the fix."""


class KeychainLockedError(SecretsError):
    """The keychain exists but is locked, and unlocking was refused or impossible."""


class PassphraseError(SecretsError):
    """The encrypted file store has no passphrase, or its source (file, prompt) is unusable."""


class WrongPassphraseError(KeychainLockedError, PassphraseError):
    """The encrypted file exists but the passphrase we were given does not open it."""


class UnknownBackendError(SecretsError, ValueError):
    """MCP_SECRETS_BACKEND (or --backend) names a store we do not have."""


class UnsupportedBackendError(SecretsError, ValueError):
    """A backend object that `MCPSecretsStorage` cannot serve (e.g. its per-entry limit is too
    small to hold a chunk marker)."""


class BackendError(SecretsError):
    """The store failed while we talked to it (daemon died, file unreadable, CLI failed)."""


class StoreDamagedError(BackendError):
    """Stored data is damaged or was tampered with (not a wrong passphrase: another fix).
    The message names the repair, if there is one (`mcp-secrets repair SERVER`)."""


class CorruptedEntryError(StoreDamagedError):
    """An entry's chunks do not fit its marker: real damage, or a read torn by a writer
    (storage retries once under the lock before letting it out)."""


class DBusCallError(BackendError):
    """A Secret Service call answered with a D-Bus error. Carries the error *name* only:
    reply bodies are daemon text we do not control."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class StoreEntryNotFound(BackendError):
    """A team store (Vault, AWS, GCP) has no such secret, version or stage. Backends turn it
    into None and reference schemes into a `SecretReferenceError` naming the reference."""


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


class TooManyWrongCodes(DialogError):
    """The browser page was sent too many wrong verification codes and closed for good:
    someone who never saw the client's code may have tried to plant a value."""


class TemplateError(DialogError, ValueError):
    """A dialog template (or the values collected for it) breaks the dialog protocol; the
    message is one line, names no value, and says what to fix."""


class SecretReferenceError(SecretsError, ValueError):
    """A secret reference is malformed, of an unknown scheme, or names a secret that is missing.

    The message names the variable and the reference (``API_KEY (mcp-secrets://s/k)``), never a
    value."""


class MiddlewareMissingError(SecretsError):
    """A 2026-07-28 client needs a question asked, but the server never installed the
    middleware that turns our questions into results (`secrets_manager.initialize(mcp)`)."""


class AnswerPendingError(SecretsError):
    """The human must finish a question in the out-of-band window (whose verification code the
    message carries) and then call the tool again; nothing was refused."""


class InputRequired(BaseException):
    """Raised inside a tool to end this leg with an `InputRequiredResult` (2026-07-28 era).

    Not a `SecretsError` and derived from BaseException on purpose: it is a question, not a
    failure, and the seed's tools wrap everything in `except Exception as e: raise
    ToolError(...)`, which must not eat it. `result` is an `mcp_types.InputRequiredResult`.
    """

    def __init__(self, result: object) -> None:
        super().__init__("the MCP client must answer a question and retry this call")
        self.result = result


class CLIError(SecretsError):
    """A command-line failure with a message fit to print as-is (never holds a secret value)
    and the exit code to leave with (1: refused or failed, 2: bad usage)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class ConfigFileError(SecretsError):
    """An MCP client's config file cannot be read, parsed or safely rewritten (malformed,
    read-only, changed by another program meanwhile). The message names the file, never a value."""


class MigrationError(SecretsError):
    """`mcp-secrets migrate` stopped before changing a file (values could not be stored, or a
    config cannot be rewritten safely). The message says what to do."""


class ProxyConfigError(SecretsError, ValueError):
    """`mcp-secrets proxy` was given a URL or header it cannot use; nothing was started."""


#: Every class above; `mcp_secrets` exports them all.
__all__ = [
    "AnswerPendingError",
    "BackendError",
    "CLIError",
    "ConfigFileError",
    "CorruptedEntryError",
    "DBusCallError",
    "DialogCancelled",
    "DialogError",
    "DialogTimeout",
    "InputRequired",
    "InvalidSecretName",
    "InvalidValueError",
    "KeychainLockedError",
    "MiddlewareMissingError",
    "MigrationError",
    "NoDisplayError",
    "NoKeychainError",
    "PassphraseError",
    "PermissionDeniedError",
    "ProxyConfigError",
    "ReadOnlyStoreError",
    "SecretReferenceError",
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
]
