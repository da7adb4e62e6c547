"""How fast is out-of-band collection, apart from the human?

Prints, from one run, on a private real Secret Service and Xvfb (started like the test rig):
- baseline: a bare tool call round trip (`ping`) over stdio, per era;
- time from the tool call that runs `fetch_secrets` to the REAL Tk dialog's window being
  mapped (xdotool --sync), per era, and as a multiple of the baseline;
- the flow's overhead beyond the human: total call time minus the time the (scripted) human
  spent, with a FAKE dialog whose "typing" is a gate file, per era.

Run: .venv/bin/python benchmarks/bench_flow.py
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from _timing import REPO, display, keychain

from tests import dialog_driver

SERVER = REPO / "tests" / "servers" / "secrets_server.py"
FAKE = REPO / "tests" / "fake_dialog.py"
HUMAN_SECONDS = 0.5
ROUNDS = 5


async def measure(mode: str) -> dict[str, float]:
    from fastmcp import Client
    from fastmcp.client.transports import StdioTransport

    from mcp_secrets.manager import MCPSecretsManager

    tmp = Path(tempfile.mkdtemp(prefix="bench-flow-"))
    server = f"bench-{uuid.uuid4().hex[:8]}"
    (tmp / "values.json").write_text(json.dumps({"api_key": "bench-value"}))
    base_env = {**os.environ, "SERVER_NAME": server}
    manager = MCPSecretsManager(server)
    out: dict[str, float] = {}

    # 1. Baseline: bare round trips on one connection.
    async with Client(StdioTransport(sys.executable, [str(SERVER)], env=base_env),
                      mode=mode) as c:
        await c.call_tool("ping", {})
        pings = []
        for _ in range(20):
            t0 = time.perf_counter()
            await c.call_tool("ping", {})
            pings.append(time.perf_counter() - t0)
    out["ping"] = statistics.median(pings)

    # 2. Call -> real Tk window mapped (the human then cancels in the client).
    mapped: list[float] = []
    title = f"MCP Secrets for {server}"
    seen = asyncio.Event()  # the human declines only once the window was measured

    async def decline(message: str, rtype: Any, params: Any, ctx: Any) -> Any:
        from fastmcp.client.elicitation import ElicitResult

        await seen.wait()  # looks at the window, then says no
        return ElicitResult(action="decline")

    async with Client(StdioTransport(sys.executable, [str(SERVER)], env=base_env),
                      mode=mode, elicitation_handler=decline) as c:
        for _ in range(ROUNDS):
            seen.clear()
            t0 = time.perf_counter()
            call = asyncio.ensure_future(c.call_tool("fetch_only", {}))
            # `xdotool search --sync` polls every 0.5 s; poll every few ms ourselves so the
            # figure is the flow's, not xdotool's.
            while not await asyncio.to_thread(dialog_driver.window_exists, title):
                if call.done() or time.perf_counter() - t0 > 30:
                    text = (await call).content[0].text if call.done() else "timeout"
                    raise SystemExit(f"round {len(mapped)}: no dialog window: {text}")
            mapped.append(time.perf_counter() - t0)
            seen.set()
            await call
            while dialog_driver.window_exists(title):
                await asyncio.sleep(0.05)
    out["window"] = statistics.median(mapped)

    # 3. Overhead beyond the human, with the fake dialog and a scripted human.
    totals, humans = [], []
    for i in range(ROUNDS):
        gate = tmp / f"gate{i}"
        env = {**base_env, "MCP_SECRETS_DIALOG": f"{sys.executable} {FAKE}",
               "FAKE_DIALOG_VALUES": str(tmp / "values.json"), "FAKE_DIALOG_GATE": str(gate),
               "MCP_BYPASS_SECRET_USE_CONFIRM": "true"}
        spent = 0.0

        async def human(message: str, rtype: Any, params: Any, ctx: Any,
                        gate: Path = gate) -> Any:
            nonlocal spent
            t0 = time.perf_counter()
            await asyncio.sleep(HUMAN_SECONDS)  # reads the code, types the key
            gate.touch()
            spent += time.perf_counter() - t0
            return {"value": "Continue"}

        async with Client(StdioTransport(sys.executable, [str(SERVER)], env=env),
                          mode=mode, elicitation_handler=human) as c:
            await c.call_tool("ping", {})
            manager.clear_secrets()
            t0 = time.perf_counter()
            res = await c.call_tool("secure_api_request", {})
            totals.append(time.perf_counter() - t0)
            humans.append(spent)
            assert "Making API request" in res.content[0].text, res
    manager.clear_secrets()
    out["total"] = statistics.median(totals)
    out["overhead"] = statistics.median(t - h for t, h in zip(totals, humans, strict=True))
    return out


def main() -> None:
    with keychain(), display(private=True):
        for mode in sys.argv[1:] or ("legacy", "2026-07-28"):
            r = asyncio.run(measure(mode))
            print(f"[{mode}]")
            print(f"  baseline ping round trip       {r['ping'] * 1000:8.1f} ms")
            print(f"  call -> Tk window mapped       {r['window'] * 1000:8.1f} ms"
                  f"  ({r['window'] / r['ping']:.0f}x baseline)")
            print(f"  seed tool, total (human {HUMAN_SECONDS:.1f} s) {r['total'] * 1000:8.1f} ms")
            print(f"  overhead beyond the human      {r['overhead'] * 1000:8.1f} ms"
                  f"  ({r['overhead'] / r['ping']:.0f}x baseline)")


if __name__ == "__main__":
    main()
