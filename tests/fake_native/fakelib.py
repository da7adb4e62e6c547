"""Shared core of the FAKE native dialog tools in this folder (osascript, powershell, kdialog).

They are test stand-ins, NOT the real programs: no Mac, no Windows and no KDE desktop run on
the test machines. Each fake checks that it was called exactly the way the real program would
have to be called (argv, and the script it is given on stdin), records every call, and answers
from a queue of replies written by the test, the way the real program prints what a person
typed.

Log:      $FAKE_NATIVE_LOG      one JSON line per call: {"tool", "argv", "stdin"}
Replies:  $FAKE_NATIVE_REPLIES  a JSON list; each call takes the first entry:
          {"values": [...]}                      the human answered (one value per prompt)
          {"rc": N, "stderr": "..."}             the program failed / was cancelled
A call that breaks the tool's contract exits 97 with "FAKE <tool>: <why>" on stderr.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any


def broken(tool: str, why: str) -> None:
    sys.stderr.write(f"FAKE {tool}: {why}\n")
    sys.exit(97)


def call(tool: str) -> tuple[list[str], str]:
    """Record this call; return (argv without the program name, stdin text)."""
    stdin = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
    argv = sys.argv[1:]
    with open(os.environ["FAKE_NATIVE_LOG"], "a", encoding="utf-8") as log:
        log.write(json.dumps({"tool": tool, "argv": argv, "stdin": stdin}) + "\n")
    return argv, stdin


def next_reply(tool: str) -> dict[str, Any]:
    path = os.environ["FAKE_NATIVE_REPLIES"]
    with open(path, encoding="utf-8") as f:
        replies = json.load(f)
    if not replies:
        broken(tool, "called more often than the test expected")
    reply = replies.pop(0)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(replies, f)
    if "values" not in reply:
        sys.stderr.write(reply.get("stderr", ""))
        sys.exit(int(reply["rc"]))
    return dict(reply)
