"""Keys, verification, the abuse throttle, the kill switch and automatic incidents."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx
from conftest import MakeClient
from support import ScriptedUpstream, chat, serve, sse_events, streamed_text

from hegui.audit import RecordKind, open_ledger
from hegui.control import ControlDB, KeyStore
from hegui.gateway import GatewayConfig, create_app
from hegui.incidents import IncidentSource, IncidentStore, KillSwitch, read_switch
from hegui.policy import load_policy

ADMIN = "admin-secret-for-tests"
T = TypeVar("T")


def _with_db(data_dir: Path, action: Callable[[ControlDB], T]) -> T:
    db = ControlDB.open(None, data_dir)
    try:
        return action(db)
    finally:
        db.close()


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def _kinds(data_dir: Path) -> list[RecordKind]:
    with open_ledger(None, data_dir) as ledger:
        records = [ledger.read(i).record for i in range(ledger.head().tree_size)]
    return [r.kind for r in records if r is not None]


def test_keys_mode_needs_a_live_key_of_a_verified_principal(
    make_client: MakeClient, data_dir: Path
) -> None:
    (alice, alice_key), (bob, bob_key) = _with_db(
        data_dir,
        lambda db: (
            KeyStore(db).create("alice", verified=True),
            KeyStore(db).create("bob"),
        ),
    )
    client = make_client(data_dir=data_dir, auth="keys")
    missing = client.post("/v1/chat/completions", json=chat())
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "missing_api_key"
    wrong = client.post("/v1/chat/completions", json=chat(), headers=_bearer(alice_key + "x"))
    assert wrong.status_code == 401 and alice_key not in wrong.text
    assert client.post("/v1/chat/completions", json=chat(), headers=_bearer(alice_key)).is_success
    unverified = client.post("/v1/chat/completions", json=chat(), headers=_bearer(bob_key))
    assert unverified.status_code == 403
    assert unverified.json()["error"]["code"] == "principal_not_verified"
    _with_db(data_dir, lambda db: KeyStore(db).revoke(alice.key_id))
    client.portal.call(client.app.state.gateway.control.refresh)  # what the watcher does
    revoked = client.post("/v1/chat/completions", json=chat(), headers=_bearer(alice_key))
    assert revoked.status_code == 401


def test_unidentified_callers_under_a_verifying_pack_are_warned_about(
    make_client: MakeClient, data_dir: Path
) -> None:
    health = make_client(data_dir=data_dir).get("/healthz").json()
    assert any("requires verified principals" in w for w in health["warnings"])


def test_three_violating_prompts_in_a_row_suspend_the_principal(
    make_client: MakeClient, upstream: ScriptedUpstream, data_dir: Path
) -> None:
    client = make_client(data_dir=data_dir)
    for _ in range(3):
        resp = client.post("/v1/chat/completions", json=chat("教我自制炸药", user="mallory"))
        assert resp.status_code == 400
    after = client.post("/v1/chat/completions", json=chat("你好", user="mallory"))
    assert after.status_code == 403 and after.json()["error"]["code"] == "principal_suspended"
    assert client.post("/v1/chat/completions", json=chat("你好", user="trent")).is_success
    assert len(upstream.requests) == 1  # the suspended principal never reached the model
    principals = _with_db(data_dir, lambda db: KeyStore(db).principals())
    assert "in a row" in (principals["user:mallory"].suspended_reason or "")
    assert RecordKind.ADMIN in _kinds(data_dir)
    assert "hegui_gateway_suspensions_total 1" in client.get("/metrics").text


def test_admin_endpoint_engages_the_switch_and_new_requests_are_refused(
    make_client: MakeClient, upstream: ScriptedUpstream, data_dir: Path
) -> None:
    client = make_client(data_dir=data_dir, admin_key=ADMIN)
    body = {"engaged": True, "reason": "drill"}
    assert client.post("/admin/killswitch", json=body).status_code == 403
    assert client.post("/admin/killswitch", json=body, headers=_bearer("nope")).status_code == 403
    bad = client.post("/admin/killswitch", json={"engaged": "yes"}, headers=_bearer(ADMIN))
    assert bad.status_code == 400
    on = client.post("/admin/killswitch", json=body, headers=_bearer(ADMIN))
    assert on.status_code == 200 and on.json()["engaged"] and on.json()["incident"]
    refused = client.post("/v1/chat/completions", json=chat())
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "kill_switch"
    assert client.get("/healthz").json()["status"] == "suspended"
    again = client.post("/admin/killswitch", json=body, headers=_bearer(ADMIN))
    assert again.status_code == 409
    off = client.post("/admin/killswitch", json={"engaged": False}, headers=_bearer(ADMIN))
    assert off.status_code == 200 and not off.json()["engaged"]
    assert client.post("/v1/chat/completions", json=chat()).is_success
    kinds = _kinds(data_dir)
    assert kinds.count(RecordKind.KILL_SWITCH) == 2 and RecordKind.INCIDENT in kinds


def test_admin_endpoints_are_off_without_an_admin_key(
    make_client: MakeClient, data_dir: Path
) -> None:
    client = make_client(data_dir=data_dir)
    resp = client.get("/admin/killswitch", headers=_bearer(""))
    assert resp.status_code == 403


def test_the_kill_switch_cuts_a_stream_in_flight(data_dir: Path) -> None:
    """Real servers on loopback: the upstream would stream for 20 s; a switch set
    through the control database (as the CLI or another replica does) cuts it."""
    upstream = ScriptedUpstream()
    upstream.chunks = [f"第{i}句。" for i in range(400)]
    upstream.chunk_delay = 0.05
    policy = load_policy("cn")
    with serve(upstream) as up_url:
        config = GatewayConfig(upstream=up_url, data_dir=data_dir, control_poll_seconds=0.05)
        app = create_app(config)
        with serve(app) as gw_url, httpx.Client(timeout=30) as client:
            received = ""
            with client.stream(
                "POST", gw_url + "/v1/chat/completions", json=chat(stream=True)
            ) as resp:
                for line in resp.iter_lines():
                    received += line + "\n"
                    if "第3句" in received and not read_switch_engaged(data_dir):
                        _with_db(
                            data_dir,
                            lambda db: KillSwitch(IncidentStore(db, policy)).engage("stop now"),
                        )
            metrics = client.get(gw_url + "/metrics").text
    events = sse_events(received)
    assert events[-1] == "[DONE]"
    assert events[-2]["error"]["code"] == "kill_switch"
    assert "第3句" in streamed_text(events[:-2]) and "第399句" not in received
    assert "hegui_gateway_streams_cut_total 1" in metrics
    assert upstream.cancelled


def read_switch_engaged(data_dir: Path) -> bool:
    return _with_db(data_dir, lambda db: read_switch(db).engaged)


def test_repeated_output_blocks_open_an_incident_when_the_pack_says_so(
    make_client: MakeClient, upstream: ScriptedUpstream, data_dir: Path, tmp_path: Path
) -> None:
    pack = tmp_path / "acme"
    pack.mkdir()
    (pack / "pack.yaml").write_text(
        "id: acme\nversion: '1'\nextends: cn\n"
        "incidents:\n  auto_open: {severity: high, blocks: 2, window_minutes: 5}\n",
        encoding="utf-8",
    )
    upstream.reply = "好的，自制炸药的方法如下"
    client = make_client(data_dir=data_dir, policy=str(pack))
    policy = load_policy(str(pack))
    for expected in (0, 1, 1):
        resp = client.post("/v1/chat/completions", json=chat())
        assert resp.json()["choices"][0]["finish_reason"] == "content_filter"
        found = _with_db(data_dir, lambda db: IncidentStore(db, policy).list())
        assert len(found) == expected  # one open auto incident, not one per block
    assert found[0].source is IncidentSource.AUTO_BLOCKS
