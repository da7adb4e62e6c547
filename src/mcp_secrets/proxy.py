"""`mcp-secrets proxy`: a local stdio MCP server in front of a remote (streamable HTTP) one.

MCP clients keep a remote server's token in their config (`"headers": {"Authorization": "Bearer
…"}`). Pointed at this proxy instead, the config holds only a secret reference
(``Bearer mcp-secrets://github/token``); the proxy resolves it when it opens a session to the
remote server, so the token lives in the keychain and never in a config file or an argv.

Built on FastMCP's proxy, which relays tools, resources, prompts and the flows that need the
human's input in both protocol eras (elicitation on the handshake era, `InputRequiredResult` on
2026-07-28). What we add:

- `ReferenceAuth`, an httpx auth flow that puts the resolved headers on every request of one
  backend session, and on a 401 resolves again (a rotated token) and retries once;
- a middleware that turns failures into tool errors a person can act on (token refused, remote
  unreachable, reference unresolvable) and masks any resolved value in what comes back.
"""

from __future__ import annotations

import asyncio
import contextvars
import re
import threading
from collections.abc import AsyncGenerator, Generator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from mcp_secrets import refs
from mcp_secrets.errors import ProxyConfigError, SecretReferenceError
from mcp_secrets.masking import MARKER as MASK
from mcp_secrets.masking import MIN_LENGTH

if TYPE_CHECKING:
    import httpx2
    from fastmcp.server.providers.proxy import FastMCPProxy

_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP token (RFC 9110)


def check_url(url: str) -> str:
    """The remote server's address: http(s) with a host, and no credentials or query token in it."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ProxyConfigError("the remote server's URL must start with http:// or https:// "
                               "and name a host, e.g. https://example.com/mcp")
    if parts.username or parts.password:
        raise ProxyConfigError("the remote server's URL must not carry a user or password: "
                               "put the credential in a header (--bearer mcp-secrets://…)")
    return url


def parse_header(text: str) -> tuple[str, str]:
    """``'Name: value'`` → (name, value). The value is never echoed in an error."""
    name, sep, value = text.partition(":")
    name = name.strip()
    if not sep or not _HEADER_NAME.fullmatch(name):
        raise ProxyConfigError("a --header must look like 'Name: value' (e.g. "
                               "'Authorization: Bearer mcp-secrets://github/token')")
    value = value.strip()
    if any(ch in value for ch in "\r\n\0"):
        raise ProxyConfigError(f"the value of header {name} contains a line break")
    return name, value


@dataclass
class HeaderTemplates:
    """Header values in which whole whitespace-separated words may be secret references.

    Only the references are secret; the rest (``Bearer``) is sent as written. Every value ever
    resolved is remembered (`values`) so the proxy can mask it in what comes back.
    """

    headers: dict[str, str]
    values: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        for name, value in self.headers.items():  # malformed references fail at start-up
            for word in self._references(value):
                refs.parse(word, var=f"header {name}")

    @property
    def references(self) -> list[str]:
        return [w for v in self.headers.values() for w in self._references(v)]

    def resolve(self) -> dict[str, str]:
        """The headers with every reference replaced by its value (read from the store now)."""
        labelled = {_label(name, i): word
                    for name, value in self.headers.items()
                    for i, word in enumerate(self._references(value))}
        values = refs.resolve_all(labelled) if labelled else {}
        out: dict[str, str] = {}
        for name, value in self.headers.items():
            words = value.split(" ")
            refs_seen = 0
            for i, word in enumerate(words):
                if refs.is_reference(word):
                    words[i] = values[_label(name, refs_seen)]
                    refs_seen += 1
            out[name] = " ".join(words)
        with self._lock:
            self.values.update(v for v in values.values() if v)
        return out

    @staticmethod
    def _references(value: str) -> list[str]:
        return [w for w in value.split(" ") if refs.is_reference(w)]


def _label(header: str, index: int) -> str:
    """How errors name a reference in a header (no value): ``header Authorization``."""
    return f"header {header}" + (f" (reference {index + 1})" if index else "")


@dataclass
class Refusals:
    """What the remote server last said about our credentials, for the error message."""

    status: int | None = None


def reference_auth(templates: HeaderTemplates, refusals: Refusals,
                   headers: dict[str, str] | None = None) -> httpx2.Auth:
    """An httpx auth flow for one backend session: resolve once, re-resolve once on a 401."""
    import anyio
    import httpx2

    class UnresolvedCredential(httpx2.ConnectError):
        """A reference that did not resolve, dressed as a transport error: FastMCP's proxy then
        treats it as "upstream unreachable" everywhere (the handshake still completes) and our
        guard finds it in the error chain of the request that failed."""

        unresolved_reference = True

    async def resolve() -> dict[str, str]:
        try:
            return await anyio.to_thread.run_sync(templates.resolve)
        except SecretReferenceError as exc:
            raise UnresolvedCredential(str(exc)) from None

    class ReferenceAuth(httpx2.Auth):
        requires_request_body = True  # so the request can be sent again after a 401

        def __init__(self) -> None:
            self._headers = headers  # already resolved by the caller, or None: resolve first

        def auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response]:
            raise NotImplementedError("the proxy's HTTP client is asynchronous")

        async def async_auth_flow(
            self, request: httpx2.Request
        ) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
            if self._headers is None:
                self._headers = await resolve()
            request.headers.update(self._headers)
            response = yield request
            if response.status_code == 401:  # perhaps rotated since we resolved: once more
                try:
                    self._headers = await resolve()
                except UnresolvedCredential:
                    pass  # report the 401 (the guard names the reference), not a crash
                else:
                    request.headers.update(self._headers)
                    response = yield request
            refusals.status = response.status_code if response.status_code in (401, 403) else None

    return ReferenceAuth()


def mask(obj: Any, values: Iterable[str]) -> Any:
    """`obj` (text, or JSON-like lists/dicts/pydantic models) with every value replaced by MASK."""
    secrets = sorted({v for v in values if len(v) >= MIN_LENGTH}, key=len, reverse=True)
    if not secrets:
        return obj
    return _mask(obj, secrets)


def _mask(obj: Any, secrets: Sequence[str]) -> Any:
    if isinstance(obj, str):
        for value in secrets:
            if value in obj:
                obj = obj.replace(value, MASK)
        return obj
    if isinstance(obj, list):
        return [_mask(x, secrets) for x in obj]
    if isinstance(obj, tuple):
        return tuple(_mask(x, secrets) for x in obj)
    if isinstance(obj, dict):
        return {_mask(k, secrets): _mask(v, secrets) for k, v in obj.items()}
    if hasattr(obj, "model_copy") and hasattr(obj, "__dict__"):  # a pydantic model
        updates = {k: _mask(v, secrets) for k, v in vars(obj).items() if not k.startswith("_")}
        return obj.model_copy(update=updates)
    return obj


def build_proxy(url: str, headers: dict[str, str], *, name: str | None = None) -> FastMCPProxy:
    """A FastMCP proxy server for `url` whose backend sessions carry the resolved `headers`."""
    from fastmcp.server.providers.proxy import FastMCPProxy

    check_url(url)
    backends = Backends(url, HeaderTemplates(headers))
    proxy = FastMCPProxy(client_factory=backends.client, provider_error_strategy="raise",
                         name=name or f"mcp-secrets proxy for {urlsplit(url).hostname}")
    proxy.middleware.insert(0, _guard(url, backends))  # outermost: it sees every error
    return proxy


class Backends:
    """One backend session per protocol era, opened on first use and kept open.

    FastMCP's stock proxy opens a new backend session for every request: an HTTP handshake each
    time, about 6-7× the cost of a direct call. A stdio front serves one client for its whole
    life, so one backend session per era serves it. A background task holds each session open;
    headers are resolved when it opens and again after a 401 (a rotated token). A session that
    failed is closed, and the next request opens a fresh one.
    """

    def __init__(self, url: str, templates: HeaderTemplates) -> None:
        self.url, self.templates, self.refusals = url, templates, Refusals()
        self._held: dict[str | None, tuple[Any, Any]] = {}  # era -> (client, its cancel scope)
        self._holders: set[asyncio.Task[None]] = set()

    async def client(self) -> Any:
        """The client FastMCP's proxy uses for the current request."""
        import anyio
        from fastmcp.client.transports import StreamableHttpTransport
        from fastmcp.server.providers.proxy import ProxyClient, _mirror_front_era_mode

        from mcp_secrets.proxy_io import keepalive_client

        mode = _mirror_front_era_mode()  # speak the front connection's protocol era upstream
        held = self._held.get(mode)
        if held is not None and held[0].is_connected():
            return held[0]
        kwargs: dict[str, Any] = {"forward_incoming_headers": False}
        if mode:
            kwargs["mode"] = mode
        try:
            headers = await anyio.to_thread.run_sync(self.templates.resolve)
        except SecretReferenceError:
            headers = None  # the request fails inside the HTTP layer; the guard names the reason

        def new_client() -> Any:
            auth = reference_auth(self.templates, self.refusals, headers)
            transport = StreamableHttpTransport(self.url, auth=auth,
                                                httpx_client_factory=keepalive_client)
            return ProxyClient(transport, **kwargs)

        if headers is not None and await self._reachable():
            client, opened = new_client(), anyio.Event()
            # A task of its own with a clean context, outside any request: the session outlives
            # the request, and the front request's context never leaks into the backend client.
            holder = asyncio.get_running_loop().create_task(self._hold(mode, client, opened),
                                                            context=contextvars.Context())
            self._holders.add(holder)
            holder.add_done_callback(self._holders.discard)
            await opened.wait()
            if client.is_connected():
                return client
        return new_client()  # a one-off session: this request opens it, and reports its failure

    async def _reachable(self) -> bool:
        """Whether the remote accepts a TCP connection. A held session whose connect fails takes
        the whole stdio server down with it (FastMCP's client was not made to be opened outside a
        request), so a remote that is down gets one-off sessions, which fail cleanly."""
        import anyio

        parts = urlsplit(self.url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            with anyio.fail_after(5):
                stream = await anyio.connect_tcp(parts.hostname or "", port)
        except (OSError, TimeoutError):
            return False
        await stream.aclose()
        return True

    async def _hold(self, mode: str | None, client: Any, opened: Any) -> None:
        import anyio

        with anyio.CancelScope() as scope:
            try:
                async with client:
                    self._held[mode] = (client, scope)
                    opened.set()
                    await anyio.sleep_forever()
            except Exception:  # noqa: S110 (the request that uses it reports the failure)
                pass
            finally:
                opened.set()
                if self._held.get(mode, (None,))[0] is client:
                    del self._held[mode]

    def drop(self) -> None:
        """Close every held session (after a failure): the next request opens a fresh one."""
        for _, scope in list(self._held.values()):
            scope.cancel()


def _guard(url: str, backends: Backends) -> Any:
    from fastmcp.exceptions import ToolError
    from fastmcp.server.middleware import Middleware
    from mcp.shared.exceptions import MCPError
    from mcp_types import INTERNAL_ERROR

    class ProxyGuard(Middleware):
        """Clear errors for what went wrong upstream, and no resolved value in anything returned."""

        async def on_message(self, context: Any, call_next: Any) -> Any:
            backends.refusals.status = None
            try:
                result = await call_next(context)
            except Exception as exc:
                message = explain_failure(exc, url, backends.templates, backends.refusals)
                if message is not None or isinstance(exc, MCPError):
                    backends.drop()  # the upstream session may be dead: reopen next time
                if message is None:
                    message = mask(str(exc), backends.templates.values)
                    if message == str(exc):
                        raise
                # A tool call fails as a tool error the model can read; anything else (listing,
                # reading a resource) as a protocol error, the only kind both eras relay as is.
                if context.method == "tools/call":
                    raise ToolError(message) from None
                raise MCPError(code=INTERNAL_ERROR, message=message) from None
            return mask(result, backends.templates.values)

    return ProxyGuard()


def explain_failure(exc: BaseException, url: str, templates: HeaderTemplates,
                    refusals: Refusals) -> str | None:
    """A message a person can act on, or None to let the error through (masked by the caller)."""
    chain = list(_chain(exc))
    for link in chain:
        if isinstance(link, SecretReferenceError) or getattr(link, "unresolved_reference", False):
            return f"mcp-secrets proxy: {link}"
    if refusals.status is not None:
        where = ", ".join(templates.references) or "no credentials (no --header/--bearer given)"
        verb = "refused" if refusals.status == 401 else "did not allow"
        return (f"the remote MCP server at {url} {verb} the credentials from {where} "
                f"(HTTP {refusals.status}). Store the right value with `mcp-secrets set "
                f"SERVER NAME` (then call again: the proxy re-reads it, no restart needed).")
    for link in chain:
        kind = type(link).__name__
        if kind in ("ConnectError", "ConnectTimeout", "ReadTimeout", "RemoteProtocolError"):
            return (f"cannot reach the remote MCP server at {url} ({kind}): check that it is "
                    "running and that the address is right")
    return None


def _chain(exc: BaseException) -> Iterable[BaseException]:
    seen: set[int] = set()
    stack = [exc]
    while stack:
        e = stack.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        stack.extend(x for x in (e.__cause__, e.__context__) if x is not None)
        stack.extend(getattr(e, "exceptions", ()))  # exception groups from task groups
