"""An incident: what happened, its reporting clocks and its timeline.

Status moves open -> acknowledged -> reported -> closed (acknowledging is optional; a
closed incident never reopens). Each clock of the pack becomes a deadline counted from
the moment the incident was opened; a clock is met when the report is made before its
deadline and overdue when the deadline passes without one.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from hegui.policy import IncidentClock


class IncidentStatus(StrEnum):
    """Where an incident is in its life."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    REPORTED = "reported"
    CLOSED = "closed"


class IncidentSource(StrEnum):
    """What opened an incident."""

    KILL_SWITCH = "kill_switch"
    AUTO_BLOCKS = "auto_blocks"
    MANUAL = "manual"


class Deadline(BaseModel):
    """One reporting clock, started when the incident opened."""

    model_config = ConfigDict(frozen=True)

    clock: str
    hours: float
    due: AwareDatetime
    scope: str
    source: str

    def state(self, reported: datetime | None, now: datetime) -> str:
        """``met``, ``late`` (reported after the deadline), ``overdue`` or ``running``."""
        if reported is not None:
            return "met" if reported <= self.due else "late"
        return "overdue" if now > self.due else "running"


class IncidentEvent(BaseModel):
    """One line of the timeline."""

    model_config = ConfigDict(frozen=True)

    at: AwareDatetime
    actor: str
    action: str
    note: str = ""
    ledger_index: int | None = None
    """The audit record of this event, when a ledger was configured."""


class Incident(BaseModel):
    """An incident as stored (JSON in the control database)."""

    id: str
    title: str
    source: IncidentSource
    severity: str
    policy_id: str
    opened_at: AwareDatetime
    status: IncidentStatus = IncidentStatus.OPEN
    deadlines: list[Deadline] = Field(default_factory=list)
    events: list[IncidentEvent] = Field(default_factory=list)
    reported_at: AwareDatetime | None = None
    closed_at: AwareDatetime | None = None

    @property
    def evidence(self) -> list[int]:
        """Ledger indices of every event that was recorded."""
        return [e.ledger_index for e in self.events if e.ledger_index is not None]

    def overdue(self, now: datetime) -> list[Deadline]:
        """Deadlines passed with no report made."""
        if self.status is IncidentStatus.CLOSED and self.reported_at is None:
            return []  # closed without a report: an operator decided none was owed
        return [d for d in self.deadlines if d.state(self.reported_at, now) == "overdue"]

    def next_due(self) -> Deadline | None:
        """The earliest deadline."""
        return min(self.deadlines, key=lambda d: d.due, default=None)


def deadlines_for(
    clocks: list[IncidentClock], opened: datetime, chosen: list[str] | None = None
) -> list[Deadline]:
    """The deadlines of the pack's clocks (only ``chosen`` ids when given)."""
    if chosen:
        known = {c.id for c in clocks}
        unknown = sorted(set(chosen) - known)
        if unknown:
            raise ValueError(f"unknown incident clock(s) {unknown}; known: {sorted(known)}")
    return [
        Deadline(
            clock=c.id,
            hours=c.hours,
            due=opened + timedelta(hours=c.hours),
            scope=c.scope,
            source=c.source,
        )
        for c in clocks
        if not chosen or c.id in chosen
    ]
