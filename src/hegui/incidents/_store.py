"""Incidents and the kill switch, kept in the control database and the audit ledger.

Every change is one control-database transaction (other replicas see it at once) and,
when a ledger is given, one audit record whose index joins the incident's timeline, so
the report can prove each step with an inclusion proof.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hegui.audit import AuditRecord, Ledger, RecordKind
from hegui.audit._types import from_us, to_us
from hegui.control import ControlDB, ControlError
from hegui.incidents._model import (
    Incident,
    IncidentEvent,
    IncidentSource,
    IncidentStatus,
    deadlines_for,
)
from hegui.policy import Policy

_NEXT = {
    "ack": ({IncidentStatus.OPEN}, IncidentStatus.ACKNOWLEDGED),
    "report": (
        {IncidentStatus.OPEN, IncidentStatus.ACKNOWLEDGED, IncidentStatus.REPORTED},
        IncidentStatus.REPORTED,
    ),
    "close": (
        {IncidentStatus.OPEN, IncidentStatus.ACKNOWLEDGED, IncidentStatus.REPORTED},
        IncidentStatus.CLOSED,
    ),
}


class IncidentError(ControlError):
    """An unknown incident or a step its status does not allow."""


def _record(
    ledger: Ledger | None, kind: RecordKind, policy: Policy, content: dict[str, Any]
) -> int | None:
    if ledger is None:
        return None
    record = AuditRecord(
        kind=kind, policy_id=policy.id, policy_version=policy.version, content=content
    )
    return ledger.append(record).index


class IncidentStore:
    """Open, list, step and read incidents."""

    def __init__(self, db: ControlDB, policy: Policy, ledger: Ledger | None = None) -> None:
        self.db, self.policy, self.ledger = db, policy, ledger

    def open(
        self,
        title: str,
        source: IncidentSource,
        *,
        severity: str = "high",
        actor: str = "operator",
        clocks: list[str] | None = None,
        note: str = "",
    ) -> Incident:
        """Open an incident with the pack's clocks (all, or the ``clocks`` chosen)."""
        if self.policy.incidents is None:
            raise IncidentError(f"policy {self.policy.id!r} has no incident clocks")
        now = datetime.now(UTC)
        ident = f"INC-{now:%Y%m%d}-{secrets.token_hex(3)}"
        try:
            deadlines = deadlines_for(self.policy.incidents.clocks, now, clocks)
        except ValueError as exc:
            raise IncidentError(str(exc)) from None
        index = _record(
            self.ledger,
            RecordKind.INCIDENT,
            self.policy,
            {"incident": ident, "action": "open", "title": title, "source": source.value},
        )
        event = IncidentEvent(at=now, actor=actor, action="open", note=note, ledger_index=index)
        incident = Incident(
            id=ident,
            title=title,
            source=source,
            severity=severity,
            policy_id=self.policy.id,
            opened_at=now,
            deadlines=deadlines,
            events=[event],
        )
        with self.db.change(f"incident {ident} opened"):
            self.db.execute(
                "INSERT INTO hegui_incidents (id, data, opened_us) VALUES (?, ?, ?)",
                (ident, incident.model_dump_json(), to_us(now)),
            )
        return incident

    def get(self, ident: str) -> Incident:
        """One incident by id."""
        rows = self.db.rows("SELECT data FROM hegui_incidents WHERE id = ?", (ident,))
        if not rows:
            raise IncidentError(f"no incident {ident!r}")
        return Incident.model_validate_json(rows[0][0])

    def list(self, *, include_closed: bool = True) -> list[Incident]:
        """Every incident, newest first."""
        rows = self.db.rows("SELECT data FROM hegui_incidents ORDER BY opened_us DESC")
        found = [Incident.model_validate_json(r[0]) for r in rows]
        return [i for i in found if include_closed or i.status is not IncidentStatus.CLOSED]

    def step(self, ident: str, action: str, *, actor: str = "operator", note: str = "") -> Incident:
        """``ack``, ``report`` or ``close`` an incident (recorded in the ledger)."""
        allowed, after = _NEXT[action]
        now = datetime.now(UTC)
        with self.db.change(f"incident {ident} {action}"):
            lock = " FOR UPDATE" if self.db.is_postgres else ""
            rows = self.db.rows(f"SELECT data FROM hegui_incidents WHERE id = ?{lock}", (ident,))
            if not rows:
                raise IncidentError(f"no incident {ident!r}")
            incident = Incident.model_validate_json(rows[0][0])
            if incident.status not in allowed:
                raise IncidentError(
                    f"incident {ident} is {incident.status.value}; cannot {action} it"
                )
            index = _record(
                self.ledger,
                RecordKind.INCIDENT,
                self.policy,
                {"incident": ident, "action": action, "note": note},
            )
            event = IncidentEvent(at=now, actor=actor, action=action, note=note, ledger_index=index)
            changes: dict[str, Any] = {"status": after, "events": [*incident.events, event]}
            if action == "report" and incident.reported_at is None:
                changes["reported_at"] = now
            if action == "close":
                changes["closed_at"] = now
            incident = incident.model_copy(update=changes)
            self.db.execute(
                "UPDATE hegui_incidents SET data = ? WHERE id = ?",
                (incident.model_dump_json(), ident),
            )
        return incident

    def note(self, ident: str, action: str, note: str, actor: str, index: int | None) -> None:
        """Add a timeline line (for example a kill switch lifted) without a status change."""
        with self.db.change(f"incident {ident} {action}"):
            incident = self.get(ident)
            event = IncidentEvent(
                at=datetime.now(UTC), actor=actor, action=action, note=note, ledger_index=index
            )
            updated = incident.model_copy(update={"events": [*incident.events, event]})
            self.db.execute(
                "UPDATE hegui_incidents SET data = ? WHERE id = ?",
                (updated.model_dump_json(), ident),
            )


@dataclass(frozen=True, slots=True)
class SwitchState:
    """The kill switch as stored."""

    engaged: bool
    reason: str = ""
    actor: str = ""
    changed: datetime | None = None
    incident_id: str | None = None


def read_switch(db: ControlDB) -> SwitchState:
    """The kill switch now (off when it was never set)."""
    rows = db.rows(
        "SELECT engaged, reason, actor, changed_us, incident_id FROM hegui_killswitch WHERE id = 1"
    )
    if not rows:
        return SwitchState(False)
    engaged, reason, actor, changed, incident = rows[0]
    return SwitchState(bool(engaged), reason, actor, from_us(changed), incident)


class KillSwitch:
    """Engage or release the kill switch.

    While engaged every replica refuses new requests and cuts streams in flight;
    engaging opens an incident and starts its clocks.
    """

    def __init__(self, incidents: IncidentStore) -> None:
        self.incidents = incidents
        self.db = incidents.db

    def state(self) -> SwitchState:
        """The switch now."""
        return read_switch(self.db)

    def engage(
        self, reason: str, *, actor: str = "operator", clocks: list[str] | None = None
    ) -> tuple[SwitchState, Incident]:
        """Turn the service off and open an incident."""
        if not reason.strip():
            raise IncidentError("a reason is required to engage the kill switch")
        if self.state().engaged:
            raise IncidentError("the kill switch is already engaged")
        incident = self.incidents.open(
            f"kill switch: {reason}", IncidentSource.KILL_SWITCH, actor=actor, clocks=clocks
        )
        index = self._write(True, reason, actor, incident.id, {"engaged": True, "reason": reason})
        self.incidents.note(incident.id, "kill switch engaged", reason, actor, index)
        return self.state(), self.incidents.get(incident.id)

    def release(self, reason: str = "", *, actor: str = "operator") -> SwitchState:
        """Turn the service back on (the incident stays open until closed)."""
        before = self.state()
        if not before.engaged:
            raise IncidentError("the kill switch is not engaged")
        index = self._write(
            False, reason, actor, before.incident_id, {"engaged": False, "reason": reason}
        )
        if before.incident_id is not None:
            self.incidents.note(before.incident_id, "service resumed", reason, actor, index)
        return self.state()

    def _write(
        self, engaged: bool, reason: str, actor: str, incident: str | None, content: dict[str, Any]
    ) -> int | None:
        index = _record(
            self.incidents.ledger,
            RecordKind.KILL_SWITCH,
            self.incidents.policy,
            {**content, "actor": actor, "incident": incident},
        )
        with self.db.change("killswitch"):
            self.db.execute(
                "INSERT INTO hegui_killswitch (id, engaged, reason, actor, changed_us,"
                " incident_id) VALUES (1, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
                " engaged = excluded.engaged, reason = excluded.reason, actor = excluded.actor,"
                " changed_us = excluded.changed_us, incident_id = excluded.incident_id",
                (int(engaged), reason, actor, to_us(datetime.now(UTC)), incident),
            )
        return index
