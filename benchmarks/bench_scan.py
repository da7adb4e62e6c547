"""Scan benchmark: `scan` over every known location with 50 servers configured across all
clients, in a private HOME. Prints time and peak memory, and the ratio against the obvious
alternative measured in the same run: detect-secrets scanning the same files.

    .venv/bin/python benchmarks/bench_scan.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from _timing import median_time

SERVERS = 50


def populate(home: Path, project: Path) -> list[Path]:
    """The test suite's configs for every client, then more servers until there are 50."""
    from tests.mcp_configs import write_all

    planted = write_all(home, project)
    files = sorted(set(planted.files.values()))
    count = sum(1 for f in files for _ in _entries(f))
    extra = home / ".cursor" / "mcp.json"
    data = json.loads(extra.read_text())
    i = 0
    while count < SERVERS:
        data["mcpServers"][f"extra-{i}"] = {
            "command": "npx", "args": ["-y", f"@example/server-{i}"],
            "env": {"API_KEY": f"sk-ant-api03-{os.urandom(40).hex()}AA", "LOG_LEVEL": "info",
                    "PORT": str(3000 + i), "BASE_URL": "https://api.example.com/v1"}}
        i += 1
        count += 1
    extra.write_text(json.dumps(data, indent=2))
    return files


def _entries(path: Path) -> list[object]:
    from mcp_secrets.clients import for_path
    from mcp_secrets.configs import load

    return list(load(path, for_path(path)).entries)


def measure(call: Callable[[], object], runs: int = 15) -> tuple[float, float]:
    """(median seconds, peak MiB under tracemalloc) of calling call()."""
    call()
    median = median_time(call, runs)
    tracemalloc.start()
    call()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return median, peak


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-scan-"))
    home, project = root / "home", root / "project"
    home.mkdir()
    project.mkdir()
    os.environ.update({"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")})
    files = populate(home, project)
    os.chdir(project)

    from mcp_secrets.scan import scan

    result = scan()
    servers = sum(len(d.entries) for d in result.documents)
    ours, ours_peak = measure(lambda: scan())

    from detect_secrets import SecretsCollection
    from detect_secrets.settings import default_settings

    all_files = [str(d.path) for d in result.documents]

    def detect_secrets_scan() -> None:
        with default_settings():
            coll = SecretsCollection()
            for f in all_files:
                coll.scan_file(f)

    theirs, theirs_peak = measure(detect_secrets_scan, runs=5)

    exe = Path(sys.executable).parent / "mcp-secrets"
    cold = median_time(lambda: subprocess.run([str(exe), "scan", "--json"],
                                              capture_output=True, check=False), 5)

    clients = len({d.client for d in result.documents})
    print(f"scan over {len(result.documents)} config files of {clients} clients, {servers} "
          f"servers, {len(result.findings)} findings "
          f"({len(files)} files from the test fixtures)")
    print(f"  mcp-secrets scan (in-process, warm): {ours * 1e3:8.2f} ms   peak "
          f"{ours_peak:6.2f} MiB")
    print(f"  detect-secrets on the same files:    {theirs * 1e3:8.2f} ms   peak "
          f"{theirs_peak:6.2f} MiB")
    print(f"  ratio ours/detect-secrets: time {ours / theirs:.2f}x, peak memory "
          f"{ours_peak / theirs_peak:.2f}x")
    import resource

    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"  `mcp-secrets scan --json` as a command (cold start included): "
          f"{cold * 1e3:.0f} ms, peak RSS {rss:.0f} MiB")


if __name__ == "__main__":
    main()
