"""Tool-call round trip through `mcp-secrets proxy` (stdio → proxy → streamable HTTP) against the
same call made directly over HTTP to the remote server, both in one run. Target: ≤ 1.3×.

    .venv/bin/python benchmarks/bench_proxy.py [N]

Needs a Secret Service (the test rig's, or your desktop's): it stores the token under a
throwaway server name and deletes it afterwards.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from fastmcp import Client
from fastmcp.client.transports import StdioTransport, StreamableHttpTransport

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mcp_secrets.storage import MCPSecretsStorage
from tests.test_proxy import start_remote


async def timed(client: Client, mode: str, n: int) -> list[float]:
    samples = []
    async with client:
        await client.call_tool("add", {"a": 1, "b": 1})  # warm up
        for i in range(n):
            t0 = time.perf_counter()
            assert (await client.call_tool("add", {"a": i, "b": 1})).data == i + 1
            samples.append(time.perf_counter() - t0)
    return samples


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    token = f"bench-{uuid.uuid4().hex}"
    server = f"bench-proxy-{uuid.uuid4().hex[:8]}"
    store = MCPSecretsStorage(server)
    store.store_secret("token", token)
    remote = start_remote(Path(tempfile.mkdtemp()), token)
    try:
        for mode in ("legacy", "2026-07-28"):
            direct = Client(StreamableHttpTransport(remote.url, auth=token), mode=mode)
            proxied = Client(StdioTransport(
                sys.executable, ["-m", "mcp_secrets.cli", "proxy", remote.url,
                                 "--bearer", f"mcp-secrets://{server}/token"],
                env=dict(os.environ)), mode=mode)
            d = statistics.median(asyncio.run(timed(direct, mode, n)))
            p = statistics.median(asyncio.run(timed(proxied, mode, n)))
            print(f"{mode:>10}: direct HTTP {d * 1000:7.2f} ms   through proxy {p * 1000:7.2f} ms"
                  f"   ratio {p / d:5.2f}x  (median of {n})")
    finally:
        remote.stop()
        store.clear_secrets()


if __name__ == "__main__":
    main()
