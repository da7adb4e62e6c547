"""What does `mcp-secrets run` cost a server launch, and each message after it?

Prints, from one run, on a private real Secret Service (started like the test rig):
- start-up: `mcp-secrets run --env K=mcp-secrets://s/k -- true` (masking on, and --no-masking)
  against the shortest Python script doing the same job with `keyring` (read one secret, exec
  `true`); medians of interleaved runs, and the ratio (target <= 0.5x);
- round trip: a tool call `ping` over stdio from a real fastmcp Client to a FastMCP server
  launched through `run` (masking on, and --no-masking) against the same server launched
  directly (targets <= 1.3x and about 1.0x).

Run: .venv/bin/python benchmarks/bench_run.py
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests import rig  # noqa: E402

SERVER = REPO / "tests" / "servers" / "echo_key_server.py"
_SCRIPT = Path(sys.executable).with_name("mcp-secrets")
CLI = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "mcp_secrets.cli"]
STARTS = 21
PINGS = 300

KEYRING_SCRIPT = """\
import os, sys, keyring
os.execvpe("true", ["true"], {**os.environ, "K": keyring.get_password(sys.argv[1], "k")})
"""


def start_rig() -> list[rig.Component]:
    # Like an installed package (pip compiles bytecode; keyring's is in site-packages), not a
    # checkout run with PYTHONDONTWRITEBYTECODE: that would compile our modules on every start.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "src")], check=True)
    home = rig.private_home()
    os.environ.update(home)
    comps = [rig.start_secret_service(home)]
    for c in comps:
        os.environ.update(c.env)
    return comps


def timed(argv: Sequence[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, check=True)
    return time.perf_counter() - t0


def startup(server: str) -> dict[str, float]:
    script = Path(tempfile.mkdtemp(prefix="bench-run-")) / "keyring_exec.py"
    script.write_text(KEYRING_SCRIPT)
    ref = f"K=mcp-secrets://{server}/k"
    cases = {
        "keyring script": [sys.executable, str(script), f"com.mcp.{server}"],
        "run (masking)": [*CLI, "run", "--env", ref, "--", "true"],
        "run --no-masking": [*CLI, "run", "--no-masking", "--env", ref, "--", "true"],
        "python -c pass": [sys.executable, "-c", "pass"],
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for argv in cases.values():  # warm the page cache and .pyc files
        timed(argv)
    for _ in range(STARTS):
        for name, argv in cases.items():  # interleaved: load changes hit every case alike
            times[name].append(timed(argv))
    return {name: statistics.median(t) for name, t in times.items()}


async def pings(command: str, args: list[str]) -> float:
    from fastmcp import Client
    from fastmcp.client.transports import StdioTransport

    log = Path(tempfile.mkdtemp(prefix="bench-run-")) / "server.log"  # the server's banner
    transport = StdioTransport(command, args, env=dict(os.environ), log_file=log)
    async with Client(transport, mode="legacy") as client:
        for _ in range(20):
            await client.call_tool("ping", {})
        samples = []
        for _ in range(PINGS):
            t0 = time.perf_counter()
            await client.call_tool("ping", {})
            samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def round_trips(server: str) -> dict[str, float]:
    ref = f"API_KEY=mcp-secrets://{server}/k"
    direct = (sys.executable, [str(SERVER)])
    masked = (CLI[0], [*CLI[1:], "run", "--env", ref, "--", sys.executable, str(SERVER)])
    plain = (CLI[0], [*CLI[1:], "run", "--no-masking", "--env", ref, "--", sys.executable,
                      str(SERVER)])
    out: dict[str, list[float]] = {"direct": [], "run (masking)": [], "run --no-masking": []}
    for _ in range(3):  # alternate whole sessions, keep the best median of each
        for name, (cmd, args) in zip(out, (direct, masked, plain), strict=True):
            out[name].append(asyncio.run(pings(cmd, args)))
    return {name: min(v) for name, v in out.items()}


def main() -> None:
    comps = start_rig()
    try:
        from mcp_secrets.storage import MCPSecretsStorage

        server = f"bench-{uuid.uuid4().hex[:8]}"
        MCPSecretsStorage(server).store_secret("k", f"bench-value-{uuid.uuid4().hex}")
        s = startup(server)
        base = s["keyring script"]
        print(f"start-up, median of {STARTS} interleaved runs")
        for name, t in s.items():
            print(f"  {name:<18} {t * 1000:7.1f} ms  {t / base:5.2f}x the keyring script")
        r = round_trips(server)
        print(f"tool-call round trip (ping), median of {PINGS}, best of 3 sessions")
        for name, t in r.items():
            print(f"  {name:<18} {t * 1000:7.3f} ms  {t / r['direct']:5.2f}x direct")
    finally:
        for c in reversed(comps):
            c.stop()


if __name__ == "__main__":
    main()
