"""Every environment variable mcp-secrets reads, named once, with its type, default and meaning.

Other modules never call ``os.environ.get("MCP_…")`` themselves: they read a `Setting` declared
here (``config.BACKEND.get()``), so this file is the whole list a user can set, and the README's
table is checked against it by a test. Reading is cheap (one ``os.environ`` lookup, no parsing
at import) so an MCP server that imports us starts no slower.

Values are read at call time, not import time: tests and the CLI can change the environment of
a child without reloading modules. The CLI never edits ``os.environ`` to pass a choice down; it
passes arguments.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

_TRUE = frozenset({"1", "true", "yes", "on"})


@dataclass(frozen=True)
class Setting:
    """One environment variable: its name, what it means, and its default."""

    name: str
    doc: str
    default: str | None = None
    secret: bool = False  # True: the value is itself sensitive; never print it (doctor shows "set")

    def get(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The stripped value, or the default when unset or blank."""
        raw = (os.environ if environ is None else environ).get(self.name, "")
        value = raw if self.secret else raw.strip()
        return value if value else self.default

    def flag(self, environ: Mapping[str, str] | None = None) -> bool:
        """True when set to 1/true/yes/on (any case)."""
        return (self.get(environ) or "").strip().lower() in _TRUE

    def is_set(self, environ: Mapping[str, str] | None = None) -> bool:
        return bool((os.environ if environ is None else environ).get(self.name))


SETTINGS: dict[str, Setting] = {}


def declare(name: str, doc: str, default: str | None = None, *, secret: bool = False) -> Setting:
    """Declare a setting once; declaring the same name twice is a programming error."""
    if name in SETTINGS:
        raise RuntimeError(f"setting {name} declared twice")
    setting = Setting(name, doc, default, secret)
    SETTINGS[name] = setting
    return setting


# --- the two switches servers already use -----------------------------------------------------
STORAGE_CLEAR = declare(
    "SECRETS_STORAGE_CLEAR",
    "`true`: wipe this server's secrets when `secrets_manager.initialize()` runs.",
)
BYPASS_CONFIRM = declare(
    "MCP_BYPASS_SECRET_USE_CONFIRM",
    "`true`: skip the per-use permission question (unattended servers only).",
)

# --- where secrets live ------------------------------------------------------------------------
BACKEND = declare(
    "MCP_SECRETS_BACKEND",
    "Force one store (`secret-service`, `keyring`, `file`, `memory`, or a plugin's name) "
    "instead of automatic selection; a forced store that does not work is an error, never a "
    "fallback. `mcp-secrets --backend NAME` does the same for one command.",
)
PASSPHRASE = declare(
    "MCP_SECRETS_PASSPHRASE",
    "Passphrase of the encrypted-file store (prefer `MCP_SECRETS_PASSPHRASE_FILE`).",
    secret=True,
)
PASSPHRASE_FILE = declare(
    "MCP_SECRETS_PASSPHRASE_FILE",
    "A file (0600) whose first line is the encrypted-file store's passphrase.",
)
DATA_DIR = declare(
    "MCP_SECRETS_DATA_DIR",
    "Directory of the encrypted-file store (default: the platform's user data dir).",
)
STATE_DIR = declare(
    "MCP_SECRETS_STATE_DIR",
    "Directory of locks and cache counters, no secret material (default: user state dir).",
)
PROFILE = declare(
    "MCP_SECRETS_PROFILE",
    "Profile (`dev`, `prod`, …) whose secrets are used when none is named (`--profile`, "
    "`?profile=` in a reference); unset or `default`: the profile-less scope `com.mcp.{server}`.",
)
OP_TOKEN = declare(
    "OP_SERVICE_ACCOUNT_TOKEN",
    "1Password service-account token, for the SDK path of the 1Password store.",
    secret=True,
)

# --- the dialog --------------------------------------------------------------------------------
DIALOG = declare(
    "MCP_SECRETS_DIALOG",
    "A program that speaks the dialog protocol, used instead of the built-in dialog.",
)
DIALOG_KIND = declare(
    "MCP_SECRETS_DIALOG_KIND",
    "Which built-in dialog window to open: `tk`, `zenity`, `kdialog`, `osascript` or "
    "`powershell` (default: Tk if this Python has it, else the platform's own tool).",
)
DIALOG_TIMEOUT = declare(
    "MCP_SECRETS_DIALOG_TIMEOUT",
    "Seconds the human has to answer the dialog before it is closed.",
    "300",
)

# --- how the human is asked ----------------------------------------------------------------------
CALL_BUDGET = declare(
    "MCP_SECRETS_CALL_BUDGET",
    "Seconds one tool call waits for the human at a window before it returns \"finish the "
    "window, then call again\" (the window stays open); keep it below your client's request "
    "timeout (60 s in the official TypeScript SDKs).",
    "45",
)
PERMISSION_PROMPT = declare(
    "MCP_SECRETS_PERMISSION_PROMPT",
    "`client` (default): ask per-use permission in the MCP client when it can show a question, "
    "else in the native window; `window`: always ask in the native window, guarded by a "
    "verification code (for clients that auto-approve questions).",
    "client",
)

# --- facts about the machine we read but do not own ---------------------------------------------
DISPLAY = declare("DISPLAY", "X11 display; without it (or WAYLAND_DISPLAY) no dialog can open.")
WAYLAND_DISPLAY = declare("WAYLAND_DISPLAY", "Wayland display (see DISPLAY).")
DBUS_SESSION_BUS_ADDRESS = declare(
    "DBUS_SESSION_BUS_ADDRESS", "The D-Bus session the Secret Service is reached through."
)
XDG_RUNTIME_DIR = declare(
    "XDG_RUNTIME_DIR",
    "Per-user runtime dir; the default D-Bus session socket lives here.",
)


def markdown_table() -> str:
    """The README's table of variables, generated from `SETTINGS` (a test keeps them equal)."""
    rows = ["| variable | default | effect |", "|---|---|---|"]
    for s in SETTINGS.values():
        default = f"`{s.default}`" if s.default is not None else ""
        rows.append(f"| `{s.name}` | {default} | {s.doc} |")
    return "\n".join(rows)
