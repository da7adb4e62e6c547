"""A careless FastMCP server for the output-guard tests, run as a real subprocess over stdio.

Every tool leaks the stored secret `api_key` a different way: in text, in structured content,
JSON-escaped behind a prefix, in a resource, in a prompt, in an exception's message, in log
records (with a traceback) and in `ctx.info`. SERVER_NAME names its scope; GUARD=0 initialises
with `guard=False`, so the tests can show the leaks are real.
"""

from __future__ import annotations

import json
import logging
import os
import sys

from fastmcp import Context, FastMCP

from mcp_secrets import secrets_manager

logging.basicConfig(level=logging.DEBUG, stream=sys.stderr,
                    format="%(levelname)s %(name)s: %(message)s")
log = logging.getLogger("guard_server")

mcp = FastMCP(os.environ["SERVER_NAME"])
secrets_manager.initialize(mcp, guard=os.environ.get("GUARD", "1") != "0")


def key() -> str:
    value = secrets_manager.retrieve_secret("api_key")
    assert value is not None, "the test stores api_key first"
    return value


@mcp.tool
def ping() -> str:
    return "pong"


@mcp.tool
def echo_key() -> str:
    return f"the key is {key()}"


@mcp.tool
def structured_key() -> dict[str, object]:
    return {"key": key(), "nested": [{"header": f"Bearer {key()}"}]}


@mcp.tool
def escaped_key() -> str:
    """The key JSON-escaped inside text (a tool that hands back a config file)."""
    return json.dumps({"Authorization": f"Bearer {key()}"})


@mcp.tool
def raise_key() -> str:
    raise ValueError(f"bad key {key()}")


@mcp.tool
async def log_key(ctx: Context) -> str:
    value = key()
    log.warning("calling the API with key %s", value)
    try:
        raise RuntimeError(f"the API refused {value}")
    except RuntimeError:
        log.exception("request failed")
    await ctx.info(f"using key {value}")
    return "logged"


@mcp.resource("secret://key")
def key_resource() -> str:
    return f"key={key()}"


@mcp.prompt
def key_prompt() -> str:
    return f"Call the API with {key()}"


if __name__ == "__main__":
    mcp.run()
