"""Read an MCP client's config file and list its server entries, whatever the client's format.

One `Entry` per server, with its plain data and where it sits (the container's key path and,
for Continue's lists, its index), so `scan` can look at it and `migrate` can edit that one
entry in place. Parse errors name the file and a line and column, never the text there.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcp_secrets.clients import COMMAND_KEYS, URL_KEYS, Location
from mcp_secrets.errors import ConfigFileError

Key = str | int


@dataclass
class Entry:
    server: str
    data: dict[str, Any]
    where: tuple[Key, ...]  # key path from the document root to this entry (() = the root)


@dataclass
class Document:
    path: Path  # as found (may be a symlink)
    location: Location
    raw: bytes
    text: str
    entries: list[Entry] = field(default_factory=list)

    @property
    def client(self) -> str:
        return self.location.client

    @property
    def target(self) -> Path:
        """The file to edit: a symlinked config is edited at its target and the link kept."""
        return Path(os.path.realpath(self.path))


def load(path: Path, location: Location) -> Document:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigFileError(f"cannot read {path}: {exc.strerror or type(exc).__name__}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigFileError(f"{path} is not UTF-8 text; nothing was read from it") from None
    doc = Document(path, location, raw, text)
    data = parse_text(text, location.fmt, str(path))
    doc.entries = list(entries_of(data, location, path))
    return doc


def parse_text(text: str, fmt: str, what: str) -> Any:
    """The plain data of a config text; ConfigFileError with a line and column if malformed."""
    if fmt in ("json", "jsonc"):
        from mcp_secrets import jsonc

        return jsonc.parse(text, what=what).value if text.strip() else {}
    if fmt == "toml":
        import tomllib

        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            # tomllib's messages name the position and the rule, not the text.
            raise ConfigFileError(f"{what} is not valid TOML: {exc}") from None
    if fmt == "yaml":
        return _yaml_load(text, what)
    raise ConfigFileError(f"{what}: unknown config format {fmt!r}")


def _yaml_load(text: str, what: str) -> Any:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        return YAML(typ="safe", pure=True).load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        raise ConfigFileError(f"{what} is not valid YAML ({where}): {exc.problem}") from None
    except YAMLError:
        raise ConfigFileError(f"{what} is not valid YAML") from None


def entries_of(data: Any, location: Location, path: Path) -> list[Entry]:
    out: list[Entry] = []
    for spec in location.servers:
        if spec == ".":
            if isinstance(data, dict) and _is_server(data) and not any(
                    isinstance(data.get(k), (dict, list)) for k in ("mcpServers",)):
                out.append(Entry(path.stem, data, ()))
            continue
        for where, container in _walk(data, tuple(spec.split("."))):
            if isinstance(container, dict):
                out += [Entry(str(name), entry, (*where, name))
                        for name, entry in container.items() if isinstance(entry, dict)]
            elif isinstance(container, list):  # Continue: a list of {name, command, ...}
                out += [Entry(str(item.get("name") or f"#{i}"), item, (*where, i))
                        for i, item in enumerate(container) if isinstance(item, dict)]
    return out


def _walk(data: Any, keys: tuple[str, ...], where: tuple[Key, ...] = ()) -> list[
        tuple[tuple[Key, ...], Any]]:
    if not keys:
        return [(where, data)]
    if not isinstance(data, dict):
        return []
    head, rest = keys[0], keys[1:]
    if head == "*":
        return [hit for k, v in data.items() for hit in _walk(v, rest, (*where, k))]
    return _walk(data[head], rest, (*where, head)) if head in data else []


def _is_server(data: dict[str, Any]) -> bool:
    return any(k in data for k in (*COMMAND_KEYS, *URL_KEYS))


@dataclass
class Launch:
    """Where an entry's command, args and env live (Zed's older form nests them in `command`)."""

    obj: dict[str, Any]
    nested: bool  # True: obj is entry["command"] with keys path/args/env
    cmd_key: str | None
    env_key: str

    @property
    def command(self) -> Any:
        return self.obj.get(self.cmd_key) if self.cmd_key else None

    @property
    def args(self) -> list[Any]:
        args = self.obj.get("args")
        return args if isinstance(args, list) else []

    @property
    def env(self) -> dict[str, Any]:
        env = self.obj.get(self.env_key)
        return env if isinstance(env, dict) else {}


def launch_of(entry: dict[str, Any]) -> Launch:
    if isinstance(entry.get("command"), dict):
        inner = entry["command"]
        return Launch(inner, True, "path", "env")
    cmd_key = next((k for k in COMMAND_KEYS if k in entry), None)
    default_env = "envs" if cmd_key == "cmd" else "env"  # Goose says cmd/envs
    env_key = next((k for k in ("env", "envs") if k in entry), default_env)
    return Launch(entry, False, cmd_key, env_key)


def url_of(entry: dict[str, Any]) -> tuple[str, Any] | None:
    for k in URL_KEYS:
        if k in entry:
            return k, entry[k]
    return None


def is_remote(entry: dict[str, Any]) -> bool:
    return url_of(entry) is not None and launch_of(entry).command is None
