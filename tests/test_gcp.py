"""`gcp-sm://` references and the gcp store.

No emulator of Google Cloud Secret Manager exists on PyPI, so these tests run the REAL
`google-cloud-secret-manager` client (REST transport, its real offline JWT signing) against
tests/fake_gcp.py — a FAKE Secret Manager, not Google's — and check reference parsing, the
error paths and the requests the client really sends. Nothing here proves behaviour against
the real service.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mcp_secrets.errors import SecretReferenceError
from mcp_secrets.refs import parse, resolve, resolve_all
from mcp_secrets.refs_team import gcp_version_name
from tests.fake_gcp import FakeGcp, running_fake_gcp

CANARY = "canary-gcp-Lw93-value"


@pytest.fixture
def gcp(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGcp]:
    with running_fake_gcp() as fake:
        for k, v in fake.env().items():
            monkeypatch.setenv(k, v)
        yield fake


@pytest.mark.parametrize("ref,name", [
    ("gcp-sm://projects/p/secrets/s", "projects/p/secrets/s/versions/latest"),
    ("gcp-sm://projects/p/secrets/s/versions/3", "projects/p/secrets/s/versions/3"),
    ("gcp-sm://projects/p/secrets/s/versions/latest", "projects/p/secrets/s/versions/latest"),
])
def test_reference_parsing(ref: str, name: str) -> None:
    assert gcp_version_name(parse(ref)) == name


@pytest.mark.parametrize("ref", [
    "gcp-sm://p/secrets/s", "gcp-sm://projects/p/s", "gcp-sm://projects/p/secrets",
    "gcp-sm://projects/p/secrets/s/version/3", "gcp-sm://projects/p/secrets/s/versions/x",
    "gcp-sm://projects/p/secrets/s/versions/3/more",
])
def test_malformed_references(ref: str) -> None:
    with pytest.raises(SecretReferenceError, match=r"malformed|version must be") as err:
        resolve(ref, var="TOKEN")
    assert "TOKEN" in str(err.value)


def test_the_real_client_sends_the_expected_requests(gcp: FakeGcp) -> None:
    gcp.secrets["api"] = [b"old", CANARY.encode()]
    gcp.secrets["db"] = [b'{"password": "pw", "port": 5432}']
    got = resolve_all({"NOW": "gcp-sm://projects/proj/secrets/api",
                       "THEN": "gcp-sm://projects/proj/secrets/api/versions/1",
                       "PW": "gcp-sm://projects/proj/secrets/db#password",
                       "PORT": "gcp-sm://projects/proj/secrets/db#port"})
    assert got == {"NOW": CANARY, "THEN": "old", "PW": "pw", "PORT": "5432"}
    paths = sorted(p for _, p, _ in gcp.requests)
    assert paths == ["/v1/projects/proj/secrets/api/versions/1:access",
                     "/v1/projects/proj/secrets/api/versions/latest:access",
                     "/v1/projects/proj/secrets/db/versions/latest:access"]  # db read once
    assert all(auth.startswith("Bearer ey") for _, _, auth in gcp.requests)


def test_missing_and_denied(gcp: FakeGcp) -> None:
    with pytest.raises(SecretReferenceError, match="does not exist") as err:
        resolve("gcp-sm://projects/proj/secrets/nope", var="X")
    assert "X (gcp-sm://projects/proj/secrets/nope)" in str(err.value)
    with pytest.raises(SecretReferenceError, match="refused"):
        resolve("gcp-sm://projects/proj/secrets/denied-one", var="X")


def test_unreachable_endpoint(gcp: FakeGcp, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCP_SECRETS_GCP_ENDPOINT", "http://127.0.0.1:1")
    with pytest.raises(SecretReferenceError, match="unreachable"):
        resolve("gcp-sm://projects/proj/secrets/api", var="X")


def test_no_credentials_is_a_clear_error(monkeypatch: pytest.MonkeyPatch,
                                         tmp_path: object) -> None:
    for var in ("GOOGLE_APPLICATION_CREDENTIALS", "MCP_SECRETS_GCP_ENDPOINT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_GCE_CHECK", "True")
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path))
    with pytest.raises(SecretReferenceError, match="no credentials"):
        resolve("gcp-sm://projects/proj/secrets/api", var="X")


def test_the_gcp_store_through_the_library(gcp: FakeGcp, monkeypatch: pytest.MonkeyPatch) -> None:
    from mcp_secrets import selection
    from mcp_secrets.manager import MCPSecretsManager

    monkeypatch.setenv("MCP_SECRETS_BACKEND", "gcp")
    selection.reset()
    try:
        manager = MCPSecretsManager("my srv")
        manager.store_secret("API_KEY", CANARY)
        manager.store_secret("API_KEY", "v2")
        assert manager.retrieve_secret("API_KEY") == "v2"
        assert manager.list_secrets() == ["API_KEY"]
        sid = "mcp-secrets--com_2emcp_2emy_20srv--API_5fKEY"
        assert gcp.secrets[sid] == [CANARY.encode(), b"v2"]  # a write adds a version
        assert resolve(f"gcp-sm://projects/proj/secrets/{sid}/versions/1") == CANARY
        from mcp_secrets.rotation import rotate

        rotate(manager.storage, "API_KEY", "v3")
        assert manager.retrieve_secret("API_KEY") == "v3"
        assert manager.previous_secret("API_KEY") == "v2"  # from version 2, not a copy
        assert manager.delete_secret("API_KEY") is True
        assert manager.clear_secrets() == 0 and manager.list_secrets() == []
    finally:
        selection.reset()
