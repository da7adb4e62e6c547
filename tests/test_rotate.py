"""Rotation: `mcp-secrets rotate`, the grace period, running readers, and versions in team
stores (a real OpenBao dev server, moto in server mode)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator

import pytest

from mcp_secrets.backends.memory import MemoryBackend
from mcp_secrets.errors import SecretsError
from mcp_secrets.manager import MCPSecretsManager
from mcp_secrets.rotation import parse_duration, previous_secret, rotate
from mcp_secrets.storage import MCPSecretsStorage
from tests.team_servers import Bao, Moto, running_bao, running_moto

OLD = "canary-rotate-OLD-4471"
NEW = "canary-rotate-NEW-8823"


def cli(*args: str, stdin: str = "", env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mcp_secrets.cli", *args], input=stdin,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def test_previous_value_during_the_grace_period_only() -> None:
    storage = MCPSecretsStorage("rotate-svc", MemoryBackend())
    storage.store_secret("KEY", OLD)
    rotate(storage, "KEY", NEW, grace=3600)
    assert storage.retrieve_secret("KEY") == NEW
    assert previous_secret(storage, "KEY") == OLD
    rotate(storage, "KEY", "third", grace=0)
    assert storage.retrieve_secret("KEY") == "third"
    assert previous_secret(storage, "KEY") is None  # grace over at once


def test_rotating_a_missing_secret_changes_nothing() -> None:
    storage = MCPSecretsStorage("rotate-svc", MemoryBackend())
    with pytest.raises(SecretsError, match="nothing to rotate"):
        rotate(storage, "NOPE", NEW)
    assert storage.list_secrets() == [] and storage.backend.keys(storage.service) == []


def test_delete_and_clear_remove_the_previous_value_too() -> None:
    backend = MemoryBackend()
    storage = MCPSecretsStorage("rotate-svc", backend)
    for name in ("A", "B"):
        storage.store_secret(name, OLD)
        rotate(storage, name, NEW)
    storage.delete_secret("A")
    assert previous_secret(storage, "A") is None
    storage.clear_secrets()
    assert not any(OLD in v or NEW in v for v in backend._data.values())


@pytest.mark.parametrize("text,seconds", [("90", 90), ("90s", 90), ("15m", 900),
                                          ("2h", 7200), ("1d", 86400), ("0", 0)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_cli_rotate_reaches_a_running_reader(server_name: str) -> None:
    """A library reader in another process (real Secret Service) sees the new value on its
    next read, and can ask for the previous one."""
    MCPSecretsStorage(server_name).store_secret("API_KEY", OLD)
    reader = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys
            from mcp_secrets.manager import MCPSecretsManager
            m = MCPSecretsManager({server_name!r})
            print(m.retrieve_secret("API_KEY") == {OLD!r}, flush=True)
            sys.stdin.readline()
            print(m.retrieve_secret("API_KEY") == {NEW!r},
                  m.previous_secret("API_KEY") == {OLD!r}, flush=True)
        """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert reader.stdout is not None and reader.stdin is not None
    try:
        assert reader.stdout.readline().strip() == "True"
        done = cli("rotate", server_name, "API_KEY", "--grace", "10m", stdin=NEW + "\n")
        assert done.returncode == 0, done.stderr
        assert "rotated 'API_KEY'" in done.stdout
        assert OLD not in done.stdout + done.stderr and NEW not in done.stdout + done.stderr
        reader.stdin.write("go\n")
        reader.stdin.flush()
        assert reader.stdout.readline().split() == ["True", "True"]
    finally:
        reader.kill()
        reader.wait()


def test_cli_rotate_refuses_bad_input(server_name: str) -> None:
    bad = cli("rotate", server_name, "API_KEY", "--grace", "soon", stdin=NEW)
    assert bad.returncode == 2 and "not a duration" in bad.stderr
    missing = cli("rotate", server_name, "API_KEY", stdin=NEW)
    assert missing.returncode == 1 and "nothing to rotate" in missing.stderr
    assert NEW not in bad.stderr + missing.stderr


# --------------------------------------------------------------------------- team stores


@pytest.fixture(scope="module")
def bao() -> Iterator[Bao]:
    with running_bao() as server:
        yield server


@pytest.fixture(scope="module")
def moto() -> Iterator[Moto]:
    with running_moto() as server:
        yield server


def _team_manager(monkeypatch: pytest.MonkeyPatch, backend: str, env: dict[str, str]
                  ) -> MCPSecretsManager:
    from mcp_secrets import selection

    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("MCP_SECRETS_BACKEND", backend)
    selection.reset()
    return MCPSecretsManager(f"rot-{uuid.uuid4().hex[:8]}")


def test_vault_rotation_writes_a_new_kv_version(bao: Bao,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from mcp_secrets.refs import resolve

    manager = _team_manager(monkeypatch, "vault", {
        **bao.env, "MCP_SECRETS_VAULT_PATH": f"secret/r{uuid.uuid4().hex[:6]}"})
    try:
        manager.store_secret("KEY", OLD)
        rotate(manager.storage, "KEY", NEW)
        assert manager.retrieve_secret("KEY") == NEW
        assert manager.previous_secret("KEY") == OLD  # read from version 1
        path = os.environ["MCP_SECRETS_VAULT_PATH"]
        service = manager.storage.service
        assert resolve(f"vault://{path}/{service}/KEY?version=1#value") == OLD
        assert resolve(f"vault://{path}/{service}/KEY?version=2#value") == NEW
        backend = manager.storage.backend
        assert OLD not in (backend.get(service, "__previous__KEY") or "")  # version, no copy
    finally:
        from mcp_secrets import selection

        selection.reset()


def test_aws_rotation_moves_awscurrent_and_awsprevious(moto: Moto,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from mcp_secrets.refs import resolve

    manager = _team_manager(monkeypatch, "aws", {
        **moto.env, "MCP_SECRETS_AWS_PREFIX": f"r{uuid.uuid4().hex[:6]}"})
    try:
        manager.store_secret("KEY", OLD)
        rotate(manager.storage, "KEY", NEW)
        assert manager.retrieve_secret("KEY") == NEW
        assert manager.previous_secret("KEY") == OLD
        sid = f"{os.environ['MCP_SECRETS_AWS_PREFIX']}/{manager.storage.service}/KEY"
        assert resolve(f"aws-sm://{sid}?stage=AWSPREVIOUS") == OLD
        assert resolve(f"aws-sm://{sid}") == NEW
    finally:
        from mcp_secrets import selection

        selection.reset()


# --------------------------------------------------------------------------- a live MCP server


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
def test_a_library_server_uses_the_new_value_on_its_next_call(server_name: str, mode: str,
                                                              tmp_path: object) -> None:
    """A real FastMCP server (library, real Secret Service) under a real fastmcp.Client keeps
    answering across `mcp-secrets rotate`; the call after it uses the new value."""
    import asyncio
    import hashlib
    from pathlib import Path

    from fastmcp import Client
    from fastmcp.client.transports import StdioTransport

    server = Path(__file__).parent / "servers" / "secrets_server.py"
    MCPSecretsStorage(server_name).store_secret("api_key", OLD)

    def fp(value: str) -> str:
        return hashlib.sha256(value.encode()).hexdigest()[:12]

    async def scenario() -> list[str]:
        env = {**os.environ, "SERVER_NAME": server_name, "MCP_BYPASS_SECRET_USE_CONFIRM": "true"}
        transport = StdioTransport(sys.executable, [str(server)], env=env,
                                   log_file=Path(str(tmp_path)) / "server.log")
        seen = []
        async with Client(transport, mode=mode) as client:
            for _ in range(3):
                seen.append(str((await client.call_tool("use_secret", {"name": "api_key"})).data))
            done = await asyncio.to_thread(cli, "rotate", server_name, "api_key", "--grace",
                                           "5m", stdin=NEW)
            assert done.returncode == 0, done.stderr
            for _ in range(3):
                seen.append(str((await client.call_tool("use_secret", {"name": "api_key"})).data))
        return seen

    seen = asyncio.run(scenario())
    assert seen == [f"used api_key {fp(OLD)}"] * 3 + [f"used api_key {fp(NEW)}"] * 3
