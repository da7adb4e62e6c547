"""The dialog as one Windows Forms window drawn by PowerShell, present on every Windows.

The script goes to PowerShell on stdin; argv holds only a fixed bootstrap that reads and runs
it. Every piece of template text is embedded as base64 UTF-8 (so no quoting rule or console code
page can change it), password boxes use the system's masked character, a `choice` is a
drop-down list, and the verification code leads the title and stands large at the top. The
values come back on stdout, one base64 line per field, in the template's order.
"""

from __future__ import annotations

import base64
import binascii
import shutil
from collections.abc import Mapping, Sequence

from mcp_secrets.dialog import native
from mcp_secrets.dialog.protocol import Field, Template
from mcp_secrets.errors import DialogError, NoDisplayError

TOOL = "powershell"
EXIT_CANCELLED = 4  # not 1: PowerShell itself exits 1 on a script error
EXIT_NO_DESKTOP = 3
#: Fixed: reads the script from stdin as UTF-8 and runs it. Nothing else is ever in argv.
BOOTSTRAP = ("[Console]::InputEncoding = [Text.Encoding]::UTF8; "
             "$s = [Console]::In.ReadToEnd(); Invoke-Expression $s")

_PROLOGUE = """\
trap { [Console]::Error.WriteLine('error: ' + $_.Exception.Message); exit 2 }
if (-not [Environment]::UserInteractive) {
  [Console]::Error.WriteLine('error: no interactive desktop'); exit 3 }
Add-Type -AssemblyName System.Windows.Forms
Add-Type -AssemblyName System.Drawing
function S([string]$b) { [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($b)) }
function Add-Label([string]$text, [float]$size, [bool]$bold, [string]$color) {
  $l = New-Object System.Windows.Forms.Label
  $l.Text = $text; $l.AutoSize = $true
  $l.MaximumSize = New-Object System.Drawing.Size(440, 0)
  $style = [System.Drawing.FontStyle]::Regular
  if ($bold) { $style = [System.Drawing.FontStyle]::Bold }
  $l.Font = New-Object System.Drawing.Font('Segoe UI', $size, $style)
  if ($color) { $l.ForeColor = [System.Drawing.Color]::FromName($color) }
  [void]$panel.Controls.Add($l)
}
[System.Windows.Forms.Application]::EnableVisualStyles()
$form = New-Object System.Windows.Forms.Form
$form.StartPosition = 'CenterScreen'; $form.TopMost = $true
$form.FormBorderStyle = 'FixedDialog'; $form.MaximizeBox = $false; $form.MinimizeBox = $false
$form.AutoSize = $true; $form.AutoSizeMode = 'GrowAndShrink'
$panel = New-Object System.Windows.Forms.FlowLayoutPanel
$panel.FlowDirection = 'TopDown'; $panel.WrapContents = $false; $panel.AutoSize = $true
$panel.Padding = New-Object System.Windows.Forms.Padding(12)
[void]$form.Controls.Add($panel)
$boxes = @()
"""

_EPILOGUE = """\
$row = New-Object System.Windows.Forms.FlowLayoutPanel
$row.AutoSize = $true
$ok = New-Object System.Windows.Forms.Button
$ok.Text = 'OK'; $ok.DialogResult = [System.Windows.Forms.DialogResult]::OK
$cancel = New-Object System.Windows.Forms.Button
$cancel.Text = 'Cancel'; $cancel.DialogResult = [System.Windows.Forms.DialogResult]::Cancel
[void]$row.Controls.Add($ok); [void]$row.Controls.Add($cancel)
[void]$panel.Controls.Add($row)
$form.AcceptButton = $ok; $form.CancelButton = $cancel
$form.Add_Shown({ $form.Activate() })
if ($form.ShowDialog() -ne [System.Windows.Forms.DialogResult]::OK) { exit 4 }
foreach ($b in $boxes) {
  [Console]::Out.WriteLine([Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes([string]$b.Text)))
}
exit 0
"""


def find() -> str | None:
    return shutil.which("powershell.exe") or shutil.which("powershell") or shutil.which("pwsh")


def argv(exe: str) -> list[str]:
    return [exe, "-NoLogo", "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass",
            "-Command", BOOTSTRAP]


def b64(text: str) -> str:
    """A PowerShell expression for `text`: ``(S '<base64 of its UTF-8>')``."""
    return f"(S '{base64.b64encode(text.encode('utf-8')).decode('ascii')}')"


def build_script(template: Template, fields: Sequence[Field],
                 problems: Mapping[str, str]) -> str:
    """The whole PowerShell script: labels, hints, reasons and the code; never a value."""
    out = [_PROLOGUE, f"$form.Text = {b64(native.window_title(template))}\n"]
    code_line = native.verification_line(template)
    if code_line:
        out.append(f"Add-Label {b64(code_line)} 18 $true 'DarkBlue'\n")
    if template.description.strip():
        out.append(f"Add-Label {b64(template.description.strip())} 9 $false ''\n")
    for f in fields:
        out.append(f"Add-Label {b64(f.display_label + (' *' if f.required else ''))} 9 $true ''\n")
        hint = native.field_hint(f)
        if hint:
            out.append(f"Add-Label {b64(hint)} 8 $false 'DimGray'\n")
        if f.name in problems:
            out.append(f"Add-Label {b64(problems[f.name])} 8 $false 'Firebrick'\n")
        if native.is_choice(f):
            items = ", ".join(b64(o) for o in native.options(f))
            out.append("$b = New-Object System.Windows.Forms.ComboBox; "
                       "$b.DropDownStyle = 'DropDownList'\n"
                       f"[void]$b.Items.AddRange(@({items}))\n")
            if f.default:
                out.append(f"$b.SelectedItem = {b64(f.default)}\n")
        else:
            out.append("$b = New-Object System.Windows.Forms.TextBox\n")
            if f.field_type == "password":
                out.append("$b.UseSystemPasswordChar = $true\n")
        out.append("$b.Width = 420; [void]$panel.Controls.Add($b); $boxes += $b\n")
    out.append(_EPILOGUE)
    return "".join(out)


def ask(exe: str, template: Template, fields: Sequence[Field],
        problems: Mapping[str, str]) -> dict[str, str] | None:
    script = build_script(template, fields, problems)
    code, out, err = native.run_tool(argv(exe), script.encode("utf-8"), tool=TOOL)
    if code == EXIT_CANCELLED:
        return None
    if code == EXIT_NO_DESKTOP:
        raise NoDisplayError("Windows allows no window here (not an interactive desktop session)")
    if code != 0:
        raise native.tool_failed(TOOL, code, err)
    text = native.decode_value(out, TOOL).replace("\r\n", "\n")
    lines = (text[:-1] if text.endswith("\n") else text).split("\n")
    if len(lines) != len(fields):
        raise DialogError(f"PowerShell returned {len(lines)} values for {len(fields)} fields")
    values: dict[str, str] = {}
    for f, line in zip(fields, lines, strict=True):
        try:
            values[f.name] = native.decode_value(base64.b64decode(line, validate=True), TOOL)
        except binascii.Error:
            raise DialogError("PowerShell returned a value that is not base64") from None
    return values


def collect(template: Template, exe: str) -> dict[str, str] | None:
    return native.collect(template, lambda t, fs, ps: ask(exe, t, fs, ps))
