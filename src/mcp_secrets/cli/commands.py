"""set / get / list / delete / clear: thin wrappers over MCPSecretsStorage.

The CLI talks to the storage layer rather than the manager on purpose: the manager applies
SECRETS_STORAGE_CLEAR at initialisation, and a variable left in someone's shell must never
turn `mcp-secrets list` into a wipe.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from mcp_secrets.cli.errors import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, CLIError
from mcp_secrets.cli.prompts import confirm, read_secret_value, stdin_is_tty
from mcp_secrets.errors import SecretsError

if TYPE_CHECKING:
    from mcp_secrets.storage import MCPSecretsStorage


def open_storage(server: str, name: str | None = None, profile: str | None = None, *,
                 backend: str | None = None) -> MCPSecretsStorage:
    """The server's storage in `profile` (None: MCP_SECRETS_PROFILE, else the default), on the
    store named by `backend` (--backend), else the default. The names are validated first, so a
    bad one fails before a keychain is opened or a value is asked for."""
    from mcp_secrets.names import service_name, validate_name
    from mcp_secrets.selection import default_backend
    from mcp_secrets.storage import MCPSecretsStorage

    if name is not None:
        validate_name(name)
    service_name(server, profile)
    return MCPSecretsStorage(server, backend=default_backend(backend), profile=profile)


def _where(storage: MCPSecretsStorage) -> str:
    """How messages name the scope: "server 's'" or "server 's' (profile 'prod')"."""
    from mcp_secrets.names import DEFAULT_PROFILE

    server = f"server {storage.server_name!r}"
    if storage.profile == DEFAULT_PROFILE:
        return server
    return f"{server} (profile {storage.profile!r})"


def _emit_json(payload: object) -> None:
    print(json.dumps(payload, indent=2, ensure_ascii=False))


def cmd_set(args: argparse.Namespace) -> int:
    if args.extra:
        raise CLIError(
            "a secret value is never taken from the command line (shell history and the "
            "process list would keep it); pipe it on stdin, e.g. "
            "`mcp-secrets set SERVER NAME < file`, or run without a pipe to get a hidden prompt",
            EXIT_USAGE,
        )
    storage = open_storage(args.server, args.name, args.profile, backend=args.backend)
    value = read_secret_value(f"{args.name!r} of {_where(storage)}")
    existed = storage.secret_exists(args.name)
    storage.store_secret(args.name, value)
    verb = "replaced" if existed else "stored"
    print(f"{verb} {args.name!r} for {_where(storage)} in {storage.backend.name}")
    return EXIT_OK


def cmd_get(args: argparse.Namespace) -> int:
    storage = open_storage(args.server, args.name, args.profile, backend=args.backend)
    value = storage.retrieve_secret(args.name)
    if args.json:
        payload: dict[str, object] = {
            "server": args.server, "profile": storage.profile, "name": args.name,
            "exists": value is not None,
        }
        if args.reveal and value is not None:
            payload["value"] = value
        _emit_json(payload)
    elif value is not None:
        if args.reveal:
            sys.stdout.write(value if args.no_newline else value + "\n")
        else:
            print(f"{args.name!r} is stored for {_where(storage)} (use --reveal to print it)")
    if value is None:
        raise CLIError(f"{args.name!r} is not stored for {_where(storage)}")
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    storage = open_storage(args.server, profile=args.profile, backend=args.backend)
    names = storage.list_secrets()
    if args.json:
        _emit_json({"server": args.server, "profile": storage.profile,
                    "backend": storage.backend.name, "secrets": names})
    else:
        for name in names:
            print(name)
    return EXIT_OK


def cmd_delete(args: argparse.Namespace) -> int:
    storage = open_storage(args.server, args.name, args.profile, backend=args.backend)
    if not storage.delete_secret(args.name):
        raise CLIError(f"{args.name!r} was not stored for {_where(storage)}; nothing deleted")
    print(f"deleted {args.name!r} for {_where(storage)}")
    return EXIT_OK


def cmd_clear(args: argparse.Namespace) -> int:
    storage = open_storage(args.server, profile=args.profile, backend=args.backend)
    if not args.yes:
        if not stdin_is_tty():
            raise CLIError(
                f"refusing to clear every secret of {_where(storage)} without confirmation: "
                "stdin is not a terminal; pass --yes"
            )
        count = len(storage.list_secrets())
        if not confirm(f"Delete all {count} secret(s) of {_where(storage)}?"):
            raise CLIError("not confirmed; nothing deleted")
    removed = storage.clear_secrets()
    print(f"cleared {removed} secret(s) for {_where(storage)}")
    return EXIT_OK


def servers_in_store(backend: str | None = None) -> list[str] | None:
    """The servers with entries in the default profile of the store named by `backend`
    (--backend), else the default one; None if the store cannot enumerate them."""
    from mcp_secrets.names import DEFAULT_PROFILE

    scopes = scopes_in_store(backend)
    return None if scopes is None else [s for s, p in scopes if p == DEFAULT_PROFILE]


def scopes_in_store(backend: str | None = None) -> list[tuple[str, str]] | None:
    """(server, profile) of every scope with entries in the store named by `backend`, else the
    default one; None if it cannot enumerate them."""
    from mcp_secrets.names import DEFAULT_PROFILE, service_name
    from mcp_secrets.selection import default_backend

    services = default_backend(backend).services()
    if services is None:
        return None
    scopes = []
    for service in services:
        server, _, profile = service.removeprefix("com.mcp.").partition("/")
        profile = profile or DEFAULT_PROFILE
        try:
            if service.startswith("com.mcp.") and service_name(server, profile) == service:
                scopes.append((server, profile))
        except ValueError:
            continue  # not one of ours, or a name we would refuse today
    return scopes


def describe_repair(report: dict[str, object]) -> str:
    """One line saying what a repair fixed (or, for a check, would fix)."""
    parts = []
    if report["ghosts_removed"]:
        parts.append(f"{report['ghosts_removed']} ghost(s) (listed but not stored)")
    if report["unindexed_added"] and not report["index_rebuilt"]:  # else: all of them
        parts.append(f"{report['unindexed_added']} stored but unlisted secret(s)")
    if report["orphan_chunks_removed"]:
        parts.append(f"{report['orphan_chunks_removed']} orphan chunk(s) of old values")
    if report["index_rebuilt"]:
        parts.append("an unreadable index")
    return ", ".join(parts)


def cmd_repair(args: argparse.Namespace) -> int:
    from mcp_secrets.names import DEFAULT_PROFILE

    if args.server is not None:
        scopes = [(args.server, args.profile)]
    else:
        found = scopes_in_store(args.backend)
        if found is None:
            raise CLIError("this store cannot list its servers; name one: "
                           "mcp-secrets repair SERVER")
        scopes = [(s, p) for s, p in found if args.profile in (None, p)]
    if not scopes:
        print("no servers have secrets in this store; nothing to repair")
    failed = 0
    for server, profile in scopes:
        label = server if profile in (None, DEFAULT_PROFILE) else f"{server} (profile {profile})"
        try:
            report = open_storage(server, profile=profile, backend=args.backend).repair()
        except SecretsError as exc:
            if args.server is not None:
                raise
            failed += 1  # one damaged server does not stop the others' repair
            print(f"mcp-secrets: {label}: could not repair: {exc}", file=sys.stderr)
            continue
        fixed = describe_repair(report)
        print(f"{label}: " + (f"fixed {fixed}" if fixed else "nothing to repair")
              + f" ({report['secrets']} secret(s))")
    return EXIT_FAILURE if failed else EXIT_OK
