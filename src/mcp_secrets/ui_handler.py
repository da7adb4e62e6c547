"""`mcp_secrets.ui_handler.AsyncUIHandler`, where the public API has always had it.

The launcher lives with the dialog it starts, in `mcp_secrets.dialog.launcher`.
"""

from __future__ import annotations

from mcp_secrets.dialog.launcher import (
    AsyncUIHandler,
    DialogSession,
    default_command,
    default_timeout,
    dialog_env,
)

__all__ = ["AsyncUIHandler", "DialogSession", "default_command", "default_timeout", "dialog_env"]
