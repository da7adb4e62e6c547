"""The README's demo, run for real: `examples/run_demo.py` (the Python entry of scripts/demo)
as a subprocess. It starts its own private gnome-keyring (and Xvfb when headless), the weather
server under a real fastmcp.Client on both protocol eras, and a robot on the real Tk dialog."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ENTRY = REPO / "examples" / "run_demo.py"
ARTIFACTS = REPO / "artifacts"
#: The robot's keys look like this; the transcript must never contain one.
KEY_RE = re.compile(r"demo-[A-Za-z0-9_-]{24}")

pytestmark = [pytest.mark.keychain, pytest.mark.display]


def run_demo(*args: str) -> str:
    proc = subprocess.run([sys.executable, str(ENTRY), *args], capture_output=True, text=True,
                          timeout=280, cwd=REPO)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "Traceback" not in out
    return out


def era(out: str, name: str) -> str:
    start = out.index(f"=== MCP protocol era: {name} ===")
    end = out.find("\n=== ", start + 1)
    return out[start:end if end != -1 else None]


def test_headless_demo_collects_the_key_through_the_dialog_on_both_eras() -> None:
    started = time.time()
    out = run_demo("--headless")
    assert "DEMO PASSED" in out and "FAIL" not in out
    for name in ("legacy", "2026-07-28"):
        part = era(out, name)
        client = re.search(r"Verification code: ([A-Z2-9]{4}-[A-Z2-9]{4})", part)
        dialog = re.search(r"shows code ([A-Z2-9]{4}-[A-Z2-9]{4})", part)
        assert client and dialog, part
        assert client.group(1) == dialog.group(1)
        assert "typed the key into the dialog" in part
        assert "Allow for session" in part
        assert "result: Forecast for Lisbon" in part
        assert "result: No weather alerts for Lisbon" in part
        assert "SHA-256 matches" in part  # the fake API really received the typed key
        assert "stored in: secret-service" in part
    assert "PASS  the key appears nowhere in the conversation" in out
    assert not KEY_RE.search(out)
    log = (ARTIFACTS / "demo-server.log").read_text(errors="replace")
    assert not KEY_RE.search(log)
    # The CLI afterwards sees the key (by name only) and a healthy store.
    assert "$ mcp-secrets list 'Weather Demo'\napi_key" in out
    assert "verdict:  OK" in out
    shot = ARTIFACTS / "demo-dialog.png"
    assert shot.stat().st_mtime >= started and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_no_display_demo_fails_helpfully_then_the_cli_fixes_it() -> None:
    out = run_demo("--no-display")
    assert "DEMO PASSED" in out and "FAIL" not in out
    assert "TOOL ERROR: No display is available" in out
    assert "mcp-secrets set 'Weather Demo' api_key" in out
    assert "stored 'api_key' for server 'Weather Demo'" in out
    for name in ("legacy", "2026-07-28"):
        part = era(out, name)
        assert "Verification code" not in part  # already stored: no dialog this time
        assert "result: Forecast for Lisbon" in part
    assert not KEY_RE.search(out)


@pytest.mark.browser
def test_browser_demo_collects_the_key_through_the_page_on_both_eras() -> None:
    """No display, a client that opens URLs: the key goes in the one-time 127.0.0.1 page
    (real headless Chromium), which does not show the code: the human types the client's,
    on both eras."""
    out = run_demo("--browser")
    assert "DEMO PASSED" in out and "FAIL" not in out
    assert "No display is available" not in out
    for name in ("legacy", "2026-07-28"):
        part = era(out, name)
        client = re.search(r"Verification code: ([A-Z2-9]{4}-[A-Z2-9]{4})", part)
        typed = re.search(r"the human types the client's code ([A-Z2-9-]{9}) on the page", part)
        assert client and typed, part
        assert client.group(1) == typed.group(1)
        assert "PASS  the page does not show the client's code" in part
        assert re.search(r"open http://127\.0\.0\.1:\d+/[A-Za-z0-9_-]{40,} \?", part)
        assert "typed the key into the page" in part
        assert "SHA-256 matches" in part
        assert (ARTIFACTS / f"demo-page-{name}.png").read_bytes()[:4] == b"\x89PNG"
    assert not KEY_RE.search(out)
    assert not KEY_RE.search((ARTIFACTS / "demo-server.log").read_text(errors="replace"))
