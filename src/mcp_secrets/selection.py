"""Which secret store to use on this machine, and why — automatic and explainable.

Order (first usable wins):

1. ``MCP_SECRETS_BACKEND`` if set: ``secret-service``, ``keyring``, ``file``, ``memory``, or a
   team store: ``vault``, ``aws``, ``gcp``, ``1password`` (never chosen automatically).
   An explicit choice that does not work is an error, never a silent fallback.
2. On Linux: the Secret Service (gnome-keyring, KeePassXC, …), probed with a short timeout so a
   misconfigured D-Bus cannot stall start-up. ``keyring`` is not imported on this path: its
   import alone can hang for seconds on a broken bus.
3. Elsewhere: the OS keychain ``keyring`` picks (macOS Keychain, Windows Credential Manager),
   if it is a real one — not ``fail``/``null``, an empty chainer, or a plaintext file.
4. The encrypted file store, when a passphrase source exists (env, file, or a terminal).
5. Otherwise `NoKeychainError`, with the fix spelled out. Never plaintext.

`diagnose()` runs the same steps without creating anything, for ``mcp-secrets doctor``.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mcp_secrets.errors import NoKeychainError, UnknownBackendError

if TYPE_CHECKING:
    from mcp_secrets.backends.base import Backend

ENV_BACKEND = "MCP_SECRETS_BACKEND"
#: How long the Secret Service probe may take before we call it unreachable.
PROBE_TIMEOUT = 2.0

FIX_NO_STORE = (
    "Either run a Secret Service (install gnome-keyring and unlock it, e.g. "
    "`printf '%s' \"$PW\" | gnome-keyring-daemon --unlock --components=secrets` inside a D-Bus "
    "session), or use the encrypted file store: set MCP_SECRETS_PASSPHRASE to a passphrase, or "
    "MCP_SECRETS_PASSPHRASE_FILE to a file holding one (or run from a terminal to be asked)."
)


@dataclass
class Diagnosis:
    """What `default_backend()` picks and why; `steps` lists every candidate considered."""

    backend: str | None
    reason: str
    steps: list[str] = field(default_factory=list)
    fix: str | None = None


Factory = Callable[[], "Backend"]

#: Held while probing (up to PROBE_TIMEOUT). Replaced in a forked child, where a thread that
#: held it at fork time does not exist and would never release it.
_lock = threading.Lock()


def _fresh_lock() -> None:
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_fresh_lock)
_default: Backend | None = None
_keychain: Backend | None = None


# --------------------------------------------------------------------------- candidates


def _secret_service(steps: list[str]) -> Factory | None:
    try:
        from mcp_secrets.backends.secret_service import SecretServiceBackend
    except ImportError as exc:
        steps.append(f"secret-service: not available in this install ({exc.name or exc})")
        return None
    problem = SecretServiceBackend.probe(PROBE_TIMEOUT)
    if problem is not None:
        steps.append(f"secret-service: not usable — {problem}")
        return None
    steps.append("secret-service: reachable and unlocked — chosen")
    return SecretServiceBackend


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


def _keyring(steps: list[str]) -> Factory | None:
    try:
        import keyring

        kr = keyring.get_keyring()
    except Exception as exc:
        steps.append(f"keyring: failed to load ({type(exc).__name__})")
        return None
    problem = keyring_verdict(kr)
    label = f"{type(kr).__module__}.{type(kr).__name__}"
    if problem is not None:
        steps.append(f"keyring: not usable — {problem}")
        return None
    steps.append(f"keyring: {label} — chosen")

    def make() -> Backend:
        from mcp_secrets.backends.keyring_backend import KeyringBackend

        return KeyringBackend(kr)

    return make


def _file(steps: list[str]) -> Factory | None:
    from mcp_secrets.backends.encrypted_file import passphrase_source

    source = passphrase_source()
    if source is None:
        steps.append(
            "file: no passphrase source (MCP_SECRETS_PASSPHRASE, MCP_SECRETS_PASSPHRASE_FILE, "
            "or a terminal)"
        )
        return None
    steps.append(f"file: encrypted file store, passphrase from {source} — chosen")

    def make() -> Backend:
        from mcp_secrets.backends.encrypted_file import EncryptedFileBackend

        return EncryptedFileBackend()

    return make


def _memory(steps: list[str]) -> Factory:
    steps.append("memory: in-process only, every secret is lost when the process exits — chosen")

    def make() -> Backend:
        from mcp_secrets.backends.memory import MemoryBackend

        return MemoryBackend()

    return make


def _team(module: str) -> Callable[[list[str]], Factory | None]:
    """A team store's candidate (backends/<module>.py `candidate`), imported only when named."""

    def candidate(steps: list[str]) -> Factory | None:
        import importlib

        found: Factory | None = importlib.import_module(
            f"mcp_secrets.backends.{module}").candidate(steps)
        return found

    return candidate


def _is_linux() -> bool:
    return sys.platform.startswith("linux")


def _keychain_plan(steps: list[str]) -> Factory | None:
    """The OS keychain for this platform, or None (reasons appended to `steps`)."""
    if _is_linux():
        found = _secret_service(steps)
        if found is None:
            steps.append(
                "keyring: skipped on Linux (its import can stall on a broken D-Bus; "
                f"{ENV_BACKEND}=keyring forces it, e.g. for KWallet)"
            )
        return found
    return _keyring(steps)


#: Each explicit MCP_SECRETS_BACKEND value: its candidate, and the fix when it is not usable.
_CANDIDATES: dict[str, tuple[Callable[[list[str]], Factory | None], str | None]] = {
    "secret-service": (
        _secret_service,
        "start and unlock a Secret Service (gnome-keyring), or change " + ENV_BACKEND,
    ),
    "keyring": (
        _keyring, "install a keyring backend for this platform, or change " + ENV_BACKEND
    ),
    "file": (
        _file,
        "set MCP_SECRETS_PASSPHRASE or MCP_SECRETS_PASSPHRASE_FILE (or run from a terminal) "
        "to use the encrypted file store",
    ),
    "memory": (_memory, None),
    "vault": (_team("vault"), "set VAULT_ADDR and VAULT_TOKEN (or BAO_ADDR and BAO_TOKEN)"),
    "aws": (_team("aws"), "install the aws extra and configure AWS credentials and region"),
    "gcp": (_team("gcp"), "install the gcp extra and set MCP_SECRETS_GCP_PROJECT"),
    "1password": (_team("onepassword_backend"),
                  "install the `op` CLI and sign in, or set OP_SERVICE_ACCOUNT_TOKEN"),
}
VALID_BACKENDS = tuple(_CANDIDATES)


def _explicit_choice() -> str | None:
    raw = os.environ.get(ENV_BACKEND, "").strip()
    if not raw:
        return None
    choice = raw.lower()
    if choice not in VALID_BACKENDS:
        raise UnknownBackendError(
            f"{ENV_BACKEND}={raw!r} is not a known store; use one of: "
            + ", ".join(VALID_BACKENDS)
            + " (or unset it to choose automatically)"
        )
    return choice


def _plan() -> tuple[Diagnosis, Factory | None]:
    steps: list[str] = []
    try:
        choice = _explicit_choice()
    except UnknownBackendError as exc:
        return Diagnosis(None, str(exc), steps, f"unset {ENV_BACKEND} or fix its value"), None

    if choice is not None:
        steps.append(f"{ENV_BACKEND}={choice}: explicit choice, no fallback")
        candidate, fix = _CANDIDATES[choice]
        maker: Factory | None = candidate(steps)
        if maker is None:
            return Diagnosis(
                None, f"{ENV_BACKEND}={choice} was requested but is not usable", steps, fix
            ), None
        return Diagnosis(choice, f"requested with {ENV_BACKEND}={choice}", steps), maker

    maker = _keychain_plan(steps)
    if maker is not None:
        name = "secret-service" if _is_linux() else "keyring"
        return Diagnosis(name, "the OS keychain is available", steps), maker
    maker = _file(steps)
    if maker is not None:
        return Diagnosis(
            "file", "no OS keychain; using the encrypted file store", steps
        ), maker
    return Diagnosis(None, "no usable secret store on this machine", steps, FIX_NO_STORE), None


# --------------------------------------------------------------------------- public


def diagnose() -> Diagnosis:
    """Which store `default_backend()` would use, and the reasoning; creates nothing."""
    return _plan()[0]


def default_backend() -> Backend:
    """The store for this process (chosen once, then cached). Raises NoKeychainError."""
    global _default
    with _lock:
        if _default is None:
            _explicit_choice()  # an unknown MCP_SECRETS_BACKEND is its own, clearer error
            diagnosis, maker = _plan()
            if maker is None:
                raise NoKeychainError(
                    f"{diagnosis.reason}. Tried: {'; '.join(diagnosis.steps)}. "
                    f"Fix: {diagnosis.fix}"
                )
            _default = maker()
        return _default


def keychain_backend() -> Backend:
    """The OS keychain only — never the file or memory store (for `KeyringStorage`).

    Honours MCP_SECRETS_BACKEND=secret-service/keyring; other values are ignored here because
    they name stores that are not a keychain.
    """
    global _keychain
    with _lock:
        if _keychain is None:
            steps: list[str] = []
            choice = _explicit_choice()
            if choice in ("secret-service", "keyring"):
                maker = _CANDIDATES[choice][0](steps)
            else:
                maker = _keychain_plan(steps)
            if maker is None:
                raise NoKeychainError(
                    "no OS keychain is usable. Tried: " + "; ".join(steps) + ". Fix: start and "
                    "unlock a Secret Service (gnome-keyring) — or, on a machine without one, use "
                    "EncryptedFileStorage with MCP_SECRETS_PASSPHRASE / MCP_SECRETS_PASSPHRASE_FILE"
                )
            _keychain = maker()
        return _keychain


def reset() -> None:
    """Forget the cached choices (after changing the environment, and in tests)."""
    global _default, _keychain
    with _lock:
        _default = None
        _keychain = None
