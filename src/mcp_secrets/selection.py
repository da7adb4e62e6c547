"""Which secret store to use on this machine, and why — automatic and explainable.

Each store describes itself (`Backend.probe()`, `Backend.priority`; see backends/base.py), and
stores are found by name in the ``mcp_secrets.backends`` entry-point group. This module only
orders and explains:

1. A store named by the caller (``mcp-secrets --backend``), else by ``MCP_SECRETS_BACKEND``.
   A named store that does not work is an error, never a silent fallback.
2. Otherwise every store with a priority above 0, highest first; the first whose probe says
   "usable" wins — or says "present, but locked or slow": such a store still holds this
   user's secrets, so it is kept (its calls ask to unlock or fail clearly) rather than swapped
   for another that would answer "not stored". Built in: the Secret Service on Linux (probed
   with a short timeout, and ``keyring`` is not imported on that path: its import alone can
   hang on a broken bus), the OS keychain through ``keyring`` elsewhere, then the encrypted
   file store when a passphrase source exists. Memory is only ever used by name.
3. Otherwise `NoKeychainError`, with the fix spelled out. Never plaintext.

`diagnose()` runs the same steps without creating anything, for ``mcp-secrets doctor``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from mcp_secrets import backends, config
from mcp_secrets.errors import NoKeychainError, UnknownBackendError
from mcp_secrets.paths import ForkSafeLock

if TYPE_CHECKING:
    from mcp_secrets.backends.base import Backend, Probe

ENV_BACKEND = config.BACKEND.name


class Diagnosis(NamedTuple):
    """What `default_backend()` picks and why; `steps` lists every candidate considered."""

    backend: str | None
    reason: str
    steps: list[str]
    fix: str | None = None


#: Held while probing (a probe may take a couple of seconds); fresh in a forked child.
_lock = ForkSafeLock()
_default: dict[str | None, Backend] = {}
_keychain: Backend | None = None


def valid_backends() -> tuple[str, ...]:
    """Every name MCP_SECRETS_BACKEND / --backend accepts (built-ins and plugins)."""
    return tuple(backends.names())


def __getattr__(name: str) -> object:
    if name == "VALID_BACKENDS":  # the name this module exported before stores were plugins
        return valid_backends()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def normalize_choice(raw: str | None, *, source: str = ENV_BACKEND) -> str | None:
    """The store name in `raw` (None when blank); UnknownBackendError naming `source`."""
    if raw is None or not raw.strip():
        return None
    choice = raw.strip().lower()
    if choice not in valid_backends():
        raise UnknownBackendError(
            f"{source} names no known store (its value is not shown, in case it is a secret); "
            "use one of: " + ", ".join(valid_backends()) + " (or unset it to choose automatically)"
        )
    return choice


def _requested(choice: str | None) -> tuple[str | None, str, str]:
    """(store name, how it was requested, what to change) from the argument, else from the
    environment."""
    if choice is not None:
        named = normalize_choice(choice, source="--backend")
        return named, f"--backend {named}", "--backend"
    named = normalize_choice(config.BACKEND.get())
    return named, f"{ENV_BACKEND}={named}", ENV_BACKEND


def _load(name: str) -> type[Backend] | str:
    """The class registered as `name`, or why it cannot be loaded (a missing library, a broken
    plugin): selection explains that instead of failing."""
    try:
        return backends.load(name)
    except ImportError as exc:
        return f"not available in this install ({exc.name or exc})"
    except Exception as exc:
        return f"cannot be loaded ({type(exc).__name__})"


def _probe(name: str, *, explicit: bool) -> tuple[type[Backend] | None, Probe | str]:
    """The class and its probe, or (None, why it could not even be loaded)."""
    cls = _load(name)
    if isinstance(cls, str):
        return None, cls
    return cls, cls.probe(explicit=explicit)


def _step(name: str, probe: Probe | str, chosen: bool) -> str:
    if isinstance(probe, str):
        return f"{name}: not usable — {probe}"
    if probe.transient:
        return (f"{name}: present, but {probe.reason} — chosen anyway (a store that is only "
                "temporarily unusable is never swapped for another)")
    if not probe.usable:
        return f"{name}: not usable — {probe.reason}" if probe.fix else f"{name}: {probe.reason}"
    return f"{name}: {probe.reason}" + (" — chosen" if chosen else "")


def _is_keychain(name: str) -> bool:
    cls = _load(name)
    return True if isinstance(cls, str) else cls.is_keychain  # unloadable: explained later


def _automatic_order(steps: list[str]) -> list[str]:
    """Names of the stores automatic selection tries, highest priority first; a store that
    cannot be loaded is explained in `steps` and left out."""
    ranked = []
    for name in backends.names():
        cls = _load(name)
        if isinstance(cls, str):
            steps.append(f"{name}: not usable — {cls}")
        elif cls.priority > 0:
            ranked.append((cls.priority, name))
    return [name for _, name in sorted(ranked, key=lambda pair: (-pair[0], pair[1]))]


def _plan(choice: str | None = None, *, keychain_only: bool = False
          ) -> tuple[Diagnosis, type[Backend] | None]:
    steps: list[str] = []
    try:
        named, how, knob = _requested(choice)
    except UnknownBackendError as exc:
        fix = "use a known store name" if choice else f"unset {ENV_BACKEND} or fix its value"
        return Diagnosis(None, str(exc), steps, fix), None
    if named is not None and keychain_only and not _is_keychain(named):
        named = None  # KeyringStorage: a named file or memory store is not a keychain

    if named is not None:
        steps.append(f"{how}: explicit choice, no fallback")
        cls, probe = _probe(named, explicit=True)
        if cls is None or isinstance(probe, str) or not (probe.usable or probe.transient):
            steps.append(_step(named, probe, False))
            store_fix = probe.fix if not isinstance(probe, str) else None
            fix = f"{store_fix or 'install what ' + named + ' needs'}, or change {knob}"
            return Diagnosis(None, f"{how} was requested but is not usable", steps, fix), None
        steps.append(_step(named, probe, True))
        return Diagnosis(named, f"requested with {how}", steps), cls

    fixes: list[str] = []
    for name in _automatic_order(steps):
        cls, probe = _probe(name, explicit=False)
        if cls is None or (keychain_only and not cls.is_keychain):
            continue
        assert not isinstance(probe, str)
        steps.append(_step(name, probe, probe.usable))
        if probe.usable or probe.transient:
            why = ("the OS keychain is available" if cls.is_keychain
                   else f"no OS keychain; using the {name} store")
            return Diagnosis(name, why, steps), cls
        if probe.fix and probe.fix not in fixes:
            fixes.append(probe.fix)
    either = "Either " + " — or ".join(fixes) + "." if fixes else None
    return Diagnosis(None, "no usable secret store on this machine", steps, either), None


# --------------------------------------------------------------------------- public


def diagnose(choice: str | None = None) -> Diagnosis:
    """Which store `default_backend(choice)` would use, and the reasoning; creates nothing."""
    return _plan(choice)[0]


def probe_all() -> dict[str, Probe | str]:
    """Every registered store's probe (or why it cannot be loaded), for `doctor --all`-style
    reports and for plugin authors checking that their store is found."""
    out: dict[str, Probe | str] = {}
    for name in backends.names():
        out[name] = _probe(name, explicit=True)[1]
    return out


def default_backend(choice: str | None = None) -> Backend:
    """The store for this process (chosen once per `choice`, then cached).

    `choice` names a store the way ``--backend`` does; None means MCP_SECRETS_BACKEND or the
    automatic order. Raises UnknownBackendError for an unknown name, else NoKeychainError."""
    with _lock:
        backend = _default.get(choice)
        if backend is None:
            _requested(choice)  # an unknown name is its own, clearer error
            diagnosis, cls = _plan(choice)
            if cls is None:
                raise NoKeychainError(
                    f"{diagnosis.reason}. Tried: {'; '.join(diagnosis.steps)}. "
                    f"Fix: {diagnosis.fix}"
                )
            backend = _default[choice] = cls.create()
        return backend


def keychain_backend() -> Backend:
    """The OS keychain only — never the file or memory store (for `KeyringStorage`).

    Honours MCP_SECRETS_BACKEND when it names a keychain; other values are ignored here because
    they name stores that are not one.
    """
    global _keychain
    with _lock:
        if _keychain is None:
            diagnosis, cls = _plan(keychain_only=True)
            if cls is None:
                raise NoKeychainError(
                    "no OS keychain is usable. Tried: " + "; ".join(diagnosis.steps) + ". Fix: "
                    "start and unlock a Secret Service (gnome-keyring) — or, on a machine without "
                    "one, use EncryptedFileStorage with MCP_SECRETS_PASSPHRASE / "
                    "MCP_SECRETS_PASSPHRASE_FILE"
                )
            _keychain = cls.create()
        return _keychain


def reset() -> None:
    """Forget the cached choices (after changing the environment, and in tests)."""
    global _keychain
    with _lock:
        _default.clear()
        _keychain = None
