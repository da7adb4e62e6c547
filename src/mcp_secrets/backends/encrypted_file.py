"""The embedded default for machines with no OS keychain (headless Linux, containers, WSL).

One file per service, ``<data_dir>/<service>.enc``, sealed with AES-256-GCM under a key that
scrypt derives from a passphrase. Why each piece is there:

* **Header as AAD.** The header (format version, scrypt parameters, salt, nonce, key check and
  the service name) is authenticated with the ciphertext, so flipping a parameter, swapping in
  another service's file or truncating anything is detected, never silently accepted.
* **Key check.** A 16-byte HMAC of a constant under the derived key lets us tell "wrong
  passphrase" from "file damaged" — two problems with different fixes.
* **Salt kept across writes.** Only the first read in a process pays for scrypt (the key is
  cached per file, salt and passphrase); every write uses a fresh random 96-bit nonce.
* **Atomic, serialized writes.** Read-modify-write happens under a `filelock.FileLock` beside
  the file; the new file is written to an O_EXCL 0600 temp file in the same directory, fsynced,
  `os.replace`d over the old one, and the directory fsynced. A writer killed at any point
  leaves either the old file or the new one, never half of one.
* **Refuse, don't repair.** A file that fails authentication is reported and left alone: a
  later write refuses too, so nothing is lost before a human looks at it.

There is no plaintext fallback anywhere in this module.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import struct
import sys
import unicodedata
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mcp_secrets import config
from mcp_secrets.backends.base import Backend, Probe
from mcp_secrets.errors import (
    BackendError,
    InvalidSecretName,
    PassphraseError,
    StoreDamagedError,
    ValueTypeError,
    WrongPassphraseError,
)

MAGIC = b"MCPSENC1"
FORMAT_VERSION = 1
#: scrypt cost: 2**15 x 8 x 128 B = 32 MiB and roughly 0.1 s, paid once per process per file.
SCRYPT_LOG2_N = 15
SCRYPT_R = 8
SCRYPT_P = 1
_MAX_FILE_BYTES = 64 * 1024 * 1024
_MAX_HEADER_BYTES = 4096
#: Bounds on scrypt parameters read from a header (ours: 32 MiB, 2**18 work): at most 256 MiB
#: and 16 times our work, so a tampered header cannot cost minutes and gigabytes.
_MAX_KDF_MEMORY = 256 * 1024 * 1024
_MAX_KDF_WORK = 2**22
_KEY_CHECK_LABEL = b"mcp-secrets key check v1"
LOCK_TIMEOUT = 30.0
#: Longest percent-encoded service kept as a file name (room for ".enc", ".lock" and the
#: temp-file affixes within a 255-byte name); longer ones are hashed.
_MAX_READABLE_NAME = 160
_HASHED_PREFIX = "h-"

ENV_PASSPHRASE = config.PASSPHRASE.name
ENV_PASSPHRASE_FILE = config.PASSPHRASE_FILE.name

FIX = (
    f"use the encrypted file store: set {ENV_PASSPHRASE} to a passphrase, or "
    f"{ENV_PASSPHRASE_FILE} to a file holding one (or run from a terminal to be asked)"
)
PASSPHRASE_HELP = (
    f"set {ENV_PASSPHRASE} to a passphrase, or set {ENV_PASSPHRASE_FILE} to the path of a file "
    "holding it (e.g. a Docker/Kubernetes secret), or run from a terminal to be asked for it"
)


# --------------------------------------------------------------------------- passphrase


def _tty_available() -> bool:
    """A terminal to prompt on without touching stdin (an MCP server's stdin is the protocol)."""
    if sys.platform == "win32":
        return bool(sys.stdin is not None and sys.stdin.isatty())
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return False
    os.close(fd)
    return True


def passphrase_source() -> str | None:
    """Where a passphrase would come from right now, described for `doctor`; None if nowhere.

    Reads nothing secret: it only checks that a source exists.
    """
    if config.PASSPHRASE.is_set():
        return f"environment variable {ENV_PASSPHRASE}"
    path = config.PASSPHRASE_FILE.get()
    if path:
        return f"file {path} ({ENV_PASSPHRASE_FILE})"
    if _tty_available():
        return "an interactive prompt on the terminal"
    return None


def _read_passphrase_file(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read(64 * 1024 + 1)
    except OSError as exc:
        raise PassphraseError(
            f"{ENV_PASSPHRASE_FILE} points to {path}, which cannot be read "
            f"({exc.strerror or type(exc).__name__}); fix the path or unset the variable"
        ) from None
    except UnicodeDecodeError:
        raise PassphraseError(f"the passphrase file {path} is not UTF-8 text") from None
    if len(text) > 64 * 1024:
        raise PassphraseError(f"the passphrase file {path} is larger than 64 KiB")
    text = text.rstrip("\r\n")
    if not text:
        raise PassphraseError(f"the passphrase file {path} ({ENV_PASSPHRASE_FILE}) is empty")
    return text


def _prompt_passphrase(path: Path, *, new: bool) -> str:
    import getpass

    if new:
        first = getpass.getpass(f"New passphrase for the mcp-secrets encrypted store {path}: ")
        if not first:
            raise PassphraseError("an empty passphrase was entered; nothing was stored")
        if getpass.getpass("Repeat the passphrase: ") != first:
            raise PassphraseError("the two passphrases did not match; nothing was stored")
        return first
    entered = getpass.getpass(f"Passphrase for the mcp-secrets encrypted store {path}: ")
    if not entered:
        raise PassphraseError("an empty passphrase was entered")
    return entered


def resolve_passphrase(path: Path, *, new: bool) -> str:
    """The passphrase from the environment, a file, or the terminal — in that order."""
    value = config.PASSPHRASE.get()
    if value:
        return value
    file_path = config.PASSPHRASE_FILE.get()
    if file_path:
        return _read_passphrase_file(file_path)
    if _tty_available():
        return _prompt_passphrase(path, new=new)
    raise PassphraseError(
        f"the encrypted secrets file {path} needs a passphrase and none is available: "
        + PASSPHRASE_HELP
    )


# --------------------------------------------------------------------------- crypto


#: Plain dict operations, atomic under the GIL: no lock to be left held across a fork.
_key_cache: dict[tuple[str, bytes, bytes], bytes] = {}


def _fingerprint(passphrase: str) -> bytes:
    return hashlib.sha256(b"mcp-secrets passphrase fp\0" + passphrase.encode("utf-8")).digest()


def _derive_key(path: Path, passphrase: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    """scrypt, cached per (file, salt, passphrase) so a process pays for it once."""
    normalized = unicodedata.normalize("NFC", passphrase)
    cache_key = (str(path), salt + bytes([log2_n, r, p]), _fingerprint(normalized))
    cached = _key_cache.get(cache_key)
    if cached is not None:
        return cached
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    key = Scrypt(salt=salt, length=32, n=2**log2_n, r=r, p=p).derive(normalized.encode("utf-8"))
    _key_cache[cache_key] = key
    return key


def _header_sum(header: dict[str, Any]) -> str:
    """An unkeyed checksum of the other header fields: it tells accidental damage (a flipped
    salt byte) from a wrong passphrase before the key check. Tampering is caught by the AAD."""
    rest = {k: v for k, v in header.items() if k != "sum"}
    text = json.dumps(rest, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _key_check(key: bytes) -> bytes:
    return hmac.new(key, _KEY_CHECK_LABEL, hashlib.sha256).digest()[:16]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: object, what: str, path: Path) -> bytes:
    if not isinstance(text, str):
        raise _corrupt(path, f"header field {what} is missing")
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        raise _corrupt(path, f"header field {what} is not base64") from None


def _corrupt(path: Path, why: str) -> StoreDamagedError:
    return StoreDamagedError(
        f"the encrypted secrets file {path} is damaged or was tampered with ({why}). "
        f"It was left untouched and writes to it are refused. Restore it from a backup, or move "
        f"it aside (mv '{path}' '{path}.damaged') to start a new, empty store."
    )


# --------------------------------------------------------------------------- backend


class _Opened:
    """An opened file: its entries and key (a plain class, whose repr shows neither)."""

    __slots__ = ("entries", "kdf", "key", "salt")

    def __init__(self, entries: dict[str, str], key: bytes, salt: bytes,
                 kdf: tuple[int, int, int]) -> None:
        self.entries, self.key, self.salt, self.kdf = entries, key, salt, kdf



class EncryptedFileBackend(Backend):
    """Secrets in AES-256-GCM files under `paths.data_dir()`, one file per service."""

    name = "file"
    #: Below any OS keychain: used where none works and a passphrase source exists.
    priority = 10.0

    @classmethod
    def probe(cls, *, explicit: bool = False) -> Probe:
        source = passphrase_source()
        if source is None:
            return Probe(False, "no passphrase source (MCP_SECRETS_PASSPHRASE, "
                                "MCP_SECRETS_PASSPHRASE_FILE, or a terminal)", FIX)
        return Probe(True, f"encrypted file store, passphrase from {source}")

    def __init__(
        self,
        directory: str | os.PathLike[str] | None = None,
        *,
        passphrase: str | Callable[[], str] | None = None,
    ) -> None:
        """`passphrase` overrides the environment/prompt lookup (a string, or a callable that
        returns one on first need). The passphrase is fetched lazily: reading a store that
        does not exist yet asks for nothing."""
        self._dir_override = Path(directory) if directory is not None else None
        self._explicit = passphrase
        self._passphrases: dict[str, str] = {}

    # -- locations

    @property
    def directory(self) -> Path:
        if self._dir_override is not None:
            from mcp_secrets.paths import private_dir

            return private_dir(self._dir_override)
        from mcp_secrets import paths

        return paths.data_dir()

    def coordination_dir(self) -> Path:
        """Beside the files: every writer of this store agrees on where it is by definition."""
        from mcp_secrets.paths import private_dir

        return private_dir(self.directory / ".state")

    def services(self) -> list[str]:
        """The service named in each file's header (names may be hashed on disk)."""
        out = []
        for entry in sorted(self.directory.glob("*.enc")):
            service = _header_service(entry)
            if service is not None and self.path_for(service) == entry:
                out.append(service)
        return out

    def path_for(self, service: str) -> Path:
        """The file holding `service`: one path part that fits any valid name.

        A name whose percent-encoding is short keeps it (readable, and exactly the name files
        already stored have, so nothing needs migrating). A longer one (a long non-ASCII
        server name would exceed the 255-byte limit of most filesystems) gets a fixed-length
        hash name instead. The header inside names its service, so a file is never mistaken
        for another's.
        """
        if not isinstance(service, str) or not service:
            raise InvalidSecretName("service must be a non-empty string")
        service = unicodedata.normalize("NFC", service)
        encoded = urllib.parse.quote(service, safe="@+,=-_ ")
        if encoded in {".", ".."}:
            raise InvalidSecretName(f"service {service!r} cannot be used as a file name")
        if len(encoded) > _MAX_READABLE_NAME or encoded.startswith(_HASHED_PREFIX):
            digest = base64.b32encode(hashlib.sha256(service.encode("utf-8")).digest())
            encoded = _HASHED_PREFIX + digest.decode("ascii").rstrip("=").lower()
        return self.directory / f"{encoded}.enc"

    # -- passphrase

    def _passphrase(self, path: Path, *, new: bool) -> str:
        cached = self._passphrases.get(str(path))
        if cached is not None:
            return cached
        if isinstance(self._explicit, str):
            value = self._explicit
        elif self._explicit is not None:
            value = self._explicit()
        else:
            value = resolve_passphrase(path, new=new)
        if not isinstance(value, str) or not value:
            raise PassphraseError("the passphrase for the encrypted secrets file must not be empty")
        from_env = self._explicit is None and bool(
            config.PASSPHRASE.is_set() or config.PASSPHRASE_FILE.is_set()
        )
        if not from_env:
            # Remember what was typed or computed (never ask twice); env and file are re-read
            # on each use so a changed variable applies without a restart.
            self._passphrases[str(path)] = value
        return value

    # -- file format

    def _read_entries(self, service: str, path: Path) -> _Opened | None:
        """The decrypted file, or None when it does not exist."""
        try:
            with open(path, "rb") as fh:
                blob = fh.read(_MAX_FILE_BYTES + 1)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise BackendError(
                f"cannot read the encrypted secrets file {path}: "
                f"{exc.strerror or type(exc).__name__}"
            ) from None
        if len(blob) > _MAX_FILE_BYTES:
            raise _corrupt(path, "larger than 64 MiB")
        if len(blob) < len(MAGIC) + 4 or not blob.startswith(MAGIC):
            raise _corrupt(path, "not an mcp-secrets encrypted file, or truncated")
        (header_len,) = struct.unpack(">I", blob[len(MAGIC) : len(MAGIC) + 4])
        body_at = len(MAGIC) + 4 + header_len
        if header_len > _MAX_HEADER_BYTES or len(blob) < body_at + 16:
            raise _corrupt(path, "truncated header")
        aad = blob[:body_at]
        try:
            header: Any = json.loads(blob[len(MAGIC) + 4 : body_at])
        except ValueError:
            raise _corrupt(path, "unreadable header") from None
        if not isinstance(header, dict) or header.get("v") != FORMAT_VERSION:
            raise _corrupt(path, "unknown format version")
        kdf = header.get("kdf")
        if not isinstance(kdf, dict) or kdf.get("name") != "scrypt":
            raise _corrupt(path, "unknown key derivation")
        log2_n, r, p = kdf.get("log2_n"), kdf.get("r"), kdf.get("p")
        if not (
            isinstance(log2_n, int) and 10 <= log2_n <= 20
            and isinstance(r, int) and 1 <= r <= 32
            and isinstance(p, int) and 1 <= p <= 16
            and 128 * r * 2**log2_n <= _MAX_KDF_MEMORY
            and 2**log2_n * r * p <= _MAX_KDF_WORK
        ):
            # Checked before deriving: a tampered header must not cost minutes and gigabytes.
            raise _corrupt(path, "key-derivation parameters out of range")
        expected_sum = header.get("sum")
        if expected_sum is not None and expected_sum != _header_sum(header):
            # Told apart from a wrong passphrase: a damaged salt would fail the key check too.
            raise _corrupt(path, "the header does not match its checksum")
        salt = _unb64(kdf.get("salt"), "salt", path)
        nonce = _unb64(header.get("nonce"), "nonce", path)
        check = _unb64(header.get("check"), "check", path)
        if len(salt) < 16 or len(nonce) != 12 or len(check) != 16:
            raise _corrupt(path, "header field has the wrong length")
        if header.get("service") != service:
            raise _corrupt(path, "it belongs to a different service")

        key = _derive_key(path, self._passphrase(path, new=False), salt, log2_n, r, p)
        if not hmac.compare_digest(_key_check(key), check):
            raise WrongPassphraseError(
                f"wrong passphrase for the encrypted secrets file {path}: nothing was read or "
                f"changed. Check {ENV_PASSPHRASE} / {ENV_PASSPHRASE_FILE} (or what you typed)."
            )
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        try:
            plain = AESGCM(key).decrypt(nonce, blob[body_at:], aad)
        except InvalidTag:
            raise _corrupt(path, "authentication failed") from None
        try:
            data: Any = json.loads(plain)
        except ValueError:
            raise _corrupt(path, "decrypted content is not JSON") from None
        entries = data.get("entries") if isinstance(data, dict) else None
        if not isinstance(entries, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in entries.items()
        ):
            raise _corrupt(path, "decrypted content has the wrong shape")
        return _Opened(entries, key, salt, (log2_n, r, p))

    def _seal(self, service: str, path: Path, entries: dict[str, str], key: bytes, salt: bytes,
              kdf: tuple[int, int, int]) -> bytes:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        nonce = secrets.token_bytes(12)
        fields: dict[str, Any] = {
            "v": FORMAT_VERSION,
            "cipher": "AES-256-GCM",
            "kdf": {"name": "scrypt", "log2_n": kdf[0], "r": kdf[1], "p": kdf[2],
                    "salt": _b64(salt)},
            "nonce": _b64(nonce),
            "check": _b64(_key_check(key)),
            "service": service,
        }
        fields["sum"] = _header_sum(fields)
        header = json.dumps(fields, separators=(",", ":"), sort_keys=True).encode("utf-8")
        aad = MAGIC + struct.pack(">I", len(header)) + header
        plain = json.dumps({"entries": entries}, ensure_ascii=False, separators=(",", ":"))
        return aad + AESGCM(key).encrypt(nonce, plain.encode("utf-8"), aad)

    def _locked(self, path: Path) -> contextlib.AbstractContextManager[None]:
        from filelock import FileLock

        from mcp_secrets.paths import holding

        lock = FileLock(str(path) + ".lock", timeout=LOCK_TIMEOUT, mode=0o600)
        return holding(lock, f"another process has held the lock on {path} for "
                             f"{LOCK_TIMEOUT:.0f} s; nothing was changed")

    def _modify(self, service: str, change: Callable[[dict[str, str]], bool]) -> bool:
        """Apply `change` to the entries under the lock; write only if it returns True."""
        path = self.path_for(service)
        with self._locked(path):
            current = self._read_entries(service, path)
            if current is None:
                entries: dict[str, str] = {}
                if not change(entries):
                    return False
                salt = secrets.token_bytes(16)
                kdf = (SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P)
                key = _derive_key(path, self._passphrase(path, new=True), salt, *kdf)
            else:
                entries, key, salt, kdf = current.entries, current.key, current.salt, current.kdf
                if not change(entries):
                    return False
            _remove_stale_temps(path)
            _atomic_write(path, self._seal(service, path, entries, key, salt, kdf))
            return True

    # -- Backend

    def get(self, service: str, key: str) -> str | None:
        current = self._read_entries(service, self.path_for(service))
        return None if current is None else current.entries.get(key)

    def set(self, service: str, key: str, value: str) -> None:
        if not isinstance(value, str):
            raise ValueTypeError("EncryptedFileBackend stores str values")

        def change(entries: dict[str, str]) -> bool:
            entries[key] = value
            return True

        self._modify(service, change)

    def delete(self, service: str, key: str) -> bool:
        if not self.path_for(service).exists():
            return False
        return self._modify(service, lambda entries: entries.pop(key, None) is not None)

    def keys(self, service: str) -> list[str]:
        current = self._read_entries(service, self.path_for(service))
        return [] if current is None else sorted(current.entries)

    def describe(self) -> str:
        source = (
            "the passphrase given in code" if self._explicit is not None else passphrase_source()
        )
        where = self._dir_override if self._dir_override is not None else "the mcp-secrets data dir"
        return (
            f"encrypted file (AES-256-GCM, scrypt) in {where}; "
            f"passphrase from {source or 'nowhere yet'}"
        )


def _header_service(path: Path) -> str | None:
    """The service a file's (unauthenticated) header names, or None if unreadable; for
    listing only: every read still authenticates the header."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(MAGIC) + 4 + _MAX_HEADER_BYTES)
        (size,) = struct.unpack(">I", head[len(MAGIC) : len(MAGIC) + 4])
        header = json.loads(head[len(MAGIC) + 4 : len(MAGIC) + 4 + size])
    except (OSError, ValueError, struct.error):
        return None
    service = header.get("service") if isinstance(header, dict) else None
    return service if isinstance(service, str) else None


def _temp_prefix(path: Path) -> str:
    return f".{path.name}."


def _remove_stale_temps(path: Path) -> None:
    """Called under the lock: any temp file for `path` is left over from a killed writer."""
    prefix = _temp_prefix(path)
    with contextlib.suppress(OSError):
        for entry in os.scandir(path.parent):
            if entry.name.startswith(prefix) and entry.name.endswith(".tmp"):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


def _atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` so a crash at any point leaves the old file or the new one."""
    directory = path.parent
    tmp = directory / f"{_temp_prefix(path)}{os.getpid()}.{secrets.token_hex(4)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(tmp, flags, 0o600)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise BackendError(
            f"cannot write the encrypted secrets file {path}: "
            f"{exc.strerror or type(exc).__name__}; the previous file is unchanged"
        ) from None
    if sys.platform != "win32":
        try:
            dfd = os.open(directory, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(dfd)
        except OSError:
            pass
        finally:
            os.close(dfd)
