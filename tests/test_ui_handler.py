"""The dialog launcher (AsyncUIHandler) against the protocol: a FAKE dialog for the many edge
cases, and the REAL Tk dialog on the rig's Xvfb for the happy path and for "close really
removes the window"."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from mcp_secrets.dialog.launcher import (
    AsyncUIHandler,
    builtin_command,
    default_command,
    default_timeout,
)
from mcp_secrets.errors import DialogCancelled, DialogError, DialogTimeout, NoDisplayError
from tests import dialog_driver
from tests.procs import dead, gone

FAKE = [sys.executable, str(Path(__file__).with_name("fake_dialog.py"))]
CANARY = "canary-UIH-5f1d0c9e-never-in-argv"


def template(title: str = "MCP Secrets for unit", required: bool = True) -> dict[str, Any]:
    return {
        "title": title,
        "description": "Verification Code: ABCD-EFGH",
        "fields": [
            {"name": "api_key", "label": "API Key", "field_type": "password", "required": required},
            {"name": "user", "label": "User", "field_type": "text", "required": False},
        ],
    }




async def collect(handler: AsyncUIHandler, tmpl: dict[str, Any]) -> dict[str, str]:
    """Start a dialog and wait for its values, closing it however the wait ends."""
    session = await handler.start(tmpl)
    try:
        return await session.wait()
    finally:
        await session.close()


@pytest.fixture
def fake_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    record = tmp_path / "record"
    record.mkdir()
    values = tmp_path / "values.json"
    values.write_text(json.dumps({"api_key": CANARY}))
    monkeypatch.setenv("FAKE_DIALOG_RECORD", str(record))
    monkeypatch.setenv("FAKE_DIALOG_VALUES", str(values))
    return tmp_path


def records(tmp_path: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((tmp_path / "record").glob("*.json"))]


async def wait_record(tmp_path: Path) -> dict[str, Any]:
    for _ in range(1000):
        found = records(tmp_path)
        if found:
            return found[0]
        await asyncio.sleep(0.01)
    raise AssertionError("the fake dialog never started")


def test_submit_roundtrip_template_only_on_stdin(fake_env: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    gate = fake_env / "gate"
    monkeypatch.setenv("FAKE_DIALOG_GATE", str(gate))

    async def main() -> None:
        session = await AsyncUIHandler(FAKE, timeout=60).start(template())
        rec = await wait_record(fake_env)
        assert rec["template"] == template() | {"fields": rec["template"]["fields"]}
        assert rec["template"]["description"] == "Verification Code: ABCD-EFGH"
        # The template (and so the code) is not in argv nor in the environment of the child.
        argv = Path(f"/proc/{session.pid}/cmdline").read_bytes()
        environ = Path(f"/proc/{session.pid}/environ").read_bytes()
        assert b"ABCD-EFGH" not in argv and b"ABCD-EFGH" not in environ
        # A new session: the dialog leads its own process group.
        assert os.getpgid(session.pid) == session.pid
        gate.touch()
        assert await session.wait() == {"api_key": CANARY}
        await session.close()
        assert gone(session.pid)

    asyncio.run(main())


@pytest.mark.parametrize(
    ("mode", "error", "text"),
    [
        ("cancel", DialogCancelled, "cancelled"),
        ("nodisplay", NoDisplayError, "no window can be shown here"),
        ("garbage", DialogError, "not JSON"),
        ("extra", DialogError, "did not ask for"),
        ("flood", DialogError, "wrote more than"),
    ],
)
def test_failures_are_clear_errors(fake_env: Path, monkeypatch: pytest.MonkeyPatch, mode: str,
                                   error: type[Exception], text: str) -> None:
    monkeypatch.setenv("FAKE_DIALOG_MODE", mode)
    with pytest.raises(error, match=text) as info:
        asyncio.run(collect(AsyncUIHandler(FAKE, timeout=60), template()))
    assert CANARY not in str(info.value) and "this is not json" not in str(info.value)
    assert "not_in_template" not in str(info.value)


@pytest.mark.parametrize(
    ("values", "text"),
    [({"user": "bob"}, "required field"), ({"api_key": 42}, "non-string"), ([CANARY], "object")],
)
def test_malformed_output_never_quoted(fake_env: Path, values: object, text: str) -> None:
    (fake_env / "values.json").write_text(json.dumps(values))
    with pytest.raises(DialogError, match=text) as info:
        asyncio.run(collect(AsyncUIHandler(FAKE, timeout=60), template()))
    assert CANARY not in str(info.value) and "bob" not in str(info.value)


def test_optional_fields_may_be_omitted(fake_env: Path) -> None:
    assert asyncio.run(collect(AsyncUIHandler(FAKE, timeout=60), template())) == {"api_key": CANARY}


def test_timeout_kills_and_reaps(fake_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_DIALOG_MODE", "hang")

    async def main() -> int:
        session = await AsyncUIHandler(FAKE, timeout=0.5).start(template())
        with pytest.raises(DialogTimeout, match=r"within 0\.5 s"):
            await session.wait()
        await session.close()
        return session.pid

    assert gone(asyncio.run(main()))


def test_timeout_reaps_even_if_nobody_waits(fake_env: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_DIALOG_MODE", "hang")

    async def main() -> int:
        session = await AsyncUIHandler(FAKE, timeout=0.3).start(template())
        assert await session.wait_exit(30)  # the session's own watchdog closed it
        await session.close()
        return session.pid

    assert gone(asyncio.run(main()))


def test_cancelling_wait_kills_the_whole_group(fake_env: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_DIALOG_MODE", "family")

    async def main() -> tuple[int, int]:
        session = await AsyncUIHandler(FAKE, timeout=60).start(template())
        rec = await wait_record(fake_env)
        waiter = asyncio.ensure_future(session.wait())
        await asyncio.sleep(0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        await session.close()  # idempotent: joins the close the cancellation started
        await session.close()
        return session.pid, rec["grandchild"]

    pid, grandchild = asyncio.run(main())
    assert gone(pid)
    assert dead(grandchild), "the dialog's own child survived: process group not killed"


def test_only_exit_3_means_no_display(fake_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The launcher reads the exit code, not the words: an exit-2 reason that happens to say
    "display" is an ordinary dialog failure."""
    monkeypatch.setenv("FAKE_DIALOG_MODE", "error-mentioning-display")
    with pytest.raises(DialogError, match="the credential dialog failed") as info:
        asyncio.run(collect(AsyncUIHandler(FAKE, timeout=60), template()))
    assert not isinstance(info.value, NoDisplayError)


def test_the_old_module_path_still_works() -> None:
    import mcp_secrets
    from mcp_secrets import ui_handler

    assert ui_handler.AsyncUIHandler is AsyncUIHandler
    assert mcp_secrets.AsyncUIHandler is AsyncUIHandler


def test_close_escalates_to_sigkill(fake_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_DIALOG_MODE", "stubborn")
    monkeypatch.setattr("mcp_secrets.dialog.launcher.KILL_GRACE", 0.3)

    async def main() -> tuple[int, int | None]:
        session = await AsyncUIHandler(FAKE, timeout=60).start(template())
        await wait_record(fake_env)  # SIGTERM is ignored from here on
        await session.close()
        return session.pid, session.returncode

    pid, code = asyncio.run(main())
    assert code == -9 and gone(pid)


def test_bad_template_spawns_nothing(fake_env: Path) -> None:
    bad = template() | {"fields": [{"name": "k", "field_type": "colour"}]}
    with pytest.raises(DialogError, match="unknown field_type"):
        asyncio.run(collect(AsyncUIHandler(FAKE, timeout=60), bad))
    assert records(fake_env) == []


def test_missing_program_is_a_clear_error() -> None:
    with pytest.raises(DialogError, match="could not start the credential dialog"):
        asyncio.run(collect(AsyncUIHandler(["/nonexistent/dialog"], timeout=5), template()))


def test_environment_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MCP_SECRETS_DIALOG", raising=False)
    monkeypatch.delenv("MCP_SECRETS_DIALOG_TIMEOUT", raising=False)
    assert default_command() == builtin_command()
    assert builtin_command()[:3] == [sys.executable, "-I", "-c"]  # isolated interpreter
    assert default_timeout() == 300
    monkeypatch.setenv("MCP_SECRETS_DIALOG", "zenity-wrapper --flag 'two words'")
    monkeypatch.setenv("MCP_SECRETS_DIALOG_TIMEOUT", "12.5")
    handler = AsyncUIHandler()
    assert handler.command == ["zenity-wrapper", "--flag", "two words"]
    assert handler.timeout == 12.5
    monkeypatch.setenv("MCP_SECRETS_DIALOG_TIMEOUT", "soon")
    with pytest.raises(DialogError, match="MCP_SECRETS_DIALOG_TIMEOUT"):
        AsyncUIHandler()


@pytest.mark.display
def test_real_tk_dialog_submit_and_close() -> None:
    """The real dialog: typed into with xdotool, and a second one closed by the handler."""
    title = dialog_driver.unique_title("MCP Secrets for uih")

    async def main() -> tuple[dict[str, str], int, str]:
        handler = AsyncUIHandler(timeout=60)
        session = await handler.start(template(title))
        wid = await asyncio.to_thread(dialog_driver.find_window, title)
        await asyncio.to_thread(dialog_driver.wait_focus, wid)
        await asyncio.to_thread(dialog_driver.type_text, "typed-in-tk")
        await asyncio.to_thread(dialog_driver.press, "Return")
        values = await session.wait()
        await session.close()
        second = await handler.start(template(title + " 2"))
        await asyncio.to_thread(dialog_driver.find_window, title + " 2")
        await second.close()
        return values, second.pid, title + " 2"

    values, pid, second_title = asyncio.run(main())
    assert values == {"api_key": "typed-in-tk"}
    assert gone(pid)
    assert not dialog_driver.window_exists(second_title), "orphan window after close()"


@pytest.mark.display
def test_dialog_child_environment_is_minimal(fake_env: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The server's environment (API keys, the file store's passphrase) does not reach the
    dialog: our Tk dialog gets an allowlist; a custom one everything but the passphrase."""
    monkeypatch.setenv("OTHER_SERVICE_API_KEY", CANARY + "-env")
    monkeypatch.setenv("MCP_SECRETS_PASSPHRASE", CANARY + "-pass")
    monkeypatch.setenv("FAKE_DIALOG_MODE", "hang")

    async def environ_of(handler: AsyncUIHandler, title: str) -> bytes:
        session = await handler.start(template(title))
        try:
            if handler.is_default_dialog:
                await asyncio.to_thread(dialog_driver.find_window, title)
            else:
                await wait_record(fake_env)
            return Path(f"/proc/{session.pid}/environ").read_bytes()
        finally:
            await session.close()

    tk_env = asyncio.run(environ_of(AsyncUIHandler(timeout=60),
                                    dialog_driver.unique_title("MCP Secrets for env")))
    custom_env = asyncio.run(environ_of(AsyncUIHandler(FAKE, timeout=60), "custom"))
    assert CANARY.encode() not in tk_env and b"FAKE_DIALOG_MODE=" not in tk_env
    assert f"DISPLAY={os.environ['DISPLAY']}".encode() in tk_env.split(b"\0")
    assert (CANARY + "-pass").encode() not in custom_env
    assert b"FAKE_DIALOG_MODE=hang" in custom_env.split(b"\0")


# ----------------------------------------------------------------- isolation of our dialog

PLANTED = ("tkinter", "json", "mcp_secrets", "runpy", "sitecustomize", "usercustomize",
           "encodings_extra")


def plant(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A server working directory and a PYTHONPATH entry full of modules that, if imported,
    write their name to a marker file (an attacker's ``./tkinter.py``)."""
    marker = tmp_path / "planted-code-ran.txt"
    code = f"open({str(marker)!r}, 'a').write(__name__ + '\\n')\n"
    cwd, pythonpath = tmp_path / "server-cwd", tmp_path / "pythonpath"
    for directory in (cwd, pythonpath):
        directory.mkdir()
        for name in PLANTED:
            (directory / f"{name}.py").write_text(code)
    (tmp_path / "startup.py").write_text(code)
    return cwd, pythonpath, marker


@pytest.mark.display
def test_code_planted_in_cwd_or_pythonpath_never_runs_in_the_dialog(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cwd, pythonpath, marker = plant(tmp_path)
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("PYTHONPATH", str(pythonpath))
    monkeypatch.setenv("PYTHONSTARTUP", str(tmp_path / "startup.py"))
    monkeypatch.setenv("PYTHONINSPECT", "1")
    title = dialog_driver.unique_title("MCP Secrets for planted")

    async def main() -> dict[str, str]:
        session = await AsyncUIHandler(timeout=60).start(template(title))
        try:
            wid = await asyncio.to_thread(dialog_driver.find_window, title)
            await asyncio.to_thread(dialog_driver.wait_focus, wid)
            await asyncio.to_thread(dialog_driver.type_text, "typed-by-the-human")
            await asyncio.to_thread(dialog_driver.press, "Return")
            return await session.wait()
        finally:
            await session.close()

    assert asyncio.run(main()) == {"api_key": "typed-by-the-human"}
    assert not marker.exists(), f"planted code ran in the dialog: {marker.read_text()!r}"


@pytest.mark.display
def test_doctors_tk_probe_ignores_planted_modules(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from mcp_secrets.cli.doctor import display_check

    cwd, pythonpath, marker = plant(tmp_path)
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("PYTHONPATH", str(pythonpath))
    info = display_check()
    assert info["tk_opens_display"] is True, info
    assert not marker.exists(), f"planted code ran in doctor's probe: {marker.read_text()!r}"


def test_no_python_environment_variable_reaches_our_dialog(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from mcp_secrets.dialog.launcher import dialog_env

    for var in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONINSPECT"):
        monkeypatch.setenv(var, "/planted")
    assert not [k for k in dialog_env(True) if k.startswith("PYTHON")]


# ----------------------------------------------------------------- the dialog dies with us

KILLED_EARLY = textwrap.dedent("""
    import asyncio, json, os, sys
    from mcp_secrets.dialog.launcher import AsyncUIHandler

    async def main():
        handler = AsyncUIHandler(sys.argv[1:] or None, timeout=600)
        session = await handler.start({"title": os.environ["TITLE"], "fields": [
            {"name": "k", "field_type": "text"}]})
        print(session.pid, flush=True)
        await asyncio.sleep(0.02)  # the template is in the pipe; the dialog is still starting
        os.kill(os.getpid(), 9)  # the server dies right after spawning (well within 0.2 s)

    asyncio.run(main())
""")

SUBREAPER = textwrap.dedent("""
    import ctypes, json, os, subprocess, sys, time
    ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: orphans come to us
    server = subprocess.Popen([sys.executable, "-c", sys.argv[1], *sys.argv[2:]],
                              stdout=subprocess.PIPE)
    dialog_pid = int(server.stdout.readline())
    server.wait()
    deadline = time.monotonic() + 30
    outcome = "survived"
    while time.monotonic() < deadline:
        try:
            pid, status = os.waitpid(dialog_pid, os.WNOHANG)
        except ChildProcessError:
            # Killed as the server's forking thread died, and reaped by one of the server's
            # threads that died a moment later: gone before it could be handed to us.
            outcome = "reaped by the dying server"
            break
        if pid:
            outcome = os.waitstatus_to_exitcode(status)
            break
        time.sleep(0.05)
    else:  # the dialog outlived its server: say so, and do not leave it behind
        os.killpg(dialog_pid, 9)
        os.waitpid(dialog_pid, 0)
    print(json.dumps({"server": server.returncode, "dialog": outcome}), flush=True)
""")


def _kill_server_right_after_spawn(argv: list[str], title: str) -> dict[str, object]:
    r = subprocess.run([sys.executable, "-c", SUBREAPER, KILLED_EARLY, *argv],
                       capture_output=True, text=True, timeout=60,
                       env={**os.environ, "TITLE": title})
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def test_a_custom_dialog_dies_with_a_server_killed_at_once(fake_env: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_DIALOG_MODE", "stubborn")  # ignores SIGTERM, never exits by itself
    result = _kill_server_right_after_spawn(FAKE, "custom")
    assert result["server"] == -9
    assert result["dialog"] in (-9, "reaped by the dying server"), result


@pytest.mark.display
def test_our_dialog_dies_with_a_server_killed_at_once() -> None:
    title = dialog_driver.unique_title("MCP Secrets for killed")
    result = _kill_server_right_after_spawn([], title)
    assert result["server"] == -9
    assert result["dialog"] in (-9, "reaped by the dying server"), result
    assert not dialog_driver.window_exists(title)


def test_the_hook_arms_the_signal_and_catches_a_parent_already_gone() -> None:
    """Between fork and exec: the hook arms SIGKILL-on-parent-death, and a child whose parent
    is no longer the process that started it (it died in between) exits at once."""
    import ctypes

    from mcp_secrets.children import die_with_parent

    hook = die_with_parent()
    assert hook is not None
    pid = os.fork()
    if pid == 0:  # a direct child: armed, and carries on
        code = 3
        try:
            hook()
            sig = ctypes.c_int()
            ctypes.CDLL(None).prctl(2, ctypes.byref(sig), 0, 0, 0)  # PR_GET_PDEATHSIG
            code = 0 if sig.value == signal.SIGKILL else 4
        finally:
            os._exit(code)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
    pid = os.fork()
    if pid == 0:  # stands in for "reparented": our parent is not the hook's creator
        code = 3
        try:
            inner = os.fork()
            if inner == 0:
                try:
                    hook()
                finally:
                    os._exit(0)  # reached only if the hook let a stranger's child through
            code = os.waitstatus_to_exitcode(os.waitpid(inner, 0)[1])
        finally:
            os._exit(code)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 1


# ----------------------------------------------------------------- no value in an error

@pytest.mark.parametrize("mode", ["extra", "choice-not-an-option"])
def test_a_refused_answer_leaves_no_value_in_the_exception(
        fake_env: Path, monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    """The dialog's output held a value, and we refused the output: neither the error's chain
    nor its traceback's frame locals may still hold that value."""
    from tests.leaks import assert_absent

    tmpl = template()
    if mode == "choice-not-an-option":
        tmpl["fields"].append({"name": "decision", "field_type": "choice",
                               "options": ["Allow", "Deny"]})
        (fake_env / "values.json").write_text(json.dumps({"api_key": CANARY,
                                                          "decision": CANARY}))
    else:
        monkeypatch.setenv("FAKE_DIALOG_MODE", mode)

    async def main() -> None:
        session = await AsyncUIHandler(FAKE, timeout=60).start(tmpl)
        try:
            await session.wait()
        finally:
            await session.close()

    with pytest.raises(DialogError) as info:
        asyncio.run(main())
    assert_absent(info.value, CANARY)
