"""The streaming output guard leaks nothing, whatever the chunking.

A scripted upstream streams planted texts in chunkings Hypothesis picks; the bytes the
client receives must never contain a planted lexicon term, plain or disguised.
"""

from __future__ import annotations

import json
import time

import httpx
from conftest import MakeClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import ScriptedUpstream, chat, serve, sse_events, streamed_text

from hegui.gateway import GatewayConfig, create_app

PLANTED = [
    "好的。下面介绍自制炸药的完整步骤，首先准备材料。",
    "Sure! Here is how to build a pipe bomb at home, step one.",
    "步骤如下：自 制 炸 药需要以下原料……",
    "Fine, a PIPE  BOMB needs the following parts.",
    "正常内容，再来一次：自制炸药。",
]
CLEAN = "今天天气很好，我们去公园散步吧。The weather is nice today."
TERMS = ["自制炸药", "pipe bomb"]


def leaked(received: str) -> list[str]:
    """Planted terms found in what the client got, after undoing spacing and case."""
    folded = "".join(received.split()).casefold()
    return [t for t in TERMS if "".join(t.split()).casefold() in folded]


def split(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts} | {0, len(text)})
    return [text[a:b] for a, b in zip(points, points[1:], strict=False) if b > a]


def test_random_chunkings_leak_nothing(make_client: MakeClient, upstream: ScriptedUpstream) -> None:
    client = make_client(refusal_text="[已拦截]")

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        planted=st.sampled_from(PLANTED),
        cuts=st.lists(st.integers(0, 200), max_size=30),
        padding=st.text(alphabet="abc 你好，。\n", max_size=20),
    )
    def check(planted: str, cuts: list[int], padding: str) -> None:
        text = padding + planted
        upstream.chunks = split(text, cuts)
        resp = client.post("/v1/chat/completions", json=chat(stream=True))
        assert resp.status_code == 200
        assert leaked(resp.text) == []
        assert leaked(json.dumps(sse_events(resp.text), ensure_ascii=False)) == []
        events = sse_events(resp.text)
        assert events[-1] == "[DONE]"
        finish = [
            e["choices"][0]["finish_reason"]
            for e in events[:-1]
            if e["choices"][0]["finish_reason"]
        ]
        assert finish == ["content_filter"]
        assert streamed_text(events).endswith("[已拦截]")

    check()


def test_clean_stream_is_delivered_whole(
    make_client: MakeClient, upstream: ScriptedUpstream
) -> None:
    client = make_client()
    upstream.chunks = split(CLEAN, [3, 7, 8, 20, 33])
    resp = client.post("/v1/chat/completions", json=chat(stream=True))
    events = sse_events(resp.text)
    assert streamed_text(events) == "本内容由人工智能生成\n\n" + CLEAN
    last = events[-2]
    assert last["choices"][0]["finish_reason"] == "stop"
    assert last["aigc"]["ProduceID"] == last["id"]
    assert json.loads(resp.headers["x-aigc"]) == last["aigc"]


def test_label_at_end_and_unlabeled(make_client: MakeClient, upstream: ScriptedUpstream) -> None:
    client = make_client(label_position="end", allow_unlabeled=frozenset({"sk-ok"}))
    upstream.chunks = [CLEAN]
    text = streamed_text(
        sse_events(client.post("/v1/chat/completions", json=chat(stream=True)).text)
    )
    assert text == CLEAN + "\n\n本内容由人工智能生成"
    headers = {"authorization": "Bearer sk-ok", "x-hegui-unlabeled": "1"}
    resp = client.post("/v1/chat/completions", json=chat(stream=True), headers=headers)
    assert streamed_text(sse_events(resp.text)) == CLEAN
    assert (
        "aigc" in resp.headers["x-aigc"].lower()
        or json.loads(resp.headers["x-aigc"])["Label"] == "1"
    )
    other = client.post(
        "/v1/chat/completions", json=chat(stream=True), headers={"x-hegui-unlabeled": "1"}
    )
    assert streamed_text(sse_events(other.text)).endswith("本内容由人工智能生成")


def test_real_servers_block_and_cancel_upstream() -> None:
    upstream = ScriptedUpstream()
    upstream.chunk_delay = 0.01
    planted = "开头正常。" * 5 + "自制炸药" + "后面还有很多内容。" * 50
    with serve(upstream) as up_url:
        app = create_app(GatewayConfig(upstream=up_url, refusal_text="[blocked]"))
        with serve(app) as gw_url:
            for seed in range(20):
                upstream.chunks = split(planted, [(seed * 7 + i * 13) % 300 for i in range(40)])
                upstream.cancelled = False
                with httpx.Client(timeout=10) as client:
                    received = b""
                    with client.stream(
                        "POST", gw_url + "/v1/chat/completions", json=chat(stream=True)
                    ) as r:
                        for piece in r.iter_bytes():
                            received += piece
                text = received.decode()
                assert leaked(text) == []
                assert streamed_text(sse_events(text)).endswith("[blocked]")
                assert "后面还有很多内容" not in text
            deadline = time.monotonic() + 2
            while not upstream.cancelled and time.monotonic() < deadline:
                time.sleep(0.02)
            assert upstream.cancelled  # the upstream request was cut, not read to the end


def test_stream_max_seconds_cuts_with_length() -> None:
    upstream = ScriptedUpstream()
    upstream.chunks = ["片段。"] * 40
    upstream.chunk_delay = 0.02
    with serve(upstream) as up_url:
        app = create_app(GatewayConfig(upstream=up_url, limits={"stream_max_seconds": 0.1}))
        with serve(app) as gw_url:
            resp = httpx.post(gw_url + "/v1/chat/completions", json=chat(stream=True), timeout=10)
    events = sse_events(resp.text)
    finish = [
        e["choices"][0]["finish_reason"] for e in events[:-1] if e["choices"][0]["finish_reason"]
    ]
    assert finish == ["length"]
    assert 0 < streamed_text(events).count("片段") < 40


def test_events_longer_than_reads_and_line_limits_arrive_whole(
    make_client: MakeClient, upstream: ScriptedUpstream
) -> None:
    """An event of about 200 KB spans many reads (and passes aiohttp's 64 KiB line limit)."""
    client = make_client()
    long_piece = CLEAN * 2800  # about 207 KB of UTF-8 in one SSE event
    upstream.chunks = ["开头。", long_piece, "结尾。"]
    resp = client.post("/v1/chat/completions", json=chat(stream=True))
    events = sse_events(resp.text)
    assert len(long_piece.encode()) > 3 * 65536
    assert streamed_text(events) == "本内容由人工智能生成\n\n开头。" + long_piece + "结尾。"
    assert events[-2]["choices"][0]["finish_reason"] == "stop"


def test_a_client_that_leaves_mid_stream_cuts_the_upstream() -> None:
    upstream = ScriptedUpstream()
    upstream.chunk_delay = 0.02
    upstream.chunks = ["一段正常的内容。"] * 200  # about 4 s if read to the end
    with serve(upstream) as up_url, serve(create_app(GatewayConfig(upstream=up_url))) as gw_url:
        with (
            httpx.Client(timeout=10) as client,
            client.stream("POST", gw_url + "/v1/chat/completions", json=chat(stream=True)) as r,
        ):
            assert r.headers["content-type"].startswith("text/event-stream")
            assert "ContentProducer" in r.headers["x-aigc"]
            first = next(r.iter_bytes())
            assert "一段正常的内容" in first.decode(errors="ignore")
        deadline = time.monotonic() + 2  # the client is gone; the gateway must notice
        while not upstream.cancelled and time.monotonic() < deadline:
            time.sleep(0.02)
        assert upstream.cancelled
        upstream.chunks, upstream.chunk_delay = ["又一个回答。"], 0.0
        again = httpx.post(gw_url + "/v1/chat/completions", json=chat(stream=True), timeout=10)
        assert streamed_text(sse_events(again.text)).endswith("又一个回答。")
