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
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _time_cmd(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)
    return time.perf_counter() - start


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
        # `--sync` polls every 0.5 s; poll faster ourselves so we measure the dialog, not xdotool.
        while True:
            r = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", title],
                               capture_output=True, timeout=30)
            if r.returncode == 0 and r.stdout.strip():
                break
            if proc.poll() is not None or time.perf_counter() - start > 30:
                raise RuntimeError("the dialog never mapped a window")
        return time.perf_counter() - start
    finally:
        proc.kill()
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=15, help="runs per measurement")
    args = parser.parse_args()
    xvfb = None
    if not os.environ.get("DISPLAY"):
        from tests import rig

        xvfb = rig.start_xvfb()
        os.environ.update(xvfb.env)
    try:
        py = sys.executable
        _time_dialog()  # warm the page cache and .pyc files
        bare = statistics.median(_time_cmd([py, "-c", "pass"]) for _ in range(args.n))
        tk = statistics.median(
            _time_cmd([py, "-c", "import tkinter; tkinter.Tk().destroy()"]) for _ in range(args.n)
        )
        dialog = statistics.median(_time_dialog() for _ in range(args.n))
        plain = statistics.median(_time_dialog([py, "-m", "mcp_secrets.dialog"])
                                  for _ in range(args.n))
        print(f"runs per measurement: {args.n}   display: {os.environ['DISPLAY']}")
        print(f"python -c pass                    {bare * 1000:7.1f} ms")
        print(f"python: import tkinter; Tk()      {tk * 1000:7.1f} ms")
        print(f"dialog spawn -> window mapped     {dialog * 1000:7.1f} ms "
              "(includes xdotool polling)")
        print(f"ratio dialog / bare python        {dialog / bare:7.2f}x")
        print(f"ratio dialog / bare Tk            {dialog / tk:7.2f}x")
        print(f"plain python -m (not isolated)    {plain * 1000:7.1f} ms")
        print(f"ratio isolated / plain start      {dialog / plain:7.2f}x")
    finally:
        if xvfb is not None:
            xvfb.stop()


if __name__ == "__main__":
    main()
