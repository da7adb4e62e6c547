"""`python -m mcp_secrets.dialog` / `mcp-secrets-dialog`: one template in, one result out.

Everything that can go wrong ends in exit 2 with one ``error: ...`` line on stderr and nothing
on stdout; no traceback, and never a value (values are only ever written to stdout).
"""

from __future__ import annotations

import os
import sys

from mcp_secrets.dialog.protocol import (
    EXIT_CANCELLED,
    EXIT_ERROR,
    EXIT_OK,
    Template,
    TemplateError,
    build_result,
    read_template,
)
from mcp_secrets.errors import DialogError, NoDisplayError

USAGE = "usage: mcp-secrets-dialog < template.json   (see DESIGN §2 for the template format)"
NO_DISPLAY_HINT = (
    "run it from a graphical session, or store the secret with `mcp-secrets set <name>` instead"
)


class _Fail(Exception):
    """A one-line reason for exit 2; never carries a secret."""


def _error(message: str) -> int:
    line = " ".join(message.split())  # exactly one line, whatever the message held
    try:
        sys.stderr.write(f"error: {line}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    return EXIT_ERROR


def _check_display() -> None:
    """Fail before importing Tk when there is clearly nothing to draw on (X11/XWayland)."""
    if sys.platform in ("win32", "darwin"):
        return
    if not os.environ.get("DISPLAY"):
        why = (
            "WAYLAND_DISPLAY is set but DISPLAY is not; Tk needs X11 or XWayland"
            if os.environ.get("WAYLAND_DISPLAY")
            else "DISPLAY is not set"
        )
        raise _Fail(f"no display available for the credentials dialog ({why}); {NO_DISPLAY_HINT}")


def _collect(template: Template) -> dict[str, str] | None:
    from mcp_secrets.dialog import kinds

    try:
        selection = kinds.choose()
        if selection.kind != "tk":  # zenity, kdialog, osascript, PowerShell, or none at all
            return kinds.collect(selection, template)
    except NoDisplayError as exc:
        raise _Fail(f"no display available for the credentials dialog ({exc}); "
                    f"{NO_DISPLAY_HINT}") from None
    except DialogError as exc:
        raise _Fail(str(exc)) from None
    _check_display()
    try:
        from mcp_secrets.dialog import tk_app
    except ImportError:
        raise _Fail(
            "Tk is not available in this Python (on Debian/Ubuntu: apt-get install python3-tk)"
        ) from None
    try:
        return tk_app.run_dialog(template)
    except tk_app.DialogFailed as exc:
        raise _Fail(str(exc)) from None
    except tk_app.NoDisplay as exc:
        raise _Fail(
            f"no display available for the credentials dialog ({exc}); {NO_DISPLAY_HINT}"
        ) from None


def run(argv: list[str]) -> int:
    if argv and argv[0] in ("-h", "--help"):
        sys.stdout.write(USAGE + "\n")
        return EXIT_OK
    if argv:
        raise _Fail(f"unexpected argument {argv[0][:40]!r}; {USAGE}")
    try:
        template = read_template(sys.stdin.buffer)
    except TemplateError as exc:
        raise _Fail(f"bad template: {exc}") from None
    values = _collect(template)
    if values is None:
        return EXIT_CANCELLED
    payload = build_result(template, values)
    try:
        sys.stdout.write(payload + "\n")
        sys.stdout.flush()
    except (BrokenPipeError, OSError):
        raise _Fail("could not write the result: stdout is closed") from None
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point; returns (and exits with) the protocol's exit code."""
    args = sys.argv[1:] if argv is None else argv
    try:
        code = run(args)
    except _Fail as exc:
        code = _error(str(exc))
    except TemplateError as exc:  # build_result refused the collected values
        code = _error(str(exc))
    except KeyboardInterrupt:
        code = EXIT_CANCELLED
    except Exception as exc:  # last line of defence: no traceback, no value
        code = _error(f"the credentials dialog failed unexpectedly ({type(exc).__name__})")
    if argv is None:
        _exit(code)
    return code


def _exit(code: int) -> None:
    # Silence the interpreter's own complaint if stdout was a closed pipe at shutdown.
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except OSError:
            pass
    sys.exit(code)


if __name__ == "__main__":
    main()
