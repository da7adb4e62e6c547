"""The dialog as AppleScript prompts through `osascript`, present on every Mac.

`display dialog` asks one thing per window, so each field gets its own (`with hidden answer`
for passwords, `choose from list` for a `choice`), titled with the verification code and showing
it again in the text. The script goes to osascript on stdin (its argv is only ``-``); each value
comes back on its stdout.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence

from mcp_secrets.dialog import native
from mcp_secrets.dialog.protocol import Field, Template
from mcp_secrets.errors import NoDisplayError

TOOL = "osascript"
_CANCELLED = "(-128)"  # "User canceled."
_NO_UI = ("(-1713)", "(-1712)")  # no user interaction allowed / timed out waiting for the UI


def find() -> str | None:
    return shutil.which(TOOL)


def quote(text: str) -> str:
    """An AppleScript string literal holding exactly `text`."""
    escaped = (text.replace("\\", "\\\\").replace('"', '\\"')
               .replace("\n", "\\n").replace("\t", "\\t"))
    return f'"{escaped}"'


def prompt_text(template: Template, f: Field, problem: str | None) -> str:
    lines = []
    code_line = native.verification_line(template)
    if code_line:
        lines += [code_line.upper(), ""]
    if template.description.strip():
        lines += [template.description.strip(), ""]
    lines.append(f.display_label + (" *" if f.required else ""))
    hint = native.field_hint(f)
    if hint:
        lines.append(hint)
    if problem:
        lines.append(f"Problem: {problem}")
    return "\n".join(lines)


def build_script(template: Template, f: Field, problem: str | None) -> str:
    """The AppleScript for one field; it holds labels, hints and the code, never a value."""
    text = quote(prompt_text(template, f, problem))
    title = quote(native.window_title(template))
    if native.is_choice(f):
        items = ", ".join(quote(o) for o in native.options(f))
        default = f" default items {{{quote(f.default)}}}" if f.default else ""
        return (
            f"set theChoice to choose from list {{{items}}} with title {title} "
            f'with prompt {text}{default} OK button name "OK" cancel button name "Cancel"\n'
            "if theChoice is false then error number -128\n"
            "return item 1 of theChoice\n"
        )
    hidden = " with hidden answer" if f.field_type == "password" else ""
    return (
        f'set theReply to display dialog {text} with title {title} default answer ""{hidden} '
        'buttons {"Cancel", "OK"} default button "OK" cancel button "Cancel" with icon caution\n'
        "return text returned of theReply\n"
    )


def ask(exe: str, template: Template, fields: Sequence[Field],
        problems: Mapping[str, str]) -> dict[str, str] | None:
    values: dict[str, str] = {}
    for f in fields:
        script = build_script(template, f, problems.get(f.name))
        code, out, err = native.run_tool([exe, "-"], script.encode("utf-8"), tool=TOOL)
        if code != 0 and _CANCELLED in err:
            return None
        if code != 0 and any(marker in err for marker in _NO_UI):
            raise NoDisplayError("macOS allows no dialog here (no user interaction, e.g. over ssh)")
        if code != 0:
            raise native.tool_failed(TOOL, code, err)
        value = native.decode_value(out, TOOL)
        values[f.name] = value[:-1] if value.endswith("\n") else value
    return values


def collect(template: Template, exe: str) -> dict[str, str] | None:
    return native.collect(template, lambda t, fs, ps: ask(exe, t, fs, ps))
