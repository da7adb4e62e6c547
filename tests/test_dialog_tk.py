"""The real Tk dialog on the rig's Xvfb, driven by xdotool keystrokes like a person would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.dialog_driver import (
    ARTIFACTS,
    DialogProcess,
    close_window,
    find_window,
    geometry,
    pixel_diff,
    pixels,
    press,
    screenshot,
    template,
    type_text,
    unique_title,
    window_exists,
)

pytestmark = pytest.mark.display

CANARY = "canary-Pw-7f3K9q"


def _all_types(title: str) -> dict[str, object]:
    return template(title, [
        {"name": "username", "label": "Username", "field_type": "text", "required": True},
        {"name": "api_key", "label": "API Key", "field_type": "password", "required": True,
         "help_text": "Your secret API key"},
        {"name": "endpoint", "label": "API Endpoint", "field_type": "url", "required": True},
        {"name": "contact", "label": "E-mail", "field_type": "email", "required": True},
    ], description="Verification code: AB3F-9K2L\n\nEnter the credentials for the demo.")


def test_every_field_type_typed_tabbed_and_submitted_with_enter() -> None:
    # Typing right after the window maps proves the first field has the focus.
    with DialogProcess.start(_all_types(unique_title())) as dlg:
        wid = dlg.wait_ready()
        type_text("alice")
        press("Tab")
        type_text(CANARY)
        press("Tab")
        type_text("https://api.example.com/v1")
        press("Tab")
        type_text("alice@example.com")
        screenshot(ARTIFACTS / "dialog.png", wid)
        press("Return")
        rc, out, err = dlg.finish()
    assert rc == 0
    assert json.loads(out) == {"username": "alice", "api_key": CANARY,
                               "endpoint": "https://api.example.com/v1",
                               "contact": "alice@example.com"}
    assert out.count("\n") == 1
    assert err == ""


def test_escape_cancels_with_exit_1_and_no_output() -> None:
    with DialogProcess.start(_all_types(unique_title())) as dlg:
        dlg.wait_ready()
        type_text(CANARY)
        press("Escape")
        rc, out, err = dlg.finish()
    assert (rc, out) == (1, "")
    assert CANARY not in err


def test_closing_the_window_cancels() -> None:
    with DialogProcess.start(_all_types(unique_title())) as dlg:
        wid = dlg.wait_ready()
        type_text(CANARY)
        close_window(wid)
        rc, out, err = dlg.finish()
    assert (rc, out, err) == (1, "", "")


@pytest.mark.parametrize(("field_type", "bad", "good"), [
    ("url", "not a url", "https://ok.example.com"),
    ("url", "javascript:alert(1)", "http://localhost:8080/"),
    ("email", "alice-at-example.com", "alice@example.com"),
    ("email", "alice@localhost", "a.b+c@sub.example.org"),
])
def test_invalid_value_shows_inline_error_and_blocks_enter_until_fixed(
    field_type: str, bad: str, good: str
) -> None:
    title = unique_title()
    tmpl = template(title, [{"name": "value", "label": "Value", "field_type": field_type,
                             "required": True}])
    with DialogProcess.start(tmpl) as dlg:
        wid = dlg.wait_ready()
        _, height_before = geometry(wid)
        type_text(bad)
        press("Return")
        assert dlg.still_running_after(1.0), "Enter submitted an invalid value"
        _, height_error = geometry(wid)
        assert height_error > height_before, "no inline error row appeared"
        screenshot(ARTIFACTS / f"dialog-invalid-{field_type}.png", wid)
        # The bad text is selected after the refusal, so typing replaces it.
        type_text(good)
        press("Return")
        rc, out, err = dlg.finish()
    assert rc == 0, err
    assert json.loads(out) == {"value": good}


def test_required_empty_field_is_refused() -> None:
    tmpl = template(unique_title(), [
        {"name": "token", "label": "Token", "field_type": "password", "required": True},
        {"name": "note", "label": "Note", "field_type": "text"},
    ])
    with DialogProcess.start(tmpl) as dlg:
        wid = dlg.wait_ready()
        _, height_before = geometry(wid)
        press("Return")
        assert dlg.still_running_after(1.0), "Enter submitted an empty required field"
        assert geometry(wid)[1] > height_before
        type_text(CANARY)
        press("Return")
        rc, out, err = dlg.finish()
    assert rc == 0
    assert json.loads(out) == {"token": CANARY}  # the empty optional "note" is omitted
    assert CANARY not in err


def test_default_is_prefilled_and_returned_and_placeholder_never_is() -> None:
    tmpl = template(unique_title(), [
        {"name": "endpoint", "label": "Endpoint", "field_type": "url",
         "default": "https://api.example.com", "placeholder": "https://..."},
        {"name": "team", "label": "Team", "field_type": "text", "placeholder": "acme-inc"},
        {"name": "email", "label": "E-mail", "field_type": "email",
         "placeholder": "you@example.com"},
    ])
    with DialogProcess.start(tmpl) as dlg:
        dlg.wait_ready()
        press("Return")
        rc, out, _ = dlg.finish()
    assert rc == 0
    assert json.loads(out) == {"endpoint": "https://api.example.com"}


def test_placeholder_does_not_satisfy_a_required_field() -> None:
    tmpl = template(unique_title(), [
        {"name": "first", "label": "First", "field_type": "text"},
        {"name": "team", "label": "Team", "field_type": "text", "required": True,
         "placeholder": "acme-inc"},
    ])
    with DialogProcess.start(tmpl) as dlg:
        dlg.wait_ready()
        press("Return")
        assert dlg.still_running_after(1.0), "the placeholder was taken as a value"
        type_text("beta")  # the refusal moved the focus to the empty required field
        press("Return")
        rc, out, _ = dlg.finish()
    assert (rc, json.loads(out)) == (0, {"team": "beta"})


def test_default_can_be_edited() -> None:
    tmpl = template(unique_title(), [
        {"name": "user", "label": "User", "field_type": "text", "default": "bob"},
    ])
    with DialogProcess.start(tmpl) as dlg:
        dlg.wait_ready()
        type_text("by")  # the cursor starts at the end of the default
        press("Return")
        rc, out, _ = dlg.finish()
    assert (rc, json.loads(out)) == (0, {"user": "bobby"})


def test_password_is_masked_and_show_toggle_reveals_it() -> None:
    tmpl = template(unique_title(), [
        {"name": "pw", "label": "Password", "field_type": "password", "required": True},
    ])
    with DialogProcess.start(tmpl) as dlg:
        wid = dlg.wait_ready()
        type_text("iiii")
        masked_i = pixels(wid)
        press("BackSpace", "BackSpace", "BackSpace", "BackSpace")
        type_text("WWWW")
        masked_w = pixels(wid)
        press("alt+s")  # the "Show" toggle's keyboard shortcut
        shown_w = pixels(wid)
        screenshot(ARTIFACTS / "dialog-password-shown.png", wid)
        press("BackSpace", "BackSpace", "BackSpace", "BackSpace")
        type_text("iiii")
        shown_i = pixels(wid)
        press("alt+s")
        masked_again = pixels(wid)
        press("Return")
        rc, out, _ = dlg.finish()
    # Masked: different secrets of the same length render alike (only the caret may blink).
    # Shown: they render differently. Toggling back masks again.
    caret = 60
    assert pixel_diff(masked_i, masked_w) <= caret
    assert pixel_diff(shown_i, shown_w) > 3 * caret
    assert pixel_diff(masked_w, shown_w) > 3 * caret
    assert pixel_diff(masked_i, masked_again) <= caret
    assert (rc, json.loads(out)) == (0, {"pw": "iiii"})


def test_dialog_exits_when_its_parent_dies() -> None:
    """A killed MCP server must not leave an orphan window: kill the parent, the dialog goes."""
    title = unique_title("Orphan check")
    tmpl = json.dumps(template(title, [{"name": "k", "label": "K", "field_type": "text"}]))
    # The middle process stands in for the MCP server: it spawns the dialog, then dies.
    middle_src = textwrap.dedent("""
        import subprocess, sys, time
        p = subprocess.Popen([sys.executable, "-m", "mcp_secrets.dialog"], stdin=subprocess.PIPE)
        p.stdin.write(sys.stdin.buffer.read()); p.stdin.close()
        print(p.pid, flush=True)
        time.sleep(600)
    """)
    # A subreaper adopts the orphaned dialog so we can collect its real exit status.
    script = textwrap.dedent(f"""
        import ctypes, json, os, signal, subprocess, sys
        ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
        middle = subprocess.Popen([sys.executable, "-c", {middle_src!r}],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        middle.stdin.write({tmpl!r}.encode()); middle.stdin.close()
        dialog_pid = int(middle.stdout.readline())
        subprocess.run(["xdotool", "search", "--sync", "--onlyvisible", "--name", {title!r}],
                       check=True, timeout=20, capture_output=True)
        print("mapped", flush=True)
        os.kill(middle.pid, signal.SIGKILL)
        middle.wait()
        pid, status = os.waitpid(dialog_pid, 0)
        print(json.dumps({{"exit": os.waitstatus_to_exitcode(status)}}), flush=True)
    """)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                       timeout=60, env=os.environ.copy())
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "mapped"
    assert json.loads(lines[-1]) == {"exit": 1}
    assert not window_exists(title)


def test_no_display_is_exit_3_with_a_reason() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    tmpl = json.dumps(_all_types(unique_title()))
    r = subprocess.run([sys.executable, "-m", "mcp_secrets.dialog"], input=tmpl,
                       capture_output=True, text=True, env=env, timeout=30)
    assert (r.returncode, r.stdout) == (3, "")
    assert r.stderr.startswith("error: no display available for the credentials dialog")
    assert "mcp-secrets set" in r.stderr
    assert r.stderr.count("\n") == 1


def test_unreachable_display_is_exit_3_from_tk() -> None:
    env = {**os.environ, "DISPLAY": ":4321"}  # nothing listens there
    r = subprocess.run([sys.executable, "-m", "mcp_secrets.dialog"],
                       input=json.dumps(_all_types(unique_title())), capture_output=True,
                       text=True, env=env, timeout=30)
    assert (r.returncode, r.stdout) == (3, "")
    assert r.stderr.startswith("error: no display available for the credentials dialog")
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


def test_window_title_contains_template_title_and_is_findable() -> None:
    title = unique_title("MCP Secrets for Weather")
    with DialogProcess.start(_all_types(title)) as dlg:
        wid = dlg.wait_ready()
        assert find_window(title) == wid
        name = subprocess.run(["xdotool", "getwindowname", wid], capture_output=True,
                              text=True, check=True, timeout=20).stdout.strip()
        assert title in name
        press("Escape")
        assert dlg.finish()[0] == 1


# ----------------------------------------------------------------- the choice field

def _decision(title: str, default: str | None = None, extra: list[dict[str, object]] | None
              = None) -> dict[str, object]:
    field: dict[str, object] = {"name": "decision", "label": "Allow use of API_KEY?",
                                "field_type": "choice", "required": True,
                                "options": ["Allow", "Allow for session", "Deny"]}
    if default is not None:
        field["default"] = default
    return template(title, [*(extra or []), field],
                    description="Verification code: QX7M-2PLA\n\nweather wants to use API_KEY.")


def test_choice_is_answered_with_the_keyboard() -> None:
    """Space picks the focused option, arrows move the choice, Enter submits."""
    with DialogProcess.start(_decision(unique_title("Permission"))) as dlg:
        wid = dlg.wait_ready()
        press("space")  # the first option has the focus; nothing was chosen before
        first = pixels(wid)
        press("Down")
        screenshot(ARTIFACTS / "dialog-choice.png", wid)
        assert pixel_diff(first, pixels(wid)) > 100, "the options are not visibly drawn"
        press("Return")
        rc, out, err = dlg.finish()
    assert (rc, json.loads(out), err) == (0, {"decision": "Allow for session"}, "")


def test_required_choice_blocks_enter_until_answered() -> None:
    with DialogProcess.start(_decision(unique_title("Permission"))) as dlg:
        wid = dlg.wait_ready()
        _, height_before = geometry(wid)
        press("Return")
        assert dlg.still_running_after(1.0), "Enter submitted an unanswered required choice"
        assert geometry(wid)[1] > height_before, "no inline error row appeared"
        press("Up")  # from the first option, Up wraps to the last
        press("Return")
        rc, out, _ = dlg.finish()
    assert (rc, json.loads(out)) == (0, {"decision": "Deny"})


def test_choice_is_one_tab_stop_after_a_text_field_and_keeps_its_default() -> None:
    note = {"name": "note", "label": "Note", "field_type": "text"}
    with DialogProcess.start(_decision(unique_title("Permission"), "Deny", [note])) as dlg:
        dlg.wait_ready()
        type_text("hi")
        press("Tab")  # onto the chosen option ("Deny"), not the first one
        press("Up")
        press("Return")
        rc, out, _ = dlg.finish()
    assert (rc, json.loads(out)) == (0, {"note": "hi", "decision": "Allow for session"})
    with DialogProcess.start(_decision(unique_title("Permission"), "Deny")) as dlg:
        dlg.wait_ready()
        press("Return")
        rc, out, _ = dlg.finish()
    assert (rc, json.loads(out)) == (0, {"decision": "Deny"})


# ----------------------------------------------------------------- many fields

def _screen_height() -> int:
    out = subprocess.run(["xwininfo", "-root"], capture_output=True, text=True, check=True,
                         timeout=20).stdout
    return int(next(ln.split(":")[1] for ln in out.splitlines() if "Height:" in ln))


def test_fifty_fields_scroll_instead_of_outgrowing_the_screen() -> None:
    fields = [{"name": f"f{i}", "label": f"Field {i}", "field_type": "text",
               "help_text": "A line of help"} for i in range(50)]
    tmpl = template(unique_title("Many fields"), fields, description="Verification code: "
                    "AB3F-9K2L")
    with DialogProcess.start(tmpl) as dlg:
        wid = dlg.wait_ready()
        _width, height = geometry(wid)
        assert height <= _screen_height(), f"window is {height} px, taller than the screen"
        press(*["Tab"] * 49)  # to the last field, scrolled into view on the way
        type_text("last")
        screenshot(ARTIFACTS / "dialog-50-fields.png", wid)
        press("Return")
        rc, out, _ = dlg.finish()
    assert (rc, json.loads(out)) == (0, {"f49": "last"})


# ----------------------------------------------------------------- nowhere to write the answer

@pytest.mark.parametrize("how", ["reader-gone", "fd-closed"])
def test_closed_stdout_is_exit_2_not_a_cancel(how: str) -> None:
    """The human submitted but the answer cannot be delivered: an error (2), never read as
    "cancelled" (1), and one line on stderr rather than a traceback."""
    title = unique_title("Closed stdout")
    tmpl = json.dumps(template(title, [{"name": "k", "label": "K", "field_type": "text"}]))
    proc = subprocess.Popen(
        [sys.executable, "-m", "mcp_secrets.dialog"], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE if how == "reader-gone" else None, stderr=subprocess.PIPE,
        preexec_fn=(lambda: os.close(1)) if how == "fd-closed" else None,
    )
    try:
        assert proc.stdin is not None and proc.stderr is not None
        proc.stdin.write(tmpl.encode())
        proc.stdin.close()
        wid = find_window(title)
        from tests.dialog_driver import wait_focus

        wait_focus(wid)
        if proc.stdout is not None:
            proc.stdout.close()  # whoever asked has gone away
        type_text(CANARY)
        press("Return")
        rc = proc.wait(timeout=20)
        err = proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
    assert rc == 2, err
    assert err == "error: could not write the result: stdout is closed\n"
    assert CANARY not in err
