"""Evidence in the ledger (fail closed when it cannot write) and GB 45438 labels."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from pathlib import Path

import httpx
import pytest
from conftest import MakeClient
from support import ScriptedUpstream, chat, serve, sse_events, streamed_text

from hegui.audit import AuditWriteError, Keyring, SigningKey, open_ledger
from hegui.gateway import GatewayConfig, Labeler, LabelError, create_app, verify_label
from hegui.policy import load_policy


def _records(data_dir: Path) -> list[dict[str, object]]:
    ledger = open_ledger(None, data_dir)
    try:
        size = ledger.head().tree_size
        return [ledger.read(i).record.to_json() for i in range(size)]  # type: ignore[union-attr]
    finally:
        ledger.close()


def test_exchanges_are_recorded(
    make_client: MakeClient, upstream: ScriptedUpstream, data_dir: Path
) -> None:
    client = make_client(data_dir=data_dir)
    assert (
        client.post(
            "/v1/chat/completions", json=chat(), headers={"authorization": "Bearer sk-1"}
        ).status_code
        == 200
    )
    assert client.post("/v1/chat/completions", json=chat("自制炸药")).status_code == 400
    upstream.chunks = ["好的，", "自制", "炸药的方法"]
    client.post("/v1/chat/completions", json=chat(stream=True))
    client.close()
    records = _records(data_dir)
    kinds = [r["kind"] for r in records]
    assert kinds == ["request", "response", "request", "block", "request", "response", "block"]
    assert all(str(r["principal"]).startswith("hmac-sha256:") for r in records)
    assert "sk-1" not in json.dumps(records)
    assert records[0]["content"] == {"texts": ["你好"]}
    assert records[3]["findings"] and records[3]["content"] == {"direction": "input"}
    streamed = records[5]["content"]
    assert isinstance(streamed, dict) and streamed["received"] == "好的，自制炸药的方法"
    assert "炸药" not in streamed["sent"]


class FailingLedger:
    """A ledger whose every append fails."""

    def __init__(self) -> None:
        self.keyring = Keyring({}, SigningKey.generate("ed25519"))

    def append(self, record: object) -> None:
        raise AuditWriteError("disk full at /secret/path")

    def append_here(self, record: object) -> None:
        raise AuditWriteError("disk full at /secret/path")

    def append_future(self, record: object) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        try:
            self.append(record)
        except AuditWriteError as exc:
            future.set_exception(exc)
        return future


def test_ledger_failure_refuses_with_503(
    make_client: MakeClient, upstream: ScriptedUpstream
) -> None:
    client = make_client(ledger=FailingLedger())
    resp = client.post("/v1/chat/completions", json=chat())
    assert resp.status_code == 503
    assert resp.json()["error"]["code"] == "audit_unavailable"
    assert "/secret/path" not in resp.text
    assert upstream.requests == []  # nothing reached the model unrecorded


def test_a_stream_whose_request_was_not_recorded_sends_no_answer(
    make_client: MakeClient, upstream: ScriptedUpstream
) -> None:
    """Streams write the request record while the upstream starts; if it fails, the
    client gets an error event and not one byte of the model's answer."""
    upstream.chunks = ["这是", "模型的", "回答。"]
    client = make_client(ledger=FailingLedger())
    resp = client.post("/v1/chat/completions", json=chat(stream=True))
    events = sse_events(resp.text)
    assert events[0]["error"]["code"] == "audit_unavailable" and events[-1] == "[DONE]"
    assert len(events) == 2 and "模型" not in resp.text and "/secret/path" not in resp.text


def test_broken_ledger_location_is_503(make_client: MakeClient, tmp_path: Path) -> None:
    client = make_client(data_dir=tmp_path / "no-keys")
    resp = client.post("/v1/chat/completions", json=chat())
    assert resp.status_code == 503 and "audit ledger" in resp.json()["error"]["message"]


def test_implicit_label_signed_and_allowed(make_client: MakeClient, data_dir: Path) -> None:
    client = make_client(data_dir=data_dir, producer="PRODUCER-001")
    data = client.post("/v1/chat/completions", json=chat()).json()
    label = data["aigc"]
    spec = load_policy("cn").labels
    assert spec is not None
    assert list(label) == spec.implicit.keys
    assert label["Label"] == "1" and label["ContentProducer"] == "PRODUCER-001"
    assert label["ContentPropagator"] == "PRODUCER-001" and label["PropagateID"] == data["id"]
    for value in label.values():
        assert spec.implicit.allows(value), value
    signer = client.app.state.gateway.labeler.signer  # type: ignore[attr-defined]
    assert label["ReservedCode2"] == signer.key_id
    assert verify_label(label, signer.public_key.public)
    tampered = {**label, "ProduceID": "chatcmpl-other"}
    assert not verify_label(tampered, signer.public_key.public)


@pytest.mark.parametrize("producer", ['bad"quote', "back\\slash", "空格 中文", "tab\t"])
def test_producer_outside_allowed_chars_is_refused(make_client: MakeClient, producer: str) -> None:
    spec = load_policy("cn").labels
    assert spec is not None
    with pytest.raises(LabelError):
        Labeler(spec, producer, None)
    resp = make_client(producer=producer).post("/v1/chat/completions", json=chat())
    assert resp.status_code == 503


def test_signature_alphabet_is_allowed() -> None:
    spec = load_policy("cn").labels
    assert spec is not None
    labeler = Labeler(spec, "hegui", SigningKey.generate("ed25519"))
    for i in range(200):
        label = labeler.implicit(f"chatcmpl-{i:04d}")
        sig = label["ReservedCode1"]
        assert len(base64.urlsafe_b64decode(sig + "==")) == 64
        assert all(spec.implicit.allows(v) for v in label.values())


def test_no_ledger_means_unsigned_label(
    make_client: MakeClient, upstream: ScriptedUpstream
) -> None:
    client = make_client()
    upstream.chunks = ["hi"]
    events = sse_events(client.post("/v1/chat/completions", json=chat(stream=True)).text)
    assert events[-2]["aigc"]["ReservedCode1"] == "" and events[-2]["aigc"]["ReservedCode2"] == ""


class GatedLedger:
    """A ledger whose appends wait until the test opens the gate; it keeps the records.

    ``fail`` makes the waiting append fail once the gate opens.
    """

    def __init__(self, *, fail: bool = False) -> None:
        self.keyring = Keyring({}, SigningKey.generate("ed25519"))
        self.gate = threading.Event()
        self.fail = fail
        self.records: list[object] = []

    def append(self, record: object) -> None:
        if not self.gate.wait(5):
            raise AuditWriteError("the test never opened the gate")
        if self.fail:
            raise AuditWriteError("disk full")
        self.records.append(record)

    def append_here(self, record: object) -> None:
        return None  # "the writer is busy": every record takes the gated queue

    def append_future(self, record: object) -> asyncio.Future[None]:
        return asyncio.ensure_future(asyncio.to_thread(self.append, record))


def _stream_while_gated(ledger: GatedLedger) -> tuple[str, str]:
    """Stream through a ``finish`` gateway: (text before the gate opened, all of it)."""
    upstream = ScriptedUpstream()
    upstream.chunks = ["这是", "模型的", "回答。"]
    with serve(upstream) as up_url:
        config = GatewayConfig(upstream=up_url, stream_evidence="finish")
        with serve(create_app(config, ledger=ledger)) as gw_url, httpx.Client(timeout=10) as http:
            received = b""
            with http.stream("POST", gw_url + "/v1/chat/completions", json=chat(stream=True)) as r:
                pieces = r.iter_bytes()
                while "回答" not in received.decode(errors="ignore"):
                    received += next(pieces)
                before = received.decode()
                ledger.gate.set()
                for piece in pieces:
                    received += piece
    return before, received.decode()


def test_first_byte_evidence_sends_nothing_before_the_request_record_is_durable() -> None:
    """The default ``first_byte``: not even the headers leave before the commit."""
    ledger = GatedLedger()
    upstream = ScriptedUpstream()
    upstream.chunks = ["这是", "模型的", "回答。"]
    arrived: list[float] = []
    with serve(upstream) as up_url:
        app = create_app(GatewayConfig(upstream=up_url), ledger=ledger)
        with serve(app) as gw_url, httpx.Client(timeout=10) as http:

            def ask() -> None:
                url = gw_url + "/v1/chat/completions"
                with http.stream("POST", url, json=chat(stream=True)) as r:
                    arrived.append(time.monotonic())
                    arrived.append(len(r.read()))

            asker = threading.Thread(target=ask)
            asker.start()
            time.sleep(0.5)  # the upstream has answered long before; the ledger has not
            opened = time.monotonic()
            ledger.gate.set()
            asker.join(10)
    assert arrived and arrived[0] >= opened and arrived[1] > 0
    kinds = [r.kind.value for r in ledger.records]  # type: ignore[attr-defined]
    assert kinds == ["request", "response"]


def test_finish_evidence_streams_while_the_request_record_commits() -> None:
    """``stream_evidence: finish``: checked text flows during the commit, the finish
    chunk only after it, and every record is kept."""
    ledger = GatedLedger()
    before, whole = _stream_while_gated(ledger)
    assert "这是模型的回答。" in streamed_text(sse_events(before + "\n\n"))
    assert '"finish_reason":"stop"' not in before  # the end waited for the evidence
    events = sse_events(whole)
    assert events[-2]["choices"][0]["finish_reason"] == "stop" and events[-1] == "[DONE]"
    kinds = [r.kind.value for r in ledger.records]  # type: ignore[attr-defined]
    assert kinds == ["request", "response"]


def test_finish_evidence_cuts_the_stream_when_the_commit_fails() -> None:
    ledger = GatedLedger(fail=True)
    _, whole = _stream_while_gated(ledger)
    events = sse_events(whole)
    assert events[-2]["error"]["code"] == "audit_unavailable" and events[-1] == "[DONE]"
    finishes = [e["choices"][0].get("finish_reason") for e in events if "choices" in e]
    assert "stop" not in finishes  # the exchange never completes without its evidence


def test_a_lone_record_commits_on_the_loop_and_queues_while_the_writer_is_busy(
    tmp_path: Path,
) -> None:
    from anyio import CapacityLimiter

    from hegui.audit import RecordKind, write_key
    from hegui.gateway._evidence import Evidence

    write_key(SigningKey.generate("ed25519"), tmp_path / "keys")
    ledger = open_ledger(None, tmp_path)
    evidence = Evidence(ledger, load_policy("cn"), b"k" * 32, CapacityLimiter(2))
    writing = ledger._writer()._writing  # held by the writer thread while it commits

    async def main() -> tuple[bool, bool, bool]:
        alone = evidence.prepare(RecordKind.REQUEST, "r-1", "anonymous", {"texts": ["a"]})
        alone.start(here=True)
        durable_at_once = alone.done.done()  # no await: committed on this thread
        with writing:  # the writer is busy: the record is queued, not written here
            queued = evidence.prepare(RecordKind.REQUEST, "r-2", "anonymous", {"texts": ["b"]})
            queued.start(here=True)
            queued.start(here=True)  # a second start does nothing
            await asyncio.sleep(0.05)
            waited = not queued.done.done()
        await asyncio.wait_for(queued.done, 5)
        return durable_at_once, waited, queued.done.exception() is None

    assert asyncio.run(main()) == (True, True, True)
    ids = [ledger.read(i).record.request_id for i in range(2)]  # type: ignore[union-attr]
    assert ids == ["r-1", "r-2"] and ledger.verify().ok
    ledger.close()
