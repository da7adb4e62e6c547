"""AWS Secrets Manager through `boto3` (pip install 'mcp-secrets[aws]').

Used two ways: `aws-sm://SECRET_ID[#JSON_KEY]` references (refs_team.py), and
``MCP_SECRETS_BACKEND=aws``, where secret NAME of server S is the secret
``PREFIX/com.mcp.S/NAME`` (MCP_SECRETS_AWS_PREFIX). Writing an existing secret puts a new
version: AWS moves ``AWSCURRENT`` to it and ``AWSPREVIOUS`` to the one before, which is what
rotation's grace period reads.

Credentials, region and endpoint come from boto3's standard chain (``AWS_PROFILE``,
``AWS_REGION``, ``AWS_ENDPOINT_URL_SECRETS_MANAGER``, instance roles, …): we add nothing.
"""

from __future__ import annotations

from typing import Any

from mcp_secrets import config
from mcp_secrets.backends.base import Backend, Probe
from mcp_secrets.backends.extras import Lazy, require
from mcp_secrets.errors import BackendError, StoreEntryNotFound

TIMEOUT_S = 10
_DENIED = frozenset({"AccessDeniedException", "AccessDenied", "UnrecognizedClientException",
                     "InvalidSignatureException", "ExpiredTokenException"})


def make_client() -> Any:
    """A Secrets Manager client from the standard chain (boto3 clients are thread-safe)."""
    boto3 = require("boto3", "aws", "AWS Secrets Manager")
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, NoRegionError

    try:
        return boto3.session.Session().client(
            "secretsmanager",
            config=Config(connect_timeout=TIMEOUT_S, read_timeout=TIMEOUT_S,
                          retries={"max_attempts": 2}),
        )
    except NoRegionError:
        raise BackendError("AWS Secrets Manager: no region is configured; set AWS_REGION "
                           "(or a region in your AWS profile)") from None
    except BotoCoreError as exc:
        raise BackendError(f"AWS Secrets Manager: cannot make a client "
                           f"({type(exc).__name__})") from None


NotFound = StoreEntryNotFound


def call(what: str, fn: Any, **kwargs: Any) -> Any:
    """Run one boto3 call; map failures to a `BackendError` (fixed texts: AWS messages can
    echo request parameters, and we never pass one that is a value, but stay safe)."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
    )

    try:
        return fn(**kwargs)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code == "ResourceNotFoundException":
            raise NotFound(what) from None
        if status in (401, 403) or code in _DENIED:
            raise BackendError(f"AWS Secrets Manager refused to {what}: {code or status} "
                               "(check the credentials and their IAM policy)") from None
        if code == "DecryptionFailure":
            raise BackendError(f"AWS Secrets Manager could not decrypt ({what}): check the "
                               "KMS key policy") from None
        raise BackendError(f"AWS Secrets Manager failed to {what}: {code or 'error'}") from None
    except NoCredentialsError:
        raise BackendError(f"AWS Secrets Manager: no credentials found ({what}); configure "
                           "AWS_PROFILE, AWS_ACCESS_KEY_ID or a role") from None
    except EndpointConnectionError:
        raise BackendError(f"AWS Secrets Manager is unreachable ({what}): check the network, "
                           "AWS_REGION and AWS_ENDPOINT_URL_SECRETS_MANAGER") from None
    except BotoCoreError as exc:
        raise BackendError(f"AWS Secrets Manager failed to {what} ({type(exc).__name__})"
                           ) from None


def read(client: Any, secret_id: str, *, stage: str | None = None,
         version_id: str | None = None) -> str:
    """The SecretString (or UTF-8 SecretBinary) of one secret version."""
    kwargs: dict[str, Any] = {"SecretId": secret_id}
    if stage:
        kwargs["VersionStage"] = stage
    if version_id:
        kwargs["VersionId"] = version_id
    response = call(f"read {secret_id}", client.get_secret_value, **kwargs)
    text = response.get("SecretString")
    if isinstance(text, str):
        return text
    blob = response.get("SecretBinary")
    if isinstance(blob, bytes | bytearray):
        try:
            return bytes(blob).decode("utf-8")
        except UnicodeDecodeError:
            raise BackendError(f"AWS secret {secret_id} holds binary data that is not UTF-8 "
                               "text") from None
    raise NotFound(f"read {secret_id}")


class AwsBackend(Backend):
    """Each entry is the secret ``PREFIX/SERVICE/KEY``; a write is a new AWSCURRENT version."""

    name = "aws"  # priority 0: a team store is used only when named

    @classmethod
    def probe(cls, *, explicit: bool = False) -> Probe:
        """boto3 installed and a region configured? (Credentials and the endpoint are checked
        on first use, where a failure is an error, never a fallback.)"""
        try:
            boto3 = require("boto3", "aws", "the aws store")
        except BackendError as exc:
            return Probe(False, str(exc), "pip install 'mcp-secrets[aws]'")
        region = boto3.session.Session().region_name
        if not region:
            return Probe(False, "no AWS region is configured",
                         "set AWS_REGION (or a region in your AWS profile)")
        return Probe(True, f"Secrets Manager in {region}, names under "
                           f"{config.AWS_PREFIX.get()}/ (MCP_SECRETS_AWS_PREFIX)")
    max_value_bytes = 65536  # Secrets Manager's SecretString limit

    def __init__(self, prefix: str | None = None, client: Any = None) -> None:
        self.prefix = (prefix if prefix is not None else config.AWS_PREFIX.get() or "").strip("/")
        self._client = Lazy(lambda: make_client(), client)

    @property
    def client(self) -> Any:
        return self._client.get()

    def secret_id(self, service: str, key: str = "") -> str:
        return "/".join(p for p in (self.prefix, service, key) if p)

    def get(self, service: str, key: str) -> str | None:
        return self.stage(service, key, "AWSCURRENT")

    def stage(self, service: str, key: str, stage: str) -> str | None:
        try:
            return read(self.client, self.secret_id(service, key), stage=stage)
        except NotFound:
            return None

    def previous(self, service: str, key: str) -> str | None:
        """The AWSPREVIOUS value (a rotation's grace period), or None."""
        return self.stage(service, key, "AWSPREVIOUS")

    def set(self, service: str, key: str, value: str) -> None:
        sid = self.secret_id(service, key)
        try:
            call(f"write {sid}", self.client.put_secret_value, SecretId=sid, SecretString=value)
        except NotFound:
            call(f"create {sid}", self.client.create_secret, Name=sid, SecretString=value)

    def delete(self, service: str, key: str) -> bool:
        sid = self.secret_id(service, key)
        try:
            call(f"delete {sid}", self.client.delete_secret, SecretId=sid,
                 ForceDeleteWithoutRecovery=True)
        except NotFound:
            return False
        return True

    def keys(self, service: str) -> list[str]:
        base = self.secret_id(service) + "/"
        out: list[str] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Filters": [{"Key": "name", "Values": [base]}],
                                      "MaxResults": 100}
            if token:
                kwargs["NextToken"] = token
            page = call(f"list {base}*", self.client.list_secrets, **kwargs)
            for entry in page.get("SecretList", []):
                name = entry.get("Name")
                if (isinstance(name, str) and name.startswith(base)
                        and "/" not in name[len(base):] and not entry.get("DeletedDate")):
                    out.append(name[len(base):])
            token = page.get("NextToken")
            if not token:
                return sorted(set(out))

    def describe(self) -> str:
        region = getattr(getattr(self._client.value, "meta", None), "region_name", None)
        return f"aws (Secrets Manager, names {self.prefix or ''}/com.mcp.*" + (
            f", region {region})" if region else ")")
