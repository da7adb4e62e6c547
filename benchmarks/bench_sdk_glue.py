"""Official-SDK glue benchmark: what `secrets_manager.initialize(mcp)` adds to a tool call on an
`MCPServer`, and what the one-liner (`requires_secret`) costs against the explicit style
(`retrieve_secret_with_permission` in the body). In process (`MCPServer.call_tool`, no
transport) with MCP_BYPASS_SECRET_USE_CONFIRM=true (no human), so the glue is what is
measured. One run; prints ratios measured in the same process, interleaved.

    .venv/bin/python benchmarks/bench_sdk_glue.py
"""

# No `from __future__ import annotations`: the tools below annotate with local names, which
# the SDK could not evaluate from strings.
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

CALLS = 2000
ROUNDS = 7


async def per_call(server: object, tool: str, args: dict[str, str]) -> float:
    call = server.call_tool  # type: ignore[attr-defined]
    start = time.perf_counter()
    for _ in range(CALLS):
        await call(tool, args)
    return (time.perf_counter() - start) / CALLS


def build(glue: bool) -> object:
    from mcp.server.mcpserver import Context, MCPServer

    from mcp_secrets.backends.memory import MemoryBackend
    from mcp_secrets.integrations.mcp_sdk import requires_secret
    from mcp_secrets.manager import MCPSecretsManager

    mcp = MCPServer(f"bench-{glue}")
    manager = MCPSecretsManager()
    manager.initialize(mcp if glue else mcp.name, backend=MemoryBackend())
    manager.store_secret("api_key", "sk-bench-value")

    @mcp.tool()
    async def plain(q: str) -> str:
        return q

    @mcp.tool()
    async def by_hand(q: str, ctx: Context) -> str:  # the explicit style, same checks
        key = await manager.retrieve_secret_with_permission("api_key", ctx)
        return f"{q} {len(key)}"

    @mcp.tool()
    async def one_liner(
        q: str, api_key: Annotated[str, requires_secret("api_key", manager=manager)]
    ) -> str:
        return f"{q} {len(api_key)}"

    return mcp


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-sdk-"))
    os.environ["MCP_SECRETS_STATE_DIR"] = str(tmp / "state")
    os.environ["MCP_BYPASS_SECRET_USE_CONFIRM"] = "true"  # no human in a benchmark
    servers = {"bare": build(False), "glue": build(True)}
    results: dict[str, float] = {}

    async def run() -> None:
        for _ in range(ROUNDS):
            for label, server in servers.items():
                for tool in ("plain", "by_hand", "one_liner"):
                    t = await per_call(server, tool, {"q": "x"})
                    key = f"{tool}, {label}"
                    results[key] = min(results.get(key, t), t)

    asyncio.run(run())
    print(f"load average {os.getloadavg()[0]:.1f}")
    for label, seconds in results.items():
        print(f"{label:<20} {seconds * 1e6:8.1f} us per call")
    plain = results["plain, glue"] / results["plain, bare"]
    print(f"plain tool, glue / bare:         {plain:.2f}x")
    print(f"one-liner / by hand (with glue): "
          f"{results['one_liner, glue'] / results['by_hand, glue']:.2f}x")


if __name__ == "__main__":
    main()
