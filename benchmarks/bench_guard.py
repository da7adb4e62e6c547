"""What the output guard costs per tool call: a FastMCP tool-call round trip (in-process client,
the same server and middleware) with the guard on against the guard off, in one run.

    .venv/bin/python benchmarks/bench_guard.py

Three results: a one-word answer, a typical ~2 KB structured answer holding no secret (the
common case: every string is searched, nothing is copied), and the same answer holding the
secret in every item (masked copies are made). The store is the in-memory one: the guard never
touches the store on a call, so a keychain would only add noise. Also printed: `guard.mask()`
alone on the typical result, and the load average (the machine is shared).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SECRET = "sk-bench-0123456789abcdefghijklmnopqrstuvwxyz"
CALLS = 100
ROUNDS = 25


def typical(with_secret: bool) -> dict[str, Any]:
    token = SECRET if with_secret else "no-secret-here"
    return {"items": [{"id": i, "name": f"item {i}", "note": f"Bearer {token} for item {i}",
                       "tags": ["alpha", "beta", "gamma"]} for i in range(20)]}


async def measure() -> None:
    from fastmcp import Client, FastMCP

    from mcp_secrets import guard
    from mcp_secrets.backends.memory import MemoryBackend
    from mcp_secrets.manager import MCPSecretsManager

    server = FastMCP("bench-guard")
    manager = MCPSecretsManager()
    manager.initialize(server, backend=MemoryBackend())
    manager.store_secret("api_key", SECRET)  # now known to the guard, as after a tool's read

    @server.tool
    def small() -> str:
        return "pong"

    @server.tool
    def clean() -> dict[str, Any]:
        return typical(False)

    @server.tool
    def leaky() -> dict[str, Any]:
        return typical(True)

    async with Client(server) as client:
        async def per_call(tool: str) -> float:
            start = time.perf_counter()
            for _ in range(CALLS):
                await client.call_tool(tool, {})
            return (time.perf_counter() - start) / CALLS

        for tool in ("small", "clean", "leaky"):  # warm up
            await per_call(tool)
        results: dict[tuple[str, bool], list[float]] = {}
        for r in range(ROUNDS):  # interleaved, order flipped: a noisy neighbour hits both alike
            for tool in ("small", "clean", "leaky"):
                for on in ((False, True) if r % 2 else (True, False)):
                    (guard.enable if on else guard.disable)()
                    results.setdefault((tool, on), []).append(await per_call(tool))
        guard.enable()
        check = await client.call_tool("leaky", {})
        assert SECRET not in str(check.structured_content), "the guard did not mask"

    print(f"tool-call round trip, in-process fastmcp.Client, best of {ROUNDS} rounds x "
          f"{CALLS} calls (load average {os.getloadavg()[0]:.1f})")
    for tool, what in (("small", "one-word text"), ("clean", "2 KB structured, no secret"),
                       ("leaky", "2 KB structured, secret x20")):
        off = min(results[(tool, False)])
        on = min(results[(tool, True)])
        print(f"  {what:28} off {off * 1e6:7.1f} us  on {on * 1e6:7.1f} us  "
              f"{on / off:.3f}x  (+{(on - off) * 1e6:.1f} us per call)")

    import mcp_types as mt

    guard.enable()
    for with_secret in (False, True):
        data = typical(with_secret)
        result = mt.CallToolResult(content=[mt.TextContent(type="text", text=str(data))],
                                   structured_content=data)
        n = 2000
        start = time.perf_counter()
        for _ in range(n):
            guard.mask(result)
        label = "secret x20" if with_secret else "no secret"
        print(f"  guard.mask() alone on the 2 KB result ({label}): "
              f"{(time.perf_counter() - start) / n * 1e6:.1f} us")


if __name__ == "__main__":
    asyncio.run(measure())
