"""The `mcp-secrets` command: manage a server's secrets and diagnose the store from a shell.

Only the standard library is imported up front, so `mcp-secrets --help` starts instantly;
stores and keychain libraries load when a command actually needs them. `mcp-secrets run`
wraps every server launch, so it does not even build the argument parser of the other
commands (see `run.fast_main`).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (the console script exits with it)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["run"]:
        from mcp_secrets.cli.run import fast_main

        # As the console script (argv None) it may end the process itself, skipping teardown.
        code = fast_main(args[1:], exit_now=argv is None)
        if code is not None:
            return code
    from mcp_secrets.cli.main import main as full_main

    globals()["main"] = _entry  # importing the submodule `main` rebound our name to it
    return full_main(args)


_entry = main

__all__ = ["main"]
