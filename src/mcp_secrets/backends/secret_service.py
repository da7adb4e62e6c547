"""The Linux Secret Service (gnome-keyring, KeePassXC, KWallet's ksecretd) over one D-Bus
connection and one encrypted transfer session, reused for every call.

Why not plain `keyring`: it opens a new D-Bus connection and a new Diffie-Hellman session for
every read (~14 ms here). Reusing both, and remembering each item's object path, makes a read a
single `GetSecret` round-trip (~0.4 ms).

Items are created with exactly the attributes keyring's SecretService backend uses
(`service`, `username`, `application`), so `keyring.get_password("com.mcp.x", "k")` and this
backend read and write the same entries.

Assumption (true for gnome-keyring's counter and KeePassXC's UUIDs): a Secret Service never
gives a deleted item's object path to a new item while it runs; the path cache is dropped on
every reconnect, so a restarted daemon cannot hand us a recycled path either.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from mcp_secrets import config
from mcp_secrets.backends.base import Backend, Probe
from mcp_secrets.errors import BackendError, DBusCallError, KeychainLockedError, NoKeychainError
from mcp_secrets.paths import ForkSafeLock

if TYPE_CHECKING:
    from jeepney.io.blocking import DBusConnection
    from secretstorage.dhcrypto import Session

BUS_NAME = "org.freedesktop.secrets"
SERVICE_PATH = "/org/freedesktop/secrets"
DEFAULT_COLLECTION = "/org/freedesktop/secrets/aliases/default"
_PREFIX = "org.freedesktop.Secret."
#: Error names meaning "no such object" (gnome-keyring answers UnknownMethod for a missing path).
_MISSING = ("UnknownObject", "NoSuchObject", "UnknownMethod")
#: keyring's SecretService backend writes this; we write it too so both see the same items.
APPLICATION = "Python keyring library"

_FIX_NO_SERVICE = (
    "start a Secret Service (e.g. `gnome-keyring-daemon --start --components=secrets` inside "
    "your D-Bus session) or pick another store with MCP_SECRETS_BACKEND=file"
)
_FIX_LOCKED = (
    "unlock your login keyring (log in to the desktop session, open it in Seahorse/\"Passwords "
    "and Keys\"; headless: `printf %s \"$PASSWORD\" | gnome-keyring-daemon --replace --unlock "
    "--components=secrets`) and try "
    "again; your secrets stay in that keyring, so no other store is used in its place"
)
_FIX_NO_KEYRING = (
    "create a login keyring (log in to the desktop session once, or start the daemon with "
    "`printf %s \"$PASSWORD\" | gnome-keyring-daemon --unlock --components=secrets`), or pick "
    "another store with MCP_SECRETS_BACKEND=file"
)
#: Probe answers meaning "there, but not usable right now" (see `is_transient`).
LOCKED = "the default keyring collection is locked"
_TRANSIENT = (LOCKED, "did not answer within", "Secret Service answered", "probe failed")

#: How long the probe may take before we call the Secret Service unreachable.
PROBE_TIMEOUT = 2.0
FIX = (
    "run a Secret Service (install gnome-keyring and unlock it, e.g. "
    "`printf '%s' \"$PW\" | gnome-keyring-daemon --unlock --components=secrets` inside a D-Bus "
    "session)"
)

_T = TypeVar("_T")


class _BusLock:
    """Cross-process write locks that are names on the D-Bus session bus.

    Why the bus: it is the one thing every writer of a Secret Service shares, whatever its
    XDG_* or MCP_SECRETS_STATE_DIR (and even inside a sandbox that sees another filesystem);
    a lock file in a per-process state dir is not (two such writers lost 177 of 300 entries).
    The bus grants a name to one connection at a time and takes it back the instant that
    connection closes, so a SIGKILLed writer never leaves a stale lock.

    Within a process a per-name RLock orders threads (the name is the process's, not a
    thread's) and makes the lock reentrant, as the file lock it replaces was.
    """

    _DO_NOT_QUEUE = 4
    _GOT = (1, 4)  # PRIMARY_OWNER, ALREADY_OWNER

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._guard = threading.Lock()  # the connection and the tables below; never held long
        self._threads: dict[str, threading.RLock] = {}
        self._depth: dict[str, int] = {}
        self._conn: DBusConnection | None = None
        self._pid = -1

    def _connection(self) -> DBusConnection:
        if self._conn is None or self._pid != os.getpid():
            from jeepney.io.blocking import open_dbus_connection

            self._conn = open_dbus_connection(bus="SESSION", auth_timeout=10.0)
            self._pid = os.getpid()
        return self._conn

    def _ask(self, method: str, name: str, *flags: int) -> int:
        from jeepney import MessageType, new_method_call
        from jeepney.bus_messages import message_bus

        sig = "su" if flags else "s"
        with self._guard:
            try:
                reply = self._connection().send_and_get_reply(
                    new_method_call(message_bus, method, sig, (name, *flags)), timeout=10.0)
            except BaseException:
                self._conn = None  # a half-used connection is not reused
                raise
        if reply.header.message_type == MessageType.error:
            raise DBusCallError(_error_name(reply))
        return int(reply.body[0])

    @contextlib.contextmanager
    def hold(self, name: str, timeout: float, busy: str) -> Iterator[None]:
        with self._guard:
            rlock = self._threads.setdefault(name, threading.RLock())
        deadline = time.monotonic() + timeout
        if not rlock.acquire(timeout=max(timeout, 0.0)):
            raise BackendError(busy)
        try:
            first = self._depth.get(name, 0) == 0
            if first:
                self._take(name, deadline, busy)
            self._depth[name] = self._depth.get(name, 0) + 1
            try:
                yield
            finally:
                self._depth[name] -= 1
                if self._depth[name] == 0:
                    with contextlib.suppress(Exception):  # a dead connection released it anyway
                        self._ask("ReleaseName", name)
        finally:
            rlock.release()

    def _take(self, name: str, deadline: float, busy: str) -> None:
        delay = 0.001
        while True:
            try:
                if self._ask("RequestName", name, self._DO_NOT_QUEUE) in self._GOT:
                    return
            except DBusCallError as exc:
                raise BackendError(f"the D-Bus session bus refused the write lock {name} "
                                   f"({exc.name}); nothing was changed") from None
            except (OSError, EOFError, TimeoutError) as exc:
                raise BackendError(f"cannot take the write lock on the D-Bus session bus "
                                   f"({type(exc).__name__}); nothing was changed") from None
            if time.monotonic() >= deadline:
                raise BackendError(busy)
            time.sleep(delay)
            delay = min(delay * 2, 0.05)


_bus_lock = _BusLock()
os.register_at_fork(after_in_child=_bus_lock._reset)  # the parent's bus names stay the parent's


def _error_name(reply: Any) -> str:
    from jeepney import HeaderFields

    return str(reply.header.fields.get(HeaderFields.error_name, "org.freedesktop.DBus.Error"))


class SecretServiceBackend(Backend):
    """A `Backend` on the Secret Service; safe across threads and `fork`."""

    name = "secret-service"
    #: The OS keychain on Linux; elsewhere only when named (MCP_SECRETS_BACKEND=secret-service).
    priority = 30.0 if sys.platform.startswith("linux") else 0.0
    is_keychain = True

    def __init__(self, *, collection: str = DEFAULT_COLLECTION, timeout: float = 30.0,
                 unlock_timeout: float = 120.0) -> None:
        self._collection_path = collection
        self._timeout = timeout
        self._unlock_timeout = unlock_timeout
        self._lock = ForkSafeLock(reentrant=True)  # fresh in a forked child
        self._pid = -1
        self._conn: DBusConnection | None = None
        self._session: Session | None = None
        self._paths: dict[tuple[str, str], str] = {}

    # ------------------------------------------------------------------ probing

    @classmethod
    def probe(cls, *, explicit: bool = False, timeout: float = PROBE_TIMEOUT) -> Probe:
        """Usable now? Bounded by `timeout` (auth and each call); opens no transfer session and
        reads no secret, so `selection` can call it at start-up."""
        problem = cls._problem(timeout)
        if problem is None:
            return Probe(True, "reachable and unlocked")
        transient = cls.is_transient(problem)
        return Probe(False, problem, _FIX_LOCKED if transient else FIX, transient=transient)

    @staticmethod
    def _problem(timeout: float) -> str | None:
        """None when the Secret Service is usable now, else a one-line reason why not."""
        if not config.DBUS_SESSION_BUS_ADDRESS.get() and not config.XDG_RUNTIME_DIR.get():
            return "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)"
        try:
            from jeepney import DBusAddress, HeaderFields, MessageType, Properties, new_method_call
            from jeepney.bus_messages import message_bus
            from jeepney.io.blocking import open_dbus_connection
        except ImportError:
            return "the jeepney package is not installed (pip install secretstorage)"
        try:
            conn = open_dbus_connection(bus="SESSION", auth_timeout=timeout)
        except Exception as exc:
            return f"cannot connect to the D-Bus session bus ({type(exc).__name__})"
        try:
            owner = conn.send_and_get_reply(
                new_method_call(message_bus, "NameHasOwner", "s", (BUS_NAME,)), timeout=timeout
            ).body[0]
            if not owner:
                names = conn.send_and_get_reply(
                    new_method_call(message_bus, "ListActivatableNames"), timeout=timeout
                ).body[0]
                if BUS_NAME not in names:
                    return "no Secret Service on the session bus (org.freedesktop.secrets)"
            addr = DBusAddress(DEFAULT_COLLECTION, BUS_NAME, _PREFIX + "Collection")
            reply = conn.send_and_get_reply(Properties(addr).get("Locked"), timeout=timeout)
            if reply.header.message_type == MessageType.error:
                err = str(reply.header.fields.get(HeaderFields.error_name, "error"))
                if err.endswith(_MISSING):
                    return ("the Secret Service has no default keyring (creating one needs a "
                            "desktop password prompt)")
                return f"Secret Service answered {err}"
            if reply.body[0][1]:
                return LOCKED
            return None
        except TimeoutError:
            return f"the Secret Service did not answer within {timeout:g} s"
        except Exception as exc:
            return f"Secret Service probe failed ({type(exc).__name__})"
        finally:
            with contextlib.suppress(Exception):
                conn.close()

    @staticmethod
    def is_transient(problem: str) -> bool:
        """True when `probe` found a Secret Service that is present but unusable right now
        (locked, slow, erroring): automatic selection keeps it rather than use another store."""
        return any(marker in problem for marker in _TRANSIENT)

    # ------------------------------------------------------------ connection

    def _connect(self) -> None:
        """(Re)open the connection and transfer session; drops every cached path."""
        self._drop_connection()
        try:
            import secretstorage
            from secretstorage.util import open_session
        except ImportError:
            raise NoKeychainError(
                "the secretstorage package is not installed: pip install secretstorage"
            ) from None
        try:
            conn = secretstorage.dbus_init()
        except Exception as exc:
            raise NoKeychainError(
                f"cannot reach the D-Bus session bus ({type(exc).__name__}): {_FIX_NO_SERVICE}"
            ) from None
        try:
            if not secretstorage.check_service_availability(conn):
                raise NoKeychainError(f"no Secret Service on the session bus: {_FIX_NO_SERVICE}")
            self._conn = conn
            self._pid = os.getpid()
            self._ensure_collection()
            self._session = open_session(conn)
        except BaseException:
            with contextlib.suppress(Exception):
                conn.close()
            self._conn = None
            self._pid = -1
            raise

    def _drop_connection(self) -> None:
        if self._conn is not None and self._pid == os.getpid():
            with contextlib.suppress(Exception):
                self._conn.close()
        # In a forked child the socket is the parent's: abandon it, never close or use it.
        self._conn = None
        self._session = None
        self._paths.clear()

    def _ready(self) -> DBusConnection:
        if self._conn is None or self._pid != os.getpid():
            self._connect()
        assert self._conn is not None
        return self._conn

    def _ensure_collection(self) -> None:
        """Make sure the collection exists and is unlocked (asking to unlock once)."""
        try:
            locked = self._prop(self._collection_path, "Collection", "Locked")
        except DBusCallError as exc:
            if exc.name.endswith(_MISSING):
                self._create_default_collection()
                return
            raise
        if locked:
            self._unlock()

    def _create_default_collection(self) -> None:
        props = {_PREFIX + "Collection.Label": ("s", "Default")}
        try:
            path, prompt = self._call(SERVICE_PATH, "Service", "CreateCollection", "a{sv}s",
                                      (props, "default"))
        except DBusCallError as exc:
            raise KeychainLockedError(
                f"the Secret Service could not create a default keyring ({exc.name}): "
                f"{_FIX_NO_KEYRING}"
            ) from None
        if len(path) <= 1 and not self._prompt(prompt):
            raise KeychainLockedError(
                f"creating the default keyring was dismissed or not answered: {_FIX_NO_KEYRING}"
            )

    def _unlock(self) -> None:
        try:
            _unlocked, prompt = self._call(SERVICE_PATH, "Service", "Unlock", "ao",
                                           ([self._collection_path],))
            accepted = len(prompt) <= 1 or self._prompt(prompt)
            still_locked = self._prop(self._collection_path, "Collection", "Locked")
        except DBusCallError as exc:
            raise KeychainLockedError(
                f"the keyring is locked and unlocking failed ({exc.name}): {_FIX_LOCKED}"
            ) from None
        if not accepted or still_locked:
            raise KeychainLockedError(
                f"the keyring is locked and was not unlocked (the unlock prompt was dismissed, "
                f"could not be shown, or got no answer within {self._unlock_timeout:g} s): "
                f"{_FIX_LOCKED}"
            )

    def _prompt(self, prompt: str) -> bool:
        """Show a Secret Service prompt; True if completed, False if dismissed or timed out
        (a timed-out prompt is dismissed so no orphan dialog stays on screen)."""
        from secretstorage.util import exec_prompt

        assert self._conn is not None
        try:
            dismissed, _result = exec_prompt(self._conn, prompt, timeout=self._unlock_timeout)
        except TimeoutError:
            with contextlib.suppress(Exception):
                self._call(prompt, "Prompt", "Dismiss")
            return False
        return not dismissed

    # --------------------------------------------------------------- raw calls

    def _call(self, path: str, iface: str, method: str, sig: str | None = None,
              body: tuple[Any, ...] = ()) -> tuple[Any, ...]:
        from jeepney import DBusAddress, MessageType, new_method_call

        assert self._conn is not None
        msg = new_method_call(DBusAddress(path, BUS_NAME, _PREFIX + iface), method, sig, body)
        reply = self._conn.send_and_get_reply(msg, timeout=self._timeout)
        if reply.header.message_type == MessageType.error:
            # Only the error *name* travels on: bodies are daemon text we do not control.
            raise DBusCallError(_error_name(reply))
        result: tuple[Any, ...] = reply.body
        return result

    def _prop(self, path: str, iface: str, name: str) -> Any:
        from jeepney import DBusAddress, MessageType, Properties

        assert self._conn is not None
        msg = Properties(DBusAddress(path, BUS_NAME, _PREFIX + iface)).get(name)
        reply = self._conn.send_and_get_reply(msg, timeout=self._timeout)
        if reply.header.message_type == MessageType.error:
            raise DBusCallError(_error_name(reply))
        return reply.body[0][1]

    def _search(self, attributes: dict[str, str]) -> list[str]:
        (paths,) = self._call(self._collection_path, "Collection", "SearchItems", "a{ss}",
                              (attributes,))
        return list(paths)

    def _find(self, service: str, key: str) -> str | None:
        cached = self._paths.get((service, key))
        if cached is not None:
            return cached
        paths = self._search({"service": service, "username": key})
        if not paths:
            return None
        self._paths[(service, key)] = paths[0]
        return paths[0]

    def _on_item(self, service: str, key: str, action: Callable[[str], _T]
                 ) -> tuple[bool, _T | None]:
        """(True, action(path)) on the item, or (False, None) if there is none. A cached path
        whose item another process deleted is forgotten and searched afresh, once."""
        for fresh in (False, True):
            path = self._find(service, key)
            if path is None:
                return False, None
            try:
                return True, action(path)
            except DBusCallError as exc:
                if fresh or not exc.name.endswith(_MISSING):
                    raise
                self._paths.pop((service, key), None)
        raise AssertionError("unreachable")  # pragma: no cover

    def _get_secret(self, path: str) -> bytes:
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        session = self._session
        assert session is not None and session.object_path is not None
        (secret,) = self._call(path, "Item", "GetSecret", "o", (session.object_path,))
        data = bytes(secret[2])
        if not session.encrypted:
            return data
        assert session.aes_key is not None
        decryptor = Cipher(algorithms.AES(session.aes_key), modes.CBC(bytes(secret[1]))).decryptor()
        padded = decryptor.update(data) + decryptor.finalize()
        if not padded or not 1 <= padded[-1] <= 16:
            raise DBusCallError("mcp_secrets.BadPadding")
        return padded[: -padded[-1]]

    def _set_secret(self, path: str, value: bytes) -> None:
        from secretstorage.util import format_secret

        assert self._session is not None
        self._call(path, "Item", "SetSecret", "(oayays)",
                   (format_secret(self._session, value, "text/plain"),))

    def _create(self, service: str, key: str, value: bytes) -> str:
        from secretstorage.util import format_secret

        assert self._session is not None
        props = {
            _PREFIX + "Item.Label": ("s", f"Password for '{key}' on '{service}'"),
            _PREFIX + "Item.Attributes": (
                "a{ss}", {"service": service, "username": key, "application": APPLICATION}
            ),
        }
        path, prompt = self._call(
            self._collection_path, "Collection", "CreateItem", "a{sv}(oayays)b",
            (props, format_secret(self._session, value, "text/plain"), True),
        )
        if len(path) <= 1:  # the service wants a prompt (rare for CreateItem)
            if not self._prompt(prompt):
                raise KeychainLockedError(f"storing was refused at a keyring prompt: {_FIX_LOCKED}")
            self._paths.pop((service, key), None)
            return ""
        self._paths[(service, key)] = str(path)
        return str(path)

    def _delete_path(self, path: str) -> None:
        (prompt,) = self._call(path, "Item", "Delete")
        if len(prompt) > 1 and not self._prompt(prompt):
            raise KeychainLockedError(f"deleting was refused at a keyring prompt: {_FIX_LOCKED}")

    # ------------------------------------------------------------ the runner

    def _run(self, what: str, op: Any) -> Any:
        """Run `op()` under the lock, reconnecting once on a dead connection and unlocking
        once on a locked collection. Errors carry the operation and D-Bus error name only."""
        with self._lock:
            for attempt in (1, 2):
                try:
                    self._ready()
                    return op()
                except DBusCallError as exc:
                    if exc.name.endswith(".IsLocked") and attempt == 1:
                        self._unlock()
                        continue
                    if exc.name.endswith(("ServiceUnknown", "NoReply", "Disconnected",
                                          "NoSession", "UnknownObject")) and attempt == 1:
                        self._drop_connection()  # daemon restarted / session gone: start over
                        continue
                    raise BackendError(
                        f"Secret Service {what} failed: {exc.name}. If this persists, "
                        f"restart the keyring daemon or run `mcp-secrets doctor`"
                    ) from None
                except (OSError, EOFError, TimeoutError) as exc:
                    self._drop_connection()
                    if attempt == 1 and not isinstance(exc, TimeoutError):
                        continue
                    raise BackendError(
                        f"Secret Service {what} failed: lost the D-Bus connection "
                        f"({type(exc).__name__}); {_FIX_NO_SERVICE}"
                    ) from None
            raise AssertionError("unreachable")  # pragma: no cover

    # ----------------------------------------------------------- Backend API

    def get(self, service: str, key: str) -> str | None:
        def op() -> str | None:
            found, data = self._on_item(service, key, self._get_secret)
            if not found or data is None:
                return None
            try:
                return data.decode("utf-8")
            except UnicodeDecodeError:
                raise BackendError(
                    f"the keychain entry {key!r} of {service!r} is not UTF-8 text"
                ) from None

        result: str | None = self._run("read", op)
        return result

    def set(self, service: str, key: str, value: str) -> None:
        data = value.encode("utf-8")

        def op() -> None:
            found, _ = self._on_item(service, key, lambda path: self._set_secret(path, data))
            if not found:
                self._create(service, key, data)

        self._run("write", op)

    def delete(self, service: str, key: str) -> bool:
        def op() -> bool:
            self._paths.pop((service, key), None)
            found = False
            # Delete every match: a duplicate left behind would resurface as the value.
            for path in self._search({"service": service, "username": key}):
                try:
                    self._delete_path(path)
                    found = True
                except DBusCallError as exc:
                    if not exc.name.endswith(_MISSING):
                        raise
            return found

        result: bool = self._run("delete", op)
        return result

    def keys(self, service: str) -> list[str]:
        def op() -> list[str]:
            out: set[str] = set()
            for path in self._search({"service": service}):
                try:
                    attrs = self._prop(path, "Item", "Attributes")
                except DBusCallError:
                    continue  # deleted while we listed
                attributes = dict(attrs)
                key = attributes.get("username")
                if key is not None and attributes.get("service") == service:
                    out.add(key)
                    self._paths.setdefault((service, key), path)
            return sorted(out)

        result: list[str] = self._run("listing", op)
        return result

    def coordination_dir(self) -> Path:
        from mcp_secrets.paths import user_shared_dir

        return user_shared_dir()

    def write_lock(self, service: str,
                   timeout: float) -> contextlib.AbstractContextManager[None]:
        """A bus name per (collection, service): see `_BusLock`."""
        digest = hashlib.sha256(f"{self._collection_path}\0{service}".encode()).hexdigest()
        return _bus_lock.hold(f"com.mcp.secrets.lock.h{digest[:40]}", timeout,
                              f"timed out after {timeout:g} s waiting for the write lock of "
                              f"{service}: another process is writing its secrets (or is "
                              "stuck); try again")

    def services(self) -> list[str]:
        """Every service with an entry written by us or keyring (their `application`)."""
        def op() -> list[str]:
            out: set[str] = set()
            for path in self._search({"application": APPLICATION}):
                try:
                    service = dict(self._prop(path, "Item", "Attributes")).get("service")
                except DBusCallError:
                    continue
                if service:
                    out.add(service)
            return sorted(out)

        result: list[str] = self._run("listing", op)
        return result

    def close(self) -> None:
        """Close the D-Bus connection (it reopens on the next call)."""
        with self._lock:
            self._drop_connection()

    def describe(self) -> str:
        return f"Linux Secret Service (D-Bus, collection {self._collection_path})"
