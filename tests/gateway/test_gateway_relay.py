"""How the stream relay orders its work: first token early, label in the same write.

A burst of upstream events (they arrive together when the upstream is fast or the
network batches them) must not be parsed as a whole before the first one is relayed,
and the opening chunk (the explicit label) must travel with the first released text,
the first error, or alone when nothing else comes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from hegui.gateway import GatewayConfig, create_app
from hegui.gateway._errors import GatewayError
from hegui.gateway._stream import RUN_AHEAD, StreamJob, _guarded, _pump
from hegui.gateway._upstream import Delta


class Burst:
    """An upstream stream whose events are all ready at once; counts what was read."""

    def __init__(self, pieces: list[str], error: GatewayError | None = None) -> None:
        self.pieces = pieces
        self.error = error
        self.read = 0
        self.closed = False

    async def deltas(self) -> AsyncIterator[Delta]:
        for piece in self.pieces:
            self.read += 1
            yield Delta(piece)
        if self.error is not None:
            raise self.error

    async def aclose(self) -> None:
        self.closed = True


def test_reader_yields_to_the_relay_after_the_first_event_and_then_in_steps() -> None:
    async def run() -> list[int]:
        stream = Burst([f"p{i}" for i in range(200)])
        queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=64)
        task = asyncio.create_task(_pump(stream, queue))
        ahead = []
        got = 0
        while True:
            item = await queue.get()
            if not isinstance(item, Delta):
                break
            got += 1
            ahead.append(stream.read - got)
        await task
        assert got == 200
        return ahead

    ahead = asyncio.run(run())
    assert ahead[0] == 0  # the first event is relayed before the second is even parsed
    assert max(ahead) <= RUN_AHEAD  # and the reader never runs far ahead of the relay


@pytest.fixture
def job() -> Iterator[StreamJob]:
    """A stream job of a started gateway (cn policy); its upstream is never called."""
    app = create_app(GatewayConfig(upstream="http://127.0.0.1:9", policy="cn"))
    with TestClient(app):
        yield StreamJob(app.state.gateway, "chatcmpl-t", "anonymous", "m", {}, unlabeled=False)


def _collect(job: StreamJob, stream: Burst) -> list[bytes]:
    async def run() -> list[bytes]:
        return [item async for item in _guarded(job, stream, b"OPENING\n\n")]

    return asyncio.run(run())


def _contents(body: bytes) -> list[str]:
    events = [line[6:] for line in body.split(b"\n") if line.startswith(b"data: {")]
    return [json.loads(e)["choices"][0]["delta"].get("content", "") for e in events]


def test_opening_travels_with_the_first_released_text(job: StreamJob) -> None:
    stream = Burst(["今天天气很好，", "我们去公园散步吧。"])
    writes = _collect(job, stream)
    assert writes[0].startswith(b"OPENING\n\n")
    assert "今天" in "".join(_contents(writes[0]))  # the same write carries text
    assert sum(w.count(b"OPENING") for w in writes) == 1
    assert stream.closed and not job.failed and not job.blocked


def test_opening_precedes_an_upstream_error_in_one_write(job: StreamJob) -> None:
    error = GatewayError(502, "upstream connection failed", "upstream_error", "bad_gateway")
    writes = _collect(job, Burst([], error=error))
    assert len(writes) == 1 and writes[0].startswith(b"OPENING\n\n")
    assert b"bad_gateway" in writes[0] and job.failed


def test_opening_is_sent_alone_when_nothing_is_released(job: StreamJob) -> None:
    writes = _collect(job, Burst([]))
    assert writes == [b"OPENING\n\n"]
    assert not job.failed


class Spaced(Burst):
    """An upstream whose events come one at a time, as a model generates them."""

    async def deltas(self) -> AsyncIterator[Delta]:
        for piece in self.pieces:
            self.read += 1
            yield Delta(piece)
            await asyncio.sleep(0.002)


PIECES = [f"第{i}句话讲公园。" for i in range(24)]


def test_a_burst_is_sent_in_few_writes_and_its_first_event_alone(job: StreamJob) -> None:
    writes = _collect(job, Burst(PIECES))
    assert "".join(c for w in writes for c in _contents(w)).endswith("".join(PIECES))
    assert "".join(_contents(writes[0])) == PIECES[0]  # the first token is not held back
    assert len(writes) <= len(PIECES) // 2  # the rest share writes


def test_events_that_come_one_by_one_each_go_out_at_once(job: StreamJob) -> None:
    writes = _collect(job, Spaced(PIECES))
    assert [c for w in writes for c in _contents(w)] == PIECES
    assert len(writes) == len(PIECES)  # nothing waits for a later event
