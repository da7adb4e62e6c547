"""Time from spawning the dialog to its window being mapped, against two baselines.

    .venv/bin/python benchmarks/bench_dialog.py [-n 15]

Baselines: a bare `python -c pass`, and `python -c "import tkinter; tkinter.Tk().destroy()"`
(the floor for any Tk program). Also compares the isolated start the launcher uses
(`python -I` plus a path bootstrap) with a plain `python -m mcp_secrets.dialog`. Starts its
own Xvfb when DISPLAY is unset. Prints medians in milliseconds and ratios; asserts nothing
(timings belong here, not in tests).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import uuid

from _timing import display, median_time, until_mapped


def _run(cmd: list[str]) -> None:
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)


def _time_dialog(cmd: list[str] | None = None) -> float:
    title = f"Bench {uuid.uuid4().hex[:8]}"
    template = {"title": title, "description": "Verification code: AB3F-9K2L",
                "fields": [{"name": "api_key", "label": "API Key", "field_type": "password",
                            "required": True}]}
    start = time.perf_counter()
    from mcp_secrets.dialog.launcher import builtin_command

    proc = subprocess.Popen(cmd or builtin_command(), stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(template).encode())
    proc.stdin.close()
    try:
        return until_mapped(title, proc, start)
    finally:
        proc.kill()
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=15, help="runs per measurement")
    args = parser.parse_args()
    with display() as where:
        py = sys.executable
        _time_dialog()  # warm the page cache and .pyc files
        bare = median_time(lambda: _run([py, "-c", "pass"]), args.n)
        tk = median_time(lambda: _run([py, "-c", "import tkinter; tkinter.Tk().destroy()"]),
                         args.n)
        dialog = statistics.median(_time_dialog() for _ in range(args.n))
        plain = statistics.median(_time_dialog([py, "-m", "mcp_secrets.dialog"])
                                  for _ in range(args.n))
        print(f"runs per measurement: {args.n}   display: {where}")
        print(f"python -c pass                    {bare * 1000:7.1f} ms")
        print(f"python: import tkinter; Tk()      {tk * 1000:7.1f} ms")
        print(f"dialog spawn -> window mapped     {dialog * 1000:7.1f} ms "
              "(includes xdotool polling)")
        print(f"ratio dialog / bare python        {dialog / bare:7.2f}x")
        print(f"ratio dialog / bare Tk            {dialog / tk:7.2f}x")
        print(f"plain python -m (not isolated)    {plain * 1000:7.1f} ms")
        print(f"ratio isolated / plain start      {dialog / plain:7.2f}x")


if __name__ == "__main__":
    main()
