"""The proxy's two wires, made cheaper than the stock ones without changing what travels on them.

- **stdio to the client.** The MCP SDK's stdio server reads and writes through worker threads
  (`anyio.wrap_file`): three thread hand-offs per request. When stdin and stdout are pipes or
  sockets (how every MCP client starts a stdio server) we serve them on the event loop instead.
  Anything else (a terminal, a file) keeps the SDK's threaded path. As in the SDK, fd 0 and 1
  point at /dev/null and stderr while we serve, so a stray print cannot corrupt the wire.
- **HTTP to the remote.** The SDK closes a response's SSE stream as soon as the JSON-RPC answer
  arrived, a few bytes before the stream's end, which throws the connection away: a new TCP
  connection for every request. `keepalive_client` reads those last bytes (briefly, and only a
  little of them) so the connection goes back to the pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import sys
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx2
    from fastmcp import FastMCP

#: How long, and how much, a closed response may still be read to keep its connection.
DRAIN_SECONDS = 0.25
DRAIN_BYTES = 64 * 1024
#: The longest JSON-RPC line read from stdin (the SDK's threaded reader has no limit either).
LINE_LIMIT = 1 << 30


async def serve_stdio(server: FastMCP) -> None:
    """`server.run_stdio_async()`, on pipe-backed stdio without worker threads when possible."""
    from fastmcp.server.context import reset_transport, set_transport
    from mcp.server.stdio import stdio_server

    token = set_transport("stdio")
    try:
        with _claim_pipes() as pipes:
            stdin, stdout = pipes if pipes is not None else (None, None)
            async with (server._lifespan_manager(),
                        stdio_server(stdin, stdout) as (read, write)):  # type: ignore[arg-type]
                low = server._mcp_server
                await low.run(read, write, low.create_initialization_options())
    finally:
        reset_transport(token)


def _is_pipe(fd: int) -> bool:
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def _same_file(a: int, b: int) -> bool:
    try:
        sa, sb = os.fstat(a), os.fstat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


@contextlib.contextmanager
def _claim_pipes() -> Iterator[tuple[LineReader, LineWriter] | None]:
    """Private copies of fd 0 and 1 for the wire, or None where the event loop cannot serve them
    (not POSIX, not pipes, or stdout shared with stderr, which must stay blocking for logging)."""
    if sys.platform == "win32" or not (_is_pipe(0) and _is_pipe(1)) or _same_file(1, 2):
        yield None
        return
    import fcntl

    wire_in = fcntl.fcntl(0, fcntl.F_DUPFD_CLOEXEC, 3)
    wire_out = fcntl.fcntl(1, fcntl.F_DUPFD_CLOEXEC, 3)
    saved_in = fcntl.fcntl(0, fcntl.F_DUPFD_CLOEXEC, 3)
    saved_out = fcntl.fcntl(1, fcntl.F_DUPFD_CLOEXEC, 3)
    null = os.open(os.devnull, os.O_RDONLY)
    try:
        os.dup2(null, 0)
        os.dup2(2, 1)
        yield LineReader(wire_in), LineWriter(wire_out)
    finally:
        os.close(null)
        for fd, saved in ((0, saved_in), (1, saved_out)):
            with contextlib.suppress(OSError):
                os.set_blocking(saved, True)  # the loop made the pipe non-blocking
                os.dup2(saved, fd)
            os.close(saved)
        for fd in (wire_in, wire_out):
            with contextlib.suppress(OSError):
                os.close(fd)


class LineReader:
    """The client's JSON-RPC lines from a pipe, read on the event loop (an async iterator of str,
    as the SDK's stdio server expects from its threaded file)."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._reader: asyncio.StreamReader | None = None

    def __aiter__(self) -> LineReader:
        return self

    async def __anext__(self) -> str:
        if self._reader is None:
            loop = asyncio.get_running_loop()
            self._reader = asyncio.StreamReader(limit=LINE_LIMIT, loop=loop)
            protocol = asyncio.StreamReaderProtocol(self._reader, loop=loop)
            pipe = os.fdopen(self._fd, "rb", buffering=0, closefd=False)
            await loop.connect_read_pipe(lambda: protocol, pipe)
        line = await self._reader.readline()
        if not line:
            raise StopAsyncIteration
        return line.decode("utf-8", errors="replace")


class LineWriter:
    """The answers to a pipe, written on the event loop; `flush` waits while the client is slow
    to read (the pipe is full), never blocking the loop."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._writer: asyncio.StreamWriter | None = None

    async def write(self, text: str) -> None:
        if self._writer is None:
            loop = asyncio.get_running_loop()
            pipe = os.fdopen(self._fd, "wb", buffering=0, closefd=False)
            transport, protocol = await loop.connect_write_pipe(
                lambda: asyncio.StreamReaderProtocol(asyncio.StreamReader(loop=loop), loop=loop),
                pipe)
            self._writer = asyncio.StreamWriter(transport, protocol, None, loop)
        self._writer.write(text.encode("utf-8"))

    async def flush(self) -> None:
        if self._writer is not None:
            await self._writer.drain()


def keepalive_client(headers: dict[str, str] | None = None, timeout: httpx2.Timeout | None = None,
                     auth: httpx2.Auth | None = None, **extra: Any) -> httpx2.AsyncClient:
    """An `httpx_client_factory` for FastMCP's HTTP transport (the SDK's defaults) whose
    connections survive the SDK closing an SSE response early."""
    import httpx2

    if timeout is None:  # the SDK's: a response stream may stay open a long time
        timeout = httpx2.Timeout(30.0, read=300.0)
    return httpx2.AsyncClient(transport=_draining_transport(), headers=headers, timeout=timeout,
                              auth=auth, **extra)


def _draining_transport() -> httpx2.AsyncBaseTransport:
    import anyio
    import httpx2

    class DrainOnClose(httpx2.AsyncByteStream):
        """A response body that, closed before its end, reads on a little so httpcore can keep
        the connection (it discards what it reads, as closing would have)."""

        def __init__(self, inner: httpx2.AsyncByteStream) -> None:
            self._inner = inner
            self._chunks: Any = None  # the inner iterator, once iteration began
            self._done = False

        async def __aiter__(self) -> AsyncIterator[bytes]:
            self._chunks = self._inner.__aiter__()
            async for chunk in _rest(self._chunks):
                yield chunk
            self._done = True

        async def aclose(self) -> None:
            try:
                if not self._done and self._chunks is not None:
                    await self._drain()
            finally:
                await self._inner.aclose()

        async def _drain(self) -> None:
            left = DRAIN_BYTES
            with anyio.move_on_after(DRAIN_SECONDS):
                try:
                    async for chunk in _rest(self._chunks):
                        left -= len(chunk)
                        if left < 0:
                            return
                except Exception:  # a broken stream is closed below, as before
                    return
                self._done = True

    class DrainingTransport(httpx2.AsyncHTTPTransport):
        async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
            response = await super().handle_async_request(request)
            assert isinstance(response.stream, httpx2.AsyncByteStream)
            response.stream = DrainOnClose(response.stream)
            return response

    return DrainingTransport()


async def _rest(chunks: Any) -> AsyncIterator[bytes]:
    """What is left of an async iterator, without closing it when the caller stops early."""
    while True:
        try:
            chunk = await chunks.__anext__()
        except StopAsyncIteration:
            return
        yield chunk
