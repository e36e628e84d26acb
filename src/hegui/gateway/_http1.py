"""A lean HTTP/1.1 client for the upstream model server.

The gateway sends one kind of request to one server, over and over: a JSON POST whose
answer is JSON or a server-sent event stream. A general client (aiohttp) pays for
generality on every request: header multidicts, cookie jars, tracing hooks, a stream
reader with its own buffering. Measured on a loaded 2-core machine, opening a stream
and reading its first bytes cost 0.45 ms of CPU through aiohttp and 0.19 ms over a plain
asyncio protocol. This module is that protocol: requests are written as bytes, answers
parsed by ``httptools`` (llhttp, which uvicorn already uses) and handed over as they
arrive.

What it keeps from a full client:

- keep-alive: idle connections are reused newest first and dropped after
  ``keepalive`` seconds; a reused connection that the server had already closed (no
  byte of the answer came back) is retried once on a new connection;
- timeouts: ``connect_timeout`` to open a connection, ``read_timeout`` between two
  reads (a stream may run for minutes as long as bytes keep coming);
- bodies delimited by ``Content-Length``, chunked, or the end of the connection;
  ``gzip`` and ``deflate`` answers are decoded (``identity`` is asked for);
- back-pressure: a connection stops reading once ``buffer_limit`` bytes wait unread;
- at most ``max_connections`` requests at once; more wait for a connection;
- TLS for ``https://`` URLs, with the system's trust store.

Failures raise ``UpstreamConnectError``, ``UpstreamTimeout`` or
``UpstreamProtocolError`` (all ``UpstreamHttpError``); the gateway maps them to 502 or
504.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import zlib
from collections import deque
from typing import cast
from urllib.parse import urlsplit

import httptools

READ_DEFAULT = 4096


class UpstreamHttpError(Exception):
    """The upstream server could not be reached or sent something unusable."""


class UpstreamConnectError(UpstreamHttpError):
    """No connection, or the connection dropped before the answer ended."""


class UpstreamTimeout(UpstreamHttpError):
    """Connecting, or waiting for the next bytes, took longer than the timeout."""


class UpstreamProtocolError(UpstreamHttpError):
    """The bytes received are not a valid HTTP/1.1 answer."""


def _expire(waiter: asyncio.Future[None], seconds: float) -> None:
    if not waiter.done():
        waiter.set_exception(UpstreamTimeout(f"no data from the upstream for {seconds:g} s"))


class _Connection(asyncio.Protocol):
    """One keep-alive connection and the answer being read on it."""

    def __init__(self, loop: asyncio.AbstractEventLoop, buffer_limit: int) -> None:
        self.loop = loop
        self.buffer_limit = buffer_limit
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._reset()

    def _reset(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.head_done = False
        self.complete = False
        self.keep_alive = False
        self.eof_ends_body = False
        self.received = False
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.paused = False
        self.error: UpstreamHttpError | None = None
        self.waiter: asyncio.Future[None] | None = None

    # -- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not subclasses of asyncio.Transport, only alike
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.received = True
        if self.complete or self.error is not None:
            # bytes after the answer (or while idle): this connection is not reused
            self.keep_alive = False
            if self.transport is not None:
                self.transport.close()
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(UpstreamProtocolError("the upstream switched protocols"))
        except httptools.HttpParserError as exc:
            self._fail(UpstreamProtocolError(f"the upstream sent malformed HTTP ({exc})"))

    def eof_received(self) -> bool:
        return False  # close the transport; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.head_done and not self.complete and self.eof_ends_body:
            self.complete = True  # a body without a length ends with the connection
        elif not self.complete and self.error is None:
            self.error = UpstreamConnectError("the upstream closed the connection")
        self._wake()

    # -- httptools callbacks -------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.keep_alive = self.parser.should_keep_alive()
        names = {name for name, _ in self.headers}
        self.eof_ends_body = b"content-length" not in names and not any(
            name == b"transfer-encoding" and b"chunked" in value.lower()
            for name, value in self.headers
        )
        self.head_done = True
        self._wake()

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > self.buffer_limit and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        self.complete = True
        self._wake()

    # -- for the client ------------------------------------------------------------------

    def _fail(self, error: UpstreamHttpError) -> None:
        if self.error is None:
            self.error = error
        self.keep_alive = False
        if self.transport is not None:
            self.transport.close()
        self._wake()

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self, seconds: float) -> None:
        """Wait for the next event (head, body bytes, end, error); time out after ``seconds``.

        A timer handle, not ``asyncio.timeout``: this runs for every read of a stream.
        """
        waiter = self.waiter = self.loop.create_future()
        timer = self.loop.call_later(seconds, _expire, waiter, seconds)
        try:
            await waiter
        finally:
            timer.cancel()
            self.waiter = None

    def take(self, most: int) -> bytes:
        """Up to ``most`` buffered body bytes (whole chunks where they fit)."""
        first = self.chunks.popleft()
        if len(first) > most:
            self.chunks.appendleft(first[most:])
            first = first[:most]
        else:
            while self.chunks and len(first) + len(self.chunks[0]) <= most:
                first += self.chunks.popleft()
        self.buffered -= len(first)
        if self.paused and self.buffered <= self.buffer_limit // 2 and self.transport is not None:
            self.paused = False
            self.transport.resume_reading()
        return first

    def reusable(self) -> bool:
        return self.complete and self.keep_alive and not self.closed and self.error is None


class Http1Response:
    """An answer being received: ``await head()``, then ``read()`` until ``b""``."""

    def __init__(
        self, client: Http1Client, conn: _Connection, request: bytes, reused: bool
    ) -> None:
        self._client = client
        self._conn = conn
        self._request = request
        self._reused = reused
        self._decoder: zlib._Decompress | None = None
        self._released = False
        self.status = 0
        self.headers: dict[bytes, bytes] = {}

    async def head(self) -> None:
        """Wait for the status line and headers."""
        try:
            await self._await_head()
        except BaseException:
            self.release()
            raise
        conn = self._conn
        self.status = conn.status
        self.headers = dict(conn.headers)
        encoding = self.headers.get(b"content-encoding", b"identity").strip().lower()
        if encoding in (b"gzip", b"x-gzip", b"deflate"):
            self._decoder = zlib.decompressobj(47)  # gzip or zlib header, detected
        elif encoding not in (b"identity", b""):
            self.release()
            raise UpstreamProtocolError(f"unsupported content encoding {encoding.decode()!r}")

    async def _await_head(self) -> None:
        conn = self._conn
        while not conn.head_done:
            if conn.error is not None:
                if not (self._reused and not conn.received):
                    raise conn.error
                # A kept-alive connection the server had closed: nothing was answered,
                # so the request is sent once more, on a new connection.
                self._reused = False
                self._client._drop(conn)
                conn = self._conn = await self._client._connect()
                assert conn.transport is not None
                conn.transport.write(self._request)
                continue
            await conn.wait(self._client.read_timeout)

    async def read(self, most: int = READ_DEFAULT) -> bytes:
        """The next body bytes (at most ``most`` of the wire bytes); ``b""`` at the end."""
        conn = self._conn
        while True:
            if conn.chunks:
                data = conn.take(most)
                if self._decoder is None:
                    return data
                try:
                    data = self._decoder.decompress(data)
                except zlib.error:
                    self.release()
                    raise UpstreamProtocolError("the upstream sent a corrupt gzip body") from None
                if data:
                    return data
                continue
            if conn.complete:
                return self._decoder.flush() if self._decoder is not None else b""
            if conn.error is not None:
                raise conn.error
            await conn.wait(self._client.read_timeout)

    async def read_all(self, limit: int) -> bytes:
        """The whole body; ``UpstreamProtocolError`` past ``limit`` bytes."""
        parts, size = [], 0
        while data := await self.read(1 << 20):
            size += len(data)
            if size > limit:
                self.release()
                raise UpstreamProtocolError(f"the upstream answer is over {limit} bytes")
            parts.append(data)
        self.release()
        return b"".join(parts)

    def release_when_done(self, grace: float = 1.0) -> None:
        """Release once the rest of the body (expected within ``grace`` s) is read.

        An SSE answer's ``[DONE]`` event usually comes a moment before the end of its
        body; waiting for that end keeps the connection reusable.
        """
        if self._released or self._conn.complete or self._conn.error is not None:
            self.release()
            return
        task = asyncio.get_running_loop().create_task(self._drain(grace))
        self._client._tasks.add(task)
        task.add_done_callback(self._client._tasks.discard)

    async def _drain(self, grace: float) -> None:
        try:
            async with asyncio.timeout(grace):
                while await self.read(1 << 16):
                    pass
        except (UpstreamHttpError, TimeoutError):
            pass
        finally:
            self.release()

    def release(self) -> None:
        """Done with the answer: a finished one frees its connection, any other closes it."""
        if self._released:
            return
        self._released = True
        self._client._give_back(self._conn)


class Http1Client:
    """Requests to one upstream origin over pooled keep-alive connections."""

    def __init__(
        self,
        base_url: str,
        *,
        headers: dict[str, str] | None = None,
        connect_timeout: float = 30.0,
        read_timeout: float = 300.0,
        keepalive: float = 30.0,
        max_connections: int = 512,
        buffer_limit: int = 1 << 20,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"the upstream URL must be http:// or https://, not {base_url!r}")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.base_path = parts.path.rstrip("/")
        self.ssl: ssl.SSLContext | None = (
            ssl.create_default_context() if parts.scheme == "https" else None
        )
        default_port = 443 if parts.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host  # an IPv6 address
        authority = host if self.port == default_port else f"{host}:{self.port}"
        lines = [f"Host: {authority}", "Accept-Encoding: identity", "User-Agent: hegui-gateway"]
        for name, value in (headers or {}).items():
            if any(c in name + value for c in "\r\n\0"):
                raise ValueError(f"header {name!r} holds a line break")
            lines.append(f"{name}: {value}")
        self._fixed = ("\r\n".join(lines) + "\r\n").encode("latin-1")
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.keepalive = keepalive
        self.buffer_limit = buffer_limit
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(max_connections)
        self._open: set[_Connection] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    def _request_bytes(self, method: str, path: str, body: bytes | None) -> bytes:
        target = f"{self.base_path}/{path.lstrip('/')}"
        head = f"{method} {target} HTTP/1.1\r\n".encode("latin-1") + self._fixed
        if body is None:
            return head + b"\r\n"
        return (
            head
            + b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
            + body
        )

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        limit = self.buffer_limit
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, conn = await loop.create_connection(
                    lambda: _Connection(loop, limit),
                    self.host,
                    self.port,
                    ssl=self.ssl,
                    server_hostname=self.host if self.ssl is not None else None,
                )
        except TimeoutError:
            raise UpstreamTimeout(
                f"no connection to the upstream in {self.connect_timeout:g} s"
            ) from None
        except OSError as exc:
            raise UpstreamConnectError(
                f"cannot connect to the upstream ({exc.strerror or exc})"
            ) from None
        self._open.add(conn)
        return conn

    def _idle_connection(self) -> _Connection | None:
        oldest = time.monotonic() - self.keepalive
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed and conn.idle_since >= oldest:
                conn._reset()
                return conn
            self._drop(conn)
        return None

    async def send(self, method: str, path: str, body: bytes | None = None) -> Http1Response:
        """Write the request and return at once; ``await response.head()`` for the answer."""
        if self._closed:
            raise UpstreamConnectError("the upstream client is closed")
        await self._slots.acquire()
        request = self._request_bytes(method, path, body)
        try:
            conn = self._idle_connection()
            reused = conn is not None
            if conn is None:
                conn = await self._connect()
        except BaseException:
            self._slots.release()
            raise
        assert conn.transport is not None
        conn.transport.write(request)
        return Http1Response(self, conn, request, reused)

    def _give_back(self, conn: _Connection) -> None:
        self._slots.release()
        if conn.reusable() and not self._closed:
            conn.idle_since = time.monotonic()
            self._idle.append(conn)
        else:
            self._drop(conn)

    def _drop(self, conn: _Connection) -> None:
        self._open.discard(conn)
        if conn.transport is not None and not conn.closed:
            conn.transport.close()

    async def aclose(self) -> None:
        """Close every connection."""
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        for conn in list(self._open):
            self._drop(conn)
        self._idle.clear()
