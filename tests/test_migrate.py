"""`mcp-secrets migrate` on real configs of every client in a private HOME, against a real Secret
Service (a private gnome-keyring per test, since the configs reuse server names): values land in
the keychain, every rewritten entry launched exactly as its client would start it (command, args,
env) hands the original value to the server, no config keeps a value, and every byte outside the
edited entries is kept. Bad input (malformed, read-only, symlinked configs, a keychain that is
missing or dies mid-run, a client writing the file meanwhile) changes no file."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mcp_secrets import jsonc
from mcp_secrets.clients import for_path
from mcp_secrets.configs import launch_of, load
from tests import rig
from tests.mcp_configs import PROBE, PY, Planted, write_all
from tests.test_scan import EXE, home_env

HERE = Path(__file__).resolve().parent
ENV_SERVER = HERE / "servers" / "env_server.py"


@pytest.fixture
def bus() -> Iterator[str]:
    """A private, unlocked gnome-keyring on its own D-Bus session (real, not the session one)."""
    comp = rig.start_secret_service(rig.private_home())
    try:
        yield comp.env["DBUS_SESSION_BUS_ADDRESS"]
    finally:
        comp.stop()


@pytest.fixture
def planted(tmp_path: Path) -> Planted:
    home, project = tmp_path / "home", tmp_path / "project"
    home.mkdir()
    project.mkdir()
    return write_all(home, project)


def cli(*args: str, home: Path, cwd: Path, bus: str, stdin: str | None = None,
        **extra: str) -> subprocess.CompletedProcess[str]:
    env = home_env(home, DBUS_SESSION_BUS_ADDRESS=bus, **extra)
    env.pop("MCP_SECRETS_BACKEND", None)
    return subprocess.run([EXE, *args], capture_output=True, text=True, cwd=cwd, env=env,
                          input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL,
                          timeout=180)


def stored(p: Planted, bus: str, server: str, name: str) -> str | None:
    r = cli("get", server, name, "--reveal", "-n", home=p.home, cwd=p.home, bus=bus)
    return r.stdout if r.returncode == 0 else None


def snapshot(p: Planted) -> dict[Path, bytes]:
    return {f: f.read_bytes() for f in p.files.values()}


def client_env(p: Planted, bus: str, entry_env: dict[str, Any]) -> dict[str, str]:
    """What a desktop client gives a server: a minimal environment plus the entry's env."""
    return {"PATH": "/usr/bin:/bin", "HOME": str(p.home), "DBUS_SESSION_BUS_ADDRESS": bus,
            **{k: str(v) for k, v in entry_env.items()}}


def assert_no_value_in(p: Planted, text: str, *, but_remote: bool = True) -> None:
    remote_values = {v for key, v in p.secrets.items() if key in p.remote}
    for key, value in p.secrets.items():
        if but_remote and (key in p.remote or value in remote_values):
            continue
        assert value not in text, f"{key} still holds its value"


# --- the main path -----------------------------------------------------------------------------

def test_migrate_moves_every_key_and_every_server_still_starts_with_it(
        planted: Planted, bus: str) -> None:
    p = planted
    before = snapshot(p)
    modes = {f: stat.S_IMODE(f.stat().st_mode) for f in p.files.values()}
    p.files["cursor"].chmod(0o640)
    modes[p.files["cursor"]] = 0o640
    r = cli("migrate", "--yes", home=p.home, cwd=p.project, bus=bus)
    assert r.returncode == 0, r.stderr
    for value in p.k.values():
        assert value not in r.stdout + r.stderr

    # values in the real Secret Service, under the entry's server name; a second "github"
    # with another token does not overwrite the first
    assert stored(p, bus, "github", "GITHUB_PERSONAL_ACCESS_TOKEN") == p.k["github"]
    assert stored(p, bus, "github", "GITHUB_PERSONAL_ACCESS_TOKEN_2") == p.k["github_b"]
    assert stored(p, bus, "stripe", "API_KEY") == p.k["stripe"]
    assert stored(p, bus, "Anthropic Helper", "ANTHROPIC_API_KEY") == p.k["continue"]

    # no config holds a moved value; remote entries are left as they were
    for f in p.files.values():
        assert_no_value_in(p, f.read_text())
    assert p.k["remote_gh"] in p.files["claude_code"].read_text()
    for key in ("claude_desktop", "claude_code", "cursor", "windsurf", "cline", "roo",
                "gemini", "lmstudio", "mcp_json", "roo_project"):
        json.loads(p.files[key].read_text())  # strict JSON stays strict JSON
    assert "remote server" in r.stdout or "needs the proxy" in r.stdout

    # modes kept; backups are 0600 copies of the originals, and the user is told where
    for f, mode in modes.items():
        assert stat.S_IMODE(f.stat().st_mode) == mode
    backups = [Path(line.strip()) for line in r.stdout.splitlines()
               if line.startswith("  /") and "backups" in line]
    assert len(backups) == 16
    assert sorted(b.read_bytes() for b in backups) == sorted(before.values())
    assert all(stat.S_IMODE(b.stat().st_mode) == 0o600 for b in backups)
    assert "rm -r" in r.stdout

    # scan finds nothing but the remote entries now
    s = cli("scan", "--json", home=p.home, cwd=p.project, bus=bus)
    left = {(Path(f["file"]), f["server"], f["field"]) for f in json.loads(s.stdout)["findings"]}
    assert left == p.remote

    # every rewritten entry, launched as its client would, gives the server the original value
    launched = 0
    for f in set(p.files.values()):
        for entry in load(f, for_path(f)).entries:
            launch = launch_of(entry.data)
            if launch.command != EXE:
                continue
            assert Path(launch.command).is_absolute()
            args = [str(a) for a in launch.args]
            name = args[args.index(str(PROBE)) + 1]
            subprocess.run([launch.command, *args], env=client_env(p, bus, launch.env),
                           stdin=subprocess.DEVNULL, timeout=60, check=True)
            got = json.loads((p.out / f"{name}.json").read_text())
            for (pf, server, field), value in p.secrets.items():
                if pf != f or server != entry.server:
                    continue
                if field.startswith("env."):
                    assert got["env"][field[4:]] == value, (f, server, field)
                else:
                    assert value in got["argv"], (f, server, field)
            launched += 1
    assert launched == len({(f, s) for f, s, _ in p.secrets} - {(f, s) for f, s, _ in p.remote})

    # idempotent: a second run changes nothing
    after = snapshot(p)
    again = cli("migrate", "--yes", home=p.home, cwd=p.project, bus=bus)
    assert again.returncode == 0, again.stderr
    assert "nothing to migrate" in again.stdout
    assert snapshot(p) == after


def _outside(text: str, spans: list[tuple[int, int]]) -> str:
    out, pos = [], 0
    for start, end in sorted(spans):
        out.append(text[pos:start])
        pos = end
    return "\x00".join([*out, text[pos:]])


def _entry_spans(text: str, edited: set[tuple[str, ...]]) -> list[tuple[int, int]]:
    root = jsonc.parse(text)
    spans = []
    for where in edited:
        node = root
        for k in where:
            node = node.members[k]
        spans.append((node.start, node.end))
    return spans


def test_every_byte_outside_the_edited_entries_is_kept(planted: Planted, bus: str) -> None:
    p = planted
    before = {k: f.read_text() for k, f in p.files.items()}
    r = cli("migrate", "--yes", home=p.home, cwd=p.project, bus=bus)
    assert r.returncode == 0, r.stderr
    after = {k: f.read_text() for k, f in p.files.items()}
    # JSON and JSONC: compare the text with the edited entries cut out, byte for byte
    json_edits = {
        "claude_code": {("mcpServers", "slack"), ("projects", str(p.project), "mcpServers",
                                                   "stripe")},
        "vscode": {("servers", "anthropic")},
        "zed": {("context_servers", "claude-helper"), ("context_servers", "legacy")},
        "cursor": {("mcpServers", "github"), ("mcpServers", "google-maps")},
        "gemini": {("mcpServers", "maps")},
    }
    for key, edited in json_edits.items():
        assert _outside(before[key], _entry_spans(before[key], edited)) == \
            _outside(after[key], _entry_spans(after[key], edited)), key
    # comments inside JSONC survive outside the entry; the entry keeps its other keys
    assert "// Zed settings" in after["zed"] and "}, // trailing comma next" in after["zed"]
    assert "\t/* a remote one */" in after["vscode"] and "\"inputs\": [" in after["vscode"]
    assert "\"source\": \"custom\"" in after["zed"]
    # TOML: comments, other tables and key order kept
    toml_before, toml_after = before["codex"], after["codex"]
    assert toml_after.startswith("# Codex configuration\nmodel = \"gpt-5-codex\"\n")
    assert toml_after.endswith(toml_before[toml_before.index("[mcp_servers.figma]"):])
    assert "startup_timeout_sec = 20  # slow start" in toml_after
    assert "# the key I pasted from the dashboard" in toml_after
    # YAML: the lines before the servers and the untouched entries are kept, in each style
    cont_before, cont_after = before["continue"], after["continue"]
    head = cont_before[:cont_before.index("mcpServers:")]
    assert cont_after.startswith(head)
    assert cont_after.endswith(cont_before[cont_before.index("  - name: Docs"):])
    assert "      OTHER: ${{ secrets.OTHER_KEY }}\n" in cont_after
    goose_before, goose_after = before["goose"], after["goose"]
    assert goose_after.startswith(goose_before[:goose_before.index("  googlemaps:")])
    assert "    - run\n" in goose_after and "    cmd: " in goose_after
    assert goose_after.index("    args:") < goose_after.index("    cmd:") < \
        goose_after.index("    envs:")


# --- dry run and confirmation ------------------------------------------------------------------

def test_dry_run_prints_a_masked_diff_and_writes_nothing(planted: Planted, bus: str) -> None:
    p = planted
    before = snapshot(p)
    r = cli("migrate", "--dry-run", home=p.home, cwd=p.project, bus=bus)
    assert r.returncode == 0, r.stderr
    assert "‹secret›" in r.stdout and "+++ " in r.stdout and "nothing was written" in r.stdout
    for value in p.k.values():
        assert value not in r.stdout + r.stderr
    assert snapshot(p) == before
    assert stored(p, bus, "slack", "SLACK_BOT_TOKEN") is None


def test_without_a_terminal_migrate_refuses_unless_yes(planted: Planted, bus: str) -> None:
    p = planted
    before = snapshot(p)
    r = cli("migrate", home=p.home, cwd=p.project, bus=bus)
    assert r.returncode == 1
    assert "--yes" in r.stderr.strip().splitlines()[-1]
    assert snapshot(p) == before
    assert stored(p, bus, "slack", "SLACK_BOT_TOKEN") is None


# --- bad input ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "text"), [
    (".mcp.json", '{"mcpServers": {"x": {"command": "y", "env": {"K": "ghp_'),
    ("config.toml", '[mcp_servers.x]\ncommand = "y"\nenv = { K = \n'),
    ("config.yaml", "mcpServers:\n  - name: x\n   command: y\n"),
])
def test_a_malformed_config_stops_everything(planted: Planted, bus: str, name: str,
                                             text: str) -> None:
    p = planted
    bad = p.project / name
    bad.write_text(text)
    before = snapshot(p)
    r = cli("migrate", "--yes", str(bad), str(p.files["cursor"]), home=p.home, cwd=p.project,
            bus=bus)
    assert r.returncode == 1
    assert str(bad) in r.stderr and "nothing was changed" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert bad.read_text() == text and snapshot(p) == before
    assert stored(p, bus, "google-maps", "GOOGLE_MAPS_API_KEY") is None


def test_a_read_only_config_is_a_clear_error(planted: Planted, bus: str) -> None:
    p = planted
    f = p.files["lmstudio"]
    f.chmod(0o444)
    before = snapshot(p)
    r = cli("migrate", "--yes", home=p.home, cwd=p.project, bus=bus)
    assert r.returncode == 1
    assert "read-only" in r.stderr and str(f) in r.stderr and "chmod u+w" in r.stderr
    assert snapshot(p) == before
    assert stored(p, bus, "hf", "HF_TOKEN") is None
    assert stored(p, bus, "slack", "SLACK_BOT_TOKEN") is None


def test_a_symlinked_config_is_edited_at_its_target_and_stays_a_link(
        planted: Planted, bus: str, tmp_path: Path) -> None:
    p = planted
    link = p.files["cursor"]
    target = tmp_path / "dotfiles" / "cursor-mcp.json"
    target.parent.mkdir()
    link.rename(target)
    link.symlink_to(target)
    r = cli("migrate", "--yes", str(link), home=p.home, cwd=p.project, bus=bus)
    assert r.returncode == 0, r.stderr
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert p.k["google"] not in target.read_text()
    assert "mcp-secrets://google-maps/GOOGLE_MAPS_API_KEY" in target.read_text()


def test_no_keychain_changes_no_file_and_says_how_to_fix(planted: Planted, tmp_path: Path) -> None:
    p = planted
    before = snapshot(p)
    r = cli("migrate", "--yes", home=p.home, cwd=p.project,
            bus=f"unix:path={tmp_path}/no-such-bus", MCP_SECRETS_BACKEND="secret-service")
    assert r.returncode == 1
    assert "no config file was changed" in r.stderr and "mcp-secrets doctor" in r.stderr
    assert snapshot(p) == before


_MID_RUN = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from mcp_secrets import migrate
    from mcp_secrets.errors import MigrationError

    plan = migrate.plan([Path(a) for a in sys.argv[1:]])
    calls = []

    def store(server, profile, name, value):
        calls.append(name)
        migrate._store_value(server, profile, name, value)
        if len(calls) == 1:  # the keychain goes away after the first value
            os.kill(int(os.environ["KEYRING_PID"]), signal.SIGKILL)

    try:
        migrate.run(plan, store=store)
    except MigrationError as exc:
        print(exc)
        sys.exit(3)
    sys.exit(0)
""")


def test_the_keychain_dying_mid_migrate_changes_no_file(planted: Planted) -> None:
    p = planted
    comp = rig.start_secret_service(rig.private_home())
    try:
        files = [p.files[k] for k in ("claude_desktop", "codex", "goose", "vscode")]
        before = snapshot(p)
        env = home_env(p.home, DBUS_SESSION_BUS_ADDRESS=comp.env["DBUS_SESSION_BUS_ADDRESS"],
                       KEYRING_PID=str(comp.procs[0].pid))
        env.pop("MCP_SECRETS_BACKEND", None)
        r = subprocess.run([sys.executable, "-c", _MID_RUN, *map(str, files)], env=env,
                           capture_output=True, text=True, timeout=180, cwd=p.project)
        assert r.returncode == 3, r.stdout + r.stderr
        assert "no config file was changed" in r.stdout
        assert snapshot(p) == before
    finally:
        comp.stop()


def test_a_file_the_client_rewrote_meanwhile_is_not_overwritten(tmp_path: Path) -> None:
    from mcp_secrets import migrate

    f = tmp_path / ".cursor" / "mcp.json"
    f.parent.mkdir()
    f.write_text(json.dumps({"mcpServers": {"s": {"command": "x", "env": {
        "API_KEY": "ghp_" + "a1B2" * 9}}}}, indent=2))
    g = tmp_path / ".mcp.json"
    g.write_text(json.dumps({"mcpServers": {"t": {"command": "y", "env": {
        "API_KEY": "ghp_" + "c3D4" * 9}}}}, indent=2))
    # The store is a dict here: this test is about the files, not the keychain.
    kept: dict[tuple[str, str, str], str] = {}
    plan = migrate.plan([f, g], lookup=lambda s, pr, n: kept.get((s, pr, n)), exe="/opt/ms")
    theirs = f.read_text().replace('"command": "x"', '"command": "x", "disabled": true')
    f.write_text(theirs)
    outcome = migrate.run(plan, store=lambda s, pr, n, v: kept.__setitem__((s, pr, n), v))
    assert outcome.written == [g] and len(outcome.failed) == 1  # the other file is independent
    assert "changed on disk" in outcome.failed[0] and "run `mcp-secrets migrate` again" in \
        outcome.failed[0]
    assert f.read_text() == theirs


def test_a_secret_inside_a_flag_argument_is_left_with_a_reason(tmp_path: Path, bus: str) -> None:
    f = tmp_path / ".mcp.json"
    original = json.dumps({"mcpServers": {"s": {"command": PY, "args": [
        "server.py", "--token=ghp_" + "Zz9" * 12]}}}, indent=2)
    f.write_text(original)
    r = cli("migrate", "--yes", str(f), home=tmp_path, cwd=tmp_path, bus=bus)
    assert r.returncode == 0
    assert "split it into two arguments" in r.stdout
    assert f.read_text() == original


def test_a_wrapped_entry_gains_a_new_key_without_wrapping_twice(tmp_path: Path, bus: str) -> None:
    f = tmp_path / ".mcp.json"
    f.write_text(json.dumps({"mcpServers": {"s": {"command": EXE, "args": [
        "run", "--env", "A=mcp-secrets://s/A", "--", PY, str(PROBE), "twice"],
        "env": {"B_TOKEN": "ghp_" + "Qq7" * 12, "PROBE_OUT": str(tmp_path)}}}}, indent=2))
    r = cli("migrate", "--yes", str(f), home=tmp_path, cwd=tmp_path, bus=bus)
    assert r.returncode == 0, r.stderr
    entry = json.loads(f.read_text())["mcpServers"]["s"]
    assert entry["command"] == EXE
    assert entry["args"] == ["run", "--env", "A=mcp-secrets://s/A", "--env",
                             "B_TOKEN=mcp-secrets://s/B_TOKEN", "--", PY, str(PROBE), "twice"]
    assert entry["env"] == {"PROBE_OUT": str(tmp_path)}


# --- a real MCP client through a migrated entry ------------------------------------------------

@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
def test_a_fastmcp_client_talks_to_a_migrated_server(tmp_path: Path, bus: str, mode: str) -> None:
    from fastmcp import Client
    from fastmcp.client.transports import StdioTransport

    key = "sk-ant-api03-" + hashlib.sha256(tmp_path.name.encode()).hexdigest() * 2 + "AA"
    f = tmp_path / ".config" / "Claude" / "claude_desktop_config.json"
    f.parent.mkdir(parents=True)
    f.write_text(json.dumps({"mcpServers": {"anthropic": {
        "command": PY, "args": [str(ENV_SERVER)], "env": {"ANTHROPIC_API_KEY": key}}}}, indent=2))
    r = cli("migrate", "--yes", home=tmp_path, cwd=tmp_path, bus=bus)
    assert r.returncode == 0, r.stderr
    entry = json.loads(f.read_text())["mcpServers"]["anthropic"]
    assert key not in f.read_text()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "DBUS_SESSION_BUS_ADDRESS": bus,
           "PYTHONPATH": str(HERE.parent), **entry["env"]}

    async def call() -> str:
        transport = StdioTransport(entry["command"], entry["args"], env=env)
        async with Client(transport, mode=mode) as client:  # type: ignore[arg-type]
            result = await client.call_tool("fingerprint", {"var": "ANTHROPIC_API_KEY"})
            return str(result.data)

    assert asyncio.run(call()) == hashlib.sha256(key.encode()).hexdigest()[:12]


@pytest.mark.parametrize(("answer", "changed"), [("n", False), ("y", True)])
def test_on_a_terminal_migrate_asks_first(tmp_path: Path, bus: str, answer: str, changed: bool,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.test_cli import Pty

    for var, value in home_env(tmp_path, DBUS_SESSION_BUS_ADDRESS=bus).items():
        monkeypatch.setenv(var, value)
    monkeypatch.delenv("MCP_SECRETS_BACKEND", raising=False)
    f = tmp_path / ".mcp.json"
    original = json.dumps({"mcpServers": {"s": {"command": "npx", "env": {
        "API_KEY": "sk_live_" + "Tt5" * 8}}}}, indent=2)
    f.write_text(original)
    term = Pty("migrate", str(f))
    term.expect("rewrite 1 file(s)? [y/N]")
    term.send(answer + "\n")
    rc = term.wait()
    assert "sk_live_Tt5" not in term.output.decode()
    if changed:
        assert rc == 0 and "mcp-secrets://s/API_KEY" in f.read_text()
    else:
        assert rc == 1 and b"nothing was changed" in term.output and f.read_text() == original
