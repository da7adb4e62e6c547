"""Verification codes shown both in the MCP client and in the dialog, so a human can tell the
real dialog from a phishing window. They come from `secrets` (a CSPRNG): a guessable code
(the original used `random`) would let malware forge a matching dialog.
"""

from __future__ import annotations

import secrets

#: No 0/O, 1/I/L: a code must survive being read aloud or squinted at.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
GROUP = 4


def new_code() -> str:
    """A fresh `XXXX-XXXX` code (31**8, about 40 bits)."""
    chars = [secrets.choice(ALPHABET) for _ in range(GROUP * 2)]
    return "".join(chars[:GROUP]) + "-" + "".join(chars[GROUP:])
