"""OnePasswordStorage. No 1Password account is reachable from the test machines, so:

* the `op` CLI transport runs against tests/fake_op/op — a FAKE `op` written for these tests
  that keeps items in a JSON file and logs its argv — not the real CLI;
* the SDK transport runs the real `onepassword-sdk` at its offline edges (malformed tokens),
  and against `FakeSDKClient` — a FAKE of the SDK's client object — for how we use the client.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, ClassVar

import pytest

from mcp_secrets.backends.onepassword import (
    JSON_SECTION_ID,
    OnePasswordSDK,
    OpCLI,
    default_transport,
)
from mcp_secrets.errors import BackendError
from mcp_secrets.stores import OnePasswordStorage

FAKE_OP = str(Path(__file__).parent / "fake_op" / "op")
CANARY = "canary-Op9Qw-1password-value-5521"
TOKEN_CANARY = "ops_CANARYtokenNotReal"


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    store, log = tmp_path / "op-store.json", tmp_path / "op-log.jsonl"
    monkeypatch.setenv("FAKE_OP_STORE", str(store))
    monkeypatch.setenv("FAKE_OP_LOG", str(log))
    monkeypatch.delenv("OP_SERVICE_ACCOUNT_TOKEN", raising=False)
    monkeypatch.delenv("FAKE_OP_SIGNED_OUT", raising=False)
    return {"store": store, "log": log}


def calls(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_crud_through_the_fake_op(fake: dict[str, Path]) -> None:
    s = OnePasswordStorage("srv", vault="Dev", op_path=FAKE_OP)
    assert s.get("api") is None
    s.save("api", {"key": CANARY, "port": 443, "tls": True, "scopes": ["a"], "label": "443"})
    assert s.get("api") == {"key": CANARY, "port": 443, "tls": True, "scopes": ["a"],
                            "label": "443"}
    got = s.get("api")
    assert type(got["port"]) is int and type(got["label"]) is str  # "443" stays a string
    s.save("api", {"key": "rotated"})  # edit: the removed fields are gone
    assert s.get("api") == {"key": "rotated"}
    assert s.list() == ["api"]
    assert OnePasswordStorage("another-server", vault="Dev", op_path=FAKE_OP).list() == []
    assert s.delete("api") is True and s.delete("api") is False
    assert s.list() == []

    argv = [c["argv"] for c in calls(fake["log"])]
    assert ["item", "get", "api", "--vault", "Dev", "--format", "json"] in argv
    assert any(a[:2] == ["item", "create"] for a in argv)
    assert any(a[:3] == ["item", "edit", "api"] for a in argv)
    assert any(a[:2] == ["item", "list"] and "mcp-secrets/srv" in a for a in argv)


def test_values_travel_on_stdin_never_argv_or_a_file(fake: dict[str, Path]) -> None:
    s = OnePasswordStorage("srv", vault="Dev", op_path=FAKE_OP)
    s.save("api", {"key": CANARY, "nested": {"x": CANARY}})
    s.save("api", {"key": CANARY})
    writes = [c for c in calls(fake["log"]) if c["argv"][1:2] in (["create"], ["edit"])]
    assert len(writes) == 2
    for c in writes:
        assert CANARY not in json.dumps(c["argv"])
        assert "template_path" not in c and c["stdin_tty"] is False
    assert CANARY not in fake["log"].read_text()
    # non-string values are marked as JSON in their own section; strings stay plain fields
    item = json.loads(fake["store"].read_text())["Dev"]["api"]
    assert item["fields"] == [{"id": "key", "label": "key", "type": "CONCEALED", "value": CANARY}]


def test_op_child_does_not_inherit_the_file_store_passphrase(
    fake: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MCP_SECRETS_PASSPHRASE", CANARY)
    s = OnePasswordStorage("srv", vault="Dev", op_path=FAKE_OP)
    s.save("api", {"key": "v"})
    assert s.get("api") == {"key": "v"}
    logged = calls(fake["log"])
    assert len(logged) >= 3  # lookup, create, get: the fake really ran
    assert not any(c["passphrase_in_env"] for c in logged)
    assert os.environ["MCP_SECRETS_PASSPHRASE"] == CANARY  # our own environment is untouched


def test_items_made_by_hand_read_as_strings(fake: dict[str, Path]) -> None:
    fake["store"].write_text(json.dumps({"Dev": {"github": {
        "id": "x1", "title": "github", "category": "LOGIN", "tags": [],
        "fields": [
            {"id": "username", "type": "STRING", "purpose": "USERNAME", "label": "username",
             "value": "octocat"},
            {"id": "password", "type": "CONCEALED", "purpose": "PASSWORD", "label": "password",
             "value": "[1, 2]"},
            {"id": "notesPlain", "type": "STRING", "purpose": "NOTES", "label": "notesPlain",
             "value": ""},
            {"id": "otp", "type": "OTP", "label": "one-time password"},
        ],
    }}}))
    got = OnePasswordStorage("srv", vault="Dev", op_path=FAKE_OP).get("github")
    assert got == {"username": "octocat", "password": "[1, 2]"}  # not JSON-decoded: not ours


def test_signed_out_cli_is_a_clear_error_without_values(
    fake: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_OP_SIGNED_OUT", "1")
    s = OnePasswordStorage("srv", vault="Dev", op_path=FAKE_OP)
    for attempt in (lambda: s.get("api"), lambda: s.save("api", {"key": CANARY})):
        with pytest.raises(BackendError, match="not signed in") as info:
            attempt()
        assert "op signin" in str(info.value) and CANARY not in str(info.value)
        assert info.value.__cause__ is None
    assert not fake["store"].exists()


def test_missing_op_binary(fake: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    s = OnePasswordStorage("srv", vault="Dev")
    with pytest.raises(BackendError, match="not on PATH") as info:
        s.get("api")
    assert "OP_SERVICE_ACCOUNT_TOKEN" in str(info.value)


def test_op_on_path_is_used(fake: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(Path(FAKE_OP).parent) + os.pathsep + os.environ["PATH"])
    s = OnePasswordStorage("srv", vault="Dev")
    s.save("k", {"v": "1"})
    assert s.get("k") == {"v": "1"}
    assert isinstance(s.transport, OpCLI)


@pytest.mark.parametrize("token", ["", "not-a-token", TOKEN_CANARY])
def test_sdk_bad_token_is_a_clear_offline_error(token: str) -> None:
    sdk = OnePasswordSDK(token)
    assert TOKEN_CANARY not in repr(sdk)
    with pytest.raises(BackendError, match="1Password SDK could not") as info:
        sdk.get_item("Dev", "api")
    msg = str(info.value)
    assert "token" in msg.lower()
    if token:
        assert token not in msg
    assert info.value.__cause__ is None


def test_token_selects_the_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OP_SERVICE_ACCOUNT_TOKEN", TOKEN_CANARY)
    t = default_transport()
    assert isinstance(t, OnePasswordSDK)
    s = OnePasswordStorage("srv", vault="Dev")
    with pytest.raises(BackendError) as info:
        s.save("api", {"key": CANARY})
    assert TOKEN_CANARY not in str(info.value) and CANARY not in str(info.value)
    assert TOKEN_CANARY not in repr(s) and TOKEN_CANARY not in repr(s.transport)
    monkeypatch.delenv("OP_SERVICE_ACCOUNT_TOKEN")
    assert isinstance(default_transport(), OpCLI)


def test_json_section_constant_is_what_the_fake_stored(fake: dict[str, Path]) -> None:
    OnePasswordStorage("srv", vault="Dev", op_path=FAKE_OP).save("k", {"n": 1})
    item = json.loads(fake["store"].read_text())["Dev"]["k"]
    assert item["fields"][0]["section"]["id"] == JSON_SECTION_ID
    assert item["fields"][0]["value"] == "1"
    assert item["tags"] == ["mcp-secrets/srv"]


class FakeSDKClient:
    """FAKE of onepassword-sdk's authenticated `Client` (vaults.list, items.list/get/create):
    records how often it was authenticated and on which event loops it was used."""

    authentications: ClassVar[int] = 0
    loops: ClassVar[set[int]] = set()

    def __init__(self) -> None:
        import asyncio
        from types import SimpleNamespace

        self.items: dict[str, Any] = {}
        me = self

        async def vaults_list() -> list[Any]:
            me.loops.add(id(asyncio.get_running_loop()))
            return [SimpleNamespace(id="v1", title="Dev")]

        async def items_list(vault_id: str) -> list[Any]:
            me.loops.add(id(asyncio.get_running_loop()))
            return [SimpleNamespace(id=t, title=t, tags=[]) for t in me.items]

        async def items_get(vault_id: str, item_id: str) -> Any:
            return me.items[item_id]

        self.vaults = SimpleNamespace(list=vaults_list)
        self.items_api = SimpleNamespace(list=items_list, get=items_get)

    @classmethod
    async def authenticate(cls, token: str, name: str, version: str) -> Any:
        from types import SimpleNamespace

        cls.authentications += 1
        fake = cls()
        fake.items["api"] = SimpleNamespace(fields=[
            SimpleNamespace(title="key", value=CANARY, section_id=None)])
        return SimpleNamespace(vaults=fake.vaults, items=fake.items_api)


def test_sdk_authenticates_once_and_keeps_one_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    import onepassword.client

    FakeSDKClient.authentications = 0
    FakeSDKClient.loops = set()
    monkeypatch.setattr(onepassword.client.Client, "authenticate", FakeSDKClient.authenticate)
    sdk = OnePasswordSDK(TOKEN_CANARY)
    for _ in range(5):
        assert sdk.get_item("Dev", "api") == {"key": CANARY}
    assert sdk.get_item("Dev", "missing") is None

    async def from_inside_a_running_loop() -> dict[str, Any] | None:
        return sdk.get_item("Dev", "api")  # a sync caller inside an async server

    assert asyncio.run(from_inside_a_running_loop()) == {"key": CANARY}
    assert FakeSDKClient.authentications == 1
    assert len(FakeSDKClient.loops) == 1  # one long-lived loop, not asyncio.run per call

    monkeypatch.setenv("OP_SERVICE_ACCOUNT_TOKEN", TOKEN_CANARY + "-shared")
    first, second = OnePasswordStorage("a", vault="Dev"), OnePasswordStorage("b", vault="Dev")
    assert first.transport is second.transport  # one client per token for the process
    for _ in range(3):
        assert first.get("api") == second.get("api") == {"key": CANARY}
    assert FakeSDKClient.authentications == 2  # one per token, never one per call
    assert len(FakeSDKClient.loops) == 2


SAVE_AND_HANG = """
import sys
from mcp_secrets.stores import OnePasswordStorage
OnePasswordStorage("srv", vault="Dev", op_path=sys.argv[1]).save("api", {"key": sys.argv[2]})
"""


def test_a_save_killed_mid_way_leaves_no_value_in_any_file(
    fake: dict[str, Path], tmp_path: Path,
) -> None:
    """The CLI path wrote a plaintext item.json to a temp dir: a kill before `op` returned
    left it there. With the template on a pipe there is nothing to leave."""
    import signal
    import subprocess
    import sys
    import time

    scratch = tmp_path / "scratch"
    (scratch / "run").mkdir(parents=True, mode=0o700)
    (scratch / "tmp").mkdir(mode=0o700)
    env = {**os.environ, "FAKE_OP_HANG": "1", "XDG_RUNTIME_DIR": str(scratch / "run"),
           "TMPDIR": str(scratch / "tmp")}
    # The canary goes in through argv of *our test child* only so it can be planted; the
    # library under test never puts it in argv (checked above).
    proc = subprocess.Popen([sys.executable, "-c", SAVE_AND_HANG, FAKE_OP, CANARY], env=env,
                            start_new_session=True)
    try:
        for _ in range(600):
            if any(c["argv"][1:2] == ["create"] for c in calls(fake["log"])
                   ) if fake["log"].exists() else False:
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the fake op never started the save")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the saver and its `op`, mid-way
        proc.wait(timeout=30)
    leftovers = [p for p in scratch.rglob("*") if p.is_file()
                 and CANARY.encode() in p.read_bytes()]
    assert leftovers == []
    assert not list(scratch.rglob("item.json"))
