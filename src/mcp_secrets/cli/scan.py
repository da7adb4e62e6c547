"""`mcp-secrets scan` and `mcp-secrets migrate`: find plaintext keys in MCP client configs and
move them into the store. Neither ever prints a value: a finding shows at most a public
prefix (``sk-ant-…``) and a length."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from mcp_secrets.cli.errors import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, CLIError, report
from mcp_secrets.cli.prompts import confirm, stdin_is_tty


def add_parsers(sub: Any) -> None:
    """Add `scan` and `migrate` to the main parser's subcommands."""
    s = sub.add_parser(
        "scan", help="find plaintext secrets in MCP client configs (exit 1 if any)",
        description="Look for API keys and tokens pasted into the configs of Claude Desktop, "
                    "Claude Code, Cursor, VS Code, Windsurf, Zed, Cline, Roo, Continue, Codex, "
                    "Gemini CLI, Goose and LM Studio (every known location on this OS, plus the "
                    "current directory's project files), or in the files/directories given. "
                    "Exit 0: nothing found; 1: findings; 2: a file could not be read.")
    s.add_argument("paths", nargs="*", type=Path, metavar="PATH")
    s.add_argument("--json", action="store_true")

    m = sub.add_parser(
        "migrate", help="move found secrets into the store and rewrite the configs to use them",
        description="Store each plaintext secret `scan` finds under the entry's server name, "
                    "then rewrite the entry to launch through `mcp-secrets run` with a reference "
                    "instead of the value. Backs every file up first (0600).")
    m.add_argument("paths", nargs="*", type=Path, metavar="PATH")
    m.add_argument("--dry-run", action="store_true",
                   help="print the change as a diff (values masked) and write nothing")
    m.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    m.add_argument("--profile", metavar="P",
                   help="store the values in profile P (the references then name it)")


def _need_extra() -> None:
    """scan and migrate use detect-secrets, tomlkit and ruamel.yaml (the `migrate` extra)."""
    import importlib.util

    missing = [m for m in ("detect_secrets", "tomlkit", "ruamel.yaml")
               if importlib.util.find_spec(m.split(".")[0]) is None]
    if missing:
        raise CLIError(f"this command needs {', '.join(missing)}: install them with "
                       "pip install 'mcp-secrets[migrate]'")


def cmd_scan(args: argparse.Namespace) -> int:
    _need_extra()
    from mcp_secrets.scan import scan

    result = scan(args.paths)
    if args.json:
        print(json.dumps({"findings": [f.to_json() for f in result.findings],
                          "notices": [n.to_json() for n in result.notices],
                          "errors": result.errors,
                          "files": [str(d.path) for d in result.documents]}, indent=2))
    else:
        _table(["client", "file", "server", "field", "kind", "preview"],
               [[f.client, _short(f.file), f.server, f.field, f.kind, f.preview]
                for f in result.findings])
        for n in result.notices:
            print(f"note: {n.file}: {n.server} {n.field}: {n.message}")
        for err in result.errors:
            report(err)
        files = len(result.documents)
        if result.findings:
            remote = sum(f.remote for f in result.findings)
            print(f"\n{len(result.findings)} plaintext secret(s) in {files} config file(s)"
                  + (f" ({remote} in remote entries, which need the proxy)" if remote else "")
                  + ". Move them into the keychain with: mcp-secrets migrate")
        elif not result.errors:
            print(f"no plaintext secrets found in {files} config file(s)")
    if result.errors:
        return EXIT_USAGE
    return EXIT_FAILURE if result.findings else EXIT_OK


def cmd_migrate(args: argparse.Namespace) -> int:
    _need_extra()
    from mcp_secrets import migrate

    plan = migrate.plan(args.paths, profile=args.profile)
    for s in plan.skipped:
        f = s.finding
        print(f"left unchanged: {f.file}: {f.server} {f.field} ({f.kind}): {s.reason}")
    if not plan.files:
        print("nothing to migrate" + (" that `run` can wrap" if plan.skipped else ""))
        return EXIT_OK
    if args.dry_run:
        for fp in plan.files:
            sys.stdout.write(migrate.masked_diff(fp))
        print(f"\ndry run: {len(plan.moves)} secret(s) in {len(plan.files)} file(s) would move "
              "into the store; nothing was written")
        return EXIT_OK
    for fp in plan.files:
        for mv in fp.moves:
            print(f"{fp.doc.client}: {fp.doc.path}: {mv.finding.server} {mv.finding.field} "
                  f"-> {mv.reference}")
    if not args.yes:
        if not stdin_is_tty():
            raise CLIError("refusing to rewrite configs without confirmation: stdin is not a "
                           "terminal; pass --yes (or --dry-run to see the change)")
        if not confirm(f"Store {len(plan.moves)} secret(s) and rewrite "
                       f"{len(plan.files)} file(s)?"):
            raise CLIError("not confirmed; nothing was changed")
    outcome = migrate.run(plan)
    print(f"\nstored {outcome.stored} secret(s); rewrote {len(outcome.written)} file(s) to "
          "launch through `mcp-secrets run`. Restart the MCP clients to pick the change up.")
    if outcome.backups:
        where = outcome.backups[0].parent
        print(f"The backups still hold the plaintext keys ({len(outcome.backups)} file(s) in "
              f"{where}):")
        for b in outcome.backups:
            print(f"  {b}")
        print(f"When every server works, delete them: rm -r '{where}'")
    for message in outcome.failed:
        report(message)
    return EXIT_FAILURE if outcome.failed else EXIT_OK


def _short(path: str) -> str:
    """A path under the home directory as ~/…, so the table fits a terminal."""
    home = str(Path.home())
    return "~" + path[len(home):] if path.startswith(home + "/") else path


def _table(header: list[str], rows: list[list[str]]) -> None:
    if not rows:
        return
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
