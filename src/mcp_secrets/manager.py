"""MCPSecretsManager: the seed API an MCP server author calls, and the module-level singleton.

The manager is glue: it owns one `MCPSecretsStorage` for the server it was initialised for,
applies SECRETS_STORAGE_CLEAR, and adds the per-use permission check. Storage does the work.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from mcp_secrets import config
from mcp_secrets.errors import SecretsError

if TYPE_CHECKING:
    from mcp_secrets.backends.base import Backend
    from mcp_secrets.storage import MCPSecretsStorage

#: How `initialize(server_object)` finds the glue for a server's framework: the top-level
#: module of the server's class -> "module:function". Imported by name when needed, so the
#: manager never depends on a glue that depends on it.
SERVER_ADAPTERS: dict[str, str] = {
    "fastmcp": "mcp_secrets.integrations.fastmcp:install",
    "mcp": "mcp_secrets.integrations.mcp_sdk:install",
}


def env_flag(name: str) -> bool:
    """True when the declared setting `name` is set to 1/true/yes/on (any case)."""
    return config.SETTINGS[name].flag()


def _install_adapter(server: Any) -> None:
    # The first class in the MRO from a known framework: a subclass of MCPServer works too.
    frameworks = [c.__module__.partition(".")[0] for c in type(server).__mro__]
    target = next((SERVER_ADAPTERS[f] for f in frameworks if f in SERVER_ADAPTERS), None)
    if target is None:
        raise TypeError(
            f"initialize() does not know {type(server).__name__} servers; pass the server's "
            "name, or register an adapter in mcp_secrets.manager.SERVER_ADAPTERS"
        )
    module, _, function = target.partition(":")
    getattr(importlib.import_module(module), function)(server)


class MCPSecretsManager:
    """Server-scoped secrets: `initialize("my-server")` once, then store/retrieve by name."""

    def __init__(self, server_name: str | None = None, *, backend: Backend | None = None,
                 profile: str | None = None) -> None:
        self._storage: MCPSecretsStorage | None = None
        if server_name is not None:
            self.initialize(server_name, backend=backend, profile=profile)

    def initialize(self, server: Any, *, backend: Backend | None = None,
                   profile: str | None = None, guard: bool = True) -> None:
        """Scope this manager to one server.

        `server` is the server's name, or a server object (FastMCP, or the official SDK's
        `MCPServer`): passing the object also
        installs the middleware that makes `fetch_secrets` and permission prompts work on
        2026-07-28 (stateless) connections — the one line of setup the modern era needs —
        and the output guard (see `mcp_secrets.guard`): any secret value this process knows
        is masked in tool results, resources, prompts, error messages and log records.
        `guard=False` turns the guard off (for a tool whose job is to show a value).
        `profile` picks the profile (default: MCP_SECRETS_PROFILE, else the default profile).
        """
        from mcp_secrets.storage import MCPSecretsStorage

        name = server if isinstance(server, str) else getattr(server, "name", None)
        if not isinstance(name, str):
            raise TypeError(
                "initialize() takes a server name or a server object (FastMCP, MCPServer)"
            )
        self._storage = MCPSecretsStorage(name, backend=backend, profile=profile)
        # The cached read is the hot path: bind it straight to storage (no second call).
        self.retrieve_secret = self._storage.retrieve_secret  # type: ignore[method-assign]
        if config.STORAGE_CLEAR.flag():
            self._storage.clear_secrets()
        if not isinstance(server, str):
            from mcp_secrets import guard as output_guard

            _install_adapter(server)
            if guard:
                output_guard.enable()
            else:
                output_guard.disable()

    @property
    def storage(self) -> MCPSecretsStorage:
        if self._storage is None:
            raise SecretsError(
                "secrets_manager is not initialized: call secrets_manager.initialize(mcp) "
                "(or initialize('server-name')) before using it"
            )
        return self._storage

    @property
    def server_name(self) -> str:
        return self.storage.server_name

    def store_secret(self, name: str, value: str) -> None:
        self.storage.store_secret(name, value)

    def retrieve_secret(self, name: str) -> str | None:
        return self.storage.retrieve_secret(name)

    def delete_secret(self, name: str) -> bool:
        return self.storage.delete_secret(name)

    def previous_secret(self, name: str) -> str | None:
        """The value before the last `mcp-secrets rotate`, during its grace period."""
        from mcp_secrets.rotation import previous_secret

        return previous_secret(self.storage, name)

    def secret_exists(self, name: str) -> bool:
        return self.storage.secret_exists(name)

    def ensure_secrets(self, names: Iterable[str]) -> bool:
        """True when every named secret is stored (nothing is fetched or prompted)."""
        return all(self.storage.secret_exists(n) for n in names)

    def list_secrets(self) -> list[str]:
        return self.storage.list_secrets()

    def clear_secrets(self) -> int:
        return self.storage.clear_secrets()

    async def retrieve_secret_with_permission(
        self, name: str, ctx: Any, reason: str | None = None
    ) -> str:
        """The secret's value, after the human allowed this use (Allow / Allow for session).

        Raises PermissionDeniedError on Deny, decline, cancel or a client that cannot ask,
        unless MCP_BYPASS_SECRET_USE_CONFIRM=true.
        """
        from mcp_secrets.permissions import request_permission

        storage = self.storage
        # Storage may wait on D-Bus, a file lock or an unlock prompt: keep the loop free.
        if not await asyncio.to_thread(storage.secret_exists, name):
            raise SecretsError(
                f"secret {name!r} is not stored for server {storage.server_name!r}: collect it "
                f"with fetch_secrets() or run: mcp-secrets set {_shell_quote(storage.server_name)} "
                f"{_shell_quote(name)}"
            )
        await request_permission(ctx, storage.server_name, name, reason)
        value = await asyncio.to_thread(storage.retrieve_secret, name)
        if value is None:  # deleted by another process while the human was deciding
            raise SecretsError(f"secret {name!r} was deleted while permission was being asked")
        return value

    def __repr__(self) -> str:
        scope = self._storage.server_name if self._storage else "uninitialized"
        return f"<MCPSecretsManager {scope}>"


def _shell_quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


#: The module-level manager every server shares: `secrets_manager.initialize(mcp)`.
secrets_manager = MCPSecretsManager()
