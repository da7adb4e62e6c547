"""Verification codes: format, alphabet, and that they come from the OS CSPRNG."""

from __future__ import annotations

import re

import pytest

from mcp_secrets import verification
from mcp_secrets.dialog.protocol import VERIFICATION_CODE_RE
from mcp_secrets.verification import ALPHABET, new_code


def test_format_and_alphabet() -> None:
    codes = [new_code() for _ in range(2000)]
    for code in codes:
        assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}", code), code
        assert set(code.replace("-", "")) <= set(ALPHABET)
        assert VERIFICATION_CODE_RE.fullmatch(code)  # the Tk dialog will find and enlarge it
    # No look-alikes anywhere in the alphabet.
    assert not set("01OIL") & set(ALPHABET)
    # Every character of the alphabet shows up, and codes do not repeat.
    assert set("".join(codes).replace("-", "")) == set(ALPHABET)
    assert len(set(codes)) == len(codes)


def test_uses_secrets_not_random(monkeypatch: pytest.MonkeyPatch) -> None:
    # Seeding `random` must not make codes predictable: they come from `secrets`.
    import random

    random.seed(1)
    first = new_code()
    random.seed(1)
    assert new_code() != first
    calls: list[str] = []
    real_choice = verification.secrets.choice

    def spy(seq: str) -> str:
        calls.append(seq)
        return real_choice(seq)

    monkeypatch.setattr(verification.secrets, "choice", spy)
    new_code()
    assert calls == [ALPHABET] * 8
