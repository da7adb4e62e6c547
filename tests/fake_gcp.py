"""FAKE Google Cloud Secret Manager — a test stand-in, NOT Google's service.

No GCP emulator for Secret Manager exists on PyPI, so this small HTTP server answers the five
REST calls mcp-secrets makes (access a version, add a version, create, delete, list) closely
enough for the REAL `google-cloud-secret-manager` client (REST transport, real self-signed JWT
auth from a throwaway service-account key) to talk to it. It records every request so tests can
check what the real client sent. Secret ids starting with ``denied`` answer 403.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


@dataclass
class FakeGcp:
    url: str
    credentials: Path
    secrets: dict[str, list[bytes]] = field(default_factory=dict)
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # method, path, auth

    def env(self, project: str = "proj") -> dict[str, str]:
        return {"MCP_SECRETS_GCP_ENDPOINT": self.url,
                "GOOGLE_APPLICATION_CREDENTIALS": str(self.credentials),
                "MCP_SECRETS_GCP_PROJECT": project}


def _error(code: int, status: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": status.lower(), "status": status}}


def _handler(fake: FakeGcp) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _route(self, method: str) -> None:
            parts = urlsplit(self.path)
            path = unquote(parts.path)
            fake.requests.append((method, path, self.headers.get("Authorization", "")))
            size = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(size) or b"{}") if size else {}
            m = re.fullmatch(r"/v1/projects/([^/]+)/secrets(?:/([^/:]+))?(?:/versions/"
                             r"([^/:]+))?(?::(\w+))?", path)
            if not m:
                return self._send(404, _error(404, "NOT_FOUND"))
            project, sid, version, verb = m.groups()
            if sid and sid.startswith("denied"):
                return self._send(403, _error(403, "PERMISSION_DENIED"))
            versions = fake.secrets.get(sid or "")
            if method == "GET" and verb == "access":
                if not versions:
                    return self._send(404, _error(404, "NOT_FOUND"))
                index = len(versions) if version == "latest" else int(version or 0)
                if not 1 <= index <= len(versions):
                    return self._send(404, _error(404, "NOT_FOUND"))
                data = base64.b64encode(versions[index - 1]).decode()
                return self._send(200, {"name": f"projects/{project}/secrets/{sid}/versions/"
                                        f"{index}", "payload": {"data": data}})
            if method == "POST" and verb == "addVersion":
                if versions is None:
                    return self._send(404, _error(404, "NOT_FOUND"))
                versions.append(base64.b64decode(body["payload"]["data"]))
                return self._send(200, {"name": f"projects/{project}/secrets/{sid}/versions/"
                                        f"{len(versions)}", "state": 1})
            if method == "POST" and sid is None:
                new = parse_qs(parts.query).get("secretId", [""])[0]
                if new in fake.secrets:
                    return self._send(409, _error(409, "ALREADY_EXISTS"))
                fake.secrets[new] = []
                return self._send(200, {"name": f"projects/{project}/secrets/{new}"})
            if method == "DELETE" and sid and not version:
                if fake.secrets.pop(sid, None) is None:
                    return self._send(404, _error(404, "NOT_FOUND"))
                return self._send(200, {})
            if method == "GET" and sid is None:
                query = parse_qs(parts.query).get("filter", [""])[0]
                stem = query.removeprefix("name:")
                return self._send(200, {"secrets": [
                    {"name": f"projects/{project}/secrets/{s}"}
                    for s in sorted(fake.secrets) if stem in s]})
            return self._send(400, _error(400, "INVALID_ARGUMENT"))

        def do_GET(self) -> None:
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

        def do_DELETE(self) -> None:
            self._route("DELETE")

    return Handler


def _service_account_key(directory: Path) -> Path:
    """A throwaway service-account key: the real client signs its own JWT with it, offline."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    path = directory / "fake-sa.json"
    path.write_text(json.dumps({
        "type": "service_account", "project_id": "proj", "private_key_id": "fake",
        "private_key": pem, "client_email": "fake@proj.iam.gserviceaccount.com",
        "client_id": "1", "token_uri": "http://127.0.0.1:1/token",
    }))
    path.chmod(0o600)
    return path


@contextlib.contextmanager
def running_fake_gcp() -> Iterator[FakeGcp]:
    directory = Path(tempfile.mkdtemp(prefix="fake-gcp-"))
    fake = FakeGcp("", _service_account_key(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
