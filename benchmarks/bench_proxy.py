"""Tool-call round trip through `mcp-secrets proxy` (stdio → proxy → streamable HTTP) against the
same call made directly over HTTP to the remote server, both in one run. Target: ≤ 1.3×.

    .venv/bin/python benchmarks/bench_proxy.py [N]

Fair by construction: the same `fastmcp.Client` code on both sides, both connected at once and
warmed up, then taking turns call by call (a burst of load on the shared machine slows both
alike), N counted calls each, medians. Also printed: the proxy process's CPU time per call, which
moves far less than wall time when other jobs load the machine. Runs on a private real
gnome-keyring (the test rig's), where the token is stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from _timing import interleaved, keychain, load


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child_pids() -> set[int]:
    pids = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == os.getpid():
                pids.add(int(stat.parent.name))
    return pids


async def measure(url: str, token: str, ref: str, mode: str,
                  n: int) -> tuple[dict[str, list[float]], float]:
    from fastmcp import Client
    from fastmcp.client.transports import StdioTransport, StreamableHttpTransport

    before = child_pids()
    async with contextlib.AsyncExitStack() as stack:
        clients: dict[str, Any] = {
            "direct": await stack.enter_async_context(
                Client(StreamableHttpTransport(url, auth=token), mode=mode)),
            "proxy": await stack.enter_async_context(Client(StdioTransport(
                sys.executable, ["-m", "mcp_secrets.cli", "proxy", url, "--bearer", ref],
                env=dict(os.environ)), mode=mode)),
        }
        (proxy_pid,) = child_pids() - before
        counter = iter(range(10**9))

        async def call(client: Any) -> None:
            i = next(counter)
            assert (await client.call_tool("add", {"a": i, "b": 1})).data == i + 1

        await interleaved(clients, call, 0)  # warm up: on 2026-07-28 the first call opens the
        cpu0 = cpu_seconds(proxy_pid)          # backend session (imports, keychain read)
        samples = await interleaved(clients, call, n, warmup=0)
        cpu = (cpu_seconds(proxy_pid) - cpu0) / n
    return samples, cpu


def main() -> None:
    from tests.test_proxy import start_remote

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    with keychain():
        from mcp_secrets.storage import MCPSecretsStorage

        token = f"bench-{uuid.uuid4().hex}"
        server = f"bench-proxy-{uuid.uuid4().hex[:8]}"
        MCPSecretsStorage(server).store_secret("token", token)
        remote = start_remote(Path(tempfile.mkdtemp()), token)
        try:
            print(f"tool call `add`, median of {n} each, direct and proxied in turn ({load()})")
            for mode in ("legacy", "2026-07-28"):
                samples, cpu = asyncio.run(measure(remote.url, token,
                                                   f"mcp-secrets://{server}/token", mode, n))
                d, p = (statistics.median(samples[k]) for k in ("direct", "proxy"))
                print(f"{mode:>10}: direct HTTP {d * 1000:6.2f} ms   through proxy "
                      f"{p * 1000:6.2f} ms   ratio {p / d:4.2f}x   proxy CPU "
                      f"{cpu * 1000:5.2f} ms/call")
        finally:
            remote.stop()
    print(f"after: {load()}")


if __name__ == "__main__":
    main()
