"""A JSON-with-comments reader that remembers where every value sits in the text.

`migrate` rewrites one server entry of files it does not own (VS Code and Zed settings with
comments, `~/.claude.json` with hundreds of unrelated keys). Re-serialising the whole document
would drop comments and reflow everything; with the span of each value we replace only the bytes
of the values we change and leave every other byte as it was.

Accepts strict JSON plus `//` and `/* */` comments and trailing commas (what VS Code and Zed
accept). Errors give a line and column, never the text around them (it may be a secret).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from mcp_secrets.errors import ConfigFileError

_WS = " \t\r\n\ufeff"
_NUMBER = re.compile(r"(-?(?:0|[1-9]\d*))(\.\d+)?([eE][-+]?\d+)?")


@dataclass
class Node:
    """A parsed value and its span ``text[start:end]``."""

    start: int
    end: int
    value: Any = None  # the plain Python value (dicts and lists of plain values)
    members: dict[str, Node] = field(default_factory=dict)  # objects: key -> value node
    items: list[Node] = field(default_factory=list)  # arrays
    kind: str = "scalar"  # "object", "array" or "scalar"


def parse(text: str, *, what: str = "the file") -> Node:
    """Parse JSONC `text`; ConfigFileError (with line and column) if it is not valid."""
    p = _Parser(text, what)
    p.skip()
    if p.i >= len(text):
        raise p.fail("it is empty")
    node = p.value()
    p.skip()
    if p.i != len(text):
        raise p.fail("unexpected text after the end of the document")
    return node


def line_indent(text: str, pos: int) -> str:
    """The leading whitespace of the line holding `pos`."""
    start = text.rfind("\n", 0, pos) + 1
    end = start
    while end < len(text) and text[end] in " \t":
        end += 1
    return text[start:end]


class _Parser:
    def __init__(self, text: str, what: str) -> None:
        self.t = text
        self.i = 0
        self.what = what

    def fail(self, reason: str) -> ConfigFileError:
        line = self.t.count("\n", 0, self.i) + 1
        col = self.i - (self.t.rfind("\n", 0, self.i) + 1) + 1
        return ConfigFileError(
            f"{self.what} is not valid JSON (line {line}, column {col}): {reason}")

    def skip(self) -> None:
        t, n = self.t, len(self.t)
        while self.i < n:
            c = t[self.i]
            if c in _WS:
                self.i += 1
            elif t.startswith("//", self.i):
                nl = t.find("\n", self.i)
                self.i = n if nl < 0 else nl + 1
            elif t.startswith("/*", self.i):
                close = t.find("*/", self.i + 2)
                if close < 0:
                    raise self.fail("a /* comment is never closed")
                self.i = close + 2
            else:
                return

    def value(self) -> Node:
        if self.i >= len(self.t):
            raise self.fail("the document ends too early")
        c = self.t[self.i]
        if c == "{":
            return self.obj()
        if c == "[":
            return self.arr()
        if c == '"':
            start = self.i
            s = self.string()
            return Node(start, self.i, s)
        return self.scalar()

    def string(self) -> str:
        try:
            s, end = json.decoder.scanstring(self.t, self.i + 1, True)  # type: ignore[attr-defined]
        except json.JSONDecodeError as exc:
            self.i = exc.pos
            raise self.fail("a string is not closed or has a bad escape") from None
        self.i = end
        return str(s)

    def scalar(self) -> Node:
        start = self.i
        for word, val in (("true", True), ("false", False), ("null", None)):
            if self.t.startswith(word, self.i):
                self.i += len(word)
                return Node(start, self.i, val)
        m = _NUMBER.match(self.t, self.i)
        if m is None or m.end() == start:
            raise self.fail("expected a value")
        integer, frac, exp = m.groups()
        self.i = m.end()
        number: Any = float(integer + (frac or "") + (exp or "")) if frac or exp else int(integer)
        return Node(start, self.i, number)

    def obj(self) -> Node:
        node = Node(self.i, self.i, {}, kind="object")
        self.i += 1
        while True:
            self.skip()
            if self.i >= len(self.t):
                raise self.fail("an object is not closed")
            if self.t[self.i] == "}":
                self.i += 1
                break
            if self.t[self.i] != '"':
                raise self.fail("expected a quoted key")
            key = self.string()
            self.skip()
            if self.i >= len(self.t) or self.t[self.i] != ":":
                raise self.fail("expected ':' after a key")
            self.i += 1
            self.skip()
            child = self.value()
            node.members[key] = child
            node.value[key] = child.value
            self.skip()
            if self.i < len(self.t) and self.t[self.i] == ",":
                self.i += 1
            elif self.i < len(self.t) and self.t[self.i] != "}":
                raise self.fail("expected ',' or '}'")
        node.end = self.i
        return node

    def arr(self) -> Node:
        node = Node(self.i, self.i, [], kind="array")
        self.i += 1
        while True:
            self.skip()
            if self.i >= len(self.t):
                raise self.fail("an array is not closed")
            if self.t[self.i] == "]":
                self.i += 1
                break
            child = self.value()
            node.items.append(child)
            node.value.append(child.value)
            self.skip()
            if self.i < len(self.t) and self.t[self.i] == ",":
                self.i += 1
            elif self.i < len(self.t) and self.t[self.i] != "]":
                raise self.fail("expected ',' or ']'")
        node.end = self.i
        return node
