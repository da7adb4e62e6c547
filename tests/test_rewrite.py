"""Editing one entry in place, format by format (pure text in, text out: no store involved)."""

from __future__ import annotations

import json
import re

import pytest

from mcp_secrets import jsonc
from mcp_secrets.errors import ConfigFileError
from mcp_secrets.rewrite import LaunchEdit, apply

EDIT = LaunchEdit(("mcpServers", "s"), False, "command", "env", "/opt/bin/mcp-secrets",
                  ["run", "--env", "K=mcp-secrets://s/K", "--", "npx", "pkg"], ("K",))


def test_crlf_files_keep_crlf_line_endings() -> None:
    text = ('{\r\n  "mcpServers": {\r\n    "s": {\r\n      "command": "npx",\r\n'
            '      "args": [\r\n        "pkg"\r\n      ],\r\n      "env": {\r\n'
            '        "K": "v",\r\n        "L": "info"\r\n      }\r\n    }\r\n  }\r\n}\r\n')
    out = apply(text, "json", [EDIT])
    assert not re.search(r"(?<!\r)\n", out)
    assert json.loads(out)["mcpServers"]["s"] == {
        "command": "/opt/bin/mcp-secrets", "args": EDIT.args, "env": {"L": "info"}}


def test_an_entry_without_args_gets_them_after_the_command() -> None:
    text = '{"mcpServers": {"s": {"command": "npx", "env": {"K": "v"}}}, "z": 1}'
    out = apply(text, "json", [EDIT])
    assert json.loads(out) == {"mcpServers": {"s": {"command": "/opt/bin/mcp-secrets",
                                                     "args": EDIT.args, "env": {}}}, "z": 1}
    assert out.endswith('}}, "z": 1}')


def test_comments_and_trailing_commas_around_the_entry_survive() -> None:
    text = ('{\n  // before\n  "mcpServers": {\n    /* entry */ "s": {"command": "npx",'
            ' "env": {"K": "v",},}, // after\n  },\n}\n')
    out = apply(text, "jsonc", [EDIT])
    assert "// before" in out and "/* entry */" in out and "}, // after\n  },\n}\n" in out
    assert jsonc.parse(out).value["mcpServers"]["s"]["env"] == {}


@pytest.mark.parametrize("text", ['{"a": 1,', '{"a" 1}', "[1, 2", '{"a": "x\\q"}', "/* open",
                                  '{"a": 1} x', ""])
def test_jsonc_errors_name_a_line_and_column(text: str) -> None:
    with pytest.raises(ConfigFileError, match=r"is not valid JSON|empty"):
        jsonc.parse(text, what="f.json")


def test_toml_inline_env_and_comments() -> None:
    text = ('# top\n[mcp_servers.s]\ncommand = "npx"  # the runner\nargs = ["pkg"]\n'
            'env = { K = "v", L = "info" }\n\n[other]\nx = 1 # keep\n')
    edit = LaunchEdit(("mcp_servers", "s"), False, "command", "env", EDIT.command, EDIT.args,
                      ("K",))
    out = apply(text, "toml", [edit])
    assert out.startswith("# top\n[mcp_servers.s]\n") and out.endswith("\n[other]\nx = 1 # keep\n")
    import tomllib

    assert tomllib.loads(out)["mcp_servers"]["s"] == {
        "command": EDIT.command, "args": EDIT.args, "env": {"L": "info"}}
