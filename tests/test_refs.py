"""Secret references: parsing (no store involved) and resolution against the real Secret Service.

Every error is checked to name the variable and the reference and never the value.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import pytest

from mcp_secrets import refs
from mcp_secrets.errors import SecretReferenceError
from mcp_secrets.refs import Reference, is_reference, parse, resolve, resolve_all
from mcp_secrets.refs_local import local_reference
from mcp_secrets.storage import MCPSecretsStorage


def canary() -> str:
    return f"CANARY-{uuid.uuid4().hex}"


# ------------------------------------------------------------------ parsing, no store


def test_parse_percent_decodes_server_and_name() -> None:
    ref = parse("mcp-secrets://My%20Server/api%20key?profile=prod", var="API_KEY")
    assert (ref.scheme, ref.host, ref.path) == ("mcp-secrets", "My Server", ("api key",))
    assert ref.query == {"profile": "prod"} and ref.var == "API_KEY"


@pytest.mark.parametrize("server", ["My Server", "user@host.example", "a:b", "50%", "q?#&=",
                                    "ünïcode ☃", "x" * 128])
def test_local_reference_round_trips_any_valid_server_name(server: str) -> None:
    text = local_reference(server, "api key", profile="pro d")
    ref = parse(text)
    assert (ref.host, ref.path, ref.query) == (server, ("api key",), {"profile": "pro d"})
    assert " " not in text


@pytest.mark.parametrize("text", ["https://example.com/x", "postgres://u@h/db", "plain-value",
                                  "sk-ant-api03-abc", "nope://x/y", "MCP-SECRETS://s/k", ""])
def test_not_references(text: str) -> None:
    assert not is_reference(text)


def test_url_schemes_can_never_become_references() -> None:
    with pytest.raises(ValueError):
        refs.register("https", "some.module:Scheme")


@pytest.mark.parametrize("text,fragment", [
    ("mcp-secrets://server", "malformed"),
    ("mcp-secrets:///name", "malformed"),
    ("mcp-secrets://s/a/b", "malformed"),
    ("mcp-secrets://s/k#frag", "malformed"),
    ("mcp-secrets://s/k?colour=red", "malformed"),
    ("mcp-secrets://s/k?profile=a&profile=b", "malformed"),
    ("mcp-secrets://s/k?profile=a%2Fb", "profile name"),
    ("mcp-secrets://s/k?profile", "malformed"),
    ("mcp-secrets://s/%ff", "malformed"),
    ("mcp-secrets://s/__secret_index__", "reserved"),
    ("mcp-secrets://My Server/k", "percent-encode"),
    ("mcp-secrets://s/k\n", "control"),
    ("env://", "malformed"),
    ("env://A/b", "malformed"),
])
def test_malformed_references_name_variable_and_reference(text: str, fragment: str) -> None:
    with pytest.raises(SecretReferenceError) as info:
        resolve(text, var="MY_VAR")
    message = str(info.value)
    assert message.startswith("MY_VAR") and fragment in message
    assert "\n" not in message
    assert info.value.__cause__ is None


def test_unknown_scheme_does_not_echo_a_value() -> None:
    with pytest.raises(SecretReferenceError) as info:
        resolve("nosuch://secret/x", var="TOKEN")
    assert "TOKEN" in str(info.value) and "'nosuch'" in str(info.value)
    value = canary()
    with pytest.raises(SecretReferenceError) as info:
        resolve(value, var="TOKEN")  # a value pasted where a reference belongs
    assert value not in str(info.value) and "TOKEN" in str(info.value)


def test_a_plugin_scheme_plugs_in_without_touching_the_resolver() -> None:
    class Upper:
        def resolve_many(self, items: Sequence[Reference]) -> list[str]:
            return [r.host.upper() for r in items]

    refs.register("upper-test", Upper())
    try:
        assert resolve_all({"A": "upper-test://abc", "B": "upper-test://xy"}) == {
            "A": "ABC", "B": "XY"}
        assert is_reference("upper-test://z")
    finally:
        refs._LOADED.pop("upper-test", None)


def test_env_scheme(monkeypatch: pytest.MonkeyPatch) -> None:
    value = canary()
    monkeypatch.setenv("SOURCE_VAR", value)
    assert resolve("env://SOURCE_VAR") == value
    monkeypatch.delenv("SOURCE_VAR")
    with pytest.raises(SecretReferenceError) as info:
        resolve("env://SOURCE_VAR", var="DEST")
    assert str(info.value) == "DEST (env://SOURCE_VAR): the variable SOURCE_VAR is not set"


# ------------------------------------------------------------------ real keychain



@pytest.mark.keychain
def test_resolves_from_the_store_with_an_encoded_server_name(server_name: str) -> None:
    server = f"My Server@{server_name}"
    value = canary()
    MCPSecretsStorage(server).store_secret("api_key", value)
    assert resolve(local_reference(server, "api_key")) == value
    assert resolve(f"mcp-secrets://My%20Server@{server_name}/api_key") == value


@pytest.mark.keychain
def test_missing_secret_names_variable_reference_and_fix(server_name: str) -> None:
    other = canary()
    MCPSecretsStorage(server_name).store_secret("present", other)
    with pytest.raises(SecretReferenceError) as info:
        resolve_all({"OK": f"mcp-secrets://{server_name}/present",
                     "API_KEY": f"mcp-secrets://{server_name}/absent"})
    message = str(info.value)
    assert message.startswith(f"API_KEY (mcp-secrets://{server_name}/absent): ")
    assert f"mcp-secrets set {server_name} absent" in message
    assert other not in message


@pytest.mark.keychain
def test_profile_selection_query_then_environment_then_default(
        server_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    default, prod, dev = canary(), canary(), canary()
    MCPSecretsStorage(server_name, profile="default").store_secret("k", default)
    MCPSecretsStorage(server_name, profile="prod").store_secret("k", prod)
    MCPSecretsStorage(server_name, profile="dev").store_secret("k", dev)
    ref = f"mcp-secrets://{server_name}/k"
    monkeypatch.delenv("MCP_SECRETS_PROFILE", raising=False)
    assert resolve(ref) == default
    assert resolve(ref + "?profile=prod") == prod
    monkeypatch.setenv("MCP_SECRETS_PROFILE", "dev")
    assert resolve(ref) == dev
    assert resolve(ref + "?profile=prod") == prod  # the reference wins over the environment
    assert resolve(ref + "?profile=default") == default


@pytest.mark.keychain
def test_a_profile_never_falls_back_to_another(server_name: str) -> None:
    value = canary()
    MCPSecretsStorage(server_name).store_secret("k", value)  # default profile only
    with pytest.raises(SecretReferenceError) as info:
        resolve(f"mcp-secrets://{server_name}/k?profile=staging", var="K")
    assert "in profile 'staging'" in str(info.value)
    assert f"mcp-secrets set --profile staging {server_name} k" in str(info.value)
    assert value not in str(info.value)


@pytest.mark.parametrize("text", ["mcp-secrets://s//k", "mcp-secrets://s/k/", "mcp-secrets://s/%",
                                  "mcp-secrets://s/%2", "mcp-secrets://s/%zz",
                                  "mcp-secrets://s/k?=x", "mcp-secrets://s/k?profile=a&",
                                  "mcp-secrets://s/k#", "env://A/"])
def test_strict_about_empty_parts_and_stray_percent_signs(text: str) -> None:
    with pytest.raises(SecretReferenceError):
        resolve(text, var="V")


def test_percent_encoded_and_literal_unicode_mix() -> None:
    ref = parse("mcp-secrets://caf%C3%A9-☃/n%2Bme?profile=a+b%2Bc")
    assert (ref.host, ref.path, ref.query) == ("café-☃", ("n+me",), {"profile": "a b+c"})
