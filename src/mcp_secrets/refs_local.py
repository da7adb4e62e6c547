"""The two schemes that need no network: ``mcp-secrets://SERVER/NAME`` (our own store, the same
``com.mcp.{SERVER}`` scope that `mcp-secrets set` and the library use) and ``env://VAR``."""

from __future__ import annotations

import os
from collections.abc import Sequence

from mcp_secrets.errors import SecretReferenceError
from mcp_secrets.names import set_command
from mcp_secrets.refs import Reference, describe


class LocalScheme:
    """``mcp-secrets://SERVER/NAME``; percent-encode a server name that needs it."""

    def resolve_many(self, refs: Sequence[Reference]) -> list[str]:
        from mcp_secrets.storage import MCPSecretsStorage

        stores: dict[str, MCPSecretsStorage] = {}
        out = []
        for ref in refs:
            if not ref.host or len(ref.path) != 1 or ref.fragment:
                raise SecretReferenceError(
                    f"{describe(ref)} is malformed: expected mcp-secrets://SERVER/NAME"
                )
            store = stores.get(ref.host) or stores.setdefault(ref.host, MCPSecretsStorage(ref.host))
            value = store.retrieve_secret(ref.path[0])
            if value is None:
                raise SecretReferenceError(
                    f"{describe(ref)}: no secret {ref.path[0]!r} is stored for server "
                    f"{ref.host!r}; store it with: {set_command(ref.host, ref.path[0])}"
                )
            out.append(value)
        return out


class EnvScheme:
    """``env://VAR``: another variable of this process's environment."""

    def resolve_many(self, refs: Sequence[Reference]) -> list[str]:
        out = []
        for ref in refs:
            if not ref.host or ref.path or ref.fragment:
                raise SecretReferenceError(f"{describe(ref)} is malformed: expected env://VAR")
            value = os.environ.get(ref.host)
            if value is None:
                raise SecretReferenceError(f"{describe(ref)}: the variable {ref.host} is not set")
            out.append(value)
        return out
