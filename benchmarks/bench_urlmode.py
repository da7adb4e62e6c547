"""Time from a tool call to the URL-mode page being served, against a plain tool call.

    .venv/bin/python benchmarks/bench_urlmode.py [-n 20]

One real server subprocess (tests/servers/url_server.py: no display, memory store) and a real
`fastmcp.Client` over stdio, on both protocol eras. For each call of `fetch_key` the clock runs
from `call_tool` until the client's elicitation handler has the URL and a GET of it returned
200 (the human could start typing); the handler then declines, so the next call serves a fresh
page. The baseline is a tool that returns at once (`stored`), called on the same connection.
Prints medians in milliseconds and the ratio; asserts nothing (timings belong here, not in
tests). The window's equivalent (spawn to window mapped) is benchmarks/bench_dialog.py.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SERVER = REPO / "tests" / "servers" / "url_server.py"


async def _bench(mode: str, n: int, tmp: Path) -> tuple[list[float], list[float], list[float]]:
    from fastmcp import Client
    from fastmcp.client.elicitation import ElicitResult
    from fastmcp.client.transports import StdioTransport

    from tests.plain_http import request

    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update({"SERVER_NAME": f"bench-{uuid.uuid4().hex[:8]}", "MCP_SECRETS_BACKEND": "memory",
                "MCP_SECRETS_STATE_DIR": str(tmp / "state"), "MCP_SECRETS_AUDIT": "false"})
    served: list[float] = []
    start = 0.0

    async def handler(message: str, response_type: Any, params: Any, context: Any) -> Any:
        status, _ = await asyncio.to_thread(request, params.url)
        if status != 200:
            raise RuntimeError(f"the page answered {status}")
        served.append(time.perf_counter() - start)
        return ElicitResult(action="decline")

    transport = StdioTransport(sys.executable, [str(SERVER)], env=env,
                               log_file=tmp / f"server-{mode}.log")
    plain: list[float] = []
    whole: list[float] = []
    async with Client(transport, mode=mode, elicitation_handler=handler) as client:
        await client.call_tool("stored", {})  # warm-up: imports, first store access
        await client.call_tool("fetch_key", {})
        served.clear()
        for _ in range(n):
            t0 = time.perf_counter()
            await client.call_tool("stored", {})
            plain.append(time.perf_counter() - t0)
            start = time.perf_counter()
            result = await client.call_tool("fetch_key", {})
            whole.append(time.perf_counter() - start)
            assert "declined" in result.content[0].text, result.content[0].text
    return plain, served, whole


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20)
    args = parser.parse_args()
    print(f"load average: {os.getloadavg()[0]:.2f} (2 cores shared)")
    with tempfile.TemporaryDirectory() as tmpdir:
        for mode in ("legacy", "2026-07-28"):
            plain, served, whole = asyncio.run(_bench(mode, args.n, Path(tmpdir)))
            p, s, w = (statistics.median(x) * 1000 for x in (plain, served, whole))
            print(f"{mode:>10}: plain tool call {p:6.1f} ms | call -> page served {s:6.1f} ms "
                  f"({s / p:4.1f}x) | whole call, declined {w:6.1f} ms  (median of {args.n})")


if __name__ == "__main__":
    main()
