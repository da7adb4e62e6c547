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
from typing import NamedTuple

_TRUE = frozenset({"1", "true", "yes", "on"})


class Setting(NamedTuple):
    """One environment variable: its name, what it means, and its default. (A NamedTuple, not a
    dataclass: `dataclasses` would cost every launch through `run` an import.)"""

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
    "Force one store (`secret-service`, `keyring`, `file`, `memory`, a team store: `vault`, "
    "`aws`, `gcp`, `1password`, or a plugin's name) instead of automatic selection; a forced "
    "store that does not work is an error, never a fallback. `mcp-secrets --backend NAME` does "
    "the same for one command.",
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
COLLECT = declare(
    "MCP_SECRETS_COLLECT",
    "Where `fetch_secrets` collects secrets: `auto` (default): the native window, or a one-time "
    "browser page on 127.0.0.1 when no window can open and the MCP client supports URL-mode "
    "elicitation; `url`: the browser page whenever the client supports it; `window`: always the "
    "native window.",
    "auto",
)
PAGE_EXPIRY = declare(
    "MCP_SECRETS_PAGE_EXPIRY",
    "Seconds the one-time browser page stays usable before it stops listening.",
    "600",
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


# --- team stores (references and MCP_SECRETS_BACKEND=vault|aws|gcp|1password) ---------------------
VAULT_ADDR = declare(
    "VAULT_ADDR", "Address of the Vault/OpenBao server for `vault://` and the vault store."
)
VAULT_TOKEN = declare("VAULT_TOKEN", "Token for Vault/OpenBao.", secret=True)
BAO_ADDR = declare("BAO_ADDR", "OpenBao's name for VAULT_ADDR (used when VAULT_ADDR is unset).")
BAO_TOKEN = declare(
    "BAO_TOKEN", "OpenBao's name for VAULT_TOKEN (used when VAULT_TOKEN is unset).", secret=True
)
VAULT_PATH = declare(
    "MCP_SECRETS_VAULT_PATH",
    "Where the vault store keeps each server's scope: `MOUNT/PREFIX` of a KV v2 engine; secret "
    "NAME of server S is `MOUNT/PREFIX/com.mcp.S/NAME` (field `value`).",
    "secret/mcp-secrets",
)
AWS_PREFIX = declare(
    "MCP_SECRETS_AWS_PREFIX",
    "Name prefix of the aws store: secret NAME of server S is `PREFIX/com.mcp.S/NAME`.",
    "mcp-secrets",
)
AWS_ENDPOINT_URL = declare(
    "AWS_ENDPOINT_URL", "Read by boto3: another endpoint for every AWS service (e.g. a local one)."
)
AWS_ENDPOINT_URL_SECRETS_MANAGER = declare(
    "AWS_ENDPOINT_URL_SECRETS_MANAGER", "Read by boto3: another Secrets Manager endpoint."
)
AWS_REGION = declare("AWS_REGION", "Read by boto3: the region of `aws-sm://` and the aws store.")
GCP_PROJECT = declare(
    "MCP_SECRETS_GCP_PROJECT",
    "Google Cloud project of the gcp store (default: GOOGLE_CLOUD_PROJECT).",
)
GCP_ENDPOINT = declare(
    "MCP_SECRETS_GCP_ENDPOINT",
    "Another Secret Manager endpoint (a regional or private one), spoken to over REST.",
)
GOOGLE_CLOUD_PROJECT = declare("GOOGLE_CLOUD_PROJECT", "The default Google Cloud project.")
GCP_PREFIX = declare(
    "MCP_SECRETS_GCP_PREFIX",
    "Secret-id prefix of the gcp store: NAME of server S is `PREFIX--com_2emcp_2eS--NAME` "
    "(characters GCP refuses in ids are written `_XX`).",
    "mcp-secrets",
)
OP_VAULT = declare(
    "MCP_SECRETS_1PASSWORD_VAULT",
    "1Password vault of the 1password store; each server is one item titled `com.mcp.S`.",
    "Private",
)

WATCH_INTERVAL = declare(
    "MCP_SECRETS_WATCH_INTERVAL",
    "Seconds between checks of `mcp-secrets run --watch` for changed values.",
    "2",
)

# --- audit log ---------------------------------------------------------------------------------
AUDIT = declare(
    "MCP_SECRETS_AUDIT",
    "`false`: write no audit log (default on).",
    "true",
)
AUDIT_FILE = declare(
    "MCP_SECRETS_AUDIT_FILE",
    "The audit log (default: `audit.jsonl` in the state dir).",
)
AUDIT_MAX_BYTES = declare(
    "MCP_SECRETS_AUDIT_MAX_BYTES",
    "Size at which the audit log is rotated to `audit.jsonl.1` (the hash chain continues).",
    "10000000",
)


def markdown_table() -> str:
    """The README's table of variables, generated from `SETTINGS` (a test keeps them equal)."""
    rows = ["| variable | default | effect |", "|---|---|---|"]
    for s in SETTINGS.values():
        default = f"`{s.default}`" if s.default is not None else ""
        rows.append(f"| `{s.name}` | {default} | {s.doc} |")
    return "\n".join(rows)
