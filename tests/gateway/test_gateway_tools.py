"""The tool allowlist: tools offered to the model and tool calls it makes."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import MakeClient
from support import ScriptedUpstream, chat, sse_events

WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {}}}
DELETE = {"type": "function", "function": {"name": "delete_files", "parameters": {}}}


def _call(name: str, arguments: str = '{"city": "北京"}') -> dict[str, object]:
    return {"id": "call_1", "type": "function", "function": {"name": name, "arguments": arguments}}


@pytest.fixture
def client_factory(make_client: MakeClient, tmp_path: Path) -> dict[str, MakeClient]:
    pack = tmp_path / "acme"
    pack.mkdir()
    (pack / "pack.yaml").write_text(
        "id: acme\nversion: '1'\nextends: cn\ntools:\n  allowed: [get_weather]\n",
        encoding="utf-8",
    )
    return {
        "config": lambda **kw: make_client(allowed_tools=frozenset({"get_weather"}), **kw),
        "pack": lambda **kw: make_client(policy=str(pack), **kw),
    }


@pytest.mark.parametrize("source", ["config", "pack"])
def test_offering_a_tool_outside_the_allowlist_is_refused(
    client_factory: dict[str, MakeClient], upstream: ScriptedUpstream, source: str
) -> None:
    client = client_factory[source]()
    refused = client.post("/v1/chat/completions", json=chat(tools=[WEATHER, DELETE]))
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "tool_not_allowed"
    assert "delete_files" in refused.json()["error"]["message"]
    assert upstream.requests == []
    assert client.post("/v1/chat/completions", json=chat(tools=[WEATHER])).is_success


def test_a_call_to_a_tool_outside_the_allowlist_is_blocked(
    client_factory: dict[str, MakeClient], upstream: ScriptedUpstream
) -> None:
    client = client_factory["config"]()
    upstream.tool_calls = [_call("delete_files", '{"path": "/"}')]
    data = client.post("/v1/chat/completions", json=chat()).json()
    choice = data["choices"][0]
    assert choice["finish_reason"] == "content_filter" and "tool_calls" not in choice["message"]
    upstream.tool_calls = [_call("get_weather")]
    allowed = client.post("/v1/chat/completions", json=chat()).json()["choices"][0]
    assert allowed["message"]["tool_calls"][0]["function"]["name"] == "get_weather"


def test_a_streamed_call_outside_the_allowlist_is_never_sent(
    client_factory: dict[str, MakeClient], upstream: ScriptedUpstream
) -> None:
    client = client_factory["config"]()
    upstream.chunks = ["好的，", "马上处理。"]
    upstream.tool_calls = [_call("delete_files", '{"path": "/etc"}')]
    resp = client.post("/v1/chat/completions", json=chat(stream=True))
    assert "delete_files" not in resp.text and "/etc" not in resp.text
    assert sse_events(resp.text)[-2]["choices"][0]["finish_reason"] == "content_filter"
    upstream.tool_calls = [_call("get_weather")]
    events = sse_events(client.post("/v1/chat/completions", json=chat(stream=True)).text)
    calls = [e for e in events[:-1] if e["choices"][0]["delta"].get("tool_calls")]
    assert calls[0]["choices"][0]["delta"]["tool_calls"][0]["function"] == {
        "name": "get_weather",
        "arguments": '{"city": "北京"}',
    }
    assert events[-2]["choices"][0]["finish_reason"] == "tool_calls"


def test_without_an_allowlist_any_tool_passes(
    make_client: MakeClient, upstream: ScriptedUpstream
) -> None:
    upstream.tool_calls = [_call("delete_files")]
    resp = make_client().post("/v1/chat/completions", json=chat(tools=[DELETE]))
    assert (
        resp.json()["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "delete_files"
    )
