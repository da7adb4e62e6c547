"""Example MCP server: a weather tool that needs an API key, written two ways.

* `get_forecast` — the explicit style: check, `fetch_secrets` (native dialog + verification
  code), then `retrieve_secret_with_permission` (Allow / Allow for session / Deny).
* `get_alerts` — the one-line style: `requires_secret(...)` does all of that before the body.

Run it under any MCP client (stdio): `python examples/weather_server.py`. The key is used only
to call the (fake, local) weather API; no tool result ever contains it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from fastmcp import Context, FastMCP
from fastmcp.exceptions import ToolError

from mcp_secrets import requires_secret, secrets_manager
from mcp_secrets.errors import SecretsError
from mcp_secrets.fetcher import fetch_secrets

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fake_weather_api as weather_api  # a sibling file, not a package

SERVER_NAME = "Weather Demo"

SECRETS_INFO = {
    "api_key": {
        "label": "Weather API key",
        "field_type": "password",
        "required": True,
        "help_text": "Your key for the weather API",
    }
}

mcp = FastMCP(SERVER_NAME)
secrets_manager.initialize(mcp)  # the one line of setup: both MCP protocol eras work


@mcp.tool
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


@mcp.tool
async def get_alerts(
    region: str,
    api_key: str = requires_secret("api_key", reason="Read weather alerts from the weather API"),
) -> str:
    """Current weather alerts for a region (same key, collected and permitted in one line)."""
    try:
        return weather_api.alerts(region, api_key)
    except weather_api.InvalidAPIKey as exc:
        raise ToolError(str(exc)) from None


if __name__ == "__main__":
    mcp.run()
