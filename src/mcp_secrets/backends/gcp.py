"""Google Cloud Secret Manager through `google-cloud-secret-manager`
(pip install 'mcp-secrets[gcp]').

Used two ways: `gcp-sm://projects/P/secrets/S[/versions/V]` references (refs_team.py), and
``MCP_SECRETS_BACKEND=gcp``, where secret NAME of server S is the secret
``PREFIX--<com.mcp.S>--NAME`` in project MCP_SECRETS_GCP_PROJECT (GCP secret ids allow only
letters, digits, ``-`` and ``_``: any other character is written ``_XX``, its hex code). A write
adds a version; the previous one stays readable (rotation's grace period).

No GCP emulator serves this API here: the tests check reference parsing, error paths and the
requests the real client library builds, against a local HTTP stand-in named as a fake.
"""

from __future__ import annotations

import re
from typing import Any

from mcp_secrets import config
from mcp_secrets.backends.base import Backend, Probe
from mcp_secrets.backends.extras import Lazy, require
from mcp_secrets.errors import BackendError, StoreEntryNotFound

TIMEOUT_S = 10.0
_SAFE = re.compile(r"[A-Za-z0-9-]")


def make_client() -> Any:
    """A SecretManagerServiceClient from Application Default Credentials."""
    require("google.cloud.secretmanager", "gcp", "Google Cloud Secret Manager")
    from google.auth.exceptions import DefaultCredentialsError
    from google.cloud import secretmanager

    endpoint = config.GCP_ENDPOINT.get()
    try:
        if endpoint:
            return secretmanager.SecretManagerServiceClient(
                client_options={"api_endpoint": endpoint}, transport="rest")
        return secretmanager.SecretManagerServiceClient()
    except DefaultCredentialsError:
        raise BackendError("Google Cloud Secret Manager: no credentials found; run `gcloud "
                           "auth application-default login` or set "
                           "GOOGLE_APPLICATION_CREDENTIALS") from None


NotFound = StoreEntryNotFound


def call(what: str, fn: Any, **kwargs: Any) -> Any:
    """Run one client call; map failures to a `BackendError` with a fixed text."""
    import requests
    from google.api_core import exceptions as gx
    from google.auth.exceptions import TransportError

    try:
        return fn(timeout=TIMEOUT_S, **kwargs)
    except gx.NotFound:
        raise NotFound(what) from None
    except (gx.Forbidden, gx.Unauthorized) as exc:
        raise BackendError(f"Google Cloud Secret Manager refused to {what}: "
                           f"{type(exc).__name__} (check the credentials and IAM roles)"
                           ) from None
    except gx.FailedPrecondition:
        raise BackendError(f"Google Cloud Secret Manager cannot {what}: the version is "
                           "disabled or destroyed") from None
    except (gx.ServiceUnavailable, gx.DeadlineExceeded, gx.RetryError, TransportError,
            requests.ConnectionError, requests.Timeout):
        raise BackendError(f"Google Cloud Secret Manager is unreachable ({what})") from None
    except gx.GoogleAPIError as exc:
        raise BackendError(f"Google Cloud Secret Manager failed to {what} "
                           f"({type(exc).__name__})") from None


def read(client: Any, name: str) -> str:
    """The payload of version `name` (``projects/P/secrets/S/versions/V``) as text."""
    response = call(f"read {name}", client.access_secret_version, request={"name": name})
    data = response.payload.data
    try:
        return bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        raise BackendError(f"GCP secret {name} holds binary data that is not UTF-8 text"
                           ) from None


def encode_id(text: str) -> str:
    """A GCP-safe secret-id fragment: other characters (and ``_``) become ``_XX``."""
    return "".join(c if _SAFE.fullmatch(c) else "".join(f"_{b:02x}" for b in c.encode())
                   for c in text)


def decode_id(text: str) -> str:
    return re.sub(r"((?:_[0-9a-f]{2})+)",
                  lambda m: bytes.fromhex(m[1].replace("_", "")).decode("utf-8", "replace"),
                  text)


class GcpBackend(Backend):
    """Each entry is the secret ``PREFIX--SERVICE--KEY`` (encoded); a write adds a version."""

    name = "gcp"  # priority 0: a team store is used only when named

    @classmethod
    def probe(cls, *, explicit: bool = False) -> Probe:
        """Client library installed and a project set? (Credentials are checked on first use.)"""
        try:
            require("google.cloud.secretmanager", "gcp", "the gcp store")
        except BackendError as exc:
            return Probe(False, str(exc), "pip install 'mcp-secrets[gcp]'")
        project = config.GCP_PROJECT.get() or config.GOOGLE_CLOUD_PROJECT.get()
        if not project:
            return Probe(False, "no Google Cloud project is set",
                         "set MCP_SECRETS_GCP_PROJECT (or GOOGLE_CLOUD_PROJECT)")
        return Probe(True, f"Secret Manager in project {project}, ids "
                           f"{config.GCP_PREFIX.get()}--* (MCP_SECRETS_GCP_PREFIX)")
    max_value_bytes = 65536  # Secret Manager's payload limit

    def __init__(self, project: str | None = None, prefix: str | None = None,
                 client: Any = None) -> None:
        project = project or config.GCP_PROJECT.get() or config.GOOGLE_CLOUD_PROJECT.get()
        if not project:
            raise BackendError("the gcp store needs a project: set MCP_SECRETS_GCP_PROJECT "
                               "(or GOOGLE_CLOUD_PROJECT)")
        self.project = project
        self.prefix = encode_id(prefix if prefix is not None else config.GCP_PREFIX.get() or "")
        self._client = Lazy(lambda: make_client(), client)

    @property
    def client(self) -> Any:
        return self._client.get()

    def _stem(self, service: str) -> str:
        return f"{self.prefix}--{encode_id(service)}--"

    def secret_name(self, service: str, key: str) -> str:
        return f"projects/{self.project}/secrets/{self._stem(service)}{encode_id(key)}"

    def get(self, service: str, key: str) -> str | None:
        try:
            return read(self.client, f"{self.secret_name(service, key)}/versions/latest")
        except NotFound:
            return None

    def previous(self, service: str, key: str) -> str | None:
        """The version before the latest (a rotation's grace period), or None."""
        name = self.secret_name(service, key)
        try:
            latest = call(f"read {name}", self.client.access_secret_version,
                          request={"name": f"{name}/versions/latest"})
            number = int(str(latest.name).rsplit("/", 1)[-1])
            return read(self.client, f"{name}/versions/{number - 1}") if number > 1 else None
        except (NotFound, ValueError):
            return None

    def set(self, service: str, key: str, value: str) -> None:
        name = self.secret_name(service, key)
        payload = {"data": value.encode("utf-8")}
        try:
            call(f"write {name}", self.client.add_secret_version,
                 request={"parent": name, "payload": payload})
        except NotFound:
            call(f"create {name}", self.client.create_secret, request={
                "parent": f"projects/{self.project}",
                "secret_id": name.rsplit("/", 1)[1],
                "secret": {"replication": {"automatic": {}}},
            })
            call(f"write {name}", self.client.add_secret_version,
                 request={"parent": name, "payload": payload})

    def delete(self, service: str, key: str) -> bool:
        name = self.secret_name(service, key)
        try:
            call(f"delete {name}", self.client.delete_secret, request={"name": name})
        except NotFound:
            return False
        return True

    def keys(self, service: str) -> list[str]:
        stem = self._stem(service)
        listed = call(f"list secrets of projects/{self.project}", self.client.list_secrets,
                      request={"parent": f"projects/{self.project}",
                               "filter": f"name:{stem}"})
        out = []
        for secret in listed:
            sid = str(secret.name).rsplit("/", 1)[-1]
            if sid.startswith(stem):
                out.append(decode_id(sid[len(stem):]))
        return sorted(out)

    def describe(self) -> str:
        return f"gcp (Secret Manager, project {self.project}, ids {self.prefix}--*)"
