"""Getting a secret value and a yes/no answer from the person at the terminal.

A value comes from a hidden prompt (asked twice) when stdin is a terminal, or from stdin when
it is piped; never from argv, where shell history and the process list would keep it.
"""

from __future__ import annotations

import sys
import warnings

from mcp_secrets.cli.errors import CLIError

#: Piped values larger than this are refused before they are read into memory in full.
MAX_STDIN_BYTES = 1024 * 1024


def stdin_is_tty() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except ValueError:  # closed stdin
        return False


def read_secret_value(label: str) -> str:
    """The value to store: hidden prompt on a terminal, else all of stdin minus one newline."""
    value = _prompt_hidden(label) if stdin_is_tty() else _read_stdin()
    if not value:
        raise CLIError("refusing to store an empty value; nothing was stored")
    return value


def _prompt_hidden(label: str) -> str:
    import getpass

    # getpass falls back to an *echoing* prompt when it cannot turn echo off; we refuse instead.
    with warnings.catch_warnings():
        warnings.simplefilter("error", getpass.GetPassWarning)
        try:
            first = getpass.getpass(f"Value for {label} (input hidden): ")
            if not first:
                raise CLIError("refusing to store an empty value; nothing was stored")
            second = getpass.getpass("Repeat to confirm: ")
        except getpass.GetPassWarning:
            raise CLIError(
                "cannot hide input on this terminal; pipe the value on stdin instead"
            ) from None
        except EOFError:
            raise CLIError("no value entered (end of input); nothing was stored") from None
    if first == second:
        return first
    # Dropped before raising: the traceback's frames must not carry what was typed.
    del first, second
    raise CLIError("the two entries did not match; nothing was stored")


def _read_stdin() -> str:
    if sys.stdin is None:
        raise CLIError("no stdin to read the value from; nothing was stored")
    data = sys.stdin.buffer.read(MAX_STDIN_BYTES + 1)
    problem = None
    if len(data) > MAX_STDIN_BYTES:
        problem = f"the value on stdin is larger than {MAX_STDIN_BYTES} bytes; nothing was stored"
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            problem = "the value on stdin is not valid UTF-8; nothing was stored"
    if problem:
        del data  # raised below, outside the except clause: no chain, no value in the frame
        raise CLIError(problem)
    # Exactly one trailing newline is the pipe's (echo, here-strings), not the secret's.
    if text.endswith("\r\n"):
        return text[:-2]
    if text.endswith("\n"):
        return text[:-1]
    return text


def confirm(question: str) -> bool:
    """Ask a yes/no question on the terminal; anything but y/yes is no."""
    print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
    try:
        answer = sys.stdin.readline()
    except EOFError:
        return False
    return answer.strip().lower() in {"y", "yes"}
