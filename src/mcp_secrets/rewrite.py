"""Rewrite one server entry's command, args and env inside a config text, touching nothing else.

JSON and JSONC are edited as text: only the spans of the values we change are replaced, so
comments, key order, indentation and every unrelated key stay byte for byte. TOML goes through
tomlkit and YAML through ruamel.yaml's round-trip mode, both of which keep comments and order.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mcp_secrets.configs import Key


@dataclass(frozen=True)
class LaunchEdit:
    where: tuple[Key, ...]  # the entry's key path
    nested: bool  # Zed's older {"command": {"path", "args", "env"}}
    cmd_key: str
    env_key: str
    command: str
    args: list[str]
    drop_env: tuple[str, ...]  # env variables whose values moved to the store


def apply(text: str, fmt: str, edits: Sequence[LaunchEdit]) -> str:
    if fmt in ("json", "jsonc"):
        return _json(text, edits)
    if fmt == "toml":
        return _toml(text, edits)
    if fmt == "yaml":
        return _yaml(text, edits)
    raise ValueError(f"unknown format {fmt!r}")


# --- JSON / JSONC: span edits ------------------------------------------------------------------

def _json(text: str, edits: Sequence[LaunchEdit]) -> str:
    from mcp_secrets import jsonc

    root = jsonc.parse(text)
    spans: list[tuple[int, int, str]] = []
    for edit in edits:
        node = root
        for k in edit.where:
            node = node.members[k] if isinstance(k, str) else node.items[k]
        launch = node.members["command"] if edit.nested else node
        cmd = launch.members[edit.cmd_key]
        spans.append((cmd.start, cmd.end, _dumps(edit.command)))
        args = launch.members.get("args")
        if args is not None:
            spans.append((args.start, args.end, _array(text, args, edit.args)))
        else:
            inline = "\n" not in text[launch.start:launch.end]
            sep = ", " if inline else "," + _newline(text) + jsonc.line_indent(text, cmd.start)
            spans.append((cmd.end, cmd.end, f'{sep}"args": {_array(text, None, edit.args)}'))
        env = launch.members.get(edit.env_key)
        if env is not None and edit.drop_env and env.kind == "object":
            keep = [k for k in env.members if k not in edit.drop_env]
            spans.append((env.start, env.end, _object(text, env, keep)))
    for start, end, new in sorted(spans, reverse=True):
        text = text[:start] + new + text[end:]
    return text


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _array(text: str, node: Any, values: list[str]) -> str:
    from mcp_secrets import jsonc

    items = [_dumps(v) for v in values]
    if node is None or not node.items or "\n" not in text[node.start:node.end]:
        return "[" + ", ".join(items) + "]"
    indent = jsonc.line_indent(text, node.items[0].start)
    close = jsonc.line_indent(text, node.end - 1)
    nl = _newline(text)
    return f"[{nl}" + f",{nl}".join(indent + i for i in items) + nl + close + "]"


def _newline(text: str) -> str:
    """The file's own line ending, so a CRLF file does not get mixed endings."""
    return "\r\n" if "\r\n" in text else "\n"


def _object(text: str, node: Any, keep: list[str]) -> str:
    from mcp_secrets import jsonc

    if not keep:
        return "{}"
    sep = ": " if re.search(r'"\s*:\s', text[node.start:node.end]) else ":"
    parts = [f"{_dumps(k)}{sep}{text[node.members[k].start:node.members[k].end]}" for k in keep]
    if "\n" not in text[node.start:node.end]:
        return "{" + ", ".join(parts) + "}"
    first = next(iter(node.members.values()))
    indent = jsonc.line_indent(text, first.start)
    close = jsonc.line_indent(text, node.end - 1)
    nl = _newline(text)
    return f"{{{nl}" + f",{nl}".join(indent + p for p in parts) + nl + close + "}"


# --- TOML: tomlkit -----------------------------------------------------------------------------

def _toml(text: str, edits: Sequence[LaunchEdit]) -> str:
    import tomlkit

    doc = tomlkit.parse(text)
    for edit in edits:
        table: Any = doc
        for k in edit.where:
            table = table[k]
        if edit.nested:
            table = table["command"]
        table[edit.cmd_key] = edit.command
        old = table.get("args")
        arr = tomlkit.array()
        arr.extend(edit.args)
        if old is not None and "\n" in old.as_string():
            arr.multiline(True)
        table["args"] = arr
        env = table.get(edit.env_key)
        if env is not None:
            for var in edit.drop_env:
                if var in env:
                    del env[var]
    return tomlkit.dumps(doc)


# --- YAML: ruamel.yaml round trip --------------------------------------------------------------

def _yaml(text: str, edits: Sequence[LaunchEdit]) -> str:
    from io import StringIO

    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedSeq

    yaml = YAML()  # round trip
    yaml.preserve_quotes = True
    yaml.width = 1 << 20
    mapping, offset = _yaml_indents(text)
    yaml.indent(mapping=mapping, sequence=offset + 2, offset=offset)
    yaml.explicit_start = text.lstrip().startswith("---")
    data = yaml.load(text)
    for edit in edits:
        node: Any = data
        for k in edit.where:
            node = node[k]
        if edit.nested:
            node = node["command"]
        node[edit.cmd_key] = edit.command
        old = node.get("args")
        seq = CommentedSeq(edit.args)
        if old is not None and getattr(old, "fa", None) is not None and old.fa.flow_style():
            seq.fa.set_flow_style()
        node["args"] = seq
        env = node.get(edit.env_key)
        if env is not None:
            for var in edit.drop_env:
                env.pop(var, None)
    out = StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def _yaml_indents(text: str) -> tuple[int, int]:
    """(mapping indent, dash offset) as the file already uses them, so untouched lines stay."""
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    mapping, offset = 0, None
    for prev, line in itertools.pairwise(lines):
        p = len(prev) - len(prev.lstrip())
        c = len(line) - len(line.lstrip())
        if prev.rstrip().endswith(":") and not prev.lstrip().startswith("- "):
            if line.lstrip().startswith("- "):
                offset = c - p if offset is None else offset
            elif c > p and not mapping:
                mapping = c - p
    return mapping or 2, max(offset or 0, 0)
