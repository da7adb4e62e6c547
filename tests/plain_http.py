"""One plain HTTP request at a time, for the tests of the browser page: exactly the headers
given (a forged Host or Origin too), nothing a browser would add."""

from __future__ import annotations

import http.client
import urllib.parse


def request(url: str, *, data: dict[str, str] | list[tuple[str, str]] | str | None = None,
            headers: dict[str, str] | None = None, method: str | None = None,
            ) -> tuple[int, str]:
    """(status, body) of one request; (0, "") when nothing listens there (any more). `data`
    is sent as an urlencoded form (a str as it is), which makes the request a POST."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    body = data if isinstance(data, str) or data is None else urllib.parse.urlencode(data)
    sent = {"Host": parts.netloc, **(headers or {})}
    if body is not None:
        sent.setdefault("Content-Type", "application/x-www-form-urlencoded")
    try:
        conn.putrequest(method or ("POST" if body is not None else "GET"),
                        parts.path + (f"?{parts.query}" if parts.query else ""),
                        skip_host=True, skip_accept_encoding=True)
        for name, value in sent.items():
            conn.putheader(name, value)
        encoded = body.encode() if body is not None else None
        if encoded is not None and not any(k.lower() == "content-length" for k in sent):
            conn.putheader("Content-Length", str(len(encoded)))
        conn.endheaders(encoded)
        resp = conn.getresponse()
        return resp.status, resp.read().decode("utf-8", "replace")
    except (ConnectionRefusedError, ConnectionResetError):  # closed, or closing under us
        return 0, ""
    finally:
        conn.close()


def headers_of(url: str) -> dict[str, str]:
    """The response headers of a GET, lower-cased names."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        conn.request("GET", parts.path)
        resp = conn.getresponse()
        resp.read()
        return {k.lower(): v for k, v in resp.getheaders()}
    finally:
        conn.close()
