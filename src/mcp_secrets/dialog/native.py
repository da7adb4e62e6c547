"""What every native dialog (zenity, kdialog, osascript, PowerShell) shares.

A native tool is only a way to draw a prompt: the template's rules are the protocol's, applied
here to whatever the tool hands back, exactly as the Tk window applies them while the human
types. A field whose answer breaks a rule is asked again with the reason shown; fields already
answered well are kept. Values only ever travel on the tool's stdout: the tool's argv (visible
to every user in the process list) and its stdin carry labels, the code and the reasons, never a
value and never a template default (a default may be a pre-filled credential, so an empty answer
stands for "keep the default" instead of pre-filling it).
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence

from mcp_secrets.children import die_with_parent
from mcp_secrets.dialog.protocol import Field, Template, clean_value, field_problem
from mcp_secrets.display import display_problem
from mcp_secrets.errors import DialogError, NoDisplayError

#: How often the human may answer a field wrongly before we give up (exit 2).
MAX_ROUNDS = 5
#: How often we check that the process that asked for the dialog is still alive.
PARENT_POLL_S = 0.5
#: A native tool's stdout beyond this is not a few typed values.
MAX_OUTPUT = 1 << 20

#: ask(template, fields, problems) -> {name: raw value} for `fields`, or None if cancelled.
Ask = Callable[[Template, Sequence[Field], Mapping[str, str]], "dict[str, str] | None"]


def options(f: Field) -> tuple[str, ...]:
    """The choices of a `choice` field (empty for every other field type)."""
    return f.options or ()


def is_choice(f: Field) -> bool:
    return f.field_type == "choice"


def verification_line(template: Template) -> str:
    code = template.verification_code
    return f"Verification code: {code}" if code else ""


def window_title(template: Template) -> str:
    """The code leads the title, so it is the first thing seen even in a taskbar."""
    code = template.verification_code
    return f"{code} — {template.title}" if code else template.title


def field_hint(f: Field) -> str:
    """What the human should know about one field beyond its label (required shows as *)."""
    parts = []
    if f.default and not is_choice(f):
        parts.append("leave empty to keep the preset value")
    if f.placeholder:
        parts.append(f"e.g. {f.placeholder}")
    if f.help_text:
        parts.append(" ".join(f.help_text.split()))
    return "; ".join(parts)


def collect(template: Template, ask: Ask) -> dict[str, str] | None:
    """Ask until every field's answer passes the protocol's rules; None if the human cancels."""
    pending: list[Field] = list(template.fields)
    values: dict[str, str] = {}
    problems: dict[str, str] = {}
    for _ in range(MAX_ROUNDS):
        got = ask(template, pending, problems)
        if got is None:
            return None
        problems = {}
        for f in pending:
            raw = got.get(f.name, "")
            if not clean_value(f, raw).strip() and f.default:
                raw = f.default
            problem = field_problem(f, raw)
            if problem:
                problems[f.name] = problem
            else:
                values[f.name] = raw
        pending = [f for f in pending if f.name in problems]
        if not pending:
            return values
    raise DialogError(f"no valid answer after {MAX_ROUNDS} tries; the dialog gave up")


def run_tool(argv: Sequence[str], stdin: bytes = b"", *, env: Mapping[str, str] | None = None,
             tool: str) -> tuple[int, bytes, str]:
    """Run one native prompt; return (exit code, stdout bytes, stderr text).

    It stays in our process group (so whoever kills the dialog's group kills the prompt too),
    dies with this process (Linux), and is ended if the process that asked for the dialog
    goes away.
    """
    parent = os.getppid()
    try:
        proc = subprocess.Popen(
            list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=dict(os.environ if env is None else env),
            preexec_fn=die_with_parent(),  # a SIGKILLed dialog must not leave its window behind
        )
    except OSError as exc:
        raise DialogError(f"could not start {tool}: {exc.strerror or type(exc).__name__}") from None
    try:
        assert proc.stdin is not None
        if stdin:
            proc.stdin.write(stdin)
        proc.stdin.close()
    except BrokenPipeError:
        pass
    out: list[bytes] = []
    err: list[bytes] = []
    readers = [
        threading.Thread(target=lambda: out.append(_read_capped(proc.stdout)), daemon=True),
        threading.Thread(target=lambda: err.append(_read_capped(proc.stderr)), daemon=True),
    ]
    for reader in readers:
        reader.start()
    try:
        while True:
            try:
                code = proc.wait(timeout=PARENT_POLL_S)
                break
            except subprocess.TimeoutExpired:
                if os.getppid() != parent:  # the asker died: nobody will read our answer
                    _kill(proc)
                    return 1, b"", ""
    except BaseException:
        _kill(proc)
        raise
    for reader in readers:
        reader.join(timeout=5)
    stdout = out[0] if out else b""
    if len(stdout) > MAX_OUTPUT:
        raise DialogError(f"{tool} printed more than {MAX_OUTPUT // 1024} KiB")
    stderr = (err[0] if err else b"").decode("utf-8", "replace")
    return code, stdout, stderr


def _read_capped(stream: object) -> bytes:
    read = getattr(stream, "read", None)
    if read is None:
        return b""
    data: bytes = read(MAX_OUTPUT + 1)
    while read(65536):  # drain so the tool never blocks on a full pipe
        pass
    return data


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        try:
            proc.terminate()
            proc.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()


def tool_failed(tool: str, code: int, stderr: str) -> DialogError:
    """A one-line error for a tool that neither answered nor was cancelled (never stdout)."""
    last = next((ln.strip() for ln in reversed(stderr.splitlines()) if ln.strip()), "")
    detail = f": {last[:200]}" if last else ""
    return DialogError(f"{tool} failed with exit code {code}{detail}")


def require_display(tool: str) -> None:
    """X11/Wayland tools need a display variable; say so before starting them."""
    problem = display_problem(wayland_ok=True)
    if problem:
        raise NoDisplayError(f"{tool} cannot open a window: {problem}")


def decode_value(raw: bytes, tool: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise DialogError(f"{tool} returned text that is not UTF-8") from None
