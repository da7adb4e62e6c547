"""Where a value could hide after an error: the exception chain and the traceback's frames.

Error reporters (Sentry and the like) send every exception in a chain and each frame's local
variables; a secret held in any of them leaves the machine.
"""

from __future__ import annotations

from pathlib import Path

_TESTS = str(Path(__file__).resolve().parent)


def places(exc: BaseException | None) -> list[tuple[str, str]]:
    """(where, text) for each message, repr and frame local reachable from `exc` (frames of
    the tests themselves, which hold the canary on purpose, are left out)."""
    found: list[tuple[str, str]] = []
    seen: set[int] = set()
    stack = [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        found.append((f"{type(e).__name__} message", f"{e!s} {e!r}"))
        tb = e.__traceback__
        while tb is not None:
            frame = tb.tb_frame
            if frame.f_code.co_filename.startswith(_TESTS):
                tb = tb.tb_next
                continue
            for name, value in frame.f_locals.items():
                try:
                    text = repr(value)
                except Exception:  # a half-built object: a reporter could not send it either
                    text = ""
                found.append((f"{frame.f_code.co_name}() local {name!r}", text))
            tb = tb.tb_next
        stack += [e.__cause__, e.__context__]
    return found


def assert_absent(exc: BaseException | None, canary: str) -> None:
    """Fail naming the place if `canary` (as text or UTF-8 bytes' repr) is reachable."""
    needles = (canary, repr(canary.encode())[2:-1])
    leaks = [where for where, text in places(exc) if any(n in text for n in needles)]
    assert not leaks, f"the value survives in: {', '.join(leaks)}"
