"""The two schemes that need no network: ``mcp-secrets://SERVER/NAME`` (our own store, the same
``com.mcp.{SERVER}`` scope that `mcp-secrets set` and the library use) and ``env://VAR``."""

from __future__ import annotations

import os
from collections.abc import Sequence

from mcp_secrets.errors import InvalidSecretName, SecretReferenceError
from mcp_secrets.refs import Reference, describe

SCHEME = "mcp-secrets"


def local_reference(server: str, name: str, profile: str | None = None) -> str:
    """The reference to secret `name` of `server` (in `profile`, if given), percent-encoded
    so any valid server or secret name round-trips: ``mcp-secrets://My%20Server/api_key``."""
    from urllib.parse import quote

    ref = f"{SCHEME}://{quote(server, safe='@')}/{quote(name, safe='@')}"
    return ref if profile is None else f"{ref}?profile={quote(profile, safe='@')}"


class LocalScheme:
    """``mcp-secrets://SERVER/NAME[?profile=P]``; percent-encode a server name that needs it.

    The profile is `?profile=P`, else MCP_SECRETS_PROFILE, else the default profile. A secret
    missing from the chosen profile is an error: another profile's value is never used.
    """

    def resolve_many(self, refs: Sequence[Reference]) -> list[str]:
        from mcp_secrets.names import profile_name, service_name, validate_name
        from mcp_secrets.storage import MCPSecretsStorage

        stores: dict[tuple[str, str], MCPSecretsStorage] = {}
        out = []
        for ref in refs:
            if (not ref.host or len(ref.path) != 1 or ref.fragment is not None
                    or set(ref.query) - {"profile"}):
                raise SecretReferenceError(
                    f"{describe(ref)} is malformed: expected mcp-secrets://SERVER/NAME "
                    "(optionally ?profile=P; percent-encode spaces and other special characters)"
                )
            server, name = ref.host, ref.path[0]
            try:
                profile = profile_name(ref.query.get("profile"))
                service_name(server, profile)
                validate_name(name)
            except InvalidSecretName as exc:
                raise SecretReferenceError(f"{describe(ref)} is malformed: {exc}") from None
            store = stores.get((server, profile))
            if store is None:
                store = stores[(server, profile)] = MCPSecretsStorage(server, profile=profile)
            value = store.retrieve_secret(name)
            if value is None:
                raise SecretReferenceError(f"{describe(ref)}: {_missing(server, name, profile)}")
            out.append(value)
        return out


def _missing(server: str, name: str, profile: str) -> str:
    import shlex

    from mcp_secrets.names import DEFAULT_PROFILE

    where = "" if profile == DEFAULT_PROFILE else f" in profile {profile!r}"
    flag = "" if profile == DEFAULT_PROFILE else f" --profile {shlex.quote(profile)}"
    return (f"no secret {name!r} is stored for server {server!r}{where}; store it with: "
            f"mcp-secrets set{flag} {shlex.quote(server)} {shlex.quote(name)}")


class EnvScheme:
    """``env://VAR``: another variable of this process's environment."""

    def resolve_many(self, refs: Sequence[Reference]) -> list[str]:
        out = []
        for ref in refs:
            if not ref.host or ref.path or ref.fragment is not None or ref.query:
                raise SecretReferenceError(f"{describe(ref)} is malformed: expected env://VAR")
            value = os.environ.get(ref.host)
            if value is None:
                raise SecretReferenceError(f"{describe(ref)}: the variable {ref.host} is not set")
            out.append(value)
        return out
