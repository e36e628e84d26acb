"""Incidents, their reporting clocks, the kill switch and incident reports.

See ``docs/gateway.md`` (kill switch and incidents).
"""

from hegui.incidents._model import (
    Deadline,
    Incident,
    IncidentEvent,
    IncidentSource,
    IncidentStatus,
    deadlines_for,
)
from hegui.incidents._report import build_report, write_report
from hegui.incidents._store import (
    IncidentError,
    IncidentStore,
    KillSwitch,
    SwitchState,
    read_switch,
)

__all__ = [
    "Deadline",
    "Incident",
    "IncidentError",
    "IncidentEvent",
    "IncidentSource",
    "IncidentStatus",
    "IncidentStore",
    "KillSwitch",
    "SwitchState",
    "build_report",
    "deadlines_for",
    "read_switch",
    "write_report",
]
