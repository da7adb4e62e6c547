"""Profiles: the same server's secrets kept apart per profile, in the real Secret Service.

The default profile is exactly the scope that existed before profiles (``com.mcp.{server}``),
so data written then stays readable; no profile ever falls back to another's value.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from mcp_secrets.errors import InvalidSecretName
from mcp_secrets.manager import MCPSecretsManager
from mcp_secrets.names import service_name
from mcp_secrets.storage import MCPSecretsStorage

pytestmark = pytest.mark.keychain

_SCRIPT = Path(sys.executable).with_name("mcp-secrets")
CLI = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "mcp_secrets.cli"]


def canary() -> str:
    return f"CANARY-{uuid.uuid4().hex}"


def cli(*args: str, stdin: str = "", profile_env: str | None = None
        ) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("MCP_SECRETS_PROFILE", None)
    if profile_env is not None:
        env["MCP_SECRETS_PROFILE"] = profile_env
    return subprocess.run([*CLI, *args], input=stdin, capture_output=True, text=True, env=env,
                          timeout=120)


def test_scopes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MCP_SECRETS_PROFILE", raising=False)
    assert service_name("my.server@host") == "com.mcp.my.server@host"
    assert service_name("s", "default") == "com.mcp.s"
    assert service_name("s", "prod") == "com.mcp.s/prod"
    monkeypatch.setenv("MCP_SECRETS_PROFILE", "dev")
    assert service_name("s") == "com.mcp.s/dev"
    assert service_name("s", "default") == "com.mcp.s"
    for bad in ("a/b", "", " x", "x\n"):
        with pytest.raises(InvalidSecretName):
            service_name("s", bad)
    # A server name can never contain '/', so no profile scope is another server's scope.
    with pytest.raises(InvalidSecretName):
        service_name("s/prod")


def test_default_profile_is_the_pre_profile_scope(server_name: str) -> None:
    """An entry written straight to `com.mcp.{server}` (as every earlier version did) is the
    default profile's, and nothing else's."""
    import keyring

    value = canary()
    keyring.set_password(f"com.mcp.{server_name}", "legacy", value)
    storage = MCPSecretsStorage(server_name, profile="default")
    assert storage.service == f"com.mcp.{server_name}"
    assert storage.retrieve_secret("legacy") == value
    assert MCPSecretsStorage(server_name, profile="prod").retrieve_secret("legacy") is None
    proc = cli("get", server_name, "legacy", "--reveal")
    assert proc.stdout == value + "\n"


def test_cli_keeps_profiles_apart(server_name: str) -> None:
    dev, prod = canary(), canary()
    assert cli("set", "--profile", "dev", server_name, "KEY", stdin=dev).returncode == 0
    assert cli("set", server_name, "KEY", stdin=prod, profile_env="prod").returncode == 0
    assert cli("get", server_name, "KEY", "--reveal", "--profile", "dev").stdout == dev + "\n"
    assert cli("get", server_name, "KEY", "--reveal", profile_env="prod").stdout == prod + "\n"
    # --profile wins over the environment
    assert cli("get", server_name, "KEY", "--reveal", "--profile", "dev",
               profile_env="prod").stdout == dev + "\n"
    assert cli("list", server_name, "--profile", "dev").stdout == "KEY\n"
    assert cli("list", server_name).stdout == ""  # the default profile has nothing
    missing = cli("get", server_name, "KEY")  # no fallback to dev or prod
    assert missing.returncode == 1
    assert f"'KEY' is not stored for server '{server_name}'" in missing.stderr
    assert dev not in missing.stderr and prod not in missing.stderr
    gone = cli("delete", "--profile", "dev", server_name, "KEY")
    assert gone.returncode == 0 and "(profile 'dev')" in gone.stdout
    assert cli("get", server_name, "KEY", "--reveal", profile_env="prod").stdout == prod + "\n"
    cleared = cli("clear", "--profile", "prod", "--yes", server_name)
    assert cleared.stdout.strip() == f"cleared 1 secret(s) for server '{server_name}' " \
                                     "(profile 'prod')"
    assert cli("get", "--json", "--profile", "prod", server_name, "KEY").returncode == 1


def test_bad_profile_name_is_a_one_line_error(server_name: str) -> None:
    proc = cli("list", "--profile", "a/b", server_name)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "profile name" in proc.stderr


def test_run_with_profile(server_name: str) -> None:
    dev, prod = canary(), canary()
    MCPSecretsStorage(server_name, profile="dev").store_secret("KEY", dev)
    MCPSecretsStorage(server_name, profile="prod").store_secret("KEY", prod)
    ref = f"mcp-secrets://{server_name}/KEY"
    code = ("import os, sys; e = os.environ; "
            "sys.stdout.write(str(e['KEY'] == e['WANT']) + ' ' + e['MCP_SECRETS_PROFILE'])")
    for flags, env_profile, want, name in (
        (["--profile", "dev"], None, dev, "dev"),
        ([], "prod", prod, "prod"),
        (["--profile", "dev"], "prod", dev, "dev"),
    ):
        env = {**os.environ, "WANT": want}
        if env_profile:
            env["MCP_SECRETS_PROFILE"] = env_profile
        proc = subprocess.run([*CLI, "run", *flags, "--env", f"KEY={ref}", "--",
                               sys.executable, "-c", code], capture_output=True, text=True,
                              env=env, timeout=120)
        assert proc.stdout == f"True {name}", proc.stderr
    no_fallback = subprocess.run([*CLI, "run", "--profile", "staging", "--env", f"KEY={ref}",
                                  "--", "true"], capture_output=True, text=True, timeout=120)
    assert no_fallback.returncode == 1 and "in profile 'staging'" in no_fallback.stderr
    server = subprocess.run([*CLI, "run", "--profile", "prod", "--server", server_name, "--",
                             sys.executable, "-c", "import os; print(os.environ['KEY'] == "
                             f"{prod!r})"], capture_output=True, text=True, timeout=120)
    assert server.stdout == "True\n", server.stderr


def test_library_respects_the_profile(server_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    value = canary()
    monkeypatch.setenv("MCP_SECRETS_PROFILE", "staging")
    manager = MCPSecretsManager(server_name)
    manager.store_secret("k", value)
    assert manager.storage.service == f"com.mcp.{server_name}/staging"
    monkeypatch.delenv("MCP_SECRETS_PROFILE")
    assert MCPSecretsManager(server_name).retrieve_secret("k") is None
    assert MCPSecretsManager(server_name, profile="staging").retrieve_secret("k") == value
    assert MCPSecretsStorage(server_name, profile="staging").list_secrets() == ["k"]


def test_repair_covers_every_profile(server_name: str) -> None:
    MCPSecretsStorage(server_name).store_secret("a", canary())
    MCPSecretsStorage(server_name, profile="prod").store_secret("b", canary())
    everything = cli("repair")
    assert everything.returncode == 0, everything.stderr
    assert f"{server_name}: nothing to repair (1 secret(s))" in everything.stdout
    assert f"{server_name} (profile prod): nothing to repair (1 secret(s))" in everything.stdout
    one = cli("repair", "--profile", "prod", server_name)
    assert one.stdout == f"{server_name} (profile prod): nothing to repair (1 secret(s))\n"
