"""The dialog launcher (AsyncUIHandler): run the credential dialog as a child process
without blocking the server.

The dialog is a separate program: the template goes in on stdin only (never argv or the
environment, which other users can read in the process list), the values come back on
stdout. It runs in its own session/process group so that cancelling, timing out or closing
kills *everything* it started (a wrapper script's zenity too) and nothing is left as a zombie
or an orphan window; on Linux it also dies with the server, however the server dies.

Our own dialog runs in an isolated interpreter (``python -I``): nothing in the server's
working directory or PYTHON* variables can put code into the process that shows the
verification code and reads the typed secrets.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import shlex
import signal
from collections.abc import Mapping
from typing import Any

from mcp_secrets import config
from mcp_secrets.children import child_environ, die_with_parent, python_module_command
from mcp_secrets.dialog.protocol import (
    EXIT_CANCELLED,
    EXIT_ERROR,
    EXIT_NO_DISPLAY,
    EXIT_OK,
    MAX_RESULT_BYTES,
    Template,
)
from mcp_secrets.errors import DialogCancelled, DialogError, DialogTimeout, NoDisplayError

DEFAULT_TIMEOUT = 300.0
#: How long a dialog gets to exit after SIGTERM before SIGKILL.
KILL_GRACE = 2.0
_MAX_REASON = 300
#: More output than this is not a dialog answering: the protocol caps a result at
#: MAX_RESULT_BYTES, and a line ending may follow it.
MAX_STDOUT = MAX_RESULT_BYTES + 2
MAX_STDERR = 64 << 10


def builtin_command() -> list[str]:
    """Our own Tk dialog, in an isolated interpreter."""
    return python_module_command("mcp_secrets.dialog")


def default_command() -> list[str]:
    """`MCP_SECRETS_DIALOG` (shlex-split) if set, else our own Tk dialog."""
    custom = (config.DIALOG.get() or "").strip()
    if custom:
        try:
            command = shlex.split(custom)
        except ValueError as exc:
            raise DialogError(f"MCP_SECRETS_DIALOG is not a valid command line: {exc}") from None
        if command:
            return command
    return builtin_command()


#: What our own Tk dialog needs from the server's environment; nothing else reaches it (the
#: server's env often holds API keys, and MCP_SECRETS_PASSPHRASE unlocks the file store).
_TK_ENV = {
    "PATH", "HOME", "USER", "LOGNAME", "DISPLAY", "WAYLAND_DISPLAY", "XAUTHORITY", "LANG",
    "LANGUAGE", "TZ", "TMPDIR", "TEMP", "TMP", "VIRTUAL_ENV", "TCL_LIBRARY", "TK_LIBRARY",
    "SYSTEMROOT", "WINDIR", "USERPROFILE", "APPDATA", "LOCALAPPDATA", "COMSPEC", "PATHEXT",
    "__CF_USER_TEXT_ENCODING",
}
#: No PYTHON* variable: the isolated interpreter ignores them anyway, and none is needed.
_TK_ENV_PREFIXES = ("LC_", "XDG_")


def dialog_env(default_dialog: bool) -> dict[str, str]:
    """The child's environment: an allowlist for our Tk dialog; for a custom
    MCP_SECRETS_DIALOG (trusted with the typed credentials anyway, and possibly needing
    its own variables) everything but our secret settings (the store's passphrase...)."""
    env = child_environ()
    if default_dialog:
        env = {k: v for k, v in env.items() if k in _TK_ENV or k.startswith(_TK_ENV_PREFIXES)}
    return env


def default_timeout() -> float:
    """`MCP_SECRETS_DIALOG_TIMEOUT` in seconds if set, else 300."""
    raw = (config.DIALOG_TIMEOUT.get() or "").strip()
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value < 10**7:
        raise DialogError(
            f"MCP_SECRETS_DIALOG_TIMEOUT must be a positive number of seconds, not {raw[:20]!r}"
        )
    return value


def _as_template(template: Template | Mapping[str, Any]) -> Template:
    from mcp_secrets.dialog.protocol import template_from_dict

    if isinstance(template, Template):
        return template
    return template_from_dict(dict(template))


class DialogSession:
    """One running dialog. Collects its output from the moment it starts (so pipes never
    fill), and enforces the timeout by itself, even if nobody ever calls `wait()`."""

    def __init__(
        self, proc: asyncio.subprocess.Process, template: Template, payload: bytes, timeout: float
    ) -> None:
        self._proc = proc
        self.pid: int = proc.pid
        self.timeout = timeout
        self._template = template
        loop = asyncio.get_running_loop()
        #: Event-loop time at which the dialog is closed unanswered.
        self.deadline = loop.time() + timeout
        self._timed_out = False
        self._closed_by_us = False
        self._closer: asyncio.Future[None] | None = None
        self._io: asyncio.Future[tuple[bytes, bytes]] = asyncio.ensure_future(
            _exchange(proc, payload)
        )
        self._watchdog = loop.call_at(self.deadline, self._on_timeout)
        self._io.add_done_callback(lambda _f: self._watchdog.cancel())
        _LIVE.add(self)
        self._io.add_done_callback(lambda _f: self._forget_if_reaped())

    @property
    def finished(self) -> bool:
        """True once the dialog process has exited and its output is read."""
        return self._io.done()

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode

    def add_done_callback(self, callback: Any) -> None:
        """Call `callback(session)` once the dialog has exited (for registries)."""
        self._io.add_done_callback(lambda _f: callback(self))

    async def wait_exit(self, timeout: float | None = None) -> bool:
        """True once the dialog has exited (within `timeout`); unlike `wait`, never kills it."""
        done, _ = await asyncio.wait({self._io}, timeout=timeout)
        return bool(done)

    async def wait(self) -> dict[str, str]:
        """The collected values; raises DialogCancelled / DialogTimeout / DialogError.

        Cancelling this call kills the dialog (and everything in its process group).
        """
        try:
            stdout, stderr = await asyncio.shield(self._io)
        except asyncio.CancelledError:
            self._start_close()
            raise
        except Exception as exc:  # the pipes failed under us: treat as a broken dialog
            raise DialogError(f"could not talk to the dialog: {type(exc).__name__}") from None
        try:
            return self._interpret(stdout, stderr)
        except DialogError as exc:
            failure = _detached(exc)
        # Raised from here, with the output dropped: neither the traceback's frames nor a
        # chain of exceptions keeps what the dialog wrote (an error reporter would ship it).
        del stdout, stderr
        raise failure

    async def close(self) -> None:
        """Kill the dialog's whole process group (SIGTERM, then SIGKILL) and reap it.

        Idempotent; safe to call after the dialog exited by itself. Survives cancellation of
        the caller: the kill-and-reap runs to the end in its own task.
        """
        await asyncio.shield(self._start_close())

    def _start_close(self) -> asyncio.Future[None]:
        if self._closer is None:
            if not self._io.done():
                self._closed_by_us = True
                self._signal(signal.SIGTERM)  # synchronously, before any await can be cancelled
            self._closer = asyncio.ensure_future(self._terminate())
        return self._closer

    async def _terminate(self) -> None:
        proc = self._proc
        if proc.returncode is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), KILL_GRACE)
        if self._closed_by_us:
            # Stragglers (a wrapper script's children) die with the group; the group id
            # cannot be reused while any member lives, so this cannot hit a stranger.
            self._signal(signal.SIGKILL)
        await proc.wait()
        self._forget_if_reaped()
        try:
            await asyncio.wait_for(asyncio.shield(self._io), KILL_GRACE)
        except (TimeoutError, Exception):
            self._io.cancel()  # a grandchild that escaped the group holds the pipe: let go
        self._watchdog.cancel()

    def _forget_if_reaped(self) -> None:
        # `_io` also ends when the loop shuts down and cancels it; the dialog lives on then.
        if self._proc.returncode is not None:
            _LIVE.discard(self)

    def _on_timeout(self) -> None:
        if not self._io.done():
            self._timed_out = True
            self._start_close()

    def _signal(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    def _interpret(self, stdout: bytes, stderr: bytes) -> dict[str, str]:
        code = self._proc.returncode
        if self._timed_out:
            raise DialogTimeout(
                f"nobody answered the credential dialog within {self.timeout:g} s, so it was "
                "closed (set MCP_SECRETS_DIALOG_TIMEOUT to allow longer)"
            )
        if self._closed_by_us:
            raise DialogCancelled("the credential dialog was closed before it was submitted")
        if code == EXIT_OK:
            return self._parse(stdout)
        if code == EXIT_CANCELLED:
            raise DialogCancelled("the credential dialog was cancelled or closed")
        if code == EXIT_ERROR:
            raise DialogError(f"the credential dialog failed: {_reason(stderr)}")
        if code == EXIT_NO_DISPLAY:
            raise NoDisplayError(_reason(stderr))
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = str(-code)
            raise DialogError(f"the credential dialog was killed by signal {name}")
        raise DialogError(f"the credential dialog exited with unexpected status {code}")

    def _parse(self, stdout: bytes) -> dict[str, str]:
        """Check the output against the template; messages name fields, never values."""
        from mcp_secrets.dialog.protocol import parse_result

        if len(stdout) > MAX_STDOUT:
            raise DialogError(
                f"the credential dialog wrote more than {MAX_STDOUT} bytes; output ignored"
            )
        return parse_result(stdout, self._template)

    def __repr__(self) -> str:
        state = "running" if not self.finished else f"exited {self.returncode}"
        return f"<DialogSession pid={self.pid} {state}>"


#: Dialogs not yet reaped. A 2026-07-28 flow parks its dialog between two requests, owned
#: by no task; if the client goes away (stdin closes, the server exits) nothing else ends it.
_LIVE: set[DialogSession] = set()


@atexit.register
def _kill_live_dialogs() -> None:
    """At interpreter exit, kill every dialog still running: no orphan windows."""
    for session in list(_LIVE):
        if session.returncode is None:  # not reaped, so its group id is still ours
            session._signal(signal.SIGKILL)
    _LIVE.clear()


async def _exchange(proc: asyncio.subprocess.Process, payload: bytes) -> tuple[bytes, bytes]:
    """Like `communicate`, but keeps at most MAX_STDOUT+1 / MAX_STDERR bytes of output.

    The rest is read and dropped, so a runaway dialog can neither fill our memory nor block
    on a full pipe; the session's watchdog still ends it at the deadline.
    """
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None

    async def feed(stdin: asyncio.StreamWriter) -> None:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            stdin.write(payload)
            await stdin.drain()
        stdin.close()

    async def drain(stream: asyncio.StreamReader, keep: int) -> bytes:
        kept = bytearray()
        while chunk := await stream.read(65536):
            if len(kept) < keep:
                kept += chunk[: keep - len(kept)]
        return bytes(kept)

    _, out, err = await asyncio.gather(
        feed(proc.stdin), drain(proc.stdout, MAX_STDOUT + 1), drain(proc.stderr, MAX_STDERR)
    )
    await proc.wait()
    return out, err


def _detached(exc: DialogError) -> DialogError:
    """A copy of `exc` with no traceback, cause or context: only its (value-free) message."""
    fresh = type(exc)(str(exc))
    fresh.__suppress_context__ = True
    return fresh


def _reason(stderr: bytes) -> str:
    """The dialog's one-line `error: ...` reason (the last such line), shortened."""
    text = stderr.decode("utf-8", "replace")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for line in reversed(lines):
        if line.lower().startswith("error:"):
            reason = line[6:].strip()
            break
    else:
        reason = "it gave no reason"
    reason = "".join(ch if ch.isprintable() else "?" for ch in reason)
    return reason[:_MAX_REASON]


class AsyncUIHandler:
    """Starts credential dialogs. `command` defaults to MCP_SECRETS_DIALOG or our Tk dialog;
    `timeout` (seconds) to MCP_SECRETS_DIALOG_TIMEOUT or 300."""

    def __init__(self, command: list[str] | None = None, timeout: float | None = None) -> None:
        self.command = list(command) if command else default_command()
        self.timeout = default_timeout() if timeout is None else float(timeout)
        if not self.timeout > 0:
            raise ValueError("timeout must be a positive number of seconds")

    @property
    def is_default_dialog(self) -> bool:
        return self.command == builtin_command()

    async def start(self, template: Template | Mapping[str, Any]) -> DialogSession:
        """Spawn the dialog and return at once; the human answers while the server works."""
        tpl = _as_template(template)
        payload = tpl.to_json().encode("utf-8")
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=dialog_env(self.is_default_dialog),
                start_new_session=True,
                preexec_fn=die_with_parent(),
            )
        except OSError as exc:
            raise DialogError(
                f"could not start the credential dialog {self.command[0]!r}: {exc.strerror}; "
                "set MCP_SECRETS_DIALOG to a program speaking the dialog protocol"
            ) from None
        return DialogSession(proc, tpl, payload, self.timeout)

    def __repr__(self) -> str:
        return f"<AsyncUIHandler {self.command[0]!r} timeout={self.timeout:g}s>"
