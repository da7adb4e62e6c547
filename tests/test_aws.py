"""`aws-sm://` references and the aws store against moto in SERVER mode (HTTP on 127.0.0.1,
reached by the real boto3 through AWS_ENDPOINT_URL_SECRETS_MANAGER), not moto's decorators."""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from mcp_secrets.errors import SecretReferenceError
from mcp_secrets.refs import resolve, resolve_all
from tests.team_servers import Moto, running_moto

CANARY = "canary-aws-Kp27-value"


@pytest.fixture(scope="module")
def moto() -> Iterator[Moto]:
    with running_moto() as server:
        yield server


@pytest.fixture
def aws_env(moto: Moto, monkeypatch: pytest.MonkeyPatch) -> Moto:
    for var in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    for k, v in moto.env.items():
        monkeypatch.setenv(k, v)
    return moto


def sm(moto: Moto, **creds: str) -> Any:
    import boto3

    return boto3.client("secretsmanager", endpoint_url=moto.url, region_name="us-east-1",
                        aws_access_key_id=creds.get("key", "testing"),
                        aws_secret_access_key=creds.get("secret", "testing"))


def unique(stem: str) -> str:
    return f"{stem}/{uuid.uuid4().hex[:8]}"


def test_secret_string_and_json_keys(aws_env: Moto) -> None:
    plain, doc = unique("plain"), unique("db")
    sm(aws_env).create_secret(Name=plain, SecretString=CANARY)
    sm(aws_env).create_secret(Name=doc, SecretString=json.dumps(
        {"password": CANARY, "port": 5432, "user": "app"}))
    got = resolve_all({"A": f"aws-sm://{plain}", "P": f"aws-sm://{doc}#password",
                       "PORT": f"aws-sm://{doc}#port", "U": f"aws-sm://{doc}#user"})
    assert got == {"A": CANARY, "P": CANARY, "PORT": "5432", "U": "app"}


def test_an_arn_works_as_the_secret_id(aws_env: Moto) -> None:
    name = unique("arn")
    arn = sm(aws_env).create_secret(Name=name, SecretString="by-arn")["ARN"]
    assert resolve(f"aws-sm://{arn}") == "by-arn"


def test_stages_and_versions(aws_env: Moto) -> None:
    name = unique("rot")
    first = sm(aws_env).create_secret(Name=name, SecretString="old")["VersionId"]
    sm(aws_env).put_secret_value(SecretId=name, SecretString="new")
    assert resolve(f"aws-sm://{name}") == "new"
    assert resolve(f"aws-sm://{name}?stage=AWSPREVIOUS") == "old"
    assert resolve(f"aws-sm://{name}?stage=AWSCURRENT") == "new"
    assert resolve(f"aws-sm://{name}?version={first}") == "old"
    with pytest.raises(SecretReferenceError, match="stage or version, not both"):
        resolve(f"aws-sm://{name}?stage=AWSPREVIOUS&version={first}", var="X")


def test_missing_secret_and_key(aws_env: Moto) -> None:
    with pytest.raises(SecretReferenceError, match="does not exist") as err:
        resolve(f"aws-sm://{unique('absent')}", var="API_KEY")
    assert "API_KEY" in str(err.value)
    name = unique("keys")
    sm(aws_env).create_secret(Name=name, SecretString=json.dumps({"token": CANARY}))
    with pytest.raises(SecretReferenceError, match="no key 'nope'") as err:
        resolve(f"aws-sm://{name}#nope", var="API_KEY")
    assert CANARY not in str(err.value)
    plain = unique("plain")
    sm(aws_env).create_secret(Name=plain, SecretString=CANARY)
    with pytest.raises(SecretReferenceError, match="not a JSON object") as err:
        resolve(f"aws-sm://{plain}#k", var="API_KEY")
    assert CANARY not in str(err.value)


def test_no_region_is_a_clear_error(aws_env: Moto, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    with pytest.raises(SecretReferenceError, match="AWS_REGION"):
        resolve("aws-sm://x", var="X")


def test_unreachable_endpoint_is_a_clear_error(aws_env: Moto,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.1:1")
    with pytest.raises(SecretReferenceError, match="unreachable"):
        resolve("aws-sm://x", var="X")


def _set_auth(moto: Moto, count: str) -> None:
    request = urllib.request.Request(  # noqa: S310 (a local http URL)
        f"{moto.url}/moto-api/reset-auth", data=count.encode(),
        headers={"Content-Type": "text/plain"}, method="POST")
    urllib.request.urlopen(request, timeout=10).close()  # noqa: S310


def test_access_denied_is_reported_as_such(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto enforces IAM once auth is switched on: a user whose policy denies the read."""
    with running_moto() as own:
        for k, v in own.env.items():
            monkeypatch.setenv(k, v)
        sm(own).create_secret(Name="locked", SecretString=CANARY)
        import boto3

        iam = boto3.client("iam", endpoint_url=own.url, region_name="us-east-1",
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        iam.create_user(UserName="reader")
        iam.put_user_policy(UserName="reader", PolicyName="list-only", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "secretsmanager:ListSecrets", "Resource": "*"}]}))
        key = iam.create_access_key(UserName="reader")["AccessKey"]
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
        _set_auth(own, "0")
        try:
            with pytest.raises(SecretReferenceError, match="refused") as err:
                resolve("aws-sm://locked", var="LOCKED")
        finally:
            _set_auth(own, "inf")
    assert "LOCKED" in str(err.value) and CANARY not in str(err.value)


# --------------------------------------------------------------------------- the aws store


@pytest.fixture
def aws_store(aws_env: Moto, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from mcp_secrets import selection

    prefix = unique("mcp")
    monkeypatch.setenv("MCP_SECRETS_BACKEND", "aws")
    monkeypatch.setenv("MCP_SECRETS_AWS_PREFIX", prefix)
    selection.reset()
    yield prefix
    selection.reset()


def test_the_library_uses_aws_with_no_code_change(aws_store: str, aws_env: Moto) -> None:
    from mcp_secrets.manager import MCPSecretsManager

    manager = MCPSecretsManager("weather")
    assert manager.list_secrets() == []
    manager.store_secret("API_KEY", CANARY)
    manager.store_secret("OTHER", "x")
    assert manager.retrieve_secret("API_KEY") == CANARY
    assert manager.list_secrets() == ["API_KEY", "OTHER"]
    assert resolve(f"aws-sm://{aws_store}/com.mcp.weather/API_KEY") == CANARY
    manager.store_secret("API_KEY", "rotated")
    assert resolve(f"aws-sm://{aws_store}/com.mcp.weather/API_KEY?stage=AWSPREVIOUS") == CANARY
    assert manager.storage.backend.keys("com.mcp.weather") == [
        "API_KEY", "OTHER", "__secret_index__"]
    assert manager.delete_secret("OTHER") is True and manager.delete_secret("OTHER") is False
    assert manager.clear_secrets() == 1
    assert manager.list_secrets() == [] and manager.retrieve_secret("API_KEY") is None
    assert manager.storage.backend.keys("com.mcp.weather") == []


def test_an_unreachable_aws_store_is_an_error_never_a_fallback(
        aws_store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from mcp_secrets.errors import BackendError
    from mcp_secrets.manager import MCPSecretsManager

    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.1:1")
    with pytest.raises(BackendError, match="unreachable") as err:
        MCPSecretsManager("down").store_secret("K", CANARY)
    assert CANARY not in str(err.value)
