"""`op://` references and the 1password store, through the existing 1Password transports.

No 1Password account is reachable here: the `op` CLI is tests/fake_op/op — a FAKE `op`
that keeps items in a JSON file — put first on PATH. The SDK path is exercised only where it
needs no account (read-only refusal).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcp_secrets.errors import SecretReferenceError
from mcp_secrets.refs import resolve, resolve_all
from mcp_secrets.stores import OnePasswordStorage

FAKE_OP_DIR = Path(__file__).parent / "fake_op"
CANARY = "canary-op-Hs51-value"


@pytest.fixture
def fake_op(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    log = tmp_path / "op-log.jsonl"
    monkeypatch.setenv("FAKE_OP_STORE", str(tmp_path / "op-store.json"))
    monkeypatch.setenv("FAKE_OP_LOG", str(log))
    monkeypatch.delenv("OP_SERVICE_ACCOUNT_TOKEN", raising=False)
    monkeypatch.delenv("FAKE_OP_SIGNED_OUT", raising=False)
    monkeypatch.setenv("PATH", f"{FAKE_OP_DIR}:{__import__('os').environ['PATH']}")
    return log


def test_resolves_fields_reading_each_item_once(fake_op: Path) -> None:
    OnePasswordStorage("srv", vault="Dev").save("github", {"token": CANARY, "user": "bot"})
    got = resolve_all({"T": "op://Dev/github/token", "U": "op://Dev/github/section/user"})
    assert got == {"T": CANARY, "U": "bot"}
    reads = [json.loads(line)["argv"] for line in fake_op.read_text().splitlines()]
    assert sum(1 for a in reads if a[:2] == ["item", "get"]) == 2  # the save's lookup + one read
    assert all(CANARY not in " ".join(a) for a in reads)


def test_missing_item_field_and_malformed(fake_op: Path) -> None:
    OnePasswordStorage("srv", vault="Dev").save("github", {"token": CANARY})
    with pytest.raises(SecretReferenceError, match="no item 'nope'"):
        resolve("op://Dev/nope/token", var="X")
    with pytest.raises(SecretReferenceError, match="no key 'pw'") as err:
        resolve("op://Dev/github/pw", var="X")
    assert CANARY not in str(err.value)
    with pytest.raises(SecretReferenceError, match="malformed"):
        resolve("op://Dev/github", var="X")


def test_signed_out_op_is_a_clear_error(fake_op: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_OP_SIGNED_OUT", "1")
    with pytest.raises(SecretReferenceError, match="not signed in"):
        resolve("op://Dev/github/token", var="X")


def test_the_1password_store_through_the_library(fake_op: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from mcp_secrets import selection
    from mcp_secrets.manager import MCPSecretsManager

    monkeypatch.setenv("MCP_SECRETS_BACKEND", "1password")
    monkeypatch.setenv("MCP_SECRETS_1PASSWORD_VAULT", "Team")
    selection.reset()
    try:
        manager = MCPSecretsManager("weather")
        manager.store_secret("API_KEY", CANARY)
        assert manager.retrieve_secret("API_KEY") == CANARY
        assert manager.list_secrets() == ["API_KEY"]
        assert resolve("op://Team/com.mcp.weather/API_KEY") == CANARY
        assert manager.delete_secret("API_KEY") is True
        assert manager.list_secrets() == []
        log = fake_op.read_text()
        assert CANARY not in log  # never in argv
    finally:
        selection.reset()


def test_a_service_account_store_is_read_only(fake_op: Path) -> None:
    from mcp_secrets.backends.onepassword import OnePasswordSDK
    from mcp_secrets.backends.onepassword_backend import OnePasswordBackend
    from mcp_secrets.errors import ReadOnlyStoreError
    from mcp_secrets.storage import MCPSecretsStorage

    class HandMadeItem(OnePasswordSDK):
        """The SDK transport with its network call replaced by an item made by hand: no
        1Password account is reachable here."""

        def get_item(self, vault: str, title: str) -> dict[str, object] | None:
            return {"API_KEY": CANARY, "REGION": "eu"} if title == "com.mcp.prod" else None

    storage = MCPSecretsStorage("prod", OnePasswordBackend("Team", HandMadeItem("ops_x")))
    assert storage.retrieve_secret("API_KEY") == CANARY
    assert storage.list_secrets() == ["API_KEY", "REGION"]  # the item's fields are the names
    with pytest.raises(ReadOnlyStoreError, match="read-only") as err:
        storage.store_secret("API_KEY", "new")
    assert CANARY not in str(err.value)
    with pytest.raises(ReadOnlyStoreError):
        storage.delete_secret("API_KEY")


def test_doctor_accepts_a_read_only_store_that_reads() -> None:
    from mcp_secrets import backends
    from mcp_secrets.backends.memory import MemoryBackend
    from mcp_secrets.cli.doctor import _roundtrip
    from mcp_secrets.errors import ReadOnlyStoreError

    class ReadOnlyMemory(MemoryBackend):
        name = "read-only-memory"

        def set(self, service: str, key: str, value: str) -> None:
            raise ReadOnlyStoreError("this store is read-only")

    backends.register("read-only-memory", ReadOnlyMemory)
    try:
        result = _roundtrip("read-only-memory")
    finally:
        from mcp_secrets import selection

        backends.unregister("read-only-memory")
        selection.reset()
    assert result.ok and "read-only store" in result.detail
