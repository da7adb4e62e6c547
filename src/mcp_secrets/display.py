"""Is there a screen to show a window on? One answer for the dialog, the fetcher and `doctor`.

Our Tk dialog needs X11: on a Wayland desktop that is XWayland, which sets ``DISPLAY``. So a
session with only ``WAYLAND_DISPLAY`` counts as "no display" for Tk, and the reason says so;
a dialog program that speaks Wayland natively asks with ``wayland_ok=True``. macOS and Windows
always have a window server for a logged-in user, so there is nothing to check there.
"""

from __future__ import annotations

import sys

from mcp_secrets import config

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

    Only the environment is read: Tk may still fail to connect, which the dialog reports
    with the same exit code.
    """
    if not needs_display_variable():
        return None
    if config.DISPLAY.get():
        return None
    if config.WAYLAND_DISPLAY.get():
        if wayland_ok:
            return None
        return "WAYLAND_DISPLAY is set but DISPLAY is not; Tk needs X11 or XWayland"
    return "neither DISPLAY nor WAYLAND_DISPLAY is set"


def no_display_message(reason: str) -> str:
    """The one line a person sees: what is missing, why, and what to do instead."""
    return f"no display available for the credentials dialog ({reason}); {NO_DISPLAY_HINT}"
