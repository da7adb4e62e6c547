"""The headless demo's stand-in for a person at the dialog: it plays the human's part with
real X input (xdotool through XTEST) on the real Tk dialog — and, like a careful person, types
the key only after checking that the dialog shows the code the MCP client showed."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from tests import dialog_driver as x  # noqa: E402  (xdotool helpers shared with the tests)

WAIT = 30.0


@dataclass
class RobotReport:
    client_code: str
    dialog_code: str | None
    dialog_title: str | None
    window_title: str | None
    typed: bool
    screenshot: Path | None
    note: str


def _latest_record(witness_dir: Path, seen: set[str], timeout: float) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fresh = sorted((p for p in witness_dir.glob("*.json") if p.name not in seen),
                       key=lambda p: p.stat().st_mtime)
        if fresh:
            seen.add(fresh[-1].name)
            record: dict[str, object] = json.loads(fresh[-1].read_text())
            return record
        time.sleep(0.05)
    raise x.DriverError("no dialog was started (the witness saw no template)")


def _type_secret(text: str) -> None:
    """Type via stdin (`--file -`), so the key is not in xdotool's argv for `ps` to see."""
    subprocess.run(["xdotool", "type", "--delay", "8", "--file", "-"], input=text.encode(),
                   check=True, timeout=WAIT, capture_output=True)


def fill_dialog(client_code: str, key: str, witness_dir: Path, seen: set[str],
                screenshot_path: Path) -> RobotReport:
    record = _latest_record(witness_dir, seen, WAIT)
    title = str(record.get("title") or "")
    dialog_code = record.get("code")
    wid = x.find_window(title, WAIT)
    window_title = subprocess.run(["xdotool", "getwindowname", wid], capture_output=True,
                                  text=True, timeout=WAIT, check=True).stdout.strip()
    x.wait_focus(wid, WAIT)
    report = RobotReport(client_code, str(dialog_code) if dialog_code else None, title,
                         window_title, False, None, "")
    if dialog_code != client_code:
        x.press("Escape")  # a person would refuse a dialog whose code does not match
        report.note = "codes differ: refused to type, pressed Escape"
        return report
    _type_secret(key)
    time.sleep(0.3)  # let Tk draw the masked input before the picture
    report.screenshot = x.screenshot(screenshot_path, wid)
    x.press("Return")
    report.typed = True
    report.note = "codes match: typed the key into the dialog and pressed Enter"
    return report
