"""`mcp-secrets run`, as a real subprocess against the real Secret Service: resolution, nothing
started on failure, exit codes, forwarded signals, stdin EOF, masking, argv hygiene, start-up
imports, and a real FastMCP client on both protocol eras."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from mcp_secrets.masking import MARKER
from mcp_secrets.refs_local import local_reference
from mcp_secrets.storage import MCPSecretsStorage

pytestmark = pytest.mark.keychain

_SCRIPT = Path(sys.executable).with_name("mcp-secrets")
CLI = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "mcp_secrets.cli"]
PY = sys.executable
ECHO_SERVER = Path(__file__).parent / "servers" / "echo_key_server.py"


def canary() -> str:
    return f'CANARY-"q\\é☃-{uuid.uuid4().hex}'


def run(*args: str, stdin: str = "", env: dict[str, str] | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "run", *args], input=stdin, capture_output=True, text=True,
                          env=env, timeout=timeout)


def py(code: str) -> list[str]:
    return [PY, "-c", textwrap.dedent(code)]


def forms(value: str) -> list[str]:
    return [value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]]


def assert_absent(value: str, *texts: str) -> None:
    for text in texts:
        for form in forms(value):
            assert form not in text


@pytest.fixture
def stored(server_name: str) -> tuple[str, str]:
    """(reference, value) of a secret stored in the real Secret Service."""
    value = canary()
    MCPSecretsStorage(server_name).store_secret("API_KEY", value)
    return local_reference(server_name, "API_KEY"), value


# ------------------------------------------------------------------ resolution


def test_env_reference_reaches_the_child_and_output_is_masked(stored: tuple[str, str]) -> None:
    ref, value = stored
    digest = hashlib.sha256(value.encode()).hexdigest()
    proc = run("--env", f"API_KEY={ref}", "--", *py("""
        import hashlib, json, os, sys
        v = os.environ["API_KEY"]
        print(hashlib.sha256(v.encode()).hexdigest())
        print(v); print(json.dumps({"k": v})); print(json.dumps({"k": v}, ensure_ascii=False))
        print("err:", v, file=sys.stderr)
    """))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == digest  # the child got exactly the value
    assert lines[1] == MARKER
    assert json.loads(lines[2]) == {"k": MARKER} == json.loads(lines[3])
    assert proc.stderr == f"err: {MARKER}\n"
    assert_absent(value, proc.stdout, proc.stderr)


def test_references_in_inherited_environment_and_env_file(
        stored: tuple[str, str], server_name: str, tmp_path: Path) -> None:
    ref, value = stored
    other = canary()
    MCPSecretsStorage(server_name).store_secret("OTHER", other)
    env_file = tmp_path / "app.env"
    env_file.write_text(textwrap.dedent(f"""\
        # a comment, then a blank line

        export FROM_FILE={local_reference(server_name, "OTHER")}
        QUOTED="{ref}"  # trailing comment
        PLAIN=debug
    """))
    env = {**os.environ, "INHERITED": ref, "NOT_A_REF": "https://example.com/x"}
    proc = run("--env-file", str(env_file), "--", *py("""
        import os
        for k in ("INHERITED", "FROM_FILE", "QUOTED", "PLAIN", "NOT_A_REF"):
            print(k, len(os.environ[k]), os.environ[k].startswith("CANARY-"))
    """), env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        f"INHERITED {len(value)} True", f"FROM_FILE {len(other)} True",
        f"QUOTED {len(value)} True", "PLAIN 5 False", "NOT_A_REF 21 False"]


def test_server_injects_every_valid_name_and_says_which_were_skipped(server_name: str) -> None:
    storage = MCPSecretsStorage(server_name)
    values = {"GOOD_ONE": canary(), "also_good": canary(), "bad-name": canary(),
              "has space": canary()}
    for name, value in values.items():
        storage.store_secret(name, value)
    proc = run("--server", server_name, "--", *py("""
        import os
        print(sorted(k for k in os.environ if k in ("GOOD_ONE", "also_good")))
        print(os.environ["GOOD_ONE"] == os.environ.get("EXPECT"))
    """), env={**os.environ, "EXPECT": values["GOOD_ONE"]})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["['GOOD_ONE', 'also_good']", "True"]
    assert proc.stderr.strip() == (f"mcp-secrets: not injected from server {server_name!r} "
                                   "(not valid variable names): 'bad-name', 'has space'")
    for value in values.values():
        assert_absent(value, proc.stdout, proc.stderr)


def test_whole_argument_reference_is_resolved_and_only_that(stored: tuple[str, str]) -> None:
    ref, value = stored
    proc = run("--", *py("""
        import sys
        print(sys.argv[1] == sys.argv[2], sys.argv[3])
    """), ref, value, f"--key={ref}")
    assert proc.returncode == 0, proc.stderr
    # argv[1] (the reference) became the value; a reference inside an argument is left alone
    assert proc.stdout.splitlines() == [f"True --key={ref}"]


def test_a_failed_reference_starts_nothing(stored: tuple[str, str], server_name: str,
                                          tmp_path: Path) -> None:
    ref, value = stored
    marker = tmp_path / "started"
    child = py(f"open({str(marker)!r}, 'w').close()")
    missing = f"mcp-secrets://{server_name}/MISSING"
    for args in (["--env", f"GOOD={ref}", "--env", f"BAD={missing}"],
                 ["--env", "BAD=nosuch://x"],
                 ["--env", "BAD=mcp-secrets://only-a-server"],
                 ["--server", f"{server_name}-nothing-stored"],
                 ["--env-file", str(tmp_path / "no-such-file")]):
        proc = run(*args, "--", *child)
        assert proc.returncode != 0
        assert not marker.exists(), args
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("mcp-secrets: "), proc.stderr
        assert_absent(value, proc.stdout, proc.stderr)
    proc = run("--env", f"GOOD={ref}", "--env", f"BAD={missing}", "--", *child)
    assert proc.stderr.startswith(f"mcp-secrets: BAD ({missing}): no secret 'MISSING'")
    proc = run("--", *child, missing)
    assert "argument 3 of the command" in proc.stderr and not marker.exists()


def test_env_refuses_a_plain_value_without_echoing_it(tmp_path: Path) -> None:
    value = canary()
    proc = run("--env", f"KEY={value}", "--", "true")
    assert proc.returncode == 2
    assert "KEY" in proc.stderr and "not a secret reference" in proc.stderr
    assert_absent(value, proc.stderr)
    env_file = tmp_path / "bad.env"
    env_file.write_text(f"this line holds {value} but no equals sign\n")
    proc = run("--env-file", str(env_file), "--", "true")
    assert proc.returncode == 2 and "line 1" in proc.stderr
    assert_absent(value, proc.stderr)


def test_no_command_is_a_usage_error(tmp_path: Path) -> None:
    proc = run("--env", "A=env://HOME")
    assert proc.returncode == 2 and "no command to run" in proc.stderr
    for flags in ([], ["--no-masking"]):
        missing = run(*flags, "--", "no-such-command-xyz")
        assert missing.returncode == 127
        assert missing.stderr == "mcp-secrets: command not found: no-such-command-xyz\n"
        script = tmp_path / "not-executable"
        script.write_text("#!/bin/sh\n")
        assert run(*flags, "--", str(script)).returncode == 126


# ------------------------------------------------------------------ process behaviour


@pytest.mark.parametrize("masking", [True, False])
def test_exit_status_is_the_childs(masking: bool) -> None:
    flags = [] if masking else ["--no-masking"]
    assert run(*flags, "--", *py("import sys; sys.exit(42)")).returncode == 42
    assert run(*flags, "--", "true").returncode == 0
    killed = run(*flags, "--", *py("import os, signal; os.kill(os.getpid(), signal.SIGKILL)"))
    assert killed.returncode in (128 + signal.SIGKILL, -signal.SIGKILL)
    if masking:  # we report it the shell's way; with exec the status is the child's own
        assert killed.returncode == 128 + signal.SIGKILL


HANDLER = """
import os, signal, sys, time
def got(signum, frame):
    print("got", signum, flush=True)
    sys.exit(100 + signum)
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(s, got)
print("ready", os.getpid(), flush=True)
time.sleep(60)
sys.exit(3)
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_signals_are_forwarded(sig: signal.Signals) -> None:
    proc = subprocess.Popen([*CLI, "run", "--", *py(HANDLER)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        ready = proc.stdout.readline().split()
        assert ready[0] == "ready" and int(ready[1]) != proc.pid
        proc.send_signal(sig)  # to `run` only, not to the child's pid
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert out.split() == ["got", str(int(sig))], err
    assert proc.returncode == 100 + sig


def test_child_killed_by_a_forwarded_signal_gives_128_plus_n() -> None:
    proc = subprocess.Popen([*CLI, "run", "--", *py("""
        import time; print("ready", flush=True); time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 128 + signal.SIGTERM


@pytest.mark.parametrize("masking", [True, False])
def test_stdin_eof_reaches_the_child(masking: bool) -> None:
    flags = [] if masking else ["--no-masking"]
    proc = subprocess.Popen([*CLI, "run", *flags, "--", *py("""
        import sys
        data = sys.stdin.buffer.read()
        print("eof after", len(data), flush=True)
    """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdin is not None
    proc.stdin.write("x" * 10)
    proc.stdin.close()  # what an MCP client does to stop a stdio server
    assert proc.stdout is not None
    assert proc.stdout.read() == "eof after 10\n"
    assert proc.wait(timeout=30) == 0


def test_no_masking_execs_in_place(stored: tuple[str, str]) -> None:
    ref, value = stored
    proc = subprocess.Popen([*CLI, "run", "--no-masking", "--env", f"K={ref}", "--", *py("""
        import os; print(os.getpid()); print(os.environ["K"])
    """)], stdout=subprocess.PIPE, text=True)
    out, _ = proc.communicate(timeout=60)
    pid, shown = out.splitlines()
    assert int(pid) == proc.pid  # no relay process in between
    assert shown == value  # and nothing masked: the user asked for that


def test_value_written_byte_by_byte_is_masked(stored: tuple[str, str]) -> None:
    ref, value = stored
    proc = run("--env", f"K={ref}", "--", *py("""
        import json, os, time
        v = os.environ["K"]
        for text in (f"raw {v} end\\n", json.dumps({"r": v}) + "\\n", f"tail {v}"):
            for b in text.encode():
                os.write(1, bytes([b])); os.write(2, bytes([b])); time.sleep(0.0005)
    """))
    assert proc.returncode == 0, proc.stderr
    for out in (proc.stdout, proc.stderr):
        lines = out.split("\n")
        assert lines[0] == f"raw {MARKER} end"
        assert json.loads(lines[1]) == {"r": MARKER}
        assert lines[2] == f"tail {MARKER}"
        assert_absent(value, out)


def argv_of_all_processes() -> list[bytes]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                found.append((entry / "cmdline").read_bytes())
            except OSError:
                continue
    return found


@pytest.mark.parametrize("masking", [True, False])
def test_value_in_no_argv_while_the_child_runs(stored: tuple[str, str], masking: bool) -> None:
    ref, value = stored
    flags = [] if masking else ["--no-masking"]
    proc = subprocess.Popen([*CLI, "run", *flags, "--env", f"K={ref}", "--", *py("""
        import os, sys, time
        print("ready", os.getpid(), flush=True); sys.stdin.read()
    """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        child = int(proc.stdout.readline().split()[1])
        raw = value.encode()
        assert raw in Path(f"/proc/{child}/environ").read_bytes()  # it did get there
        scanned = argv_of_all_processes()
        assert len(scanned) > 3
        assert not any(raw in argv for argv in scanned)
    finally:
        proc.communicate("", timeout=30)


def imported_by_run(ref: str) -> set[str]:
    """Every module a launch through `run --env K=REF -- true` imports."""
    proc = subprocess.run([PY, "-X", "importtime", "-m", "mcp_secrets.cli", "run",
                           "--env", f"K={ref}", "--", "true"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return {line.split("|")[-1].strip() for line in proc.stderr.splitlines()
            if line.startswith("import time:")}


def test_run_imports_no_mcp_framework_or_cloud_sdk(stored: tuple[str, str]) -> None:
    imported = imported_by_run(stored[0])
    assert "mcp_secrets.storage" in imported  # the check can see what it looks for
    heavy = {"fastmcp", "mcp", "pydantic", "pydantic_core", "httpx", "anyio", "starlette",
             "boto3", "botocore", "google", "hvac", "onepassword", "keyring", "detect_secrets",
             "tomlkit", "yaml", "importlib.metadata", "tkinter", "asyncio"}
    assert not (heavy & {name.split(".")[0] for name in imported} | heavy & imported)


def test_run_imports_nothing_a_read_does_not_need(stored: tuple[str, str]) -> None:
    """Start-up is most of what `run` costs a launch: the modules a read of one reference has no
    use for stay out (filelock, dataclasses, logging and their kin once cost it ~20 ms)."""
    imported = imported_by_run(stored[0])
    assert "mcp_secrets.audit" in imported  # the resolution was audited, without these:
    needless = {"filelock", "dataclasses", "inspect", "logging", "concurrent.futures",
                "datetime", "decimal"}
    assert not needless & imported


# ------------------------------------------------------------------ a real MCP client


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
def test_fastmcp_client_through_run_sees_the_marker(
        stored: tuple[str, str], mode: str, tmp_path: Path) -> None:
    from fastmcp import Client
    from fastmcp.client.transports import StdioTransport

    ref, value = stored
    log = tmp_path / "server.log"
    transport = StdioTransport(CLI[0], [*CLI[1:], "run", "--env", f"API_KEY={ref}", "--",
                                        PY, str(ECHO_SERVER)], env=dict(os.environ),
                               log_file=log)

    async def session() -> tuple[str, str]:
        async with Client(transport, mode=mode) as client:
            assert (await client.call_tool("ping", {})).content[0].text == "pong"  # type: ignore[union-attr]
            echoed = await client.call_tool("echo_key", {})
            digest = await client.call_tool("key_fingerprint", {})
            return echoed.content[0].text, digest.content[0].text  # type: ignore[union-attr]

    echoed, digest = asyncio.run(session())
    assert echoed == f"the key is {MARKER}"
    assert digest == hashlib.sha256(value.encode()).hexdigest()  # the server had the real key
    logged = log.read_text()
    assert f"debug: using key {MARKER}" in logged
    assert_absent(value, echoed, logged)



# ------------------------------------------------------------------ the short path


@pytest.mark.parametrize("argv", [
    ["--", "cmd", "--env", "X"],
    ["--env", "A=env://B", "--env=C=env://D", "--server", "s", "--server=t", "--", "cmd"],
    ["--env-file", "f", "--env-file=g", "--profile", "p", "--no-masking", "cmd", "-v"],
    ["--profile=p", "cmd"],
    ["cmd", "--env", "A=x"],
])
def test_short_parser_reads_what_argparse_reads(argv: list[str]) -> None:
    from mcp_secrets.cli.main import build_parser
    from mcp_secrets.cli.run import parse_fast

    full = build_parser().parse_args(["run", *argv])
    fast = parse_fast(argv)
    assert fast is not None
    for key in ("server", "env", "env_file", "profile", "no_masking"):
        assert getattr(fast, key) == getattr(full, key), key
    assert [a for a in fast.argv if a != "--"] == [a for a in full.argv if a != "--"]


@pytest.mark.parametrize("argv", [["--help"], ["--bogus", "x"], ["--env"]])
def test_short_parser_leaves_help_and_mistakes_to_argparse(argv: list[str]) -> None:
    from mcp_secrets.cli.run import parse_fast

    assert parse_fast(argv) is None
    proc = run(*argv)
    assert "Traceback" not in proc.stderr
    if argv == ["--help"]:
        assert proc.returncode == 0 and "--no-masking" in proc.stdout
    else:
        assert proc.returncode == 2 and proc.stderr.startswith("mcp-secrets: ")


def test_our_own_secret_settings_reach_the_child_only_by_name() -> None:
    passphrase = canary()
    env = {**os.environ, "MCP_SECRETS_PASSPHRASE": passphrase}
    code = py("import os; print(os.environ.get('MCP_SECRETS_PASSPHRASE') is not None)")
    assert run("--", *code, env=env).stdout == "False\n"
    asked = run("--env", "MCP_SECRETS_PASSPHRASE=env://MCP_SECRETS_PASSPHRASE", "--", *code,
                env=env)
    assert asked.stdout == "True\n", asked.stderr


def test_later_sources_win(server_name: str, tmp_path: Path) -> None:
    storage = MCPSecretsStorage(server_name)
    for name in ("A", "from_env", "from_file", "from_flag"):
        storage.store_secret(name, f"{name}-value")
    env_file = tmp_path / "a.env"
    env_file.write_text(f"A={local_reference(server_name, 'from_file')}\n")
    env = {**os.environ, "A": local_reference(server_name, "from_env")}
    show = py("import os; print(os.environ['A'])")
    flag = ["--env", f"A={local_reference(server_name, 'from_flag')}"]
    cases = [([], "from_env-value"), (["--server", server_name], "A-value"),
             (["--server", server_name, "--env-file", str(env_file)], "from_file-value"),
             (["--env-file", str(env_file), *flag, "--server", server_name], "from_flag-value")]
    for flags, want in cases:
        proc = run("--no-masking", *flags, "--", *show, env=env)
        assert proc.stdout == want + "\n", (flags, proc.stderr)


def test_a_grandchild_holding_stdout_does_not_keep_run_alive(tmp_path: Path) -> None:
    """CMD exited; a daemon it left behind still has the pipe. run reports CMD's status
    instead of waiting for that daemon's end of the pipe."""
    pid_file = tmp_path / "grandchild.pid"
    code = py(f"""
        import subprocess, sys
        p = subprocess.Popen(["sleep", "60"])  # inherits our stdout and stderr
        open({str(pid_file)!r}, "w").write(str(p.pid))
        print("bye", flush=True)
        sys.exit(5)
    """)
    try:
        proc = run("--", *code, timeout=30)
        assert proc.returncode == 5 and proc.stdout == "bye\n"
    finally:
        if pid_file.exists():
            os.kill(int(pid_file.read_text()), signal.SIGKILL)
