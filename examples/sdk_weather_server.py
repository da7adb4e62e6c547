"""Example MCP server on the official `mcp` SDK (`MCPServer`, no FastMCP): the weather tool of
weather_server.py, written the same two ways.

* `get_forecast` — the explicit style: check, `fetch_secrets` (native dialog + verification
  code), then `retrieve_secret_with_permission` (Allow / Allow for session / Deny).
* `get_alerts` — the one-line style: `requires_secret(...)` as the SDK's own `Resolve`
  dependency does all of that before the body; the parameter is not in the input schema.

Run it under any MCP client (stdio): `python examples/sdk_weather_server.py`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from mcp_secrets import secrets_manager
from mcp_secrets.errors import SecretsError
from mcp_secrets.fetcher import fetch_secrets
from mcp_secrets.integrations.mcp_sdk import requires_secret

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fake_weather_api as weather_api  # your API client (this one is examples/fake_weather_api.py)

SECRETS_INFO = {"api_key": {"label": "Weather API key", "field_type": "password"}}

mcp = MCPServer("Weather Demo (official SDK)")
secrets_manager.initialize(mcp)  # the one line of setup: both MCP protocol eras work


@mcp.tool()
async def get_forecast(city: str, ctx: Context) -> str:
    """Tomorrow's forecast for a city (asks for the weather API key the first time)."""
    try:
        if not secrets_manager.secret_exists("api_key"):
            ok, message = await fetch_secrets(ctx, SECRETS_INFO)
            if not ok:
                raise ToolError(message)
        api_key = await secrets_manager.retrieve_secret_with_permission(
            "api_key", ctx, reason=f"Fetch the forecast for {city} from the weather API"
        )
        return weather_api.forecast(city, api_key)
    except (SecretsError, weather_api.InvalidAPIKey) as exc:  # their messages hold no values
        raise ToolError(f"Secret access failed: {exc}") from None


@mcp.tool()
async def get_alerts(
    region: str,
    api_key: Annotated[str, requires_secret("api_key", reason="Read weather alerts")],
) -> str:
    """Current weather alerts for a region (same key, collected and permitted in one line)."""
    try:
        return weather_api.alerts(region, api_key)
    except weather_api.InvalidAPIKey as exc:
        raise ToolError(str(exc)) from None


if __name__ == "__main__":
    mcp.run()
