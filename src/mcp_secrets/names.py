"""Validation of server and secret names: one rule set, enforced before anything is stored."""

from __future__ import annotations

import unicodedata

from mcp_secrets.errors import InvalidSecretName

MAX_NAME_LENGTH = 128
#: Names starting with this are ours (the index, chunk entries); users cannot create them.
RESERVED_PREFIX = "__"


def validate_name(name: object, *, kind: str = "secret name") -> str:
    """Return `name` in Unicode NFC if it is a usable name, else raise InvalidSecretName.

    NFC because "café" typed on macOS (decomposed) and on Linux (composed) is one name to a
    person, and filesystems that normalize (APFS, NTFS lookups) would make them collide anyway.
    Allowed: 1-128 printable characters with no path separators and no leading or trailing
    whitespace (spaces inside are fine: FastMCP servers are often called "My Server").
    """
    if not isinstance(name, str):
        raise InvalidSecretName(f"{kind} must be a string, not {type(name).__name__}")
    if not name:
        raise InvalidSecretName(f"{kind} must not be empty")
    name = unicodedata.normalize("NFC", name)
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidSecretName(
            f"{kind} is {len(name)} characters long; the limit is {MAX_NAME_LENGTH}"
        )
    if name != name.strip():
        raise InvalidSecretName(f"{kind} {name.strip()!r} must not start or end with whitespace")
    for ch in name:
        if ch in "/\\":
            raise InvalidSecretName(f"{kind} {name!r} must not contain {ch!r} (a path separator)")
        if unicodedata.category(ch).startswith("C"):
            raise InvalidSecretName(
                f"{kind} must not contain control or unprintable characters (found U+{ord(ch):04X})"
            )
    if kind == "secret name" and name.startswith(RESERVED_PREFIX):
        raise InvalidSecretName(
            f"{kind} {name!r} is reserved: names starting with '__' are internal"
        )
    return name


#: The profile whose scope is exactly ``com.mcp.{server}`` (what existed before profiles).
DEFAULT_PROFILE = "default"


def profile_name(profile: str | None = None) -> str:
    """The profile in effect: `profile` if given, else MCP_SECRETS_PROFILE, else "default"."""
    if profile is None:
        from mcp_secrets import config

        profile = config.PROFILE.get() or DEFAULT_PROFILE
    return validate_name(profile, kind="profile name")


def service_name(server_name: str, profile: str | None = None) -> str:
    """The keychain service every secret of `server_name` (in NFC) in `profile` lives under.

    The default profile is ``com.mcp.{server}``; profile P is ``com.mcp.{server}/P``. No server
    or profile name may contain '/', so a profile scope never equals another server's scope,
    and (server, profile) pairs never share one.
    """
    server = validate_name(server_name, kind="server name")
    chosen = profile_name(profile)
    return f"com.mcp.{server}" if chosen == DEFAULT_PROFILE else f"com.mcp.{server}/{chosen}"


def set_command(server: str, *secret_names: str) -> str:
    """The shell command(s) that store `secret_names` for `server`: the one hint every message
    gives when a secret is missing (quoted for a POSIX shell, ready to paste)."""
    import shlex

    return "; ".join(f"mcp-secrets set {shlex.quote(server)} {shlex.quote(n)}"
                     for n in secret_names)
