"""Which window the dialog opens: Tk when this Python has it, else the platform's own tool.

Many real Pythons have no Tk (Debian's without python3-tk, Homebrew's without python-tk, slim
containers), and every desktop already ships a way to ask for a password: zenity (GTK) or
kdialog (Qt) on Linux, osascript on macOS, PowerShell on Windows. The choice is automatic,
explained step by step (`mcp-secrets doctor` prints the steps), and forced with
``MCP_SECRETS_DIALOG_KIND``; a forced kind that cannot run is an error, never a fallback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from mcp_secrets import config
from mcp_secrets.dialog.protocol import Template
from mcp_secrets.display import display_problem
from mcp_secrets.errors import DialogError, NoDisplayError

KINDS = ("tk", "zenity", "kdialog", "osascript", "powershell")


@dataclass(frozen=True)
class Selection:
    """The kind chosen (None: nothing can show a window), why, and every step that led there."""

    kind: str | None
    reason: str
    steps: list[str] = field(default_factory=list)
    executable: str | None = None
    forced: bool = False
    no_display: bool = False


def candidates(platform: str | None = None) -> tuple[str, ...]:
    """The kinds worth trying on this platform, best first."""
    platform = sys.platform if platform is None else platform
    if platform == "darwin":
        return ("tk", "osascript")
    if platform == "win32":
        return ("tk", "powershell")
    return ("tk", "zenity", "kdialog")


def _tk_problem() -> str | None:
    """Why Tk cannot draw here (None: it can try). Imports tkinter, never opens a window."""
    try:
        import tkinter  # noqa: F401
    except ImportError as exc:
        return f"tkinter is not importable in this Python ({exc.name or 'tkinter'} missing)"
    return display_problem()


def _has_display() -> bool:
    return display_problem(wayland_ok=True) is None


def _finder(kind: str) -> Callable[[], str | None]:
    if kind == "zenity":
        from mcp_secrets.dialog import zenity
        return zenity.find
    if kind == "kdialog":
        from mcp_secrets.dialog import kdialog
        return kdialog.find
    if kind == "osascript":
        from mcp_secrets.dialog import osascript
        return osascript.find
    from mcp_secrets.dialog import powershell
    return powershell.find


def _probe(kind: str) -> tuple[str | None, str | None]:
    """(executable or "" for Tk, None) if `kind` can show a window here, else (None, why not)."""
    if kind == "tk":
        problem = _tk_problem()
        return (None, problem) if problem else ("", None)
    exe = _finder(kind)()
    if exe is None:
        return None, f"{kind} is not on PATH"
    if kind in ("zenity", "kdialog") and not _has_display():
        return None, str(display_problem(wayland_ok=True))
    return exe, None


def choose() -> Selection:
    """Pick the dialog kind for this process, with the reasons for and against each."""
    forced = (config.DIALOG_KIND.get() or "").lower()
    if forced:
        if forced not in KINDS:
            raise DialogError(f"MCP_SECRETS_DIALOG_KIND={forced[:20]!r} is not one of "
                              f"{', '.join(KINDS)}")
        exe, problem = _probe(forced)
        step = f"{forced}: " + (problem or "available")
        if problem:
            return Selection(None, f"MCP_SECRETS_DIALOG_KIND={forced}, but {problem}", [step],
                             forced=True, no_display=not _has_display())
        return Selection(forced, f"MCP_SECRETS_DIALOG_KIND={forced}", [step], exe or None, True)
    steps: list[str] = []
    for kind in candidates():
        exe, problem = _probe(kind)
        if problem is None:
            steps.append(f"{kind}: available")
            why = "Tk is available" if kind == "tk" else f"{kind} is the first that can run here"
            return Selection(kind, why, steps, exe or None)
        steps.append(f"{kind}: {problem}")
    if not _has_display():
        return Selection(None, str(display_problem(wayland_ok=True)), steps, no_display=True)
    return Selection(None, "nothing here can show a window: install python3-tk or zenity",
                     steps, no_display=True)


def collect(selection: Selection, template: Template) -> dict[str, str] | None:
    """Show `template` with a native (non-Tk) kind; None if the human cancelled."""
    if selection.kind is None or selection.kind == "tk" or not selection.executable:
        if selection.no_display:
            raise NoDisplayError(selection.reason)
        raise DialogError(selection.reason)
    if selection.kind == "zenity":
        from mcp_secrets.dialog import zenity
        return zenity.collect(template, selection.executable)
    if selection.kind == "kdialog":
        from mcp_secrets.dialog import kdialog
        return kdialog.collect(template, selection.executable)
    if selection.kind == "osascript":
        from mcp_secrets.dialog import osascript
        return osascript.collect(template, selection.executable)
    from mcp_secrets.dialog import powershell
    return powershell.collect(template, selection.executable)
