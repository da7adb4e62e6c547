"""The README's "keys out of your MCP configs" demo, run for real as `scripts/demo` runs it:
`examples/migrate_demo.py` starts its own private gnome-keyring, pastes keys into five clients'
configs, scans, migrates, and starts every server through a real MCP client."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ENTRY = REPO / "examples" / "migrate_demo.py"
KEY_RE = re.compile(r"(sk-ant-api03-|ghp_|sk-proj-|sk_live_|xoxb-)[A-Za-z0-9_-]{12,}")

pytestmark = [pytest.mark.keychain]


def test_migrate_demo_moves_five_clients_keys_and_every_server_keeps_its_key() -> None:
    proc = subprocess.run([sys.executable, str(ENTRY)], capture_output=True, text=True,
                          timeout=280, cwd=REPO)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "migrate demo: OK" in out and "Traceback" not in out
    assert "5 plaintext secret(s) in 5 config file(s)" in out
    for client in ("Claude Desktop", "Cursor", "Claude Code", "VS Code", "Codex CLI"):
        assert re.search(rf"  {client} +\S+ +\S+ +has its original key", out), client
    assert "no plaintext secrets found in 5 config file(s)" in out
    assert "no config file holds a key" in out
    assert not KEY_RE.search(out), "a key reached the transcript"
