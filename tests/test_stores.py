"""The dict-valued stores (the SecretStore protocol). KeyringStorage runs on the rig's real
Secret Service, EncryptedFileStorage on real files; OnePasswordStorage here uses the FAKE `op`
stand-in (tests/fake_op/op) because no 1Password account is reachable — see
test_onepassword.py."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mcp_secrets import selection
from mcp_secrets.errors import BackendError, InvalidSecretName, ReadOnlyStoreError
from mcp_secrets.stores import (
    EncryptedFileStorage,
    EnvVarStorage,
    EphemeralStorage,
    KeyringStorage,
    OnePasswordStorage,
)

CANARY = "canary-Hk3Lm-dict-value-9930"
FAKE_OP = Path(__file__).parent / "fake_op" / "op"

# Everything JSON holds, in the shapes that str()-flattening or sloppy encoding would break.
RICH: dict[str, Any] = {
    "key": CANARY,
    "endpoint": "https://api.example.com/v1?x=1&y=ü",
    "port": 8443,
    "ratio": 0.1,
    "negative_zero": -0.0,
    "big": 2**70,
    "enabled": True,
    "disabled": False,
    "nothing": None,
    "scopes": ["read", "write", 3, None, [1.5, {"deep": "✓ 🔑"}]],
    "nested": {"a": {"b": {"c": "d"}}, "empty": {}, "emptylist": []},
    "unicode ключ": "値\u00e9\u0301",
    "quote\"and\\backslash": "line1\nline2\t\u0000end",
}


def same(a: object, b: object) -> bool:
    """Equal *and* of the same JSON types all the way down (True != 1, 1.0 != 1 here)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        assert isinstance(b, dict)
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        assert isinstance(b, list)
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return repr(a) == repr(b)
    return a == b


@pytest.fixture
def fake_op_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FAKE_OP_STORE", str(tmp_path / "op-store.json"))
    monkeypatch.setenv("FAKE_OP_LOG", str(tmp_path / "op-log.jsonl"))
    monkeypatch.delenv("OP_SERVICE_ACCOUNT_TOKEN", raising=False)
    return tmp_path / "op-log.jsonl"


@pytest.fixture
def file_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MCP_SECRETS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MCP_SECRETS_PASSPHRASE", "store passphrase")
    return tmp_path / "data"


Factory = Callable[[str], Any]


@pytest.fixture(params=["ephemeral", pytest.param("keyring", marks=pytest.mark.keychain), "file",
                        "onepassword-fake-op"])
def store(
    request: pytest.FixtureRequest, server_name: str, file_env: Path, fake_op_env: Path
) -> Iterator[Any]:
    kind = request.param
    if kind == "ephemeral":
        s: Any = EphemeralStorage()
    elif kind == "keyring":
        s = KeyringStorage(server_name)
    elif kind == "file":
        s = EncryptedFileStorage(server_name)
    else:
        s = OnePasswordStorage(server_name, vault="Dev", op_path=str(FAKE_OP))
    yield s
    for key in s.list():
        s.delete(key)


# --------------------------------------------------------------------------- the shared contract


def test_round_trip_is_exact(store: Any) -> None:
    assert store.get("api") is None
    store.save("api", RICH)
    got = store.get("api")
    assert same(got, RICH), got
    assert store.list() == ["api"]
    store.save("api", {"key": "replaced"})  # a save replaces the whole dict
    assert store.get("api") == {"key": "replaced"}
    assert store.delete("api") is True
    assert store.delete("api") is False
    assert store.get("api") is None and store.list() == []


def test_callers_cannot_mutate_stored_state(store: Any) -> None:
    value = {"key": "a", "list": [1, 2], "nested": {"x": "y"}}
    store.save("k", value)
    value["list"].append(3)
    value["nested"]["x"] = "changed"
    got = store.get("k")
    assert got == {"key": "a", "list": [1, 2], "nested": {"x": "y"}}
    got["nested"]["x"] = "mutated"
    assert store.get("k")["nested"] == {"x": "y"}


@pytest.mark.parametrize(
    "bad",
    [
        {"t": (1, 2)},
        {"s": {1, 2}},
        {1: "int key"},
        {"nan": float("nan")},
        {"inf": float("inf")},
        {"b": b"bytes"},
        {"o": object()},
        {"deep": {"deeper": [{"x": (1,)}]}},
    ],
    ids=["tuple", "set", "int-key", "nan", "inf", "bytes", "object", "deep-tuple"],
)
def test_values_json_cannot_hold_exactly_are_refused_and_nothing_is_stored(
    store: Any, bad: dict[Any, Any]
) -> None:
    bad = {**bad, "key": CANARY}
    with pytest.raises(TypeError) as info:
        store.save("k", bad)
    assert CANARY not in str(info.value)
    assert store.get("k") is None and store.list() == []


def test_non_dict_and_bad_keys(store: Any) -> None:
    for not_dict in ("str", ["list"], None, 3):
        with pytest.raises(TypeError, match="must be a dict"):
            store.save("k", not_dict)
    for bad_key in ("", "a/b", "x\n", "__index", "x" * 500):
        with pytest.raises(InvalidSecretName):
            store.save(bad_key, {"key": CANARY})
    assert store.list() == []


def test_repr_errors_and_logs_hold_no_values(store: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    store.save("api", {"key": CANARY})
    assert store.get("api") == {"key": CANARY}
    assert CANARY not in repr(store) and CANARY not in str(store)
    assert CANARY not in caplog.text


# --------------------------------------------------------------------------- per store


@pytest.mark.keychain
def test_keyring_storage_is_the_real_keychain_and_persists(server_name: str) -> None:
    s = KeyringStorage(server_name)
    assert s.storage.backend.name == "secret-service"
    assert s.storage.service == f"com.mcp.{server_name}"
    s.save("api", RICH)
    code = f"""
        import json
        from mcp_secrets.stores import KeyringStorage
        print(json.dumps(KeyringStorage({server_name!r}).get("api")))
    """
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert same(json.loads(r.stdout), json.loads(json.dumps(RICH)))
    s.delete("api")


@pytest.mark.keychain
def test_keyring_storage_isolates_servers(server_name: str) -> None:
    a, b = KeyringStorage(server_name + "-a"), KeyringStorage(server_name + "-b")
    a.save("api", {"key": "for a"})
    try:
        assert b.get("api") is None and b.list() == []
        assert b.delete("api") is False
        assert a.get("api") == {"key": "for a"}
    finally:
        a.delete("api")


@pytest.mark.keychain
def test_keyring_storage_never_falls_back_to_file(tmp_path: Path) -> None:
    env = {**os.environ, "MCP_SECRETS_PASSPHRASE": "pw", "MCP_SECRETS_BACKEND": "file",
           "MCP_SECRETS_DATA_DIR": str(tmp_path / "data")}
    env.pop("DBUS_SESSION_BUS_ADDRESS")
    code = """
        from mcp_secrets.stores import KeyringStorage
        from mcp_secrets.errors import NoKeychainError
        try:
            KeyringStorage("no-keychain-here").save("k", {"key": "v"})
        except NoKeychainError as exc:
            print("NoKeychainError", exc)
    """
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env,
                       capture_output=True, text=True, timeout=60, start_new_session=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("NoKeychainError") and "gnome-keyring" in r.stdout
    data = tmp_path / "data"
    assert not data.exists() or not any(data.iterdir())


@pytest.mark.keychain
def test_keyring_storage_rejects_a_plain_string_entry(server_name: str) -> None:
    from mcp_secrets.storage import MCPSecretsStorage

    s = KeyringStorage(server_name)
    MCPSecretsStorage(server_name, backend=selection.keychain_backend()).store_secret(
        "plain", CANARY
    )
    with pytest.raises(BackendError, match="not a JSON object") as info:
        s.get("plain")
    assert CANARY not in str(info.value)
    s.delete("plain")


def test_encrypted_file_storage_across_processes_and_wrong_passphrase(
    server_name: str, file_env: Path
) -> None:
    s = EncryptedFileStorage(server_name)
    s.save("api", RICH)
    assert "file" in repr(s)
    code = f"""
        import json
        from mcp_secrets.stores import EncryptedFileStorage
        print(json.dumps(EncryptedFileStorage({server_name!r}).get("api")))
    """
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert same(json.loads(r.stdout), json.loads(json.dumps(RICH)))
    wrong = EncryptedFileStorage(server_name, passphrase="wrong one")
    with pytest.raises(Exception, match="wrong passphrase") as info:
        wrong.get("api")
    assert CANARY not in str(info.value)
    with pytest.raises(Exception, match="wrong passphrase"):
        wrong.save("api", {"key": "overwrite"})
    assert same(s.get("api"), RICH)
    # explicit passphrase, separate store
    mine = EncryptedFileStorage(server_name + "-own", passphrase="own passphrase")
    mine.save("k", {"v": 1})
    assert EncryptedFileStorage(server_name + "-own", passphrase="own passphrase").get("k") == {
        "v": 1
    }


# --------------------------------------------------------------------------- EnvVarStorage


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith(("MYAPP_", "OTHER_")):
            monkeypatch.delenv(name)
    return monkeypatch


def test_envvar_mapping(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("MYAPP_API_KEY", CANARY)
    clean_env.setenv("MYAPP_API_CLIENT_ID", "cid")
    clean_env.setenv("MYAPP_DB_URL", "postgres://x")
    clean_env.setenv("MYAPP_lower_x", "ignored by list: key part is not uppercase")
    clean_env.setenv("MYAPP_NOFIELD", "no field part")
    clean_env.setenv("OTHER_API_KEY", "other prefix")
    s = EnvVarStorage(prefix="myapp")
    assert s.prefix == "MYAPP_"
    assert s.get("api") == {"key": CANARY, "client_id": "cid"}
    assert s.get("API") == s.get("api")
    assert s.get("db") == {"url": "postgres://x"}
    assert s.get("missing") is None
    assert s.list() == ["api", "db"]
    assert EnvVarStorage("MYAPP_").get("api") == s.get("api")
    assert EnvVarStorage("other").list() == ["api"]
    with pytest.raises(InvalidSecretName, match="letters and digits"):
        s.get("api_key")  # ambiguous keys are refused, not guessed
    assert CANARY not in repr(s)


def test_envvar_is_read_only_by_default(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("MYAPP_API_KEY", "x")
    s = EnvVarStorage("MYAPP")
    with pytest.raises(ReadOnlyStoreError, match="auto_save=True"):
        s.save("api", {"key": CANARY})
    with pytest.raises(ReadOnlyStoreError):
        s.delete("api")
    assert os.environ["MYAPP_API_KEY"] == "x"
    assert "read-only" in repr(s)


def test_envvar_auto_save_changes_this_process_only(clean_env: pytest.MonkeyPatch) -> None:
    s = EnvVarStorage("MYAPP", auto_save=True)
    clean_env.setenv("MYAPP_API_OLD", "stale")
    s.save("api", {"key": CANARY, "client_id": "c"})
    assert os.environ["MYAPP_API_KEY"] == CANARY
    assert os.environ["MYAPP_API_CLIENT_ID"] == "c"
    assert "MYAPP_API_OLD" not in os.environ  # save replaces the whole dict, exactly
    assert s.get("api") == {"key": CANARY, "client_id": "c"}
    for bad, exc in (
        ({"key": 1}, TypeError),
        ({"Key": "x"}, InvalidSecretName),
        ({"bad-field": "x"}, InvalidSecretName),
        ({}, ValueError),
        ({"key": "nul\0byte"}, ValueError),
        # valid first field, unencodable second: nothing may be half-applied
        ({"key": "ok", "client_id": "lone-\ud800-surrogate"}, ValueError),
    ):
        with pytest.raises(exc) as info:
            s.save("api", bad)
        assert CANARY not in str(info.value)
        assert s.get("api") == {"key": CANARY, "client_id": "c"}  # unchanged
    assert s.delete("api") is True and s.delete("api") is False
    assert s.get("api") is None


# --------------------------------------------------------------------------- 1Password


def test_onepassword_fake_op_never_sees_values_in_argv(
    server_name: str, fake_op_env: Path
) -> None:
    s = OnePasswordStorage(server_name, vault="Dev", op_path=str(FAKE_OP))
    s.save("api", RICH)
    assert same(s.get("api"), RICH)
    log = fake_op_env.read_text()
    assert log  # the fake really was called
    assert CANARY not in log
    assert "via op-cli" in repr(s) and CANARY not in repr(s)
