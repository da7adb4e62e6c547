"""A FAKE credential dialog: speaks the dialog protocol (template on stdin, JSON on stdout,
exit 0/1/2) without a window, so the many MCP flow tests run fast. The real Tk dialog is
driven with xdotool in the e2e tests marked `display`; this stands in for it elsewhere.

Selected with MCP_SECRETS_DIALOG="python tests/fake_dialog.py". Behaviour comes from the
environment (never a value: values come from a file, as a human's typing would):

- FAKE_DIALOG_RECORD: a directory; on start the fake writes `<pid>.json` holding its pid, its
  parent's pid (the server) and the template it received (templates carry no secrets), so
  tests can compare codes and check the pid is gone afterwards.
- FAKE_DIALOG_MODE: submit (default) | cancel | hang | stubborn (ignores SIGTERM) |
  family (starts a grandchild, records its pid, hangs) | nodisplay (exit 3) |
  error-mentioning-display (exit 2 whose reason says "display") | garbage | extra |
  flood (8 MiB on stdout).
- FAKE_DIALOG_VALUES: a JSON file of {field: value} to "type" on submit.
- FAKE_DIALOG_GATE: a path; submit waits until it exists (the human pressing Enter).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def _record(extra: dict[str, object]) -> None:
    directory = os.environ.get("FAKE_DIALOG_RECORD")
    if not directory:
        return
    path = Path(directory) / f"{os.getpid()}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"pid": os.getpid(), **extra}))
    tmp.replace(path)


def _hang() -> None:
    while True:
        time.sleep(3600)


def main() -> int:
    template = json.loads(sys.stdin.read())
    mode = os.environ.get("FAKE_DIALOG_MODE", "submit")
    record: dict[str, object] = {"template": template, "mode": mode, "ppid": os.getppid()}
    if mode == "family":
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
        record["grandchild"] = child.pid
    if mode == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _record(record)
    if mode == "nodisplay":
        sys.stderr.write("error: no window can be shown here (fake)\n")
        return 3
    if mode == "error-mentioning-display":
        sys.stderr.write("error: bad template: field 'display' is not valid (fake)\n")
        return 2
    if mode == "cancel":
        return 1
    if mode in ("hang", "stubborn", "family"):
        _hang()
    if mode == "garbage":
        sys.stdout.write("this is not json\n")
        return 0
    if mode == "flood":  # a runaway dialog: 8 MiB of output, then a clean exit
        for _ in range(128):
            sys.stdout.write("x" * 65536)
        return 0
    gate = os.environ.get("FAKE_DIALOG_GATE")
    if gate:
        while not Path(gate).exists():
            time.sleep(0.02)
    values_file = os.environ.get("FAKE_DIALOG_VALUES")
    values = json.loads(Path(values_file).read_text()) if values_file else {}
    if mode == "extra":
        values["not_in_template"] = "x"
    sys.stdout.write(json.dumps(values) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
