"""The `mcp-secrets` command, run as a real subprocess against the rig's real Secret Service.

Every run is checked for the leak canary: a secret value appears on stdout only when --reveal
asks for it, and never on stderr.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import signal
import subprocess
import sys
import termios
import time
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.keychain

_SCRIPT = Path(sys.executable).with_name("mcp-secrets")
CLI = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "mcp_secrets.cli"]


def canary() -> str:
    return f"CANARY-{uuid.uuid4().hex}"


def run(*args: str, stdin: str | None = None, env: dict[str, str] | None = None,
        secret: str | None = None, revealed: bool = False) -> subprocess.CompletedProcess[str]:
    """Run the CLI; if `secret` is given, assert it leaked nowhere it should not be."""
    proc = subprocess.run(
        [*CLI, *args], input=stdin if stdin is not None else "", capture_output=True, text=True,
        env=env, timeout=120,
    )
    if secret is not None:
        assert secret not in proc.stderr
        if not revealed:
            assert secret not in proc.stdout
    assert "Traceback" not in proc.stderr
    return proc


def one_line_failure(proc: subprocess.CompletedProcess[str]) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("mcp-secrets: ")
    return lines[0]


def names(server: str, env: dict[str, str] | None = None) -> list[str]:
    proc = run("list", server, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


# ---------------------------------------------------------------- the everyday commands


def test_set_list_get_reveal_delete(server_name: str) -> None:
    value = canary()
    proc = run("set", server_name, "api_key", stdin=value + "\n", secret=value)
    assert proc.returncode == 0, proc.stderr
    assert "stored 'api_key'" in proc.stdout

    assert names(server_name) == ["api_key"]

    proc = run("get", server_name, "api_key", secret=value)
    assert proc.returncode == 0 and "is stored" in proc.stdout

    proc = run("get", server_name, "api_key", "--reveal", secret=value, revealed=True)
    assert proc.returncode == 0
    assert proc.stdout == value + "\n"

    proc = run("delete", server_name, "api_key", secret=value)
    assert proc.returncode == 0, proc.stderr
    assert names(server_name) == []

    proc = run("get", server_name, "api_key", "--reveal", secret=value)
    assert proc.returncode == 1
    assert "not stored" in one_line_failure(proc)


def test_replacing_a_value_says_so_and_keeps_one_name(server_name: str) -> None:
    first, second = canary(), canary()
    assert run("set", server_name, "tok", stdin=first, secret=first).returncode == 0
    proc = run("set", server_name, "tok", stdin=second, secret=second)
    assert proc.returncode == 0 and "replaced" in proc.stdout
    assert names(server_name) == ["tok"]
    proc = run("get", server_name, "tok", "--reveal", "-n", secret=second, revealed=True)
    assert proc.stdout == second


def test_stdin_loses_exactly_one_trailing_newline(server_name: str) -> None:
    value = "line one\nline two\n"  # the value itself ends in a newline
    assert run("set", server_name, "multi", stdin=value + "\n").returncode == 0
    proc = run("get", server_name, "multi", "--reveal", "--no-newline")
    assert proc.stdout == value
    # get --reveal | set round-trips exactly (the added newline is the one set strips).
    revealed = run("get", server_name, "multi", "--reveal").stdout
    assert run("set", server_name, "copy", stdin=revealed).returncode == 0
    assert run("get", server_name, "copy", "--reveal", "-n").stdout == value


def test_get_and_list_json(server_name: str) -> None:
    value = canary()
    run("set", server_name, "b_key", stdin=value)
    run("set", server_name, "a_key", stdin=value)
    listed = json.loads(run("list", server_name, "--json", secret=value).stdout)
    assert listed["server"] == server_name
    assert sorted(listed["secrets"]) == ["a_key", "b_key"]

    got = json.loads(run("get", server_name, "a_key", "--json", secret=value).stdout)
    assert got == {"server": server_name, "profile": "default", "name": "a_key", "exists": True}
    got = json.loads(run("get", server_name, "a_key", "--json", "--reveal",
                         secret=value, revealed=True).stdout)
    assert got["value"] == value
    missing = run("get", server_name, "nope", "--json")
    assert missing.returncode == 1
    assert json.loads(missing.stdout)["exists"] is False


def test_servers_are_isolated(server_name: str) -> None:
    other = server_name + "-other"
    value = canary()
    run("set", server_name, "api_key", stdin=value)
    assert names(other) == []
    proc = run("get", other, "api_key", "--reveal", secret=value)
    assert proc.returncode == 1
    assert run("clear", other, "--yes").returncode == 0
    assert names(server_name) == ["api_key"]
    assert run("delete", other, "api_key").returncode == 1
    proc = run("get", server_name, "api_key", "--reveal", secret=value, revealed=True)
    assert proc.stdout == value + "\n"


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize("bad", ["a/b", "back\\slash", "bell\x07", " padded", "__secret_index__",
                                 "x" * 300])
def test_bad_secret_names_refused_and_nothing_stored(server_name: str, bad: str) -> None:
    value = canary()
    proc = run("set", server_name, bad, stdin=value, secret=value)
    assert proc.returncode == 1
    assert "secret name" in one_line_failure(proc)
    assert names(server_name) == []


@pytest.mark.parametrize("bad", ["", "srv/one", "tab\there"])
def test_bad_server_names_refused(bad: str) -> None:
    value = canary()
    proc = run("set", bad, "api_key", stdin=value, secret=value)
    assert proc.returncode == 1
    assert "server name" in one_line_failure(proc)


def test_value_on_the_command_line_is_refused_and_not_echoed(server_name: str) -> None:
    value = canary()
    for argv in (["set", server_name, "api_key", value],
                 ["set", server_name, "api_key", f"--value={value}"],
                 ["set", server_name, "api_key", "--value", value]):
        proc = run(*argv, stdin="ignored", secret=value)
        assert proc.returncode == 2
        assert "stdin" in one_line_failure(proc)
    assert names(server_name) == []
    # Other commands do not echo stray arguments either.
    proc = run("list", server_name, value, secret=value)
    assert proc.returncode == 2
    one_line_failure(proc)
    # Nor does a "command" that is really a value pasted in the wrong place.
    proc = run(value, secret=value)
    assert proc.returncode == 2
    assert "invalid choice" in one_line_failure(proc)


def test_empty_value_refused(server_name: str) -> None:
    for stdin in ("", "\n"):
        proc = run("set", server_name, "api_key", stdin=stdin)
        assert proc.returncode == 1
        assert "empty" in one_line_failure(proc)
    assert names(server_name) == []


def test_delete_of_a_missing_secret_fails_with_a_reason(server_name: str) -> None:
    proc = run("delete", server_name, "never_set")
    assert proc.returncode == 1
    assert "was not stored" in one_line_failure(proc)


def test_clear_needs_a_terminal_or_yes(server_name: str) -> None:
    run("set", server_name, "a", stdin="1")
    run("set", server_name, "b", stdin="2")
    proc = run("clear", server_name)
    assert proc.returncode == 1
    assert "--yes" in one_line_failure(proc)
    assert names(server_name) == ["a", "b"]
    proc = run("clear", server_name, "--yes")
    assert proc.returncode == 0 and "cleared 2" in proc.stdout
    assert names(server_name) == []


def test_usage_errors_exit_2_with_one_line() -> None:
    for argv in ([], ["frobnicate"], ["get", "only-server"], ["--backend", "bogus", "list", "x"]):
        proc = run(*argv)
        assert proc.returncode == 2, argv
        one_line_failure(proc)


def test_backend_override_is_honoured(server_name: str) -> None:
    # The memory store lives and dies with one process: a value set through it is not in the
    # keychain afterwards, which proves --backend really replaced the automatic choice.
    proc = run("--backend", "memory", "set", server_name, "api_key", stdin="v")
    assert proc.returncode == 0 and "in memory" in proc.stdout
    assert names(server_name) == []
    report = json.loads(run("--backend", "memory", "doctor", "--json").stdout)
    assert report["backend"] == "memory" and report["backend_override"] == "memory"


def test_help_imports_nothing_heavy() -> None:
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "mcp_secrets.cli", "--help"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "doctor" in proc.stdout
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0]
                for line in proc.stderr.splitlines() if "|" in line}
    assert "mcp_secrets" in imported  # the probe really sees our imports
    assert not imported & {"fastmcp", "pydantic", "keyring", "secretstorage", "jeepney",
                           "cryptography", "mcp"}


# ---------------------------------------------------------------- doctor


@pytest.mark.display
def test_doctor_on_the_keychain(server_name: str) -> None:
    value = canary()
    run("set", server_name, "api_key", stdin=value)
    proc = run("doctor", secret=value)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "secret-service" in proc.stdout and "usable:   yes" in proc.stdout
    report = json.loads(run("doctor", "--json", secret=value).stdout)
    assert report["ok"] is True and report["backend"] == "secret-service"
    assert report["roundtrip"]["ok"] is True
    assert report["display"]["tk_opens_display"] is True  # the rig's Xvfb
    assert report["fix"] is None
    # The probe cleaned up after itself and touched no server's secrets.
    assert names(server_name) == ["api_key"]


def _no_bus_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in {"DBUS_SESSION_BUS_ADDRESS", "MCP_SECRETS_PASSPHRASE"}}
    env.update(extra)
    return env


def test_doctor_without_a_keychain_explains_the_fix(tmp_path: Path) -> None:
    env = _no_bus_env(MCP_SECRETS_DATA_DIR=str(tmp_path))
    proc = run("doctor", env=env)
    assert proc.returncode == 1
    assert "NOT USABLE" in proc.stdout and "fix:" in proc.stdout
    report = json.loads(run("doctor", "--json", env=env).stdout)
    assert report["ok"] is False
    assert report["fix"]
    assert "MCP_SECRETS_PASSPHRASE" in report["fix"]


def test_passphrase_without_a_bus_uses_the_encrypted_file(tmp_path: Path) -> None:
    env = _no_bus_env(MCP_SECRETS_PASSPHRASE="correct horse battery staple",
                      MCP_SECRETS_DATA_DIR=str(tmp_path))
    report = json.loads(run("doctor", "--json", env=env).stdout)
    assert report["ok"] is True, report
    assert "file" in report["backend"]
    value = canary()
    assert run("set", "filesrv", "api_key", stdin=value, env=env, secret=value).returncode == 0
    proc = run("get", "filesrv", "api_key", "--reveal", env=env, secret=value, revealed=True)
    assert proc.stdout == value + "\n"
    assert names("filesrv", env=env) == ["api_key"]
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files, "the encrypted store wrote nothing under MCP_SECRETS_DATA_DIR"
    for f in files:
        assert value.encode() not in f.read_bytes()  # encrypted, not plaintext


def test_doctor_leaves_no_probe_file_behind_a_passphrase_change(tmp_path: Path) -> None:
    for passphrase in ("first passphrase", "second passphrase"):
        env = _no_bus_env(MCP_SECRETS_PASSPHRASE=passphrase, MCP_SECRETS_DATA_DIR=str(tmp_path))
        report = json.loads(run("doctor", "--json", env=env).stdout)
        assert report["ok"] is True, report
        assert [p for p in tmp_path.rglob("*.enc")] == []


# ---------------------------------------------------------------- a real terminal


class Pty:
    """The CLI on a real pseudo-terminal that is its controlling terminal (as in a shell)."""

    def __init__(self, *args: str) -> None:
        master, slave = os.openpty()

        def as_terminal_session() -> None:
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen([*CLI, *args], stdin=slave, stdout=slave, stderr=slave,
                                     preexec_fn=as_terminal_session, close_fds=True)
        os.close(slave)
        self.master = master
        self.output = b""

    def expect(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while text.encode() not in self.output:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"never saw {text!r}; got {self.output!r}"
            ready, _, _ = select.select([self.master], [], [], remaining)
            if ready:
                self._read()

    def _read(self) -> bool:
        try:
            chunk = os.read(self.master, 4096)
        except OSError:  # EIO: the child closed the terminal
            return False
        self.output += chunk
        return bool(chunk)

    def send(self, text: str) -> None:
        os.write(self.master, text.encode())

    def wait(self) -> int:
        rc = self.proc.wait(timeout=60)
        while self._read():
            pass
        os.close(self.master)
        return rc


def test_interactive_set_prompts_twice_without_echo(server_name: str) -> None:
    value = canary()
    term = Pty("set", server_name, "api_key")
    term.expect("input hidden")
    term.send(value + "\n")
    term.expect("Repeat")
    term.send(value + "\n")
    assert term.wait() == 0
    assert value.encode() not in term.output  # typed, but never echoed
    assert b"stored 'api_key'" in term.output
    proc = run("get", server_name, "api_key", "--reveal", "-n", secret=value, revealed=True)
    assert proc.stdout == value


def test_interactive_set_mismatch_stores_nothing(server_name: str) -> None:
    value = canary()
    term = Pty("set", server_name, "api_key")
    term.expect("input hidden")
    term.send(value + "\n")
    term.expect("Repeat")
    term.send(value + "x\n")
    assert term.wait() == 1
    assert b"did not match" in term.output and value.encode() not in term.output
    assert names(server_name) == []


def test_interactive_clear_asks_first(server_name: str) -> None:
    run("set", server_name, "a", stdin="1")
    term = Pty("clear", server_name)
    term.expect("[y/N]")
    term.send("n\n")
    assert term.wait() == 1
    assert names(server_name) == ["a"]
    term = Pty("clear", server_name)
    term.expect("[y/N]")
    term.send("y\n")
    assert term.wait() == 0
    assert names(server_name) == []


def test_ctrl_c_at_the_prompt_exits_130_quietly(server_name: str) -> None:
    term = Pty("set", server_name, "api_key")
    term.expect("input hidden")
    os.kill(term.proc.pid, signal.SIGINT)
    assert term.wait() == 130
    assert b"Traceback" not in term.output and b"KeyboardInterrupt" not in term.output
    assert names(server_name) == []


# ---------------------------------------------------------------- no argument is ever echoed

ECHO = "CANARY-echo-7Hq2pV9x"
ECHO_PATTERNS: list[list[str]] = [
    ["get", "srv", "nm", f"--reveal={ECHO}"],
    ["get", "srv", "nm", f"--json={ECHO}"],
    ["get", "srv", "nm", f"--no-newline={ECHO}"],
    ["get", "srv", "nm", f"-n{ECHO}"],
    ["get", "srv", "nm", f"--rev={ECHO}"],  # an abbreviation of --reveal
    ["clear", "srv", f"--yes={ECHO}"],
    ["clear", "srv", f"-y{ECHO}"],
    [f"--version={ECHO}"],
    [f"--help={ECHO}"],
    [f"-h{ECHO}"],
    [f"--={ECHO}", "list", "srv"],  # "ambiguous option: --=VALUE could match ..."
    ["--backend", ECHO, "list", "srv"],
    [f"--backend={ECHO}", "list", "srv"],
    [f"--ba={ECHO}", "list", "srv"],
    [ECHO],  # a value pasted where the command goes
    ["list", "srv", ECHO],
    ["get", f"srv/{ECHO}", "nm"],  # a value pasted where a name goes (a slash breaks the rule)
    ["delete", "srv", f"{ECHO}/x" * 10],
]


@pytest.mark.parametrize("argv", ECHO_PATTERNS, ids=lambda a: " ".join(a).replace(ECHO, "V"))
def test_no_argument_value_is_echoed(argv: list[str]) -> None:
    proc = run(*argv, secret=ECHO)
    assert proc.returncode in (1, 2), proc.stderr
    one_line_failure(proc)


@pytest.mark.parametrize("command", [["list", "srv"], ["doctor"], ["doctor", "--json"]])
def test_backend_variable_value_is_not_echoed(command: list[str]) -> None:
    proc = run(*command, env={**os.environ, "MCP_SECRETS_BACKEND": ECHO}, secret=ECHO)
    assert proc.returncode == 1
    assert "MCP_SECRETS_BACKEND" in proc.stdout + proc.stderr


# ---------------------------------------------------------------- no value in an error's frames

def test_refused_values_leave_nothing_in_the_exception(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the person typed or piped, then refused, is not in the error's chain or frames."""
    import getpass
    import io

    from mcp_secrets.cli import prompts
    from mcp_secrets.cli.errors import CLIError
    from tests.leaks import assert_absent

    value = canary()
    answers = iter([value, value + "-typo"])
    monkeypatch.setattr(getpass, "getpass", lambda _prompt="": next(answers))
    with pytest.raises(CLIError, match="did not match") as info:
        prompts._prompt_hidden("k")
    assert_absent(info.value, value)

    for raw in (value.encode() + b"\xff\xfe", value.encode() * (prompts.MAX_STDIN_BYTES
                                                                // len(value) + 2)):
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(raw)))
        with pytest.raises(CLIError, match="nothing was stored") as info:
            prompts.read_secret_value("k")
        assert_absent(info.value, value)
