"""Incidents: clocks from the pack, the life cycle, the kill switch and the report."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from hegui.audit import Keyring, Ledger, RecordKind, SignedTreeHead, verify_inclusion
from hegui.control import ControlDB
from hegui.incidents import (
    IncidentError,
    IncidentSource,
    IncidentStatus,
    IncidentStore,
    KillSwitch,
    build_report,
    read_switch,
    write_report,
)
from hegui.policy import load_policy

CN = load_policy("cn")
EU = load_policy("eu")


def test_an_incident_carries_every_clock_of_its_pack(db: ControlDB) -> None:
    incident = IncidentStore(db, CN).open("leak", IncidentSource.MANUAL)
    assert CN.incidents is not None
    assert [d.clock for d in incident.deadlines] == [c.id for c in CN.incidents.clocks]
    for deadline, clock in zip(incident.deadlines, CN.incidents.clocks, strict=True):
        assert deadline.due - incident.opened_at == timedelta(hours=clock.hours)
    eu = IncidentStore(db, EU).open("harm", IncidentSource.MANUAL, clocks=["eu.art73.death"])
    assert [(d.clock, d.hours) for d in eu.deadlines] == [("eu.art73.death", 240)]
    with pytest.raises(IncidentError, match="unknown incident clock"):
        IncidentStore(db, CN).open("x", IncidentSource.MANUAL, clocks=["cn.nope"])


def test_overdue_until_reported_then_met_or_late(db: ControlDB) -> None:
    store = IncidentStore(db, CN)
    opened = store.open("outage", IncidentSource.MANUAL, clocks=["cn.other-operators"])
    later = opened.opened_at + timedelta(hours=5)
    assert [d.clock for d in opened.overdue(later)] == ["cn.other-operators"]
    assert opened.overdue(opened.opened_at + timedelta(hours=3)) == []
    reported = store.step(opened.id, "report")
    assert reported.status is IncidentStatus.REPORTED and reported.overdue(later) == []
    assert reported.deadlines[0].state(reported.reported_at, later) == "met"
    assert reported.deadlines[0].state(later, later) == "late"


def test_life_cycle_refuses_steps_out_of_order(db: ControlDB) -> None:
    store = IncidentStore(db, CN)
    incident = store.open("x", IncidentSource.MANUAL)
    assert store.step(incident.id, "ack").status is IncidentStatus.ACKNOWLEDGED
    with pytest.raises(IncidentError, match="cannot ack"):
        store.step(incident.id, "ack")
    closed = store.step(incident.id, "close", note="false alarm")
    assert (
        closed.closed_at is not None and closed.overdue(closed.closed_at + timedelta(days=9)) == []
    )
    with pytest.raises(IncidentError, match="is closed"):
        store.step(incident.id, "report")
    assert [e.action for e in store.get(incident.id).events] == ["open", "ack", "close"]
    with pytest.raises(IncidentError, match="no incident"):
        store.get("INC-00000000-000000")


def test_kill_switch_opens_an_incident_and_records_both_in_the_ledger(
    db: ControlDB, ledger: Ledger
) -> None:
    switch = KillSwitch(IncidentStore(db, CN, ledger))
    state, incident = switch.engage("model emits prohibited content", actor="oncall")
    assert state.engaged and state.incident_id == incident.id
    assert read_switch(db).engaged
    with pytest.raises(IncidentError, match="already engaged"):
        switch.engage("again")
    switch.release("patched")
    assert not read_switch(db).engaged
    with pytest.raises(IncidentError, match="not engaged"):
        switch.release()
    kinds = [ledger.read(i).record.kind for i in range(ledger.head().tree_size)]  # type: ignore[union-attr]
    assert kinds == [RecordKind.INCIDENT, RecordKind.KILL_SWITCH, RecordKind.KILL_SWITCH]
    events = IncidentStore(db, CN).get(incident.id).events
    assert [e.action for e in events] == ["open", "kill switch engaged", "service resumed"]
    assert all(e.ledger_index is not None for e in events)


def test_the_report_proves_every_event_against_a_signed_head(
    db: ControlDB, ledger: Ledger, tmp_path: Path
) -> None:
    store = IncidentStore(db, CN, ledger)
    _, incident = KillSwitch(store).engage("jailbreak wave")
    incident = store.step(incident.id, "report", note="sent to the regulator")
    report = build_report(incident, ledger)
    paths = write_report(report, tmp_path / "out", ledger)
    assert {p.name for p in paths} == {"report.json", "report.md", "keys"}
    head = SignedTreeHead.from_json(report["tree_head"])
    assert head.verify_signature(Keyring.load(tmp_path / "out" / "keys", need_signer=False))
    assert len(report["evidence"]) == 3 and all(e["proof_valid"] for e in report["evidence"])
    for item in report["evidence"]:  # checked again from the JSON alone
        proof = item["proof"]
        assert verify_inclusion(
            bytes.fromhex(proof["leaf_hash"]),
            proof["index"],
            proof["tree_size"],
            [bytes.fromhex(node) for node in proof["path"]],
            head.root_hash,
        )
    assert {c["state"] for c in report["clocks"]} == {"met"}
    markdown = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert incident.id in markdown and "3 of 3 evidence records prove inclusion" in markdown
