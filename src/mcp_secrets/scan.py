"""Find plaintext secrets in MCP client configs: in each server entry's `env`, `headers`,
`args` and `url`. A finding names where the value is (client, file, server, field) and what it
looks like; it never holds the value in anything printable."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcp_secrets.clients import HEADER_KEYS, discover, for_path
from mcp_secrets.configs import Document, Entry, is_remote, launch_of, load, url_of
from mcp_secrets.detect import Detection, classify, key_like
from mcp_secrets.errors import ConfigFileError

_ARG_INDEX = re.compile(r"^args\[(\d+)\]$")


@dataclass(frozen=True)
class Finding:
    client: str
    file: str
    server: str
    field: str  # env.NAME, headers.NAME, args[N] or url
    kind: str
    preview: str
    remote: bool  # the entry is a remote (url) server: `run` cannot wrap it
    value: str = dataclasses.field(repr=False, compare=False)  # never printed; migrate stores it

    def to_json(self) -> dict[str, Any]:
        return {"client": self.client, "file": self.file, "server": self.server,
                "field": self.field, "kind": self.kind, "preview": self.preview,
                "remote": self.remote}


@dataclass(frozen=True)
class Notice:
    """Not a plaintext secret, but worth knowing (a reference whose value enters argv)."""

    client: str
    file: str
    server: str
    field: str
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"client": self.client, "file": self.file, "server": self.server,
                "field": self.field, "message": self.message}


@dataclass
class ScanResult:
    documents: list[Document] = dataclasses.field(default_factory=list)
    findings: list[Finding] = dataclasses.field(default_factory=list)
    notices: list[Notice] = dataclasses.field(default_factory=list)
    errors: list[str] = dataclasses.field(default_factory=list)


def documents(paths: Iterable[Path] = ()) -> Iterator[Document | ConfigFileError]:
    """The configs to look at: every known location (and the current project) when `paths` is
    empty; else each named file, and the project files of each named directory."""
    paths = list(paths)
    if paths:
        found = []
        for p in paths:
            if p.is_dir():
                found += [(c.path, c.location) for c in discover((p,), user=False)]
            elif p.exists():
                found.append((p, for_path(p)))
            else:
                yield ConfigFileError(f"{p} does not exist")
    else:
        found = [(c.path, c.location) for c in discover((Path.cwd(),))]
    for path, location in found:
        try:
            yield load(path, location)
        except ConfigFileError as exc:
            yield exc


def scan(paths: Iterable[Path] = ()) -> ScanResult:
    result = ScanResult()
    for doc in documents(paths):
        if isinstance(doc, ConfigFileError):
            result.errors.append(str(doc))
            continue
        result.documents.append(doc)
        for entry in doc.entries:
            findings, notices = scan_entry(doc, entry)
            result.findings += findings
            result.notices += notices
    return result


def scan_entry(doc: Document, entry: Entry) -> tuple[list[Finding], list[Notice]]:
    findings: list[Finding] = []
    notices: list[Notice] = []
    remote = is_remote(entry.data)

    def found(field_: str, value: str, hit: Detection | None) -> None:
        if hit is not None:
            findings.append(Finding(doc.client, str(doc.path), entry.server, field_, hit.kind,
                                    hit.preview, remote, value))

    launch = launch_of(entry.data)
    for name, value in launch.env.items():
        found(f"env.{name}", value, classify(value, str(name)))
    for key in HEADER_KEYS:
        headers = entry.data.get(key)
        if isinstance(headers, dict):
            for name, value in headers.items():
                found(f"headers.{name}", value, classify(value, str(name), header=True))
    args = launch.args
    for i, arg in enumerate(args):
        if not isinstance(arg, str):
            continue
        if arg.startswith("mcp-secrets://") or _is_reference(arg):
            notices.append(Notice(doc.client, str(doc.path), entry.server, f"args[{i}]",
                                  "a reference as a whole argument: its value enters argv "
                                  "(visible in the process list); prefer an env variable"))
            continue
        flag, _, inline = arg.partition("=")
        if arg.startswith("-") and inline:
            found(f"args[{i}]", arg, classify(inline, flag))
        else:
            prev = args[i - 1] if i and isinstance(args[i - 1], str) else ""
            flag_name = prev if prev.startswith("-") and key_like(prev) else None
            found(f"args[{i}]", arg, classify(arg, flag_name))
    url = url_of(entry.data)
    if url is not None:
        found("url", url[1], classify(url[1], url[0], url=True))
    return findings, notices


def _is_reference(text: str) -> bool:
    if "://" not in text:
        return False
    from mcp_secrets.refs import is_reference

    return is_reference(text) and not text.startswith(("http://", "https://"))


def arg_index(field_: str) -> int | None:
    m = _ARG_INDEX.match(field_)
    return int(m.group(1)) if m else None
