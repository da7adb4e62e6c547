"""`mcp-secrets run`: start a command with secret references resolved into its environment.

    mcp-secrets run [--server S]... [--env VAR=REF]... [--env-file FILE]... [--profile P]
                    [--no-masking] -- CMD [ARG...]

References come from the inherited environment, `--env`, `--env-file` (dotenv) and whole
arguments of CMD; `--server S` adds every secret stored for S under its own name. Everything is
resolved before anything starts: one failure and CMD never runs. Values travel only in CMD's
environment (or in the one argument that was a reference), never in an argv of ours.

By default CMD's stdout and stderr are relayed through a masker (see masking.py), so a server
that echoes its key shows a marker instead; stdin is CMD's own (an MCP client's EOF reaches it
directly). `--no-masking` replaces this process with CMD: no relay, no overhead.

This module sits on every server launch, so it imports only the standard library up front;
the store is loaded only when there is a reference to resolve.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
from collections.abc import Mapping, Sequence
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from mcp_secrets.cli.errors import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    CLIError,
    report,
)

if TYPE_CHECKING:
    import argparse

    from mcp_secrets.masking import Masker

VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
FORWARDED = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n))
EXIT_CANNOT_EXECUTE = 126
EXIT_NOT_FOUND = 127
#: After CMD exits, how long a grandchild that kept its stdout open may delay our exit.
DRAIN_TIMEOUT_S = 2.0


def add_parser(sub: Any, parents: Sequence[argparse.ArgumentParser]) -> None:
    """Register `run` on the main parser's subcommands."""
    import argparse

    r = sub.add_parser(
        "run", parents=list(parents),
        help="start a command with secret references resolved into its environment",
        description="Resolve secret references (mcp-secrets://SERVER/NAME, env://VAR, …) found "
                    "in the environment, in --env and --env-file, and in whole arguments of "
                    "the command, then start it. Nothing starts if any reference fails. Values "
                    "in its stdout/stderr are masked unless --no-masking.",
    )
    r.add_argument("--server", action="append", default=[], metavar="S",
                   help="add every secret stored for server S as a variable of the same name")
    r.add_argument("--env", action="append", default=[], metavar="VAR=REF",
                   help="set VAR to the value REF refers to (a reference, never a value)")
    r.add_argument("--env-file", action="append", default=[], metavar="FILE",
                   help="dotenv file of VAR=REF (or VAR=plain setting) lines; # comments")
    r.add_argument("--no-masking", action="store_true",
                   help="do not mask values in the output: exec the command directly")
    r.add_argument("--watch", action="store_true",
                   help="when a referenced value changes (e.g. mcp-secrets rotate), swap in a "
                        "new server with it, without the MCP client noticing")
    r.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD [ARG...]")


class Plan:
    """What to start: the argv, the environment and every value that must be masked."""

    __slots__ = ("argv", "env", "skipped", "values")

    def __init__(self, argv: list[str], env: dict[str, str], values: dict[str, str],
                 skipped: dict[str, list[str]]) -> None:
        self.argv = argv
        self.env = env
        self.values = values  # label -> value
        self.skipped = skipped  # server -> secret names not injected

    def __repr__(self) -> str:  # never the environment or the values
        return f"<Plan {self.argv[0]!r} with {len(self.values)} secret value(s)>"


def cmd_run(args: argparse.Namespace | SimpleNamespace) -> int:
    argv = list(args.argv)
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        raise CLIError("no command to run: give it after --, e.g. "
                       "`mcp-secrets run --env KEY=mcp-secrets://server/KEY -- my-server`",
                       EXIT_USAGE)
    if args.profile is not None:
        # --profile P is MCP_SECRETS_PROFILE=P for this run: for our references and for a
        # command that uses mcp-secrets itself.
        from mcp_secrets import config
        from mcp_secrets.names import validate_name

        os.environ[config.PROFILE.name] = validate_name(args.profile, kind="profile name")
    plan = prepare(argv, servers=args.server, env_args=args.env, env_files=args.env_file)
    for server, names in plan.skipped.items():
        report(f"not injected from server {server!r} (not valid variable names): "
               + ", ".join(repr(n) for n in names))
    if getattr(args, "watch", False):
        from mcp_secrets.cli.watch import supervise_watch
        from mcp_secrets.masking import Masker

        return supervise_watch(plan, Masker([] if args.no_masking else plan.values.values()),
                               lambda: prepare(argv, servers=args.server, env_args=args.env,
                                               env_files=args.env_file), _relay)
    if args.no_masking:
        return execute(plan)
    from mcp_secrets.masking import Masker

    masker = Masker(plan.values.values())
    short = sorted(label for label, v in plan.values.items() if v in masker.unmaskable)
    if short:
        report(f"not masked (shorter than 4 characters): {', '.join(short)}")
    return supervise(plan.argv, plan.env, masker)


# ------------------------------------------------------------------ resolution


def prepare(argv: Sequence[str], *, servers: Sequence[str] = (), env_args: Sequence[str] = (),
            env_files: Sequence[str] = (), environ: Mapping[str, str] | None = None) -> Plan:
    """Resolve everything `run` needs, or raise (SecretReferenceError / CLIError) having
    started nothing. Later sources win: environment < --server < --env-file < --env.

    The environment passed on lacks our own secret settings (MCP_SECRETS_PASSPHRASE, …) unless
    --env or --env-file names them."""
    from mcp_secrets import config, refs

    base = dict(os.environ if environ is None else environ)
    for setting in config.SETTINGS.values():
        if setting.secret:  # our own secrets (the store's passphrase): only if asked for by name
            base.pop(setting.name, None)
    # Check the command line and the files first: a mistake there costs no keychain access.
    given: list[tuple[str, str]] = []
    for item in env_args:
        var, sep, text = item.partition("=")
        if not sep or not VAR_NAME.fullmatch(var):
            raise CLIError("--env takes VAR=REF with VAR a variable name (letters, digits, _); "
                           "the argument is not shown, in case it is a secret", EXIT_USAGE)
        if not refs.is_reference(text):
            raise CLIError(
                f"--env {var}=…: not a secret reference (mcp-secrets://SERVER/NAME, env://VAR, "
                f"…); a value on the command line would be visible to every process — store "
                f"it with `mcp-secrets set` and pass its reference", EXIT_USAGE)
        given.append((var, text))
    from_files = [item for path in env_files for item in read_env_file(path).items()]

    # var -> (is_reference, text); values from --server are kept apart (already resolved)
    wanted: dict[str, tuple[bool, str]] = {
        k: (True, v) for k, v in base.items() if refs.is_reference(v)
    }
    from_servers, skipped = _server_secrets(servers)
    for var in from_servers:
        wanted.pop(var, None)
    for var, text in [*from_files, *given]:  # later wins
        from_servers.pop(var, None)
        wanted[var] = (refs.is_reference(text), text)

    args = list(argv)
    to_resolve = {var: text for var, (is_ref, text) in wanted.items() if is_ref}
    arg_labels = {}
    for i, arg in enumerate(args[1:], start=1):
        if refs.is_reference(arg):
            arg_labels[i] = f"argument {i} of the command"
            to_resolve[arg_labels[i]] = arg
    resolved = refs.resolve_all(to_resolve)

    env = base
    for var, (is_ref, text) in wanted.items():
        env[var] = resolved[var] if is_ref else text
    env.update(from_servers)
    for i, label in arg_labels.items():
        args[i] = resolved[label]
    values = {**from_servers, **resolved}
    return Plan(argv=args, env=env, values=values, skipped=skipped)


def _server_secrets(servers: Sequence[str]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """{VAR: value} of every secret of each server whose name is a valid variable name."""
    if not servers:
        return {}, {}
    from mcp_secrets.errors import SecretReferenceError
    from mcp_secrets.names import profile_name
    from mcp_secrets.storage import MCPSecretsStorage

    found: dict[str, str] = {}
    skipped: dict[str, list[str]] = {}
    for server in servers:
        storage = MCPSecretsStorage(server)
        names = storage.list_secrets()
        profile = profile_name()
        where = f"server {server!r}" + ("" if profile == "default" else f" (profile {profile!r})")
        if not names:
            raise SecretReferenceError(f"--server {server}: no secrets are stored for {where}")
        for name in names:
            if not VAR_NAME.fullmatch(name):
                skipped.setdefault(server, []).append(name)
                continue
            value = storage.retrieve_secret(name)
            if value is None:  # indexed but gone (deleted meanwhile, or a half-written ghost)
                raise SecretReferenceError(f"--server {server}: {name!r} is listed for {where} "
                                           "but has no value; run `mcp-secrets set` for it again")
            found[name] = value
    return found, skipped


def read_env_file(path: str) -> dict[str, str]:
    """dotenv lines ``VAR=value`` (optionally ``export VAR=…``, quoted values, # comments).

    Errors name the file and line number, never the line (it may hold a value)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise CLIError(f"--env-file {path}: cannot read it ({exc.strerror or type(exc).__name__})"
                       ) from None
    except UnicodeDecodeError:
        raise CLIError(f"--env-file {path}: not UTF-8 text") from None
    out: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        var, sep, value = line.partition("=")
        var = var.strip()
        if not sep or not VAR_NAME.fullmatch(var):
            raise CLIError(f"--env-file {path}, line {number}: expected VAR=REF "
                           "(the line is not shown, in case it holds a secret)", EXIT_USAGE)
        value = value.strip()
        if value[:1] in ("'", '"'):
            quote = value[0]
            end = value.find(quote, 1)
            if end < 0 or value[end + 1:].strip()[:1] not in ("", "#"):
                raise CLIError(f"--env-file {path}, line {number}: unbalanced quote",
                               EXIT_USAGE)
            value = value[1:end]
        else:
            value = re.split(r"\s+#", value, maxsplit=1)[0].rstrip()
        out[var] = value
    return out


# ------------------------------------------------------------------ starting CMD


def execute(plan: Plan) -> int:
    """--no-masking: become CMD (signals, stdin, exit status are then simply its own)."""
    if hasattr(signal, "SIGPIPE"):
        # Python ignores SIGPIPE, and an ignored signal stays ignored across exec.
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    try:
        os.execvpe(plan.argv[0], plan.argv, plan.env)  # noqa: S606 (no shell, on purpose)
    except FileNotFoundError:
        raise CLIError(f"command not found: {plan.argv[0]}", EXIT_NOT_FOUND) from None
    except PermissionError:
        raise CLIError(f"cannot execute {plan.argv[0]}: permission denied",
                       EXIT_CANNOT_EXECUTE) from None
    except OSError as exc:
        raise CLIError(f"cannot execute {plan.argv[0]}: {exc.strerror}",
                       EXIT_CANNOT_EXECUTE) from None
    return EXIT_CANNOT_EXECUTE  # not reached: exec does not return


def supervise(argv: list[str], env: dict[str, str], masker: Masker) -> int:
    """Start CMD with its stdout/stderr through the masker, forward signals, return its status
    (128+N when killed by signal N)."""
    import threading

    pid: list[int] = []
    pending: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        if not pid:
            pending.append(signum)
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid[0], signum)

    for sig in FORWARDED:
        signal.signal(sig, forward)
    child, out, err = _spawn(argv, env)
    pid.append(child if isinstance(child, int) else child.pid)
    for sig in pending:
        os.kill(pid[0], sig)
    relays = [threading.Thread(target=_relay, args=(src, dst, masker), name=f"relay-{dst}",
                               daemon=True) for src, dst in ((out, 1), (err, 2))]
    for t in relays:
        t.start()
    status = _wait(child)
    for t in relays:
        t.join(DRAIN_TIMEOUT_S)
    return 128 - status if status < 0 else status


def _spawn(argv: list[str], env: dict[str, str]) -> tuple[Any, int, int]:
    """Start CMD with stdout and stderr on new pipes: (child, read end of out, of err).

    On POSIX `posix_spawn` (no `subprocess` import, no fork of this process's memory); the
    command is looked up in `env`'s PATH, as exec would. Elsewhere `subprocess`."""
    if not hasattr(os, "posix_spawn"):
        import subprocess

        try:
            proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
        except FileNotFoundError:
            raise CLIError(f"command not found: {argv[0]}", EXIT_NOT_FOUND) from None
        except PermissionError:
            raise CLIError(f"cannot execute {argv[0]}: permission denied",
                           EXIT_CANNOT_EXECUTE) from None
        assert proc.stdout is not None and proc.stderr is not None
        return proc, os.dup(proc.stdout.fileno()), os.dup(proc.stderr.fileno())
    path = _which(argv[0], env)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    try:
        child = os.posix_spawn(
            path, argv, env,
            file_actions=[(os.POSIX_SPAWN_DUP2, out_w, 1), (os.POSIX_SPAWN_DUP2, err_w, 2)],
            setsigdef=_IGNORED_BY_PYTHON,  # CMD gets the default actions back
        )
    except OSError as exc:
        for fd in (out_r, err_r):
            os.close(fd)
        raise CLIError(f"cannot execute {argv[0]}: {exc.strerror}", EXIT_CANNOT_EXECUTE
                       ) from None
    finally:
        os.close(out_w)
        os.close(err_w)
    return child, out_r, err_r


_IGNORED_BY_PYTHON = tuple(getattr(signal, n) for n in ("SIGPIPE", "SIGXFSZ")
                           if hasattr(signal, n))


def _which(command: str, env: Mapping[str, str]) -> str:
    """`command` as exec would find it with `env`'s PATH; CLIError (127/126) if it cannot."""
    if os.sep in command:
        candidates = [command]
    else:
        candidates = [os.path.join(d or ".", command) for d in os.get_exec_path(dict(env))]
    denied = False
    for path in candidates:
        if os.path.isfile(path):
            if os.access(path, os.X_OK):
                return path
            denied = True
    if denied:
        raise CLIError(f"cannot execute {command}: permission denied", EXIT_CANNOT_EXECUTE)
    raise CLIError(f"command not found: {command}", EXIT_NOT_FOUND)


def _wait(child: Any) -> int:
    """CMD's exit status, or -N if signal N killed it (retried across our signal handlers)."""
    if isinstance(child, int):
        _, status = os.waitpid(child, 0)
        return os.waitstatus_to_exitcode(status)
    return int(child.wait())


def _relay(src: int, dst: int, masker: Masker) -> None:
    """Copy `src` to `dst` through a stream masker until EOF. If `dst` is gone (the reader went
    away), close `src` so CMD sees a broken pipe as it would have without us."""
    stream = masker.stream()
    try:
        while True:
            data = os.read(src, 65536)
            if not data:
                _write_all(dst, stream.close())
                break
            _write_all(dst, stream.feed(data))
    except OSError:  # EPIPE/EBADF on dst
        pass
    os.close(src)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


# ------------------------------------------------------------------ the short path

_VALUED = {"--server": "server", "--env": "env", "--env-file": "env_file"}


def fast_main(argv: Sequence[str], *, exit_now: bool = False) -> int | None:
    """`mcp-secrets run ARGS` without building the whole CLI's argparse parser (it and the
    modules it pulls in are a good part of a launch). Returns None for anything it does not
    handle itself (help, a usage error), and the full parser takes over with its messages."""
    args = parse_fast(argv)
    if args is None:
        return None
    code = guarded(cmd_run, args)
    if not exit_now:
        return code
    # The child is gone and its output relayed: skip the interpreter's teardown (a few ms of
    # freeing modules, on every server exit). Our own output goes straight to the fds.
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def parse_fast(argv: Sequence[str]) -> SimpleNamespace | None:
    """run's options as argparse would read them, or None if there is anything else."""
    ns = SimpleNamespace(server=[], env=[], env_file=[], profile=None, no_masking=False,
                            argv=[], backend=None, command="run")
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--" or not arg.startswith("-"):
            ns.argv = list(argv[i:])
            return ns
        if arg == "--no-masking":
            ns.no_masking = True
            i += 1
            continue
        name, eq, value = arg.partition("=")
        if name not in (*_VALUED, "--profile"):
            return None  # --help, or a mistake: argparse explains
        if not eq:
            if i + 1 >= len(argv):
                return None
            value = argv[i + 1]
            i += 1
        i += 1
        if name == "--profile":
            ns.profile = value
        else:
            getattr(ns, _VALUED[name]).append(value)
    return ns


def guarded(handler: Any, args: SimpleNamespace) -> int:
    """The CLI's error contract (one stderr line, an exit code, never a traceback or a
    value), for the short path; the same as cli.main's."""
    try:
        return int(handler(args))
    except CLIError as exc:
        report(str(exc))
        return exc.code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as exc:
        from mcp_secrets.errors import SecretsError

        if isinstance(exc, SecretsError):
            report(str(exc))
        else:
            report(f"unexpected {type(exc).__name__}; nothing else is shown to avoid leaking "
                   "a secret (run `mcp-secrets doctor` to check the store)")
        return EXIT_FAILURE
