"""What the connected MCP client can do: which protocol era it speaks, and whether it can show
a form-mode question. Shared by the fetcher and the permission check; imports nothing heavy."""

from __future__ import annotations

from typing import Any


def is_modern(ctx: Any) -> bool:
    """True on a 2026-07-28 (stateless) connection, where `ctx.elicit` is unavailable."""
    rc = getattr(ctx, "request_context", None)
    version = getattr(rc, "protocol_version", None)
    if version is None:
        return False
    try:
        from mcp_types.version import MODERN_PROTOCOL_VERSIONS
    except ImportError:
        return False
    return version in MODERN_PROTOCOL_VERSIONS


def form_elicitation_supported(ctx: Any) -> bool:
    """True if the client declared form-mode elicitation (`{}` alone means form, per spec)."""
    try:
        caps = ctx.session.client_capabilities
    except Exception:
        return False
    elicitation = getattr(caps, "elicitation", None)
    if elicitation is None:
        return False
    form, url = getattr(elicitation, "form", None), getattr(elicitation, "url", None)
    return form is not None or url is None
