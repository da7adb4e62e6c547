"""Move the plaintext secrets `scan` finds into the store and rewrite each entry to launch
through `mcp-secrets run`, which puts the values back into the server's environment.

Order matters: every file is read and planned first (a malformed or read-only file stops
everything), then every value is stored (a store failure stops everything), and only then are
files rewritten, each after a 0600 backup, by an atomic replace that keeps the file's mode and
refuses to overwrite a file another program changed meanwhile.

Naming: an env value becomes secret ``VAR`` of the entry's server (``mcp-secrets://SERVER/VAR``).
A value that was a whole argument is named after the flag before it (``--api-key`` →
``API_KEY``), else ``ARG_N`` (its position in the original args). If the store already holds a
*different* value under that name (two clients, one server name, two keys), ``_2``, ``_3``, … is
appended rather than overwrite it.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import re
import shutil
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from mcp_secrets.configs import Document, Entry, is_remote, launch_of, parse_text
from mcp_secrets.errors import MigrationError, SecretsError
from mcp_secrets.rewrite import LaunchEdit, apply
from mcp_secrets.scan import Finding, arg_index, scan, scan_entry

#: Stores a value: (server, profile, name, value). Replaceable so a test can cut the keychain
#: mid-run; the default is the real store.
Store = Callable[[str, str, str, str], None]
#: The value stored now, if any: (server, profile, name).
Lookup = Callable[[str, str, str], "str | None"]


@dataclass(frozen=True)
class Move:
    finding: Finding
    server: str  # the store scope (the entry's name, made a valid server name)
    name: str  # the secret's name in that scope
    profile: str  # the profile it is stored in; named in the reference unless the default

    @property
    def reference(self) -> str:
        from mcp_secrets.names import DEFAULT_PROFILE
        from mcp_secrets.refs_local import local_reference

        return local_reference(self.server, self.name,
                               None if self.profile == DEFAULT_PROFILE else self.profile)


@dataclass(frozen=True)
class Skipped:
    finding: Finding
    reason: str


@dataclass
class FilePlan:
    doc: Document
    moves: list[Move]
    new_text: str


@dataclass
class Plan:
    files: list[FilePlan] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def moves(self) -> list[Move]:
        return [m for f in self.files for m in f.moves]


@dataclass
class Outcome:
    written: list[Path] = field(default_factory=list)
    backups: list[Path] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # one message per file left as it was
    stored: int = 0


def executable() -> str:
    """The absolute path of our console script: desktop apps do not get the shell's PATH."""
    exe = "mcp-secrets.exe" if sys.platform.startswith("win") else "mcp-secrets"
    argv0 = sys.argv[0] if sys.argv else ""
    if os.path.basename(argv0) == exe and os.path.isfile(argv0):
        return os.path.abspath(argv0)
    beside = Path(sys.executable).parent / exe
    if beside.is_file():
        return str(beside.absolute())
    found = shutil.which(exe)
    if found:
        return os.path.abspath(found)
    raise MigrationError("cannot find the mcp-secrets executable to put in the configs; "
                         "install mcp-secrets so that `mcp-secrets` is on PATH")


def server_scope(name: str) -> str:
    """A config's server name as a store scope: path separators and control characters out."""
    cleaned = "".join("_" if c in "/\\" or not c.isprintable() else c for c in name).strip()
    return cleaned[:128] or "server"


def plan(paths: Iterable[Path] = (), *, profile: str | None = None,
         lookup: Lookup | None = None, exe: str | None = None) -> Plan:
    """Everything migrate would do, computed without writing anything. Values go to `profile`
    (else MCP_SECRETS_PROFILE, else the default profile)."""
    from mcp_secrets.names import profile_name

    chosen = profile_name(profile)
    result = scan(paths)
    if result.errors:
        more = f" (and {len(result.errors) - 1} more)" if len(result.errors) > 1 else ""
        raise MigrationError(f"{result.errors[0]}{more}; fix it or name the other files "
                             "explicitly; nothing was changed")
    lookup = lookup or _stored_value
    exe = exe or executable()
    out = Plan()
    taken: dict[tuple[str, str], str] = {}  # (server, name) -> value, within this run
    for doc in result.documents:
        edits: list[LaunchEdit] = []
        moves: list[Move] = []
        for entry in doc.entries:
            findings, _ = scan_entry(doc, entry)
            if not findings:
                continue
            edit, entry_moves, skipped = _plan_entry(entry, findings, exe, chosen, taken,
                                                     lookup)
            out.skipped += skipped
            if edit is not None:
                edits.append(edit)
                moves += entry_moves
        if edits:
            _check_writable(doc)
            new_text = apply(doc.text, doc.location.fmt, edits)
            _check_result(doc, new_text, moves)
            out.files.append(FilePlan(doc, moves, new_text))
    return out


def _plan_entry(entry: Entry, findings: list[Finding], exe: str, profile: str,
                taken: dict[tuple[str, str], str], lookup: Lookup,
                ) -> tuple[LaunchEdit | None, list[Move], list[Skipped]]:
    if is_remote(entry.data):
        why = "a remote server (url + headers): `run` cannot wrap it; it needs the proxy"
        return None, [], [Skipped(f, why) for f in findings]
    launch = launch_of(entry.data)
    if not isinstance(launch.command, str) or launch.cmd_key is None:
        return None, [], [Skipped(f, "the entry has no command to wrap") for f in findings]
    args = [a if isinstance(a, str) else str(a) for a in launch.args]
    server = server_scope(entry.server)
    moves: list[Move] = []
    skipped: list[Skipped] = []
    env_pairs: list[str] = []
    replaced: dict[int, str] = {}
    drop: list[str] = []
    for f in findings:
        index = arg_index(f.field)
        if f.field.startswith("env."):
            var = f.field[4:]
            move = Move(f, server, _free_name(server, profile, var, f.value, taken, lookup),
                        profile)
            env_pairs += ["--env", f"{var}={move.reference}"]
            drop.append(var)
        elif index is not None and f.value == args[index]:
            if args[index].startswith("-") and "=" in args[index]:
                skipped.append(Skipped(f, "the secret is inside an argument (--flag=value); "
                                          "split it into two arguments, then run migrate again"))
                continue
            name = _arg_name(args, index)
            move = Move(f, server, _free_name(server, profile, name, f.value, taken, lookup),
                        profile)
            replaced[index] = move.reference
        else:
            skipped.append(Skipped(f, "only env values and whole arguments of a local server "
                                      "can be moved"))
            continue
        moves.append(move)
    if not moves:
        return None, [], skipped
    new_args = [replaced.get(i, a) for i, a in enumerate(args)]
    if _is_wrapped(launch.command, args):
        cut = new_args.index("--")
        new_args = [*new_args[:cut], *env_pairs, *new_args[cut:]]
    else:
        new_args = ["run", *env_pairs, "--", launch.command, *new_args]
    edit = LaunchEdit(entry.where, launch.nested, launch.cmd_key, launch.env_key, exe,
                      new_args, tuple(drop))
    return edit, moves, skipped


def _is_wrapped(command: str, args: list[str]) -> bool:
    base = os.path.basename(command).lower()
    return base in ("mcp-secrets", "mcp-secrets.exe") and args[:1] == ["run"] and "--" in args


def _arg_name(args: list[str], index: int) -> str:
    prev = args[index - 1] if index else ""
    if prev.startswith("-") and len(prev.lstrip("-")) > 1:
        name = re.sub(r"[^A-Za-z0-9]+", "_", prev.lstrip("-")).strip("_").upper()
        if name:
            return name
    return f"ARG_{index}"


def _free_name(server: str, profile: str, name: str, value: str,
               taken: dict[tuple[str, str], str], lookup: Lookup) -> str:
    """`name`, or `name_2`, … when the store or this run already holds another value there."""
    candidate, n = name, 1
    while True:
        held = taken.get((server, candidate))
        if held is None:
            held = lookup(server, profile, candidate)
        if held is None or held == value:
            taken[(server, candidate)] = value
            return candidate
        n += 1
        candidate = f"{name}_{n}"


def _stored_value(server: str, profile: str, name: str) -> str | None:
    from mcp_secrets.storage import MCPSecretsStorage

    try:
        return MCPSecretsStorage(server, profile=profile).retrieve_secret(name)
    except SecretsError as exc:
        raise MigrationError(_store_fix(exc)) from None


def _store_value(server: str, profile: str, name: str, value: str) -> None:
    from mcp_secrets.storage import MCPSecretsStorage

    MCPSecretsStorage(server, profile=profile).store_secret(name, value)


def _store_fix(exc: Exception) -> str:
    return (f"cannot use the secret store ({exc}); no config file was changed. Fix the store "
            "(`mcp-secrets doctor` says how: unlock the keychain, or set MCP_SECRETS_PASSPHRASE "
            "for the encrypted file) and run migrate again")


def _check_writable(doc: Document) -> None:
    target = doc.target
    try:
        mode = target.stat().st_mode
    except OSError as exc:
        raise MigrationError(f"cannot stat {target}: {exc.strerror}; nothing was changed") from None
    if not mode & stat.S_IWUSR or not os.access(target, os.W_OK):
        raise MigrationError(
            f"{doc.path} is read-only (mode {stat.S_IMODE(mode):04o}); make it writable "
            f"(chmod u+w '{target}') or leave it out; nothing was changed")
    if not os.access(target.parent, os.W_OK | os.X_OK):
        raise MigrationError(f"cannot create files in {target.parent} (needed to replace "
                             f"{target.name} atomically); nothing was changed")


def _check_result(doc: Document, new_text: str, moves: list[Move]) -> None:
    """The rewritten text must parse and hold none of the moved values."""
    from mcp_secrets.configs import entries_of

    data = parse_text(new_text, doc.location.fmt, str(doc.path))
    entries = entries_of(data, doc.location, doc.path)
    probe = Document(doc.path, doc.location, b"", new_text, entries)
    left = {(f.server, f.field) for e in entries for f in scan_entry(probe, e)[0]}
    if any((m.finding.server, m.finding.field) in left for m in moves):
        raise MigrationError(f"internal error: the rewrite of {doc.path} still holds a value; "
                             "nothing was changed")


def run(the_plan: Plan, *, store: Store | None = None) -> Outcome:
    """Store every value, then rewrite every file. A store failure changes no file."""
    store = store or _store_value
    outcome = Outcome()
    done: set[tuple[str, str]] = set()
    for move in the_plan.moves:
        key = (move.server, move.name)
        if key in done:
            continue
        try:
            store(move.server, move.profile, move.name, move.finding.value)
        except SecretsError as exc:
            raise MigrationError(_store_fix(exc)) from None
        done.add(key)
    outcome.stored = len(done)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    for fp in the_plan.files:
        try:
            backup = _replace(fp.doc, fp.new_text, stamp)
        except MigrationError as exc:  # this file only; the others are independent
            outcome.failed.append(str(exc))
            continue
        except OSError as exc:
            outcome.failed.append(f"{fp.doc.path} could not be rewritten "
                                  f"({exc.strerror or type(exc).__name__}); it was left as it was")
            continue
        outcome.written.append(fp.doc.path)
        outcome.backups.append(backup)
    return outcome


def backup_dir(stamp: str) -> Path:
    from mcp_secrets.paths import state_dir

    d = state_dir() / "backups" / stamp
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    return d


def _replace(doc: Document, new_text: str, stamp: str) -> Path:
    target = doc.target
    if target.read_bytes() != doc.raw:
        raise MigrationError(_changed(doc))
    st = target.stat()
    flat = str(target).strip("/\\").replace("/", "%").replace("\\", "%").replace(":", "")
    backup = backup_dir(stamp) / flat
    fd = os.open(backup, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(doc.raw)
        fh.flush()
        os.fsync(fh.fileno())
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(new_text.encode("utf-8"))
            fh.flush()
            os.fchmod(fh.fileno(), stat.S_IMODE(st.st_mode))
            if hasattr(os, "fchown") and os.geteuid() == 0:
                os.fchown(fh.fileno(), st.st_uid, st.st_gid)
            os.fsync(fh.fileno())
        if target.read_bytes() != doc.raw:  # the client saved it while we wrote ours
            raise MigrationError(_changed(doc))
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return backup


def _changed(doc: Document) -> str:
    return (f"{doc.path} changed on disk while migrate ran (its client saved it); it was not "
            "written, so that change is kept. The values are already stored: run "
            "`mcp-secrets migrate` again")


def masked_diff(fp: FilePlan) -> str:
    """A unified diff of the change with every moved value replaced by a marker."""
    def mask(text: str) -> str:
        for move in fp.moves:
            value = move.finding.value
            for form in {value, json.dumps(value, ensure_ascii=False)[1:-1],
                         json.dumps(value)[1:-1]}:
                if form:
                    text = text.replace(form, "‹secret›")
        return text

    old, new = mask(fp.doc.text), mask(fp.new_text)
    return "".join(difflib.unified_diff(old.splitlines(keepends=True),
                                        new.splitlines(keepends=True),
                                        fromfile=str(fp.doc.path), tofile=str(fp.doc.path)))

