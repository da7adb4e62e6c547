"""A real MCP client that is killed mid-dialog (test_mcp_e2e): it calls `fetch_only` on the
test server, prints PROMPTED when the Continue/Cancel question arrives, and then never
answers (on 2026-07-28 it answers Continue, which opens the window, and its retry waits), so
the test can SIGKILL it while the credential dialog is open.

usage: doomed_client.py <mode> <server.py>   (the server inherits this process's environment)
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from fastmcp import Client
from fastmcp.client.transports import StdioTransport


async def main(mode: str, server: str) -> None:
    async def handler(message: str, response_type: Any, params: Any, context: Any) -> Any:
        sys.stdout.write("PROMPTED\n")
        sys.stdout.flush()
        if mode != "legacy":  # 2026-07-28: the window opens once Continue is chosen
            return {"value": "Continue"}
        await asyncio.sleep(3600)  # the human walked away; the test kills us here

    transport = StdioTransport(sys.executable, [server], env=dict(os.environ))
    async with Client(transport, mode=mode, elicitation_handler=handler) as client:
        await client.call_tool("fetch_only", {})


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
