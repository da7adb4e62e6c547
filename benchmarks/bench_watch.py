"""`mcp-secrets run --watch` across a rotation: tool calls per second through it, the longest
pause a client sees while the server is swapped, and the same client through plain `run`
(no watch) for comparison. One run, on the rig's real Secret Service, legacy (handshake) era.

    .venv/bin/python benchmarks/bench_watch.py
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

from _timing import REPO, keychain

SERVER = REPO / "tests" / "servers" / "echo_key_server.py"
SECONDS = 6.0


async def drive(watch: bool, server: str, rotate_at: float | None) -> tuple[int, float, float]:
    from fastmcp import Client
    from fastmcp.client.transports import StdioTransport

    exe = shutil.which("mcp-secrets", path=str(Path(sys.executable).parent))
    assert exe
    args = ["run", *(["--watch"] if watch else []), "--env",
            f"API_KEY=mcp-secrets://{server}/API_KEY", "--", sys.executable, str(SERVER)]
    env = {**os.environ, "MCP_SECRETS_WATCH_INTERVAL": "0.2"}
    latencies = []
    async with Client(StdioTransport(exe, args, env=env), mode="legacy") as client:
        await client.call_tool("ping", {})
        start = time.perf_counter()
        rotated = False
        while time.perf_counter() - start < SECONDS:
            if rotate_at is not None and not rotated and time.perf_counter() - start > rotate_at:
                subprocess.Popen([exe, "rotate", server, "API_KEY"], stdin=subprocess.PIPE,
                                 stdout=subprocess.DEVNULL, text=True).communicate("new-value-2")
                rotated = True
            t0 = time.perf_counter()
            await client.call_tool("key_fingerprint", {})
            latencies.append(time.perf_counter() - t0)
        elapsed = time.perf_counter() - start
    return len(latencies), len(latencies) / elapsed, max(latencies)


def main() -> None:
    with keychain():
        from mcp_secrets.storage import MCPSecretsStorage

        server = f"bench-{uuid.uuid4().hex[:6]}"
        MCPSecretsStorage(server).store_secret("API_KEY", "old-value-1")
        plain = asyncio.run(drive(False, server, None))
        steady = asyncio.run(drive(True, server, None))
        across = asyncio.run(drive(True, server, SECONDS / 3))
    for label, (n, rate, worst) in (("plain run", plain), ("run --watch, no rotation", steady),
                                    ("run --watch, one rotation", across)):
        print(f"{label:<28} {n:5d} calls  {rate:7.1f} calls/s  longest call {worst * 1000:7.1f} ms")
    print(f"--watch / plain throughput: {steady[1] / plain[1]:.2f}x; across a rotation: "
          f"{across[1] / plain[1]:.2f}x; longest pause across the rotation "
          f"{across[2] * 1000:.0f} ms (no failed call)")


if __name__ == "__main__":
    main()
