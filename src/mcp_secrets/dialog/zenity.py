"""The dialog as one `zenity --forms` window, for Linux desktops whose Python has no Tk.

GTK draws it (like the seeds' GTK3 dialog), on X11 or natively on Wayland. Password fields are
GTK's masked entries; a `choice` is a combo box. The verification code leads the window title
and stands large at the top of the text. zenity's argv holds only labels, hints and the code;
the values come back on its stdout, joined by a separator made fresh for each window.
"""

from __future__ import annotations

import html
import secrets
import shutil
import textwrap
from collections.abc import Mapping, Sequence

from mcp_secrets.dialog import native
from mcp_secrets.dialog.protocol import Field, Template
from mcp_secrets.errors import DialogError, NoDisplayError

TOOL = "zenity"
#: zenity's own exit codes besides 0 (OK) and 1 (Cancel or closed).
_TIMEOUT_EXIT = 5
#: zenity does not wrap its text: long descriptions are wrapped here, at this many characters.
WRAP = 72


def find() -> str | None:
    return shutil.which(TOOL)


def build_argv(exe: str, template: Template, fields: Sequence[Field],
               problems: Mapping[str, str], separator: str) -> list[str]:
    """The whole zenity command line: labels, hints, reasons and the code; never a value."""
    argv = [
        exe, "--forms",
        f"--title={native.window_title(template)}",
        f"--text={_markup(template, fields, problems)}",
        f"--separator={separator}",
        "--ok-label=OK", "--cancel-label=Cancel", "--width=460",
    ]
    for f in fields:
        label = f.display_label + (" *" if f.required else "")
        if native.is_choice(f):
            opts = native.options(f)
            if any("|" in o for o in opts):
                raise DialogError(f"field {f.name!r}: zenity cannot show an option containing '|'")
            argv += [f"--add-combo={label}", f"--combo-values={'|'.join(opts)}"]
        elif f.field_type == "password":
            argv.append(f"--add-password={label}")
        else:
            argv.append(f"--add-entry={label}")
    return argv


def _markup(template: Template, fields: Sequence[Field], problems: Mapping[str, str]) -> str:
    """Pango markup for the text above the fields; every piece of template text is escaped."""
    lines = []
    code = template.verification_code
    if code:
        lines.append('<span size="xx-large" weight="bold">'
                     f"Verification code: {html.escape(code)}</span>")
    for paragraph in template.description.strip().splitlines():
        lines.append(html.escape(textwrap.fill(paragraph, WRAP) if paragraph.strip() else ""))
    for f in fields:
        hint = native.field_hint(f)
        if native.is_choice(f) and f.default:
            hint = "; ".join(p for p in (hint, f"empty keeps {f.default}") if p)
        if hint:
            lines.append(f"<b>{html.escape(f.display_label)}</b>: {html.escape(hint)}")
        if f.name in problems:
            lines.append(f'<span foreground="#c62828"><b>{html.escape(f.display_label)}</b>: '
                         f"{html.escape(problems[f.name])}</span>")
    return "\n".join(lines)


def ask(exe: str, template: Template, fields: Sequence[Field],
        problems: Mapping[str, str]) -> dict[str, str] | None:
    separator = f"\x1e{secrets.token_hex(8)}\x1e"
    argv = build_argv(exe, template, fields, problems, separator)
    code, out, err = native.run_tool(argv, tool=TOOL)
    if code == 1 and "cannot open display" in err:
        raise NoDisplayError("zenity cannot open the display")
    if code == 1:
        return None
    if code == _TIMEOUT_EXIT:
        return None
    if code != 0:
        raise native.tool_failed(TOOL, code, err)
    text = native.decode_value(out, TOOL)
    if text.endswith("\n"):
        text = text[:-1]
    parts = text.split(separator)
    if len(parts) != len(fields):
        raise DialogError(f"zenity returned {len(parts)} values for {len(fields)} fields")
    return {f.name: value for f, value in zip(fields, parts, strict=True)}


def collect(template: Template, exe: str) -> dict[str, str] | None:
    native.require_display(TOOL)
    return native.collect(template, lambda t, fs, ps: ask(exe, t, fs, ps))
