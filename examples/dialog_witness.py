"""A pass-through MCP_SECRETS_DIALOG for the headless demo: it records which title and
verification code the REAL Tk dialog is about to display, then runs that dialog unchanged.

Why: a robot cannot read text off the screen (no OCR here), yet the demo must check — as a
person would — that the dialog shows the same code as the MCP client before typing a key.
The template holds no secret (only field definitions), so recording it leaks nothing; the
collected values pass straight from the real dialog's stdout to ours, never to a file.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

CODE_RE = re.compile(r"\b[A-Z2-9]{4}-[A-Z2-9]{4}\b")
ENV_DIR = "DEMO_DIALOG_WITNESS_DIR"


def main() -> int:
    payload = sys.stdin.buffer.read()
    record: dict[str, object] = {"pid": os.getpid(), "title": None, "code": None}
    try:
        tmpl = json.loads(payload)
        record["title"] = str(tmpl.get("title", ""))
        match = CODE_RE.search(str(tmpl.get("description", "")))
        record["code"] = match.group(0) if match else None
    except (ValueError, AttributeError):
        pass  # the real dialog will reject the bad template with its own exit 2
    out_dir = os.environ.get(ENV_DIR)
    if out_dir:
        tmp = Path(out_dir) / f".{os.getpid()}.tmp"
        tmp.write_text(json.dumps(record))
        tmp.replace(Path(out_dir) / f"{os.getpid()}.json")
    from mcp_secrets.dialog.launcher import builtin_command  # isolated, as the server runs it

    real = subprocess.run(builtin_command(), input=payload, stdout=sys.stdout.buffer, check=False)
    return real.returncode


if __name__ == "__main__":
    sys.exit(main())
