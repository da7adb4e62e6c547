"""The audit log: every action appears, no value ever does, and tampering is caught and named."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from mcp_secrets import audit
from mcp_secrets.backends.memory import MemoryBackend
from mcp_secrets.storage import MCPSecretsStorage

CANARY = "canary-audit-Vb72-value"


@pytest.fixture
def log_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "audit" / "audit.jsonl"
    monkeypatch.setenv("MCP_SECRETS_AUDIT_FILE", str(path))
    monkeypatch.delenv("MCP_SECRETS_AUDIT", raising=False)
    monkeypatch.setattr(audit, "_seen_reads", set())
    return path


def events(path: Path) -> list[dict[str, object]]:
    return [line.event for line in audit.lines(path) if line.event is not None]


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mcp_secrets.cli", *args], capture_output=True,
                          text=True, timeout=60, env={**os.environ, **(env or {})})


def test_every_storage_action_is_one_line_without_a_value(log_file: Path) -> None:
    storage = MCPSecretsStorage("weather", MemoryBackend())
    storage.store_secret("API_KEY", CANARY)
    assert storage.retrieve_secret("API_KEY") == CANARY
    storage.retrieve_secret("API_KEY")  # cached: not logged again
    other = MCPSecretsStorage("weather", storage.backend)
    other.retrieve_secret("API_KEY")  # from the store: the first read of this process
    other._cgen = -1  # type: ignore[misc]  # drop its cache: the next read goes to the store
    other.retrieve_secret("API_KEY")  # ...but it is not the first read any more
    storage.delete_secret("API_KEY")
    storage.store_secret("B", CANARY)
    storage.clear_secrets()
    got = [(e["action"], e["server"], e["name"], e["outcome"], e["store"]) for e in
           events(log_file)]
    assert got == [("write", "weather", "API_KEY", "ok", "memory"),
                   ("read", "weather", "API_KEY", "ok", "memory"),
                   ("delete", "weather", "API_KEY", "ok", "memory"),
                   ("write", "weather", "B", "ok", "memory"),
                   ("clear", "weather", None, "ok", "memory")]
    fresh = MCPSecretsStorage("weather", MemoryBackend())
    fresh.retrieve_secret("X")
    fresh.retrieve_secret("X")
    assert [(e["action"], e["outcome"]) for e in events(log_file)][-1] == ("read", "missing")
    assert sum(1 for e in events(log_file) if e["action"] == "read") == 2
    first = events(log_file)[0]
    assert set(first) == {*audit.FIELDS, "prev"}
    assert first["pid"] == os.getpid() and first["program"]
    assert CANARY not in log_file.read_text()
    assert stat.S_IMODE(log_file.stat().st_mode) == 0o600


def test_a_failed_write_is_logged_as_failed(log_file: Path) -> None:
    storage = MCPSecretsStorage("weather", MemoryBackend())
    with pytest.raises(TypeError):
        storage.store_secret("K", 42)  # type: ignore[arg-type]
    assert events(log_file)[-1]["outcome"] == "failed: ValueTypeError"


def test_permission_decisions_collection_and_resolution(log_file: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from mcp_secrets import permissions
    from mcp_secrets.errors import PermissionDeniedError
    from mcp_secrets.refs import resolve_all

    permissions._decide(permissions.ALLOW, "", "session-1", ("srv", "K"))
    permissions._decide(permissions.ALLOW_SESSION, "", "session-1", ("srv", "K"))
    with pytest.raises(PermissionDeniedError):
        permissions._decide(permissions.DENY, "", "session-1", ("srv", "K"))
    with pytest.raises(PermissionDeniedError):
        permissions._decide(None, "the prompt was declined", "session-1", ("srv", "K"))
    permissions.clear_session_grants()
    monkeypatch.setenv("ENV_CANARY", CANARY)
    assert resolve_all({"API_KEY": "env://ENV_CANARY"}) == {"API_KEY": CANARY}
    got = [(e["action"], e["outcome"]) for e in events(log_file)]
    assert got == [("permission", "Allow"), ("permission", "Allow for session"),
                   ("permission", "Deny"), ("permission", "no answer"), ("resolve", "ok")]
    assert events(log_file)[-1]["store"] == "env" and events(log_file)[-1]["name"] == "API_KEY"
    assert CANARY not in log_file.read_text()


def test_dialog_collection_is_logged(log_file: Path) -> None:
    """What the dialog collected is stored by the flow's `store` step (the dialog itself is
    tested end to end in test_fetcher); here: that step logs each name, never the value."""
    from mcp_secrets.fetcher import _Flow
    from mcp_secrets.manager import MCPSecretsManager
    from mcp_secrets.ui_handler import AsyncUIHandler

    manager = MCPSecretsManager("dlg", backend=MemoryBackend())
    flow = _Flow("dlg", ["A", "B"], {}, manager, AsyncUIHandler(), until=0.0)
    assert asyncio.run(flow.store({"A": CANARY, "B": CANARY}))[0]
    got = [(e["action"], e["name"]) for e in events(log_file)]
    assert got == [("write", "A"), ("collect", "A"), ("write", "B"), ("collect", "B")]
    assert CANARY not in log_file.read_text()


def _fill(n: int) -> None:
    storage = MCPSecretsStorage("audit-fill", MemoryBackend())
    for i in range(n):
        storage.store_secret(f"K{i}", CANARY)


def _rewrite(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(line + b"\n" for line in lines))


def test_verify_passes_then_names_an_edited_line(log_file: Path) -> None:
    _fill(5)
    assert audit.verify(log_file).ok
    lines = log_file.read_bytes().splitlines()
    lines[2] = lines[2].replace(b'"K2"', b'"K9"')
    _rewrite(log_file, lines)
    verdict = audit.verify(log_file)
    assert not verdict.ok and "audit.jsonl line 3 and audit.jsonl line 4" in str(verdict.problem)


def test_verify_catches_a_removed_a_reordered_and_a_dropped_last_line(log_file: Path) -> None:
    _fill(5)
    original = log_file.read_bytes().splitlines()
    _rewrite(log_file, original[:2] + original[3:])
    assert "line 2 and audit.jsonl line 3" in str(audit.verify(log_file).problem)
    _rewrite(log_file, [original[0], original[2], original[1], *original[3:]])
    assert not audit.verify(log_file).ok
    _rewrite(log_file, original[:-1])
    assert "last line" in str(audit.verify(log_file).problem)
    _rewrite(log_file, original)
    assert audit.verify(log_file).ok


def test_rotation_by_size_keeps_the_chain(log_file: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCP_SECRETS_AUDIT_MAX_BYTES", "4096")
    _fill(60)
    rotated = log_file.with_name("audit.jsonl.1")
    assert rotated.exists() and log_file.stat().st_size <= 4096
    assert stat.S_IMODE(rotated.stat().st_mode) == 0o600
    verdict = audit.verify(log_file)
    assert verdict.ok and verdict.lines == 60
    lines = rotated.read_bytes().splitlines()
    lines[-1] = lines[-1].replace(b'"write"', b'"wrote"')
    _rewrite(rotated, lines)
    assert "audit.jsonl.1 line" in str(audit.verify(log_file).problem)


def test_concurrent_processes_keep_one_chain(log_file: Path) -> None:
    code = ("from mcp_secrets.storage import MCPSecretsStorage\n"
            "from mcp_secrets.backends.memory import MemoryBackend\n"
            "s = MCPSecretsStorage('p', MemoryBackend())\n"
            "for i in range(15):\n    s.store_secret(f'K{i}', 'v')\n")
    procs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(4)]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    verdict = audit.verify(log_file)
    assert verdict.ok and verdict.lines == 60
    assert len({e["pid"] for e in events(log_file)}) == 4


def test_audit_can_be_turned_off(log_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCP_SECRETS_AUDIT", "false")
    _fill(2)
    assert not log_file.exists()


def test_cli_shows_filters_and_verifies(log_file: Path) -> None:
    MCPSecretsStorage("one", MemoryBackend()).store_secret("A", CANARY)
    MCPSecretsStorage("two", MemoryBackend()).store_secret("B", CANARY)
    shown = cli("audit", "--server", "two", "--json")
    assert shown.returncode == 0, shown.stderr
    rows = [json.loads(line) for line in shown.stdout.splitlines()]
    assert [(r["server"], r["name"], r["action"]) for r in rows] == [("two", "B", "write")]
    assert cli("audit", "--since", "1h").stdout.count("write") == 2
    assert cli("audit", "--since", "2999-01-01").stdout == ""
    assert "neither an ISO time" in cli("audit", "--since", "yesterday").stderr
    ok = cli("audit", "--verify")
    assert ok.returncode == 0 and "intact: 2 lines" in ok.stdout
    lines = log_file.read_bytes().splitlines()
    lines[0] = lines[0].replace(b'"one"', b'"uno"')
    _rewrite(log_file, lines)
    bad = cli("audit", "--verify")
    assert bad.returncode == 1 and "audit.jsonl line 1 and audit.jsonl line 2" in bad.stderr


def test_the_log_waits_for_a_writer_holding_filelocks_lock(log_file: Path) -> None:
    """Our lock is `flock` (no filelock import on `run`'s path); a writer that still uses
    filelock on the same lock file must exclude it, and the line waits until it lets go."""
    import threading

    from filelock import FileLock

    log_file.parent.mkdir(parents=True)
    holder = FileLock(str(log_file.with_name(log_file.name + ".lock")))
    holder.acquire()
    writer = threading.Thread(target=audit.record, args=("write",), kwargs={"name": "K"})
    try:
        writer.start()
        writer.join(0.5)
        assert writer.is_alive() and not log_file.exists()  # still waiting for the lock
    finally:
        holder.release()
    writer.join(30)
    assert [e["name"] for e in events(log_file)] == ["K"]
    assert audit.verify(log_file).ok
