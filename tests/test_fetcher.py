"""fetch_secrets pieces that need no MCP client (the flows themselves: test_mcp_e2e.py)."""

from __future__ import annotations

import asyncio
import shlex

import pytest

from mcp_secrets.errors import InvalidSecretName, NoDisplayError, TooManyWrongCodes
from mcp_secrets.fetcher import _failure, build_template, fetch_secrets
from mcp_secrets.manager import MCPSecretsManager


def test_template_carries_code_and_server() -> None:
    info = {"api_key": {"label": "API Key", "field_type": "password", "required": True}}
    tpl = build_template("My Server", ["api_key"], info, "ABCD-EFGH")
    assert tpl.title == "MCP Secrets for My Server"
    assert tpl.verification_code == "ABCD-EFGH"
    assert [f.name for f in tpl.fields] == ["api_key"] and tpl.fields[0].required


def test_the_pages_template_names_no_code() -> None:
    """Anyone who learns a page's address can read the page: its description asks for the
    client's code instead of showing it."""
    info = {"api_key": {"label": "API Key"}}
    tpl = build_template("My Server", ["api_key"], info, "ABCD-EFGH", where="page")
    assert tpl.verification_code is None and "ABCD" not in tpl.description
    assert tpl.description == ("Type the verification code your MCP client shows for My Server. "
                               "If your client shows no such code, close this tab.")


def test_too_many_wrong_codes_say_so_and_to_call_again() -> None:
    ok, msg = _failure(TooManyWrongCodes("the browser page was closed after 5 wrong "
                                         "verification codes"), "srv", ["api_key"])
    assert not ok and msg.startswith("Too many wrong verification codes: the browser page")
    assert "Nothing was stored; call the tool again" in msg


def test_no_display_message_is_shell_quoted() -> None:
    ok, msg = _failure(NoDisplayError("DISPLAY is not set"), "My Server", ["api_key"])
    assert not ok
    assert f"mcp-secrets set {shlex.quote('My Server')} api_key" in msg
    assert "'My Server'" in msg


def test_hint_names_the_profile_the_secret_belongs_in() -> None:
    """A hint without `--profile` would store the key where this server never reads it."""
    ok, msg = _failure(NoDisplayError("DISPLAY is not set"), "srv", ["api_key"], "work")
    assert not ok and "mcp-secrets set --profile work srv api_key" in msg
    _, default = _failure(NoDisplayError("DISPLAY is not set"), "srv", ["api_key"], "default")
    assert "mcp-secrets set srv api_key" in default and "--profile" not in default


@pytest.mark.parametrize(
    ("info", "error"),
    [({}, ValueError), ({"a/b": {}}, InvalidSecretName), ({"k": {"requried": True}}, ValueError)],
)
@pytest.mark.keychain
def test_bad_secrets_info_is_rejected_before_anything(server_name: str, info: dict[str, dict],
                                                      error: type[Exception]) -> None:
    with pytest.raises(error):
        asyncio.run(fetch_secrets(None, info, manager=MCPSecretsManager(server_name)))


@pytest.mark.keychain
def test_already_stored_asks_nothing(server_name: str) -> None:
    manager = MCPSecretsManager(server_name)
    manager.store_secret("api_key", "canary-already-there")
    try:
        ok, msg = asyncio.run(fetch_secrets(None, {"api_key": {}}, manager=manager))
        assert ok and "already stored" in msg and "canary" not in msg
    finally:
        manager.clear_secrets()
