"""Drive a real credentials dialog on the rig's X server with xdotool (no mocks).

Reusable by any test that shows a dialog (fetcher, UI handler)::

    with DialogProcess.start(template) as dlg:      # or attach: find_window(title)
        wid = dlg.wait_window()
        dlg.wait_focus()
        type_text("hello"); press("Tab", "Return")
        rc, out, err = dlg.finish()

Keystrokes go through XTEST to whichever window has the focus, exactly as a person's would,
so always `wait_focus` before typing.
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "artifacts"
WAIT = 20.0


class DriverError(AssertionError):
    pass


def _xdotool(*args: str, timeout: float = WAIT, stdin: str | None = None) -> str:
    try:
        r = subprocess.run(["xdotool", *args], capture_output=True, text=True, timeout=timeout,
                           input=stdin)
    except subprocess.TimeoutExpired:
        raise DriverError(f"xdotool {' '.join(args[:3])} did not finish in {timeout}s") from None
    if r.returncode != 0:
        raise DriverError(f"xdotool {args[0]} failed ({r.returncode}): {r.stderr.strip()}")
    return r.stdout.strip()


def find_window(title: str, timeout: float = WAIT) -> str:
    """Block until a *mapped* window whose name contains `title` exists; return its id."""
    import re

    deadline = time.monotonic() + timeout
    while True:
        try:
            out = _xdotool("search", "--sync", "--onlyvisible", "--name", re.escape(title),
                           timeout=max(0.5, deadline - time.monotonic()))
            return out.splitlines()[0]
        except DriverError as exc:
            # A window that vanished while xdotool walked the tree (a dialog closing, zenity's
            # own short-lived windows) is X's BadWindow for that search: look again.
            if "BadWindow" not in str(exc) or time.monotonic() >= deadline:
                raise


def window_exists(title: str) -> bool:
    import re

    r = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", re.escape(title)],
                       capture_output=True, text=True, timeout=WAIT)
    return r.returncode == 0 and bool(r.stdout.strip())


def focused_window() -> str:
    return _xdotool("getwindowfocus")


def wait_focus(wid: str, timeout: float = WAIT) -> None:
    """Wait until the X input focus is on `wid` (the dialog focuses itself on open)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if focused_window() == wid:
            return
        time.sleep(0.05)
    raise DriverError(f"window {wid} never received the keyboard focus")


def type_text(text: str) -> None:
    """Type into the focused window. The text goes through stdin, never xdotool's argv,
    so a process-list scan during a test sees no typed value."""
    _xdotool("type", "--delay", "8", "--file", "-", stdin=text)


def press(*keys: str) -> None:
    """Press keys by X keysym name: Tab, Return, Escape, alt+s, BackSpace ..."""
    _xdotool("key", "--delay", "40", *keys)


def geometry(wid: str) -> tuple[int, int]:
    """(width, height) of the window, read from the X server."""
    out = subprocess.run(["xwininfo", "-id", wid], capture_output=True, text=True,
                         timeout=WAIT, check=True).stdout
    fields = dict(line.strip().split(":", 1) for line in out.splitlines() if ":" in line)
    return int(fields["Width"]), int(fields["Height"])


def screenshot(path: Path | str, wid: str | None = None) -> Path:
    """Save a PNG of the window (or the whole screen) with ImageMagick's `import`."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["import", "-window", wid or "root", str(target)], check=True,
                   timeout=WAIT, capture_output=True)
    return target


def pixels(wid: str) -> bytes:
    """Raw RGB bytes of the window, for comparing two renderings."""
    return subprocess.run(["import", "-window", wid, "rgb:-"], check=True, timeout=WAIT,
                          capture_output=True).stdout


def pixel_diff(a: bytes, b: bytes) -> int:
    """How many RGB pixels differ between two captures of the same-sized window."""
    if len(a) != len(b):
        return max(len(a), len(b)) // 3
    return sum(1 for i in range(0, len(a), 3) if a[i : i + 3] != b[i : i + 3])


class _XClientMessage(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("serial", ctypes.c_ulong),
        ("send_event", ctypes.c_int),
        ("display", ctypes.c_void_p),
        ("window", ctypes.c_ulong),
        ("message_type", ctypes.c_ulong),
        ("format", ctypes.c_int),
        ("data", ctypes.c_long * 5),
        ("pad", ctypes.c_long * 24),  # XEvent is a 24-long union; stay larger than that
    ]


def close_window(wid: str) -> None:
    """Ask the window to close the way a window manager's close button does (WM_DELETE_WINDOW).

    xdotool 3.2016 cannot do this (windowkill destroys the client instead), so talk to Xlib.
    """
    x11 = ctypes.cdll.LoadLibrary("libX11.so.6")
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XInternAtom.restype = ctypes.c_ulong
    x11.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    x11.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long,
                               ctypes.c_void_p]
    x11.XFlush.argtypes = [ctypes.c_void_p]
    x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    dpy = x11.XOpenDisplay(os.environ["DISPLAY"].encode())
    if not dpy:
        raise DriverError("cannot open the X display")
    try:
        ev = _XClientMessage()
        ev.type = 33  # ClientMessage
        ev.window = int(wid)
        ev.message_type = x11.XInternAtom(dpy, b"WM_PROTOCOLS", 0)
        ev.format = 32
        ev.data[0] = x11.XInternAtom(dpy, b"WM_DELETE_WINDOW", 0)
        ev.data[1] = 0  # CurrentTime
        if not x11.XSendEvent(dpy, int(wid), 0, 0, ctypes.byref(ev)):
            raise DriverError("XSendEvent failed")
        x11.XFlush(dpy)
    finally:
        x11.XCloseDisplay(dpy)


def unique_title(prefix: str = "Test dialog") -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


def template(title: str, fields: list[dict[str, Any]], description: str = "") -> dict[str, Any]:
    return {"title": title, "description": description, "fields": fields}


class DialogProcess:
    """`python -m mcp_secrets.dialog` as a real child process with the template on stdin."""

    def __init__(self, proc: subprocess.Popen[bytes], title: str) -> None:
        self.proc = proc
        self.title = title
        self.wid: str | None = None

    @classmethod
    @contextmanager
    def start(cls, tmpl: Mapping[str, Any] | str, env: Mapping[str, str] | None = None,
              argv: list[str] | None = None) -> Iterator[DialogProcess]:
        payload = tmpl if isinstance(tmpl, str) else json.dumps(tmpl)
        title = "" if isinstance(tmpl, str) else str(tmpl.get("title", ""))
        cmd = argv or [sys.executable, "-m", "mcp_secrets.dialog"]
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=dict(env or os.environ))
        assert proc.stdin is not None
        proc.stdin.write(payload.encode())
        proc.stdin.close()
        proc.stdin = None  # so communicate() does not touch the closed pipe
        dlg = cls(proc, title)
        try:
            yield dlg
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=WAIT)
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()

    def wait_window(self, timeout: float = WAIT) -> str:
        self.wid = find_window(self.title, timeout)
        return self.wid

    def wait_ready(self, timeout: float = WAIT) -> str:
        """Window mapped and holding the keyboard focus: safe to type."""
        wid = self.wait_window(timeout)
        wait_focus(wid, timeout)
        return wid

    def still_running_after(self, seconds: float) -> bool:
        """True if the process has not exited within `seconds` (for "Enter must not submit")."""
        try:
            self.proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            return True
        return False

    def finish(self, timeout: float = WAIT) -> tuple[int, str, str]:
        """Wait for exit; return (exit code, stdout, stderr)."""
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out.decode(), err.decode()
