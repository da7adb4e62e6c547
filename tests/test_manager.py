"""MCPSecretsManager and the module-level secrets_manager, on the real Secret Service."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from typing import Any

import pytest

from mcp_secrets import MCPSecretsManager, SecretsError
from mcp_secrets.errors import InvalidSecretName

pytestmark = pytest.mark.keychain

CANARY = "canary-manager-7Qx9-do-not-leak"
HEAVY = ("fastmcp", "mcp", "pydantic", "keyring", "secretstorage", "jeepney", "cryptography",
         "onepassword", "tkinter", "filelock")


def test_uninitialized_manager_says_what_to_call() -> None:
    with pytest.raises(SecretsError, match=r"initialize\(mcp\)"):
        MCPSecretsManager().retrieve_secret("api_key")


def test_round_trip_and_listing(server_name: str) -> None:
    m = MCPSecretsManager(server_name)
    m.store_secret("api_key", CANARY)
    m.store_secret("user", "alice")
    assert m.retrieve_secret("api_key") == CANARY
    assert m.list_secrets() == ["api_key", "user"]
    assert m.ensure_secrets(["api_key", "user"]) is True
    assert m.ensure_secrets(["api_key", "missing"]) is False
    assert m.delete_secret("user") is True
    assert m.delete_secret("user") is False
    assert m.clear_secrets() == 1
    assert m.list_secrets() == []
    assert CANARY not in repr(m)


def test_bad_name_stores_nothing(server_name: str) -> None:
    m = MCPSecretsManager(server_name)
    with pytest.raises(InvalidSecretName):
        m.store_secret("../etc/passwd", CANARY)
    assert m.list_secrets() == []


def _clear_on_start(server: str, flag: str) -> list[str]:
    """Initialize a manager in a fresh process with SECRETS_STORAGE_CLEAR=flag; its listing."""
    code = (
        "import json, sys; from mcp_secrets import secrets_manager as m; "
        "m.initialize(sys.argv[1]); print(json.dumps(m.list_secrets()))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, server], capture_output=True, text=True, check=True,
        env={**os.environ, "SECRETS_STORAGE_CLEAR": flag},
    ).stdout
    result: list[str] = json.loads(out)
    return result


def test_storage_clear_wipes_only_this_server_at_initialization(server_name: str) -> None:
    mine, other = MCPSecretsManager(server_name), MCPSecretsManager(server_name + "-other")
    mine.store_secret("api_key", CANARY)
    other.store_secret("api_key", "keep-me")
    assert _clear_on_start(server_name, "false") == ["api_key"]
    assert _clear_on_start(server_name, "true") == []
    mine_again = MCPSecretsManager(server_name)
    assert mine_again.retrieve_secret("api_key") is None  # the cache saw the other process
    assert other.retrieve_secret("api_key") == "keep-me"
    other.clear_secrets()


class _RecordingContext:
    """A stand-in Context that only records whether anyone tried to ask the human."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def elicit(self, message: str, *args: Any, **kwargs: Any) -> Any:
        self.asked.append(message)
        raise AssertionError("the human must not be asked about a secret that is not stored")


def test_permission_for_a_missing_secret_names_the_fix_without_asking(server_name: str) -> None:
    ctx = _RecordingContext()
    m = MCPSecretsManager(server_name)
    with pytest.raises(SecretsError) as info:
        asyncio.run(m.retrieve_secret_with_permission("api_key", ctx, reason="test"))
    assert f"mcp-secrets set {server_name} api_key" in str(info.value)
    assert ctx.asked == []


def test_initialize_with_a_server_object_installs_the_middleware_once(server_name: str) -> None:
    from fastmcp import FastMCP

    from mcp_secrets.integrations.fastmcp import SecretsMiddleware

    mcp = FastMCP(server_name)
    m = MCPSecretsManager()
    m.initialize(mcp)
    m.initialize(mcp)
    assert m.server_name == server_name
    assert sum(isinstance(mw, SecretsMiddleware) for mw in mcp.middleware) == 1


def test_initialize_rejects_what_is_not_a_server() -> None:
    with pytest.raises(TypeError, match="server name or a server object"):
        MCPSecretsManager().initialize(42)


def test_importing_the_library_loads_nothing_heavy() -> None:
    """An MCP server that imports us must not start slower for it (issue 2, item 1)."""
    code = (
        "import sys, json, mcp_secrets; from mcp_secrets import secrets_manager; "
        "import mcp_secrets.fetcher, mcp_secrets.permissions, mcp_secrets.elicitation; "
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_cached_read_goes_straight_to_storage(server_name: str) -> None:
    """The public read is the storage's own bound method: no second call per read (item 16;
    the ratio against dict.get is printed by benchmarks/bench_manager.py)."""
    m = MCPSecretsManager(server_name)
    assert m.retrieve_secret == m.storage.retrieve_secret
    m.initialize(server_name + "-other")  # re-initialising re-binds to the new scope
    assert m.retrieve_secret == m.storage.retrieve_secret


def test_async_read_calls_storage_off_the_event_loop(server_name: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Storage may block (D-Bus, a file lock held up to 60 s, an unlock prompt): the async
    path must not run it on the event loop's thread."""
    import threading

    monkeypatch.setenv("MCP_BYPASS_SECRET_USE_CONFIRM", "true")
    m = MCPSecretsManager(server_name)
    m.store_secret("api_key", CANARY)
    threads: list[int] = []
    real = m.storage

    class Spy:
        """Records the thread of each storage call (the storage's attributes are slots)."""

        server_name = real.server_name

        def secret_exists(self, name: str) -> bool:
            threads.append(threading.get_ident())
            return real.secret_exists(name)

        def retrieve_secret(self, name: str) -> str | None:
            threads.append(threading.get_ident())
            return real.retrieve_secret(name)

    m._storage = Spy()  # type: ignore[assignment]

    async def main() -> tuple[str, int]:
        value = await m.retrieve_secret_with_permission("api_key", None)
        return value, threading.get_ident()

    try:
        value, loop_thread = asyncio.run(main())
        assert value == CANARY
        assert len(threads) == 2 and loop_thread not in threads
    finally:
        real.clear_secrets()
