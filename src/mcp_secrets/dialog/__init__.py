"""The credential dialog: a separate process speaking a small JSON protocol.

Import `mcp_secrets.dialog.protocol` to build templates and read results; run
``python -m mcp_secrets.dialog`` (or ``mcp-secrets-dialog``) to show one. Importing this
package never imports Tk.
"""

from __future__ import annotations

from mcp_secrets.dialog.protocol import (
    EXIT_CANCELLED,
    EXIT_ERROR,
    EXIT_NO_DISPLAY,
    EXIT_OK,
    FIELD_TYPES,
    Field,
    Template,
    TemplateError,
    build_result,
    parse_result,
    parse_template,
    validate_email,
    validate_url,
)

__all__ = [
    "EXIT_CANCELLED",
    "EXIT_ERROR",
    "EXIT_NO_DISPLAY",
    "EXIT_OK",
    "FIELD_TYPES",
    "Field",
    "Template",
    "TemplateError",
    "build_result",
    "parse_result",
    "parse_template",
    "validate_email",
    "validate_url",
]
