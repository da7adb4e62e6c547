"""`python -m mcp_secrets.cli`: the same as the `mcp-secrets` console script."""

from __future__ import annotations

import sys

from mcp_secrets.cli import main

if __name__ == "__main__":
    sys.exit(main())
