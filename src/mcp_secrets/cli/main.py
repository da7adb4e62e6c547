"""Argument parsing and the one place where errors become exit codes and one-line messages."""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from mcp_secrets.cli.errors import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    CLIError,
    report,
)
from mcp_secrets.errors import InvalidSecretName

Handler = Callable[[argparse.Namespace], int]


#: argparse's messages that quote what was typed, and what we say instead. A value pasted in
#: the wrong place (``--reveal=VALUE``, ``-nVALUE``, ``--=VALUE``, a bad command) must never
#: come back on the terminal, where scrollback, screen sharing and CI logs keep it.
_ECHOES = (
    (re.compile(r"ignored explicit argument .*", re.DOTALL),
     "takes no value (what was given is not shown, in case it is a secret)"),
    (re.compile(r"ambiguous option: .*? could match", re.DOTALL),
     "ambiguous option (not shown, in case it is a secret) could match"),
    (re.compile(r"invalid choice: .*\(choose from", re.DOTALL),
     "invalid choice (not shown, in case it is a secret; choose from"),
    (re.compile(r"unrecognized arguments: .*", re.DOTALL),
     "unrecognized arguments (not shown, in case one is a secret)"),
    (re.compile(r"invalid (\w+) value: .*", re.DOTALL), r"invalid \1 value (not shown)"),
)
_HIDDEN = "(not shown)"


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and never echoes an argument back."""

    def error(self, message: str) -> NoReturn:
        for pattern, replacement in _ECHOES:
            message = pattern.sub(replacement, message)
        raise CLIError(f"{message} (see: {self.prog} --help)", EXIT_USAGE)


def _known_words(parser: argparse.ArgumentParser) -> set[str]:
    """Every option string and command name: the words a message may repeat safely."""
    words: set[str] = set()
    stack = [parser]
    while stack:
        p = stack.pop()
        for action in p._actions:
            words.update(action.option_strings)
            if isinstance(action, argparse._SubParsersAction):
                words.update(action.choices)
                stack.extend(action.choices.values())
    return words


def scrub(message: str, argv: Sequence[str], known: set[str]) -> str:
    """`message` with every piece of `argv` that is not an option or command name hidden.

    The safety net behind `_ECHOES`: whatever argparse (or a validator) quotes next, a value
    typed on the command line does not come back.
    """
    pieces: set[str] = set()
    for token in argv:
        pieces.add(token)
        if token.startswith("-"):
            pieces.add(token.partition("=")[2])
            if not token.startswith("--"):
                pieces.add(token[2:])  # -nVALUE
    for piece in sorted(pieces, key=len, reverse=True):
        if len(piece) >= 3 and piece not in known:
            message = message.replace(piece, _HIDDEN)
    return message


def _commands() -> dict[str, Handler]:
    from mcp_secrets.cli import audit, commands, doctor, rotate
    from mcp_secrets.cli.proxy import cmd_proxy

    return {
        "proxy": cmd_proxy,
        "set": commands.cmd_set, "get": commands.cmd_get, "list": commands.cmd_list,
        "delete": commands.cmd_delete, "clear": commands.cmd_clear, "doctor": doctor.cmd_doctor,
        "audit": audit.cmd_audit, "rotate": rotate.cmd_rotate,
        "repair": commands.cmd_repair,
        **_scan_commands(),
    }


def _scan_commands() -> dict[str, Handler]:
    from mcp_secrets.cli import scan

    return {"scan": scan.cmd_scan, "migrate": scan.cmd_migrate}


def _handler(command: str) -> Handler:
    if command == "run":  # on every server launch: load nothing the other commands need
        from mcp_secrets.cli.run import cmd_run

        return cmd_run
    return _commands()[command]


def build_parser() -> argparse.ArgumentParser:
    from mcp_secrets import __version__

    p = _Parser(
        prog="mcp-secrets",
        description="Manage MCP servers' secrets in the OS keychain (or the encrypted file "
                    "store) and diagnose the setup. Values are never taken from or printed to "
                    "the command line unless you ask (--reveal).",
    )
    p.add_argument("--version", action="version", version=f"mcp-secrets {__version__}")
    p.add_argument("--backend", metavar="NAME",
                   help="use this store instead of the automatic choice "
                        "(same names as MCP_SECRETS_BACKEND)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    prof = _Parser(add_help=False)
    prof.add_argument("--profile", metavar="NAME",
                      help="use this profile's secrets (default: MCP_SECRETS_PROFILE, else the "
                           "default profile); profiles never fall back to one another")

    s = sub.add_parser("set", parents=[prof],
                       help="store a secret (hidden prompt, or the value piped on stdin)",
                       description="Store a secret. On a terminal you are prompted twice with "
                                   "input hidden; otherwise the value is read from stdin (one "
                                   "trailing newline is removed). Never pass the value as an "
                                   "argument.")
    s.add_argument("server")
    s.add_argument("name")
    # Collected only to refuse it with a useful message; never printed.
    s.add_argument("extra", nargs="*", help=argparse.SUPPRESS)

    g = sub.add_parser("get", parents=[prof],
                       help="say whether a secret is stored (--reveal prints it)")
    g.add_argument("server")
    g.add_argument("name")
    g.add_argument("--reveal", action="store_true", help="print the value to stdout")
    g.add_argument("-n", "--no-newline", action="store_true",
                   help="with --reveal, do not add a newline after the value")
    g.add_argument("--json", action="store_true")

    ls = sub.add_parser("list", parents=[prof],
                       help="the names of a server's secrets, one per line")
    ls.add_argument("server")
    ls.add_argument("--json", action="store_true")

    d = sub.add_parser("delete", parents=[prof],
                       help="delete one secret")
    d.add_argument("server")
    d.add_argument("name")

    c = sub.add_parser("clear", parents=[prof],
                       help="delete every secret of a server (asks first)")
    c.add_argument("server")
    c.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")

    rep = sub.add_parser("repair", parents=[prof],
                         help="rebuild a server's index from what is stored and drop leftovers "
                              "of interrupted writes (all servers and profiles if none)")
    rep.add_argument("server", nargs="?")

    from mcp_secrets.cli.run import add_parser as add_run_parser

    add_run_parser(sub, [prof])

    from mcp_secrets.cli import proxy

    proxy.add_parser(sub)

    doc = sub.add_parser("doctor", help="which store is used, why, whether it works, how to fix")
    doc.add_argument("--json", action="store_true")

    from mcp_secrets.cli.scan import add_parsers as add_scan_parsers

    add_scan_parsers(sub)
    from mcp_secrets.cli import audit, rotate

    audit.add_parser(sub)
    rotate.add_parser(sub, [prof])
    return p


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = build_parser()
    try:
        args, unknown = parser.parse_known_args(list(argv))
    except CLIError as exc:
        raise CLIError(scrub(str(exc), argv, _known_words(parser)), exc.code) from None
    if args.command is None:
        raise CLIError("no command given: use one of set, get, list, delete, clear, repair, run, "
                       "proxy, rotate, audit, doctor, scan, migrate (see: mcp-secrets --help)",
                       EXIT_USAGE)
    if unknown:
        if args.command == "set":
            args.extra = [*getattr(args, "extra", []), *unknown]
        else:
            # Not echoed: a mistyped command line can contain a secret.
            raise CLIError(
                f"{len(unknown)} unexpected argument(s) for {args.command!r} (not shown, in case "
                f"one is a secret; see: mcp-secrets {args.command} --help)", EXIT_USAGE)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (the console script exits with it)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = _parse(argv)
        args.backend = _backend_choice(args.backend)
        return _handler(args.command)(args)
    except CLIError as exc:
        report(str(exc))
        return exc.code
    except InvalidSecretName as exc:
        # A "name" that breaks the rules (a slash, 300 characters) may be a value typed in
        # the wrong place: say which rule, not what was typed.
        report(scrub(str(exc), argv, _known_words(build_parser())))
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_FAILURE
    except Exception as exc:
        from mcp_secrets.errors import SecretsError

        if isinstance(exc, SecretsError):
            report(str(exc))  # our messages are written for people and never hold values
        else:
            # A foreign exception's text could quote a value: name the type only.
            report(f"unexpected {type(exc).__name__}; nothing else is shown to avoid leaking "
                   "a secret (run `mcp-secrets doctor` to check the store)")
        return EXIT_FAILURE


def _backend_choice(name: str | None) -> str | None:
    """--backend overrides MCP_SECRETS_BACKEND for this run and travels down as an argument
    (never by editing os.environ); an unknown name is a usage error."""
    if name is None:
        return None
    from mcp_secrets.errors import UnknownBackendError
    from mcp_secrets.selection import normalize_choice

    try:
        return normalize_choice(name, source="--backend")
    except UnknownBackendError as exc:
        raise CLIError(str(exc), EXIT_USAGE) from None


def _silence_stdout() -> None:
    """After the reader of our stdout went away, stop Python from complaining at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
