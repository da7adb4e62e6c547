"""How we start child processes: a clean environment, isolated Python, and no orphans.

Low on purpose (it imports only `config`), so the dialog launcher, the stores that run a CLI
and `doctor` all import it downwards.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from mcp_secrets import config

#: Started with ``-c`` in an isolated interpreter (``-I``: no current directory, no PYTHONPATH,
#: PYTHONHOME or user site-packages on sys.path). Our own package's directory is *appended*,
#: so the child loads exactly the mcp_secrets its parent runs, and nothing named like a
#: standard module there can shadow the standard library.
_BOOT = (
    "import runpy, sys; sys.path.append(sys.argv.pop(1)); "
    "runpy.run_module(sys.argv.pop(1), run_name='__main__', alter_sys=True)"
)


def child_environ(*, keep: Iterable[config.Setting] = ()) -> dict[str, str]:
    """This process's environment minus every secret setting (the store's passphrase, the
    1Password token) except those in `keep`: a secret reaches a child only when asked for
    by name."""
    kept = {s.name for s in keep}
    drop = {s.name for s in config.SETTINGS.values() if s.secret and s.name not in kept}
    return {k: v for k, v in os.environ.items() if k not in drop}


def package_root() -> str:
    """The directory that holds the `mcp_secrets` package this process imported."""
    return str(Path(__file__).resolve().parent.parent)


def python_module_command(module: str, *args: str) -> list[str]:
    """argv running ``python -m module args...`` isolated from the caller's working directory
    and Python environment variables, whatever they hold (a planted ``tkinter.py`` in an MCP
    server's cwd must never run inside the credentials dialog)."""
    return [sys.executable, "-I", "-c", _BOOT, package_root(), module, *args]


def python_code_command(code: str) -> list[str]:
    """argv running ``python -c code`` isolated as `python_module_command` is."""
    return [sys.executable, "-I", "-c", code]


PR_SET_PDEATHSIG = 1


def die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child die (SIGKILL) the moment this process does.

    Linux only (prctl PR_SET_PDEATHSIG, which survives exec); elsewhere None, and the dialog
    watches its parent itself. The signal is set between fork and exec, and the child then
    checks that its parent is still us, so a parent killed in between is not missed. Note
    that Linux ties it to the *thread* that started the child: start dialogs from a thread
    that lives as long as the server (the event loop's).
    """
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                      ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    parent = os.getpid()
    kill = int(signal.SIGKILL)

    def preexec() -> None:  # runs in the child, between fork and exec
        prctl(PR_SET_PDEATHSIG, kill, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os._exit(1)

    return preexec
