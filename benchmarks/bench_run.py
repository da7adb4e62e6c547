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
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from _timing import REPO, interleaved, keychain, load

SERVER = REPO / "tests" / "servers" / "echo_key_server.py"
_SCRIPT = Path(sys.executable).with_name("mcp-secrets")
CLI = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "mcp_secrets.cli"]
STARTS = 21
PINGS = 300

KEYRING_SCRIPT = """\
import os, sys, keyring
os.execvpe("true", ["true"], {**os.environ, "K": keyring.get_password(sys.argv[1], "k")})
"""


def compile_like_an_install() -> None:
    """Like an installed package (pip compiles bytecode; keyring's is in site-packages), not a
    checkout run with PYTHONDONTWRITEBYTECODE: that would compile our modules on every start."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "src")], check=True)


def timed(argv: Sequence[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process and its children): CPU time barely moves
    when other jobs load the machine; wall time does."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(argv, check=True)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def startup(server: str) -> dict[str, tuple[float, float]]:
    script = Path(tempfile.mkdtemp(prefix="bench-run-")) / "keyring_exec.py"
    script.write_text(KEYRING_SCRIPT)
    ref = f"K=mcp-secrets://{server}/k"
    cases = {
        "keyring script": [sys.executable, str(script), f"com.mcp.{server}"],
        "run (masking)": [*CLI, "run", "--env", ref, "--", "true"],
        "run --no-masking": [*CLI, "run", "--no-masking", "--env", ref, "--", "true"],
        "python -c pass": [sys.executable, "-c", "pass"],
    }
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
    for argv in cases.values():  # warm the page cache and .pyc files
        timed(argv)
    for _ in range(STARTS):
        for name, argv in cases.items():  # interleaved: load changes hit every case alike
            times[name].append(timed(argv))
    return {name: (statistics.median(w for w, _ in t), statistics.median(c for _, c in t))
            for name, t in times.items()}


async def interleaved_pings(launches: dict[str, tuple[str, list[str]]]) -> dict[str, float]:
    """One client per launch, all connected at once, pinged in turn: a burst of load on the
    machine slows every launch alike instead of whichever session happened to run then."""
    from contextlib import AsyncExitStack

    from fastmcp import Client
    from fastmcp.client.transports import StdioTransport

    logs = Path(tempfile.mkdtemp(prefix="bench-run-"))
    async with AsyncExitStack() as stack:
        clients = {}
        for i, (name, (command, args)) in enumerate(launches.items()):
            transport = StdioTransport(command, args, env=dict(os.environ),
                                       log_file=logs / f"server{i}.log")  # the banner
            clients[name] = await stack.enter_async_context(Client(transport, mode="legacy"))
        samples = await interleaved(clients, lambda c: c.call_tool("ping", {}), PINGS)
    return {name: statistics.median(t) for name, t in samples.items()}


def round_trips(server: str) -> dict[str, float]:
    ref = f"API_KEY=mcp-secrets://{server}/k"
    server_cmd = [sys.executable, str(SERVER)]
    return asyncio.run(interleaved_pings({
        "direct": (sys.executable, [str(SERVER)]),
        "run (masking)": (CLI[0], [*CLI[1:], "run", "--env", ref, "--", *server_cmd]),
        "run --no-masking": (CLI[0], [*CLI[1:], "run", "--no-masking", "--env", ref, "--",
                                      *server_cmd]),
    }))


def main() -> None:
    compile_like_an_install()
    with keychain():
        from mcp_secrets.storage import MCPSecretsStorage

        server = f"bench-{uuid.uuid4().hex[:8]}"
        MCPSecretsStorage(server).store_secret("k", f"bench-value-{uuid.uuid4().hex}")
        s = startup(server)
        wall0, cpu0 = s["keyring script"]
        print(f"start-up, median of {STARTS} interleaved runs ({load()})")
        for name, (wall, cpu) in s.items():
            print(f"  {name:<18} wall {wall * 1000:7.1f} ms {wall / wall0:5.2f}x   "
                  f"CPU {cpu * 1000:7.1f} ms {cpu / cpu0:5.2f}x the keyring script")
        r = round_trips(server)
        print(f"tool-call round trip (ping), median of {PINGS}, three clients pinged in turn")
        for name, t in r.items():
            print(f"  {name:<18} {t * 1000:7.3f} ms  {t / r['direct']:5.2f}x direct")


if __name__ == "__main__":
    main()
