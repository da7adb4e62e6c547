"""`python -m mcp_secrets.dialog` / `mcp-secrets-dialog`: one template in, one result out.

Everything that can go wrong ends in exit 2 (or 3 when no window can be shown here) with one
``error: ...`` line on stderr and nothing on stdout; no traceback, and never a value (values
are only ever written to stdout).
"""

from __future__ import annotations

import os
import sys

from mcp_secrets.dialog.protocol import (
    EXIT_CANCELLED,
    EXIT_ERROR,
    EXIT_NO_DISPLAY,
    EXIT_OK,
    Template,
    build_result,
    read_template,
)
from mcp_secrets.display import display_problem, no_display_message
from mcp_secrets.errors import DialogError, NoDisplayError, TemplateError

USAGE = "usage: mcp-secrets-dialog < template.json   (format: the README's dialog protocol)"

#: Our parent as it was when we started; the window closes when it changes (the server died).
_PARENT_PID = os.getppid()


def _error(message: str) -> None:
    line = " ".join(message.split())  # exactly one line, whatever the message held
    try:
        sys.stderr.write(f"error: {line}\n")
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):
        pass


def _collect(template: Template) -> dict[str, str] | None:
    try:
        from mcp_secrets.dialog import tk_app
    except ImportError:
        raise DialogError(
            "Tk is not available in this Python (on Debian/Ubuntu: apt-get install python3-tk)"
        ) from None
    return tk_app.run_dialog(template, parent_pid=_PARENT_PID)


def _write(payload: str) -> None:
    """Write the answer; a closed or missing stdout is an error (exit 2), not a cancel."""
    stdout = sys.stdout
    if stdout is None:
        raise DialogError("could not write the result: stdout is closed")
    try:
        stdout.write(payload)
        stdout.flush()
    except (OSError, ValueError):
        raise DialogError("could not write the result: stdout is closed") from None


def run(argv: list[str]) -> int:
    if argv and argv[0] in ("-h", "--help"):
        _write(USAGE + "\n")
        return EXIT_OK
    if argv:
        raise DialogError(f"unexpected argument {argv[0][:40]!r}; {USAGE}")
    try:
        template = read_template(sys.stdin.buffer)
    except TemplateError as exc:
        raise DialogError(f"bad template: {exc}") from None
    except (OSError, ValueError, AttributeError):
        raise DialogError("could not read the template: stdin is closed") from None
    problem = display_problem()
    if problem:
        raise NoDisplayError(no_display_message(problem))
    values = _collect(template)
    if values is None:
        return EXIT_CANCELLED
    payload = build_result(template, values)
    del values
    _write(payload + "\n")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point; returns (and exits with) the protocol's exit code."""
    args = sys.argv[1:] if argv is None else argv
    try:
        code = run(args)
    except NoDisplayError as exc:
        _error(str(exc))
        code = EXIT_NO_DISPLAY
    except DialogError as exc:  # TemplateError too: build_result refused the values
        _error(str(exc))
        code = EXIT_ERROR
    except KeyboardInterrupt:
        code = EXIT_CANCELLED
    except Exception as exc:  # last line of defence: no traceback, no value
        _error(f"the credentials dialog failed unexpectedly ({type(exc).__name__})")
        code = EXIT_ERROR
    if argv is None:
        _exit(code)
    return code


def _exit(code: int) -> None:
    # At shutdown the interpreter flushes stdout once more; if its reader went away that
    # would print "Exception ignored ... BrokenPipeError" and exit 120: point it at devnull.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
    except OSError:
        pass
    sys.exit(code)


if __name__ == "__main__":
    main()
