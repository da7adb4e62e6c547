"""The dialog's native windows where Tk cannot run.

zenity runs for real on the rig's Xvfb, driven by xdotool keystrokes. osascript (macOS),
PowerShell (Windows) and kdialog (KDE) cannot run here: they are tested against the NAMED
FAKES in tests/fake_native/, which check the exact argv and script they are given and answer
the way the real programs print what a person typed.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mcp_secrets.dialog import kinds, native, osascript, powershell
from mcp_secrets.dialog.protocol import Field, Template
from mcp_secrets.errors import DialogError
from tests.dialog_driver import (
    ARTIFACTS,
    DialogProcess,
    find_window,
    press,
    screenshot,
    template,
    type_text,
    unique_title,
)

FAKES = Path(__file__).parent / "fake_native"
CANARY = "canary-Nat-9x2Qp"
CODE = "ABCD-EFGH"


def _template(title: str, fields: list[dict[str, Any]]) -> dict[str, Any]:
    return template(title, fields, f"Check the code {CODE} in your MCP client.")


def _fields_all() -> list[dict[str, Any]]:
    return [
        {"name": "user", "label": "User", "field_type": "text", "required": True},
        {"name": "api_key", "label": "API Key", "field_type": "password", "required": True},
        {"name": "endpoint", "label": "Endpoint", "field_type": "url", "required": True},
    ]


# ------------------------------------------------------------------ zenity, for real on Xvfb


def _zenity_env() -> dict[str, str]:
    return dict(os.environ, MCP_SECRETS_DIALOG_KIND="zenity")


def _children_cmdlines(pid: int) -> list[list[str]]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    cmds = []
    for child in out.split():
        try:
            raw = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        cmds.append(raw.rstrip(b"\0").decode().split("\0"))
    return cmds


def _submit_zenity(n_fields: int) -> None:
    """From the last entry: Tab past Cancel to OK and press it (Return in an entry does not)."""
    press("Tab", "Tab", "Return")


@pytest.mark.display
def test_zenity_collects_masks_and_reasks_an_invalid_field() -> None:
    title = unique_title("Zenity")
    with DialogProcess.start(_template(title, _fields_all()), env=_zenity_env()) as dlg:
        wid = find_window(CODE + " — " + title)  # the code leads the window title
        zen = [c for c in _children_cmdlines(dlg.proc.pid) if c[0].endswith("zenity")]
        assert zen, "the window is not zenity's"
        argv = zen[0]
        assert "--add-password=API Key *" in argv  # GTK's masked entry
        assert any(a.startswith("--text=") and f"Verification code: {CODE}" in a for a in argv)
        time.sleep(0.3)
        type_text("alice")
        press("Tab")
        type_text(CANARY)
        press("Tab")
        type_text("not a url")
        screenshot(ARTIFACTS / "zenity_form.png", wid)
        _submit_zenity(3)
        # Asked again: only the bad field, with the protocol's reason in red.
        find_window(CODE + " — " + title)
        again = [c for c in _children_cmdlines(dlg.proc.pid) if c[0].endswith("zenity")]
        deadline = time.monotonic() + 10
        while (not again or "--add-entry=Endpoint *" not in again[0]
               or len([a for a in again[0] if a.startswith("--add-")]) != 1):
            assert time.monotonic() < deadline, f"not re-asked: {again}"
            time.sleep(0.1)
            again = [c for c in _children_cmdlines(dlg.proc.pid) if c[0].endswith("zenity")]
        assert any("a URL cannot contain spaces" in a for a in again[0])
        time.sleep(0.3)
        type_text("https://api.example.com")
        _submit_zenity(1)
        rc, out, err = dlg.finish()
    assert rc == 0, err
    assert json.loads(out) == {"user": "alice", "api_key": CANARY,
                               "endpoint": "https://api.example.com"}
    for cmd in (argv, again[0]):
        assert not any(CANARY in a for a in cmd)


@pytest.mark.display
def test_zenity_escape_is_a_cancel() -> None:
    title = unique_title("Zenity cancel")
    fields = [{"name": "api_key", "label": "API Key", "field_type": "password"}]
    with DialogProcess.start(_template(title, fields), env=_zenity_env()) as dlg:
        find_window(title)
        time.sleep(0.3)
        press("Escape")
        rc, out, _err = dlg.finish()
    assert (rc, out) == (1, "")


@pytest.mark.display
def test_zenity_empty_answer_keeps_the_default_which_never_reaches_argv() -> None:
    title = unique_title("Zenity default")
    fields = [{"name": "token", "label": "Token", "field_type": "password", "required": True,
               "default": CANARY}]
    with DialogProcess.start(_template(title, fields), env=_zenity_env()) as dlg:
        find_window(title)
        cmds = _children_cmdlines(dlg.proc.pid)
        time.sleep(0.3)
        press("Tab", "Tab", "Return")
        rc, out, err = dlg.finish()
    assert rc == 0, err
    assert json.loads(out) == {"token": CANARY}
    assert cmds and not any(CANARY in a for c in cmds for a in c)


# ------------------------------------------------------------------ selection


def test_tk_is_chosen_when_this_python_has_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MCP_SECRETS_DIALOG_KIND", raising=False)
    sel = kinds.choose()
    assert (sel.kind, sel.steps) == ("tk", ["tk: available"])


def test_zenity_is_chosen_when_tkinter_cannot_be_imported(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MCP_SECRETS_DIALOG_KIND", raising=False)
    monkeypatch.setitem(sys.modules, "tkinter", None)  # import tkinter -> ImportError
    sel = kinds.choose()
    assert sel.kind == "zenity" and sel.executable and sel.executable.endswith("zenity")
    assert sel.steps[0].startswith("tk: tkinter is not importable")


def test_without_a_display_nothing_is_chosen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MCP_SECRETS_DIALOG_KIND", raising=False)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    sel = kinds.choose()
    assert sel.kind is None and sel.no_display
    assert sel.steps == ["tk: neither DISPLAY nor WAYLAND_DISPLAY is set",
                         "zenity: neither DISPLAY nor WAYLAND_DISPLAY is set",
                         "kdialog: kdialog is not on PATH"]


def test_wayland_only_skips_tk_for_zenity(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MCP_SECRETS_DIALOG_KIND", raising=False)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    sel = kinds.choose()
    assert sel.kind == "zenity"
    assert sel.steps[0] == "tk: WAYLAND_DISPLAY is set but DISPLAY is not; Tk needs X11 or XWayland"


def test_a_forced_kind_that_cannot_run_is_an_error_not_a_fallback(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCP_SECRETS_DIALOG_KIND", "kdialog")
    sel = kinds.choose()
    assert sel.kind is None and sel.forced and not sel.no_display
    with pytest.raises(DialogError, match="kdialog is not on PATH"):
        kinds.collect(sel, Template("t", [Field("a")]))
    monkeypatch.setenv("MCP_SECRETS_DIALOG_KIND", "gtk3")
    with pytest.raises(DialogError, match="not one of tk, zenity"):
        kinds.choose()


def test_doctor_explains_the_dialog_choice() -> None:
    env = dict(os.environ, MCP_SECRETS_DIALOG_KIND="zenity", MCP_SECRETS_BACKEND="memory")
    r = subprocess.run([sys.executable, "-m", "mcp_secrets.cli", "doctor", "--json"],
                       capture_output=True, text=True, env=env, timeout=60)
    report = json.loads(r.stdout)
    assert report["display"]["kind"] == "zenity"
    assert report["display"]["kind_reason"] == "MCP_SECRETS_DIALOG_KIND=zenity"
    human = subprocess.run([sys.executable, "-m", "mcp_secrets.cli", "doctor"],
                           capture_output=True, text=True, env=env, timeout=60).stdout
    assert "window:   zenity (MCP_SECRETS_DIALOG_KIND=zenity)" in human


# ------------------------------------------------------------------ the named fakes


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """PATH with the fakes first; helpers to queue replies and read the calls they logged."""
    log, replies = tmp_path / "calls.jsonl", tmp_path / "replies.json"
    log.touch()
    env = dict(os.environ, PATH=f"{FAKES}{os.pathsep}{os.environ['PATH']}",
               FAKE_NATIVE_LOG=str(log), FAKE_NATIVE_REPLIES=str(replies))

    def run(kind: str, tmpl: dict[str, Any], *answers: dict[str, Any]) -> tuple[int, str, str]:
        replies.write_text(json.dumps(list(answers)))
        r = subprocess.run([sys.executable, "-m", "mcp_secrets.dialog"], input=json.dumps(tmpl),
                           capture_output=True, text=True, timeout=60,
                           env=dict(env, MCP_SECRETS_DIALOG_KIND=kind))
        assert "FAKE" not in r.stderr, r.stderr  # the fake refused how it was called
        assert json.loads(replies.read_text()) == [], "the fake was asked fewer times"
        return r.returncode, r.stdout, r.stderr

    def calls() -> list[dict[str, Any]]:
        return [json.loads(line) for line in log.read_text().splitlines()]

    yield {"run": run, "calls": calls}


def _no_value_reached_the_tool(calls: list[dict[str, Any]], *values: str) -> None:
    for call in calls:
        blob = json.dumps(call) + base64.b64decode(
            "".join(re.findall(r"\(S '([^']*)'\)", call["stdin"])) or "").decode("latin-1")
        for value in values:
            assert value not in blob
            assert base64.b64encode(value.encode()).decode() not in call["stdin"]


OSA_PASSWORD_SCRIPT = (
    'set theReply to display dialog "VERIFICATION CODE: ABCD-EFGH\\n\\n'
    'Check the code ABCD-EFGH in your MCP client.\\n\\nAPI Key *\\nYour \\"secret\\" key" '
    'with title "ABCD-EFGH — Weather" default answer "" with hidden answer '
    'buttons {"Cancel", "OK"} default button "OK" cancel button "Cancel" with icon caution\n'
    "return text returned of theReply\n"
)


def test_osascript_gets_the_exact_script_on_stdin_and_nothing_in_argv(
        fake: dict[str, Any]) -> None:
    fields = [{"name": "api_key", "label": "API Key", "field_type": "password",
               "required": True, "help_text": 'Your "secret" key'}]
    rc, out, err = fake["run"]("osascript", _template("Weather", fields),
                               {"values": [CANARY]})
    assert rc == 0, err
    assert json.loads(out) == {"api_key": CANARY}
    (call,) = fake["calls"]()
    assert call["argv"] == ["-"]
    assert call["stdin"] == OSA_PASSWORD_SCRIPT
    _no_value_reached_the_tool(fake["calls"](), CANARY)


def test_osascript_asks_one_field_per_prompt_and_reasks_a_bad_email(
        fake: dict[str, Any]) -> None:
    fields = [{"name": "user", "label": "User", "field_type": "text"},
              {"name": "mail", "label": "Mail", "field_type": "email", "required": True}]
    rc, out, err = fake["run"]("osascript", _template("Weather", fields),
                               {"values": ["bob"]}, {"values": ["bob at example"]},
                               {"values": ["bob@example.com"]})
    assert rc == 0, err
    assert json.loads(out) == {"user": "bob", "mail": "bob@example.com"}
    scripts = [c["stdin"] for c in fake["calls"]()]
    assert "with hidden answer" not in "".join(scripts)
    assert '\\n\\nUser" with title' in scripts[0] and '\\n\\nMail *" with' in scripts[1]
    assert '\\n\\nMail *\\nProblem: an e-mail address cannot contain spaces" with' in scripts[2]


def test_osascript_cancel_and_no_ui(fake: dict[str, Any]) -> None:
    fields = [{"name": "k", "label": "K", "field_type": "password"}]
    cancelled = {"rc": 1, "stderr": "0:120: execution error: User canceled. (-128)\n"}
    assert fake["run"]("osascript", _template("W", fields), cancelled)[:2] == (1, "")
    no_ui = {"rc": 1, "stderr": "execution error: No user interaction allowed. (-1713)\n"}
    rc, out, err = fake["run"]("osascript", _template("W", fields), no_ui)
    assert (rc, out) == (3, "") and "no user interaction" in err  # 3: no window possible


def test_powershell_gets_a_fixed_argv_and_its_script_on_stdin(fake: dict[str, Any]) -> None:
    fields = [{"name": "user", "label": "Usér", "field_type": "text", "required": True},
              {"name": "api_key", "label": "API Key", "field_type": "password",
               "required": True, "default": "canary-default-1"}]
    rc, out, err = fake["run"]("powershell", _template("Wéather 'quoted'", fields),
                               {"values": ["zoë", ""]})
    assert rc == 0, err
    assert json.loads(out) == {"user": "zoë", "api_key": "canary-default-1"}
    (call,) = fake["calls"]()
    script = call["stdin"]
    texts = [base64.b64decode(b).decode() for b in re.findall(r"\(S '([^']*)'\)", script)]
    assert texts[:3] == [f"{CODE} — Wéather 'quoted'", f"Verification code: {CODE}",
                         f"Check the code {CODE} in your MCP client."]
    assert "Usér *" in texts and "API Key *" in texts
    assert script.count("$b = New-Object System.Windows.Forms.TextBox") == 2
    assert script.count("$b.UseSystemPasswordChar = $true") == 1
    assert script.index("UseSystemPasswordChar") > script.index(
        powershell.b64("API Key *"))
    _no_value_reached_the_tool(fake["calls"](), "zoë", "canary-default-1")


def test_powershell_cancel_and_no_desktop(fake: dict[str, Any]) -> None:
    fields = [{"name": "k", "label": "K", "field_type": "password"}]
    assert fake["run"]("powershell", _template("W", fields), {"rc": 4})[:2] == (1, "")
    rc, out, err = fake["run"]("powershell", _template("W", fields),
                               {"rc": 3, "stderr": "error: no interactive desktop\n"})
    assert (rc, out) == (3, "") and "not an interactive desktop" in err
    rc, out, err = fake["run"]("powershell", _template("W", fields),
                               {"rc": 1, "stderr": "error: boom\n"})
    assert (rc, out) == (2, "") and "powershell failed with exit code 1: error: boom" in err


def test_kdialog_one_masked_prompt_per_field(fake: dict[str, Any]) -> None:
    fields = [{"name": "user", "label": "User <b>", "field_type": "text"},
              {"name": "api_key", "label": "API Key", "field_type": "password",
               "required": True}]
    env_display = os.environ.get("DISPLAY")
    assert env_display, "the rig's Xvfb provides DISPLAY"
    rc, out, err = fake["run"]("kdialog", _template("Weather", fields),
                               {"values": ["bob"]}, {"values": [CANARY]})
    assert rc == 0, err
    assert json.loads(out) == {"user": "bob", "api_key": CANARY}
    first, second = fake["calls"]()
    assert first["argv"][0] == f"--title={CODE} — Weather"
    assert first["argv"][1] == "--inputbox" and "User &lt;b&gt;" in first["argv"][2]
    assert second["argv"][1] == "--password"
    assert f"<h2>Verification code: {CODE}</h2>" in second["argv"][2]
    _no_value_reached_the_tool(fake["calls"](), CANARY)


# ------------------------------------------------------------------ shared rules


def test_too_many_bad_answers_give_up_with_an_error() -> None:
    t = Template("t", [Field("u", field_type="url", required=True)])
    asked = []

    def ask(_t: Template, fields: Any, problems: Any) -> dict[str, str]:
        asked.append(dict(problems))
        return {"u": "nope"}

    with pytest.raises(DialogError, match="no valid answer after 5 tries"):
        native.collect(t, ask)
    assert asked[0] == {} and all(p == {"u": "the URL must start with https:// or http://"}
                                  for p in asked[1:])


def test_applescript_quoting_round_trips_hostile_labels() -> None:
    assert osascript.quote('a"b\\c\nd\te') == '"a\\"b\\\\c\\nd\\te"'


# ------------------------------------------------------------------ the choice field

DECISION = {"name": "decision", "label": "Use the key?", "field_type": "choice",
            "options": ["Allow", "Allow for session", "Deny"], "required": True}


@pytest.mark.display
def test_zenity_choice_is_a_combo_and_returns_an_option() -> None:
    title = unique_title("Zenity choice")
    with DialogProcess.start(_template(title, [DECISION]), env=_zenity_env()) as dlg:
        wid = find_window(title)
        (argv,) = [c for c in _children_cmdlines(dlg.proc.pid) if c[0].endswith("zenity")]
        assert argv[-2:] == ["--add-combo=Use the key? *",
                             "--combo-values=Allow|Allow for session|Deny"]
        time.sleep(0.3)
        press("Down", "Down")
        screenshot(ARTIFACTS / "zenity_choice.png", wid)
        press("Tab", "Tab", "Return")
        rc, out, err = dlg.finish()
    assert rc == 0, err
    assert json.loads(out) == {"decision": "Allow for session"}


def test_choice_through_the_fakes(fake: dict[str, Any]) -> None:
    with_default = dict(DECISION, default="Deny")
    rc, out, err = fake["run"]("osascript", _template("W", [with_default]),
                               {"values": ["Allow"]})
    assert (rc, json.loads(out)) == (0, {"decision": "Allow"}), err
    script = fake["calls"]()[-1]["stdin"]
    assert script.startswith('set theChoice to choose from list {"Allow", "Allow for session", '
                             '"Deny"} with title "ABCD-EFGH — W" with prompt ')
    assert 'default items {"Deny"}' in script
    # kdialog: the default is an option, not a value, so it may be in argv.
    rc, out, err = fake["run"]("kdialog", _template("W", [with_default]), {"values": ["Deny"]})
    assert (rc, json.loads(out)) == (0, {"decision": "Deny"}), err
    assert fake["calls"]()[-1]["argv"][-5:] == ["Allow", "Allow for session", "Deny",
                                                "--default", "Deny"]
    # An answer that is not one of the options is asked again, with the protocol's reason.
    rc, out, err = fake["run"]("powershell", _template("W", [DECISION]),
                               {"values": ["Maybe"]}, {"values": ["Deny"]})
    assert (rc, json.loads(out)) == (0, {"decision": "Deny"}), err
    first, second = (c["stdin"] for c in fake["calls"]()[-2:])
    assert "DropDownList" in first and powershell.b64("choose one of the options") in second


def test_no_display_at_all_is_exit_3() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["MCP_SECRETS_DIALOG_KIND"] = "zenity"
    r = subprocess.run([sys.executable, "-m", "mcp_secrets.dialog"],
                       input=json.dumps(_template("W", [DECISION])), capture_output=True,
                       text=True, env=env, timeout=60)
    assert (r.returncode, r.stdout) == (3, "")
    assert r.stderr.startswith("error: no display available for the credentials dialog")


@pytest.mark.display
def test_zenity_window_goes_when_the_server_is_killed(tmp_path: Path) -> None:
    """The server is SIGKILLed: its dialog dies with it, and so must the zenity window."""
    title = unique_title("Zenity orphan")
    tmpl = tmp_path / "t.json"
    tmpl.write_text(json.dumps(_template(title, _fields_all())))
    server = subprocess.Popen(
        [sys.executable, "-c",
         "import subprocess, sys, time\n"
         "from mcp_secrets.children import die_with_parent\n"
         f"subprocess.Popen([sys.executable, '-m', 'mcp_secrets.dialog'], "
         f"stdin=open({str(tmpl)!r}), stdout=subprocess.PIPE, preexec_fn=die_with_parent())\n"
         "time.sleep(120)\n"],
        env=_zenity_env())
    try:
        find_window(title)
        out = subprocess.run(["pgrep", "-f", f"zenity --forms --title={CODE} — {title}"],
                             capture_output=True, text=True).stdout.split()
        assert len(out) == 1, out
        zenity_pid = int(out[0])
    finally:
        server.kill()
        server.wait()
    deadline = time.monotonic() + 20
    while Path(f"/proc/{zenity_pid}").exists() and not _zombie(zenity_pid):
        assert time.monotonic() < deadline, "the zenity window outlived its server"
        time.sleep(0.05)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except OSError:
        return True


def test_the_launcher_passes_the_kind_to_the_builtin_dialog(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from mcp_secrets.dialog.launcher import dialog_env

    monkeypatch.setenv("MCP_SECRETS_DIALOG_KIND", "zenity")
    assert dialog_env(True)["MCP_SECRETS_DIALOG_KIND"] == "zenity"


PS_PASSWORD_BODY = """\
$form.Text = (S 'QUJDRC1FRkdIIOKAlCBXZWF0aGVy')
Add-Label (S 'VmVyaWZpY2F0aW9uIGNvZGU6IEFCQ0QtRUZHSA==') 18 $true 'DarkBlue'
Add-Label (S 'Q2hlY2sgdGhlIGNvZGUgQUJDRC1FRkdIIGluIHlvdXIgTUNQIGNsaWVudC4=') 9 $false ''
Add-Label (S 'QVBJIEtleSAq') 9 $true ''
$b = New-Object System.Windows.Forms.TextBox
$b.UseSystemPasswordChar = $true
$b.Width = 420; [void]$panel.Controls.Add($b); $boxes += $b
"""


def test_powershell_script_for_one_password_field_is_exact(fake: dict[str, Any]) -> None:
    """Every line between the fixed prologue (helpers, form) and epilogue (buttons, output)."""
    fields = [{"name": "api_key", "label": "API Key", "field_type": "password",
               "required": True}]
    rc, out, err = fake["run"]("powershell", _template("Weather", fields), {"values": [CANARY]})
    assert (rc, json.loads(out)) == (0, {"api_key": CANARY}), err
    (call,) = fake["calls"]()
    script = call["stdin"]
    assert script.startswith("trap { [Console]::Error.WriteLine('error: ' + $_.Exception")
    assert "if (-not [Environment]::UserInteractive)" in script.split("Add-Type")[0]
    assert script.endswith(
        "foreach ($b in $boxes) {\n  [Console]::Out.WriteLine([Convert]::ToBase64String("
        "[Text.Encoding]::UTF8.GetBytes([string]$b.Text)))\n}\nexit 0\n")
    assert script == powershell._PROLOGUE + PS_PASSWORD_BODY + powershell._EPILOGUE
