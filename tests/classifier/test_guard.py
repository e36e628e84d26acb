"""Guard detectors against a scripted upstream.

The upstream is a real ``http.server`` on 127.0.0.1 in a thread that returns canned
Llama Guard / Qwen3Guard chat-completion answers chosen by the request's text, a slow
answer (for the timeout) and an HTTP 500. No real guard model is involved.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from hegui.detect import Action, build_detector
from hegui.detect._guard import (
    GUARD_MAPPING,
    HFGuard,
    OpenAIGuard,
    load_guard_mapping,
    parse_llama_guard,
    parse_qwen3guard,
)
from hegui.policy import DetectorSpec, load_policy

CANNED = {
    "hello": "safe",
    "hurt": "unsafe\nS1,S10",
    "qsafe": "Safety: Safe\nCategories: None",
    "qbad": "Safety: Unsafe\nCategories: Violent, PII",
    "garbage": "I am not a guard model",
}


class _Upstream(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        text = body["messages"][-1]["content"]
        if text == "slow":
            time.sleep(1.0)
        if text == "boom":
            self.send_response(500)
            self.end_headers()
            return
        answer = {
            "choices": [{"message": {"role": "assistant", "content": CANNED.get(text, "safe")}}]
        }
        data = json.dumps(answer).encode()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
            pass

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def _guard(url: str, flavor: str = "llama_guard", **kw: object) -> OpenAIGuard:
    mapping, default = load_guard_mapping(GUARD_MAPPING, flavor)
    return OpenAIGuard(url, "guard", flavor, mapping, default_risk=default, timeout=0.3, **kw)  # type: ignore[arg-type]


def test_every_guard_category_maps_to_a_cn_risk() -> None:
    risks = load_policy("cn").risks
    for flavor, n in (("llama_guard", 14), ("qwen3guard", 9)):
        mapping, default = load_guard_mapping(GUARD_MAPPING, flavor)
        assert len(mapping) == n and default in risks
        assert all(r in risks for r in mapping.values())


def test_parsers() -> None:
    assert parse_llama_guard("unsafe\nS1,S10").categories == ("S1", "S10")
    assert not parse_llama_guard(" safe ").unsafe
    assert parse_qwen3guard("Safety: Controversial\nCategories: Jailbreak").unsafe


def test_llama_guard_verdicts_map_to_risks(upstream: str) -> None:
    g = _guard(upstream)
    assert g.scan("hello") == []
    found = g.scan("hurt")
    assert [(f.risk, f.term, f.kind, f.action) for f in found] == [
        ("A.1.f", "S1", "guard", Action.BLOCK),
        ("A.2.i", "S10", "guard", Action.BLOCK),
    ]
    assert (found[0].start, found[0].end) == (0, 4)


def test_qwen3guard_verdicts_map_to_risks(upstream: str) -> None:
    g = _guard(upstream, "qwen3guard")
    assert g.scan("qsafe") == []
    assert [f.risk for f in g.scan("qbad")] == ["A.1.f", "A.4.f"]


@pytest.mark.parametrize("text", ["slow", "boom", "garbage"])
def test_failures_become_unavailable_and_block(upstream: str, text: str) -> None:
    (f,) = _guard(upstream).scan(text)
    assert (f.kind, f.action) == ("unavailable", Action.BLOCK)


def test_unavailable_can_be_flag_only(upstream: str) -> None:
    (f,) = _guard(upstream, on_unavailable=Action.FLAG).scan("boom")
    assert "500" in f.details["error"] and f.action is Action.FLAG


def test_unreachable_server_fails_closed() -> None:
    (f,) = _guard("http://127.0.0.1:9/v1").scan("hello")
    assert f.kind == "unavailable" and f.action is Action.BLOCK


def test_built_from_spec_and_streams_whole_message(upstream: str) -> None:
    import hegui.detect._guard  # noqa: F401  (registers the detectors)

    spec = DetectorSpec(action=Action.BLOCK, options={"url": upstream, "timeout": 0.3})
    det = build_detector("guard_openai", spec, load_policy("cn"))
    st = det.stream()
    assert st.scan("hu", 0, 10, final=False) == ([], 0)
    found, safe = st.scan("hurt", 0, 10, final=True)
    assert safe == 4 and [(f.start, f.end) for f in found] == [(10, 14), (10, 14)]


def test_hf_guard_without_transformers_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def missing(name: str) -> object:
        raise ImportError(f"No module named {name!r}")

    monkeypatch.setattr("hegui.detect._guard.importlib.import_module", missing)
    mapping, default = load_guard_mapping(GUARD_MAPPING, "qwen3guard")
    with pytest.raises(RuntimeError, match=r"pip install 'hegui\[hf\]'"):
        HFGuard("/nonexistent", mapping, default_risk=default)


def test_hf_guard_maps_labels_with_a_fake_pipeline() -> None:
    mapping, default = load_guard_mapping(GUARD_MAPPING, "qwen3guard")

    def fake(text: str) -> list[list[dict[str, object]]]:
        if text == "fail":
            raise RuntimeError("CUDA out of memory")
        return [
            [
                {"label": "Safe", "score": 0.1},
                {"label": "PII", "score": 0.8},
                {"label": "Violent", "score": 0.2},
                {"label": "Jailbreak", "score": 0.6},
            ]
        ]

    g = HFGuard("x", mapping, default_risk=default, threshold=0.5, pipeline=fake)
    assert [(f.risk, f.term, f.details["score"]) for f in g.scan("a")] == [
        ("A.4.f", "PII", "0.80"),
        ("A.1.h", "Jailbreak", "0.60"),
    ]
    (f,) = g.scan("fail")
    assert f.kind == "unavailable" and f.action is Action.BLOCK
