"""The gateway's upstream HTTP/1.1 client against a scripted TCP server.

The server is scripted on purpose: these tests need exact bytes on the wire (a body
without a length, a connection closed while idle, a stalled answer, malformed HTTP),
which a real HTTP server does not produce on demand. Every behaviour is also exercised
against real uvicorn servers by the other gateway tests.
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from hegui.gateway._http1 import (
    Http1Client,
    UpstreamConnectError,
    UpstreamProtocolError,
    UpstreamTimeout,
)

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
pytestmark = pytest.mark.anyio


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """One request: head and, when it has a length, its body ('' at the end of input)."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return head + await reader.readexactly(length)


def answer(body: bytes, *, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


def chunked(*parts: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts)


@asynccontextmanager
async def scripted(handler: Handler) -> AsyncIterator[tuple[str, list[bytes], list[int]]]:
    """A TCP server running ``handler`` per connection: (URL, requests, connection ids)."""
    requests: list[bytes] = []
    connections: list[int] = []

    async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(len(connections))
        try:
            await handler(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def keep(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        original = reader.readuntil

        async def recording(separator: bytes = b"\n") -> bytes:
            data = await original(separator)
            requests.append(data)
            return data

        reader.readuntil = recording  # type: ignore[method-assign]
        await run(reader, writer)

    server = await asyncio.start_server(keep, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/v1", requests, connections
    finally:
        server.close()


async def test_requests_carry_the_fixed_headers_and_connections_are_reused() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            writer.write(answer(b'{"ok":1}', extra=b"Content-Type: application/json\r\n"))

    async with scripted(handler) as (url, requests, connections):
        client = Http1Client(url, headers={"Authorization": "Bearer sk-x"})
        for _ in range(3):
            resp = await client.send("POST", "chat/completions", b'{"a":1}')
            await resp.head()
            assert resp.status == 200 and await resp.read_all(1000) == b'{"ok":1}'
        await client.aclose()
    assert len(connections) == 1  # three requests, one kept-alive connection
    first = requests[0].decode()
    assert first.startswith("POST /v1/chat/completions HTTP/1.1\r\n")
    for header in ("Host: 127.0.0.1:", "Authorization: Bearer sk-x", "Content-Length: 7"):
        assert header in first
    with pytest.raises(ValueError, match="line break"):
        Http1Client(url, headers={"X-Bad": "a\r\nInjected: 1"})
    with pytest.raises(ValueError, match="http"):
        Http1Client("ftp://example.org/v1")


async def test_a_chunked_stream_arrives_piece_by_piece_and_in_bounded_reads() -> None:
    release = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(b"one"))
        await release.wait()  # the client must see "one" before the rest exists
        writer.write(chunked(b"x" * 10_000) + b"0\r\n\r\n")

    async with scripted(handler) as (url, _, _):
        client = Http1Client(url)
        resp = await client.send("POST", "chat/completions", b"{}")
        await resp.head()
        assert await resp.read() == b"one"
        release.set()
        sizes = []
        while data := await resp.read(4096):
            sizes.append(len(data))
        assert sizes == [4096, 4096, 1808]
        resp.release()
        await client.aclose()


async def test_a_body_without_length_ends_with_the_connection() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\npart one, ")
        await writer.drain()
        await asyncio.sleep(0.01)
        writer.write(b"part two")
        writer.close()

    async with scripted(handler) as (url, _, _):
        client = Http1Client(url)
        resp = await client.send("GET", "models")
        await resp.head()
        assert await resp.read_all(1000) == b"part one, part two"
        await client.aclose()


async def test_gzip_is_decoded_and_unknown_encodings_refused() -> None:
    body = b'{"text": "' + "压缩的回答".encode() * 200 + b'"}'

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer(gzip.compress(body), extra=b"Content-Encoding: gzip\r\n"))
        await read_request(reader)
        writer.write(answer(b"????", extra=b"Content-Encoding: br\r\n"))

    async with scripted(handler) as (url, _, _):
        client = Http1Client(url)
        resp = await client.send("GET", "models")
        await resp.head()
        assert await resp.read_all(1 << 20) == body
        resp = await client.send("GET", "models")
        with pytest.raises(UpstreamProtocolError, match="br"):
            await resp.head()
        await client.aclose()


async def test_oversized_answers_and_malformed_http_are_protocol_errors() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer(b"x" * 5000))
        await read_request(reader)
        writer.write(b"HTTP/1.1 OK 200\r\nthis is not http\r\n\r\n")

    async with scripted(handler) as (url, _, _):
        client = Http1Client(url)
        resp = await client.send("GET", "models")
        await resp.head()
        with pytest.raises(UpstreamProtocolError, match="over 1000 bytes"):
            await resp.read_all(1000)
        resp = await client.send("GET", "models")  # a fresh connection: the last was cut
        with pytest.raises(UpstreamProtocolError, match="malformed"):
            await resp.head()
        await client.aclose()


async def test_a_stalled_answer_times_out_between_reads() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(4):  # bytes every 0.1 s: slower in total than the timeout, but alive
            writer.write(chunked(b"tick"))
            await asyncio.sleep(0.1)
        await asyncio.sleep(10)

    async with scripted(handler) as (url, _, _):
        client = Http1Client(url, read_timeout=0.3)
        resp = await client.send("POST", "chat/completions", b"{}")
        await resp.head()
        ticks = b""
        with pytest.raises(UpstreamTimeout):
            while True:
                ticks += await resp.read()
        assert ticks == b"tick" * 4
        resp.release()
        await client.aclose()


async def test_no_server_is_a_connect_error() -> None:
    async with scripted(read_request) as (url, _, _):
        pass  # the port is free again
    client = Http1Client(url, connect_timeout=2)
    with pytest.raises(UpstreamConnectError, match="cannot connect"):
        await client.send("GET", "models")
    await client.aclose()


async def test_a_kept_alive_connection_closed_by_the_server_is_retried_once() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer(b"first"))
        await read_request(reader)  # the next request on this connection is dropped unanswered

    async def second_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer(b"second"))

    turns = [handler, second_connection]

    async def dispatch(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await turns.pop(0)(reader, writer)

    async with scripted(dispatch) as (url, requests, connections):
        client = Http1Client(url)
        for expected in (b"first", b"second"):
            resp = await client.send("POST", "chat/completions", b"{}")
            await resp.head()
            assert await resp.read_all(100) == expected
        await client.aclose()
    assert len(connections) == 2 and len(requests) == 3  # the dropped one was sent again


async def test_an_answer_cut_after_its_head_is_not_retried() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part")

    async with scripted(handler) as (url, requests, _):
        client = Http1Client(url)
        resp = await client.send("POST", "chat/completions", b"{}")
        await resp.head()
        with pytest.raises(UpstreamConnectError, match="closed"):
            await resp.read_all(1000)
        await client.aclose()
    assert len(requests) == 1


async def test_reading_pauses_while_the_reader_lags_and_nothing_is_lost() -> None:
    body = bytes(range(256)) * 16_384  # 4 MiB

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer(body))
        await writer.drain()

    async with scripted(handler) as (url, _, _):
        client = Http1Client(url, buffer_limit=64 << 10)
        resp = await client.send("GET", "models")
        await resp.head()
        await asyncio.sleep(0.2)  # the server writes while nobody reads
        conn = resp._conn
        assert conn.paused and conn.buffered < 1 << 20  # stopped near the limit
        assert await resp.read_all(8 << 20) == body
        await client.aclose()


async def test_at_most_max_connections_requests_at_once() -> None:
    gate = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            await gate.wait()
            writer.write(answer(b"ok"))

    async with scripted(handler) as (url, requests, connections):
        client = Http1Client(url, max_connections=1)
        first = await client.send("GET", "models")
        second = asyncio.ensure_future(client.send("GET", "models"))
        await asyncio.sleep(0.05)
        assert not second.done() and len(requests) == 1  # waits for the only slot
        gate.set()
        await first.head()
        assert await first.read_all(10) == b"ok"
        resp = await second
        await resp.head()
        assert await resp.read_all(10) == b"ok"
        await client.aclose()
    assert len(connections) == 1


async def test_release_when_done_keeps_a_stream_connection_for_reuse() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            writer.write(chunked(b"data: [DONE]\n\n"))
            await writer.drain()
            await asyncio.sleep(0.05)  # the end of the body comes a moment later
            writer.write(b"0\r\n\r\n")

    async with scripted(handler) as (url, _, connections):
        client = Http1Client(url)
        for _ in range(2):
            resp = await client.send("POST", "chat/completions", b"{}")
            await resp.head()
            assert await resp.read() == b"data: [DONE]\n\n"
            resp.release_when_done()
            await asyncio.sleep(0.2)
        await client.aclose()
    assert len(connections) == 1
