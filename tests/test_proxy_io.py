"""The proxy's stdio wire (`proxy_io.serve_stdio`), under a real `fastmcp.Client` over pipes and
with stdin a plain file (the threaded fallback). The HTTP side is covered in test_proxy.py."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

from fastmcp import Client
from fastmcp.client.transports import StdioTransport

SERVER = Path(__file__).resolve().parent / "servers" / "stdio_threads_server.py"


def test_pipes_are_served_on_the_event_loop_without_worker_threads() -> None:
    big = "é" * 300_000  # one line past asyncio's default 64 KiB limit and a pipe's buffer

    async def go() -> tuple[list[str], int]:
        async with Client(StdioTransport(sys.executable, [str(SERVER)])) as c:
            names = (await c.call_tool("threads", {})).data
            return names, (await c.call_tool("length", {"text": big})).data

    names, length = asyncio.run(go())
    # The SDK's stdio server reads and writes through AnyIO worker threads: one is always
    # blocked on stdin. Served on the loop, none is needed.
    assert not [n for n in names if "AnyIO worker" in n], names
    assert length == len(big)


INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
              "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                         "clientInfo": {"name": "t", "version": "1"}}}


def test_stdin_that_is_a_file_is_still_served(tmp_path: Path) -> None:
    requests = tmp_path / "requests.jsonl"
    requests.write_text(json.dumps(INITIALIZE) + "\n")
    with requests.open("rb") as stdin:
        out = subprocess.run([sys.executable, str(SERVER)], stdin=stdin, capture_output=True,
                             timeout=60)
    answer = json.loads(out.stdout.decode().splitlines()[0])
    assert answer["id"] == 1 and answer["result"]["serverInfo"]["name"] == "threads", out


def test_stdout_shared_with_stderr_keeps_the_threaded_path() -> None:
    """Made non-blocking, a pipe shared with stderr would fail the log writes of a busy loop."""
    proc = subprocess.Popen([sys.executable, str(SERVER)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        for message in (INITIALIZE, {"jsonrpc": "2.0", "method": "notifications/initialized"},
                        {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                         "params": {"name": "threads", "arguments": {}}}):
            proc.stdin.write(json.dumps(message).encode() + b"\n")
            proc.stdin.flush()
        while True:
            line = proc.stdout.readline()
            assert line, "the server ended without answering"
            if line.startswith(b"{") and b'"id":2' in line.replace(b" ", b""):
                break
    finally:
        proc.kill()
        proc.wait()
    names = json.loads(line)["result"]["structuredContent"]["result"]
    assert [n for n in names if "AnyIO worker" in n], names
