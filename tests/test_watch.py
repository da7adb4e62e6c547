"""`mcp-secrets run --watch`: a real FastMCP server launched through `run`, under a real
`fastmcp.Client` on both protocol eras, keeps answering tool calls across `mcp-secrets rotate`;
the calls after the swap see the new value, and none fails."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mcp_secrets.storage import MCPSecretsStorage

HERE = Path(__file__).resolve().parent
SERVER = HERE / "servers" / "echo_key_server.py"
OLD = "canary-watch-OLD-3390"
NEW = "canary-watch-NEW-7712"


def fp(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def mcp_secrets_exe() -> str:
    found = shutil.which("mcp-secrets", path=str(Path(sys.executable).parent))
    assert found, "the mcp-secrets console script is missing: run scripts/setup"
    return found


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
def test_run_watch_swaps_the_server_without_a_failed_call(server_name: str, mode: str,
                                                          tmp_path: Path) -> None:
    from fastmcp import Client
    from fastmcp.client.transports import StdioTransport

    MCPSecretsStorage(server_name).store_secret("API_KEY", OLD)
    ref = f"mcp-secrets://{server_name}/API_KEY"
    audit_log = tmp_path / "audit.jsonl"
    env = {**os.environ, "MCP_SECRETS_WATCH_INTERVAL": "0.2",
           "MCP_SECRETS_AUDIT_FILE": str(audit_log)}
    transport = StdioTransport(mcp_secrets_exe(), ["run", "--watch", "--env", f"API_KEY={ref}",
                                                   "--", sys.executable, str(SERVER)],
                               env=env, log_file=tmp_path / "run.log")

    async def scenario() -> list[str]:
        results: list[str] = []
        async with Client(transport, mode=mode) as client:
            for _ in range(5):
                results.append(str((await client.call_tool("key_fingerprint", {})).data))
            rotate = await asyncio.to_thread(
                subprocess.run, [mcp_secrets_exe(), "rotate", server_name, "API_KEY"],
                input=NEW, capture_output=True, text=True, timeout=60)
            assert rotate.returncode == 0, rotate.stderr
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                results.append(str((await client.call_tool("key_fingerprint", {})).data))
                if results[-1] == fp(NEW):
                    break
            for _ in range(5):
                results.append(str((await client.call_tool("key_fingerprint", {})).data))
            echoed = str((await client.call_tool("echo_key", {})).data)
            assert NEW not in echoed and "concealed" in echoed  # the new value is masked too
        return results

    results = asyncio.run(scenario())
    assert results[:5] == [fp(OLD)] * 5
    assert results[-5:] == [fp(NEW)] * 5
    assert set(results) == {fp(OLD), fp(NEW)}
    switched = results.index(fp(NEW))
    assert all(r == fp(NEW) for r in results[switched:])  # never back to the old server
    log = (tmp_path / "run.log").read_text()
    assert "now serving from a new server" in log
    assert log.count("debug: using key <concealed by mcp-secrets>") == 1  # stderr, masked
    assert OLD not in log and NEW not in log
    actions = [json.loads(line)["action"] for line in audit_log.read_text().splitlines()]
    assert actions.count("resolve") == 1 and actions.count("inject") == 1  # no re-check noise
    assert OLD not in audit_log.read_text() and NEW not in audit_log.read_text()
