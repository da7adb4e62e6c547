"""The dialog as kdialog prompts, for KDE desktops whose Python has no Tk.

kdialog asks one thing per window, so each field gets its own prompt (Qt's masked password box,
an input box, or a combo box for a `choice`), every one titled with the verification code and
showing it again in its text. argv holds labels, hints and the code; each value comes back on
kdialog's stdout.
"""

from __future__ import annotations

import html
import shutil
from collections.abc import Mapping, Sequence

from mcp_secrets.dialog import native
from mcp_secrets.dialog.protocol import Field, Template
from mcp_secrets.errors import NoDisplayError

TOOL = "kdialog"
_NO_DISPLAY = ("could not connect to display", "cannot open display", "cannot connect to X")


def find() -> str | None:
    return shutil.which(TOOL)


def build_argv(exe: str, template: Template, f: Field, problem: str | None) -> list[str]:
    """One prompt's command line: labels, hint, reason and the code; never a value."""
    lines = []
    code_line = native.verification_line(template)
    if code_line:
        lines.append(f"<h2>{html.escape(code_line)}</h2>")
    if template.description.strip():
        lines.append(html.escape(template.description.strip()).replace("\n", "<br>"))
    label = f.display_label + (" *" if f.required else "")
    lines.append(f"<b>{html.escape(label)}</b>")
    hint = native.field_hint(f)
    if hint:
        lines.append(html.escape(hint))
    if problem:
        lines.append(f'<font color="#c62828">{html.escape(problem)}</font>')
    text = "<br>".join(lines)
    argv = [exe, f"--title={native.window_title(template)}"]
    if native.is_choice(f):
        argv += ["--combobox", text, *native.options(f)]
        if f.default:
            argv += ["--default", f.default]
    elif f.field_type == "password":
        argv += ["--password", text]
    else:
        argv += ["--inputbox", text]
    return argv


def ask(exe: str, template: Template, fields: Sequence[Field],
        problems: Mapping[str, str]) -> dict[str, str] | None:
    values: dict[str, str] = {}
    for f in fields:
        code, out, err = native.run_tool(build_argv(exe, template, f, problems.get(f.name)),
                                         tool=TOOL)
        if any(marker in err for marker in _NO_DISPLAY):
            raise NoDisplayError("kdialog cannot open the display")
        if code == 1:
            return None
        if code != 0:
            raise native.tool_failed(TOOL, code, err)
        value = native.decode_value(out, TOOL)
        values[f.name] = value[:-1] if value.endswith("\n") else value
    return values


def collect(template: Template, exe: str) -> dict[str, str] | None:
    native.require_display(TOOL)
    return native.collect(template, lambda t, fs, ps: ask(exe, t, fs, ps))
