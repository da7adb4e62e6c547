"""The contract every store keeps, run against every store (as keyring's BackendBasicTests).

Two levels:

* `Backend` (flat str -> str): memory, the encrypted file, the REAL Secret Service, and
  `keyring` on the REAL Secret Service with Windows' size limit FAKED (`FakeLimitKeyring`).
* `SecretStore` (dict values): `MCPSecretsStorage`-backed dict stores on each of those backends
  (so chunking is exercised where the limit is faked), `EphemeralStorage`, and
  `OnePasswordStorage` through the FAKE `op` (tests/fake_op/op) — no 1Password account is
  reachable from the test machines.

A new store gets the whole suite by adding one `pytest.param` below. Stores that need the
rig's Secret Service carry the `keychain` mark, so `-m "not keychain"` still runs the rest.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mcp_secrets.backends.base import Backend, Probe
from mcp_secrets.backends.encrypted_file import EncryptedFileBackend
from mcp_secrets.backends.keyring_backend import KeyringBackend
from mcp_secrets.backends.memory import MemoryBackend
from mcp_secrets.errors import InvalidSecretName, SecretsError, ValueTypeError
from mcp_secrets.storage import MCPSecretsStorage
from mcp_secrets.stores import EphemeralStorage, OnePasswordStorage, SecretStore, _StorageBacked

FAKE_OP = str(Path(__file__).parent / "fake_op" / "op")
LIMIT = 256
CANARY = "canary-Contract-7Rq2-value"
LONG = "ünï-" + "x" * 3000 + "-🔑"  # over the faked limit: must be chunked, never truncated


class FakeLimitKeyring(KeyringBackend):
    """keyring on the REAL Secret Service, with Windows Credential Manager's size rule FAKED:
    an entry over `LIMIT` bytes of UTF-16 is refused, as CredWrite refuses 2560."""

    name = "fake-limit-keyring"
    max_value_bytes = LIMIT  # type: ignore[assignment]
    value_encoding = "utf-16-le"  # type: ignore[assignment]

    def set(self, service: str, key: str, value: str) -> None:
        if len(value.encode("utf-16-le")) > LIMIT:
            raise SecretsError("entry exceeds the faked limit")
        super().set(service, key, value)


def _secret_service() -> Backend:
    from mcp_secrets.backends.secret_service import SecretServiceBackend

    return SecretServiceBackend()


def _file(tmp: Path) -> Backend:
    return EncryptedFileBackend(tmp / "store", passphrase="contract passphrase")


BACKENDS = [
    pytest.param(lambda tmp: MemoryBackend(), id="memory"),
    pytest.param(_file, id="encrypted-file"),
    pytest.param(lambda tmp: _secret_service(), id="secret-service", marks=pytest.mark.keychain),
    pytest.param(lambda tmp: FakeLimitKeyring(), id="keyring-fake-limit",
                 marks=pytest.mark.keychain),
]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    make: Callable[[Path], Backend] = request.param
    return make(tmp_path)


@pytest.fixture
def service() -> str:
    return f"com.mcp.contract-{uuid.uuid4().hex[:10]}"


def _fits(backend: Backend, value: str) -> bool:
    limit = backend.max_value_bytes
    return limit is None or len(value.encode(backend.value_encoding)) <= limit


# ------------------------------------------------------------------- Backend level


class TestBackendContract:
    def test_describes_itself(self, backend: Backend) -> None:
        assert isinstance(backend.name, str) and backend.name
        assert isinstance(backend.priority, float)
        assert isinstance(backend.read_only, bool) and not backend.read_only
        assert backend.needs_chunking == (backend.max_value_bytes is not None)
        probe = type(backend).probe(explicit=True)  # about this machine, not this instance
        assert isinstance(probe, Probe) and probe.reason
        assert probe.usable or probe.fix  # not usable: it says how to fix it
        assert backend.describe() and CANARY not in repr(backend)

    def test_missing_entry(self, backend: Backend, service: str) -> None:
        assert backend.get(service, "absent") is None
        assert backend.delete(service, "absent") is False

    def test_set_get_replace_delete(self, backend: Backend, service: str) -> None:
        backend.set(service, "k", CANARY)
        assert backend.get(service, "k") == CANARY
        backend.set(service, "k", "replaced")
        assert backend.get(service, "k") == "replaced"
        assert backend.delete(service, "k") is True
        assert backend.get(service, "k") is None
        assert backend.delete(service, "k") is False

    def test_unicode_and_awkward_text(self, backend: Backend, service: str) -> None:
        for i, value in enumerate(["ü ключ 値 🔑", "line1\nline2\t", "  spaces  ", "x"]):
            backend.set(service, f"k{i}", value)
            assert backend.get(service, f"k{i}") == value

    def test_services_are_separate(self, backend: Backend, service: str) -> None:
        backend.set(service, "k", "mine")
        assert backend.get(service + "-other", "k") is None
        backend.delete(service, "k")

    def test_keys_enumerate_or_say_they_cannot(self, backend: Backend, service: str) -> None:
        backend.set(service, "a", "1")
        backend.set(service, "b", "2")
        keys = backend.keys(service)
        assert keys is None or sorted(keys) == ["a", "b"]
        for k in ("a", "b"):
            backend.delete(service, k)

    def test_respects_its_declared_limit(self, backend: Backend, service: str) -> None:
        if _fits(backend, LONG):
            backend.set(service, "long", LONG)
            assert backend.get(service, "long") == LONG
        else:
            with pytest.raises(SecretsError):
                backend.set(service, "long", LONG)
            assert backend.get(service, "long") is None


# ------------------------------------------------------------ SecretStore level


def _on(make: Callable[[Path], Backend]) -> Callable[[Path, str], SecretStore]:
    def build(tmp: Path, server: str) -> SecretStore:
        return _StorageBacked(MCPSecretsStorage(server, backend=make(tmp)))

    return build


def _one_password(tmp: Path, server: str) -> SecretStore:
    return OnePasswordStorage(server, vault="Dev", op_path=FAKE_OP)


STORES = [
    pytest.param(lambda tmp, server: EphemeralStorage(), id="ephemeral"),
    pytest.param(_on(lambda tmp: MemoryBackend()), id="storage-on-memory"),
    pytest.param(_on(_file), id="storage-on-encrypted-file"),
    pytest.param(_on(lambda tmp: _secret_service()), id="storage-on-secret-service",
                 marks=pytest.mark.keychain),
    pytest.param(_on(lambda tmp: FakeLimitKeyring()), id="storage-on-keyring-fake-limit",
                 marks=pytest.mark.keychain),
    pytest.param(_one_password, id="1password-fake-op"),
]


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
          ) -> Iterator[SecretStore]:
    monkeypatch.setenv("FAKE_OP_STORE", str(tmp_path / "op-store.json"))
    monkeypatch.setenv("FAKE_OP_LOG", str(tmp_path / "op-log.jsonl"))
    monkeypatch.delenv("OP_SERVICE_ACCOUNT_TOKEN", raising=False)
    make: Callable[[Path, str], SecretStore] = request.param
    made = make(tmp_path, f"contract-{uuid.uuid4().hex[:10]}")
    yield made
    for key in made.list():
        made.delete(key)


RICH: dict[str, Any] = {"key": CANARY, "port": 8443, "tls": True, "none": None,
                        "scopes": ["a", 1, {"deep": "✓"}], "long": LONG}


class TestSecretStoreContract:
    def test_is_a_secret_store(self, store: SecretStore) -> None:
        assert isinstance(store, SecretStore)
        assert CANARY not in repr(store)

    def test_round_trip_exactly(self, store: SecretStore) -> None:
        assert store.get("api") is None
        store.save("api", RICH)
        got = store.get("api")
        assert got == RICH and type(got["port"]) is int and type(got["tls"]) is bool
        got["key"] = "mutated"  # the caller's copy, never the stored state
        assert store.get("api") == RICH

    def test_replace_list_delete(self, store: SecretStore) -> None:
        store.save("b", {"v": "1"})
        store.save("a", {"v": "2"})
        store.save("a", {"w": "3"})
        assert store.get("a") == {"w": "3"}
        assert store.list() == ["a", "b"]
        assert store.delete("a") is True and store.delete("a") is False
        assert store.list() == ["b"]

    def test_refuses_what_would_not_round_trip(self, store: SecretStore) -> None:
        for bad in ({"t": (1, 2)}, {"s": {1}}, {1: "x"}, {"f": float("nan")}, "not a dict"):
            with pytest.raises(ValueTypeError):
                store.save("k", bad)  # type: ignore[arg-type]
            assert store.get("k") is None
        assert isinstance(ValueTypeError("x"), TypeError)  # what callers caught before

    def test_refuses_bad_names(self, store: SecretStore) -> None:
        for bad in ("", "a/b", "x\n"):
            with pytest.raises(InvalidSecretName):
                store.save(bad, {"v": "1"})
        assert store.list() == []
