"""Spawn-to-window time of the zenity dialog, against bare zenity and against the Tk dialog.

    .venv/bin/python benchmarks/bench_native_dialog.py [-n 9]

What the zenity fallback costs over zenity itself is our Python start, template validation and
the kind selection (which imports tkinter to see whether it works). Starts its own Xvfb when
DISPLAY is unset. Prints medians in milliseconds and ratios; asserts nothing.
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
from collections.abc import Callable

from _timing import display, until_mapped


def _time_window(start_proc: Callable[[str], subprocess.Popen[bytes]]) -> float:
    title = f"Bench {uuid.uuid4().hex[:8]}"
    start = time.perf_counter()
    proc = start_proc(title)
    try:
        return until_mapped(title, proc, start)
    finally:
        proc.kill()  # the dialog's zenity dies with it (PR_SET_PDEATHSIG)
        proc.wait()


def _dialog(kind: str) -> Callable[[str], subprocess.Popen[bytes]]:
    def start(title: str) -> subprocess.Popen[bytes]:
        template = {"title": title, "description": "Verification code: AB3F-9K2L",
                    "fields": [{"name": "api_key", "label": "API Key",
                                "field_type": "password", "required": True}]}
        proc = subprocess.Popen([sys.executable, "-m", "mcp_secrets.dialog"],
                                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL,
                                env=dict(os.environ, MCP_SECRETS_DIALOG_KIND=kind))
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(template).encode())
        proc.stdin.close()
        return proc
    return start


def _bare_zenity(title: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["zenity", "--forms", f"--title={title}", "--text=AB3F-9K2L",
                             "--add-password=API Key"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=9, help="runs per measurement")
    args = parser.parse_args()
    with display() as where:
        _time_window(_dialog("zenity"))  # warm the page cache and .pyc files
        bare = statistics.median(_time_window(_bare_zenity) for _ in range(args.n))
        ours = statistics.median(_time_window(_dialog("zenity")) for _ in range(args.n))
        tk = statistics.median(_time_window(_dialog("tk")) for _ in range(args.n))
        print(f"runs per measurement: {args.n}   display: {where}")
        print(f"bare zenity --forms -> mapped      {bare * 1000:7.1f} ms")
        print(f"zenity dialog -> mapped            {ours * 1000:7.1f} ms")
        print(f"Tk dialog -> mapped                {tk * 1000:7.1f} ms")
        print(f"ratio zenity dialog / bare zenity  {ours / bare:7.2f}x")
        print(f"ratio zenity dialog / Tk dialog    {ours / tk:7.2f}x")


if __name__ == "__main__":
    main()
