"""``hegui incidents``: list, show, acknowledge, report and close incidents."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from hegui.cli._common import DataDirOption, DbOption, console
from hegui.cli._control import ClockOption, PolicyOption, incident_store
from hegui.incidents import Incident, IncidentSource, build_report, write_report

app = typer.Typer(help="Incidents and their reporting clocks.", no_args_is_help=True)

IdArg = Annotated[str, typer.Argument(help="Incident id (INC-...).")]
NoteOption = Annotated[str, typer.Option("--note", help="A line for the timeline.")]


def _due(incident: Incident, now: datetime) -> str:
    overdue = incident.overdue(now)
    if overdue:
        return "[bold red]OVERDUE[/] " + ", ".join(d.clock for d in overdue)
    upcoming = incident.next_due()
    if upcoming is None or incident.reported_at is not None:
        return "-"
    return f"{upcoming.clock} due {upcoming.due:%Y-%m-%d %H:%M}Z"


@app.command("list")
def list_command(
    open_only: Annotated[bool, typer.Option("--open", help="Hide closed incidents.")] = False,
    policy: PolicyOption = "cn",
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Every incident, newest first; exit 1 when any reporting clock is overdue."""
    with incident_store(policy, db, data_dir, record=False) as store:
        found = store.list(include_closed=not open_only)
    now = datetime.now(UTC)
    table = Table("id", "opened", "status", "source", "title", "clock")
    for incident in found:
        table.add_row(
            incident.id,
            f"{incident.opened_at:%Y-%m-%d %H:%M}Z",
            incident.status.value,
            incident.source.value,
            escape(incident.title),
            _due(incident, now),
        )
    console.print(table)
    if any(incident.overdue(now) for incident in found):
        raise typer.Exit(1)


@app.command("show")
def show_command(
    ident: IdArg, policy: PolicyOption = "cn", db: DbOption = None, data_dir: DataDirOption = None
) -> None:
    """One incident: clocks and timeline."""
    with incident_store(policy, db, data_dir, record=False) as store:
        incident = store.get(ident)
    now = datetime.now(UTC)
    console.print(f"[bold]{incident.id}[/] {escape(incident.title)} ({incident.status.value})")
    for d in incident.deadlines:
        state = d.state(incident.reported_at, now)
        console.print(f"  clock {d.clock}: due {d.due:%Y-%m-%d %H:%M}Z, {state}")
    for e in incident.events:
        where = "" if e.ledger_index is None else f" (ledger #{e.ledger_index})"
        when = f"{e.at:%Y-%m-%d %H:%M:%S}Z"
        console.print(f"  {when} {escape(e.actor)} {e.action} {escape(e.note)}{where}")


@app.command("open")
def open_command(
    title: Annotated[str, typer.Option("--title", help="What happened.")],
    severity: Annotated[str, typer.Option("--severity", help="low, medium or high.")] = "high",
    clock: ClockOption = None,
    policy: PolicyOption = "cn",
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Open an incident by hand (its clocks start now)."""
    with incident_store(policy, db, data_dir) as store:
        incident = store.open(title, IncidentSource.MANUAL, severity=severity, clocks=clock or None)
    console.print(f"incident {incident.id} opened")


def _step(
    action: str, ident: str, note: str, policy: str, db: str | None, data_dir: Path | None
) -> None:
    with incident_store(policy, db, data_dir) as store:
        incident = store.step(ident, action, note=note)
    console.print(f"{incident.id}: {incident.status.value}")


@app.command("ack")
def ack_command(
    ident: IdArg,
    note: NoteOption = "",
    policy: PolicyOption = "cn",
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Acknowledge an open incident."""
    _step("ack", ident, note, policy, db, data_dir)


@app.command("close")
def close_command(
    ident: IdArg,
    note: NoteOption = "",
    policy: PolicyOption = "cn",
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Close an incident."""
    _step("close", ident, note, policy, db, data_dir)


@app.command("report")
def report_command(
    ident: IdArg,
    out: Annotated[Path, typer.Option("--out", help="Folder for report.json, report.md, keys/.")],
    policy: PolicyOption = "cn",
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Write the incident report (timeline, evidence, inclusion proofs); marks it reported."""
    with incident_store(policy, db, data_dir) as store:
        incident = store.step(ident, "report", note=f"report written to {out}")
        report = build_report(incident, store.ledger)
        paths = write_report(report, out, store.ledger)
    for path in paths:
        console.print(f"wrote {escape(str(path))}")
    late = [c["clock"] for c in report["clocks"] if c["state"] == "late"]
    if late:
        console.print(f"[yellow]reported after the deadline of: {', '.join(late)}[/]")
