"""Is there a screen to show a window on? One answer for the dialog, the fetcher and `doctor`.

Our Tk dialog needs X11: on a Wayland desktop that is XWayland, which sets ``DISPLAY``. So a
session with only ``WAYLAND_DISPLAY`` counts as "no display" for Tk, and the reason says so;
a dialog program that speaks Wayland natively asks with ``wayland_ok=True``. macOS and Windows
always have a window server for a logged-in user, so there is nothing to check there.
"""

from __future__ import annotations

import sys

from mcp_secrets import config

#: How long a TCP display (SSH X forwarding, `localhost:10.0`) may take to accept.
CONNECT_TIMEOUT = 0.5

#: What a person can do when there is no display; every "no display" message ends with it.
NO_DISPLAY_HINT = (
    "run it from a graphical session, or store the secret with `mcp-secrets set <server> <name>`"
    " instead"
)


def needs_display_variable() -> bool:
    """True where windows are reached through DISPLAY / WAYLAND_DISPLAY (Linux, the BSDs)."""
    return sys.platform not in ("win32", "darwin", "cygwin")


def display_problem(*, wayland_ok: bool = False) -> str | None:
    """None if a window can plausibly be shown here, else a short reason (no hint).

    Reads the environment and knocks once on the X server's socket: a DISPLAY left over from
    an SSH or tmux session whose X server is gone is common, and must not count as a screen.
    Tk may still fail later (a refused X authority), which the dialog reports the same way.
    """
    if not needs_display_variable():
        return None
    display = config.DISPLAY.get()
    if display:
        return x_server_problem(display)
    if config.WAYLAND_DISPLAY.get():
        if wayland_ok:
            return None
        return "WAYLAND_DISPLAY is set but DISPLAY is not; Tk needs X11 or XWayland"
    return "neither DISPLAY nor WAYLAND_DISPLAY is set"


def x_server_problem(display: str) -> str | None:
    """None if something accepts connections where DISPLAY points, else why not. Forms:
    `:N[.S]` / `unix:N` (the socket /tmp/.X11-unix/XN, or its Linux abstract twin) and
    `HOST:N` (TCP port 6000+N). Anything else is left for the X library to judge."""
    import re
    import socket

    match = re.fullmatch(r"(?P<host>[^:/]*)(?:/unix)?:(?P<num>\d+)(?:\.\d+)?", display)
    if match is None:
        return None
    host, number = match["host"], int(match["num"])
    if host in ("", "unix"):
        path = f"/tmp/.X11-unix/X{number}"  # noqa: S108 (X11's fixed socket directory)
        addresses = [path, "\0" + path] if sys.platform.startswith("linux") else [path]
        for address in addresses:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                try:
                    sock.connect(address)
                except OSError:
                    continue
                return None
        return f"DISPLAY is {display!r} but no X server listens at {path}"
    try:
        socket.create_connection((host, 6000 + number), timeout=CONNECT_TIMEOUT).close()
    except OSError:
        return f"DISPLAY is {display!r} but no X server answers at {host}:{6000 + number}"
    return None


_PREFIX = "no display available for the credentials dialog ("
_SUFFIX = f"); {NO_DISPLAY_HINT}"


def no_display_message(reason: str) -> str:
    """The one line a person sees: what is missing, why, and what to do instead."""
    return f"{_PREFIX}{reason}{_SUFFIX}"


def reason_of(message: str) -> str:
    """The reason inside a `no_display_message` (the dialog program's stderr line), for a
    caller that gives its own, concrete hint: one hint per message, never two nested."""
    if message.startswith(_PREFIX) and message.endswith(_SUFFIX):
        return message[len(_PREFIX):-len(_SUFFIX)]
    return message
