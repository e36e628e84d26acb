"""``hegui killswitch``: suspend the whole service, open an incident, and resume."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from hegui.cli._common import DataDirOption, DbOption, console, fail, policy_or_exit
from hegui.cli._control import control_db, evidence_ledger
from hegui.incidents import IncidentError, IncidentStore, KillSwitch

app = typer.Typer(help="The kill switch: suspend the whole service.", no_args_is_help=True)

PolicyOption = Annotated[str, typer.Option("--policy", help="Policy pack (incident clocks).")]


@app.command("on")
def on_command(
    reason: Annotated[str, typer.Option("--reason", help="Why the service is stopped.")],
    clock: Annotated[
        list[str] | None,
        typer.Option("--clock", help="Clock id that applies (repeat); default all."),
    ] = None,
    actor: Annotated[str, typer.Option("--actor", help="Who engages it.")] = "operator",
    policy: PolicyOption = "cn",
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Engage: every replica refuses new requests and cuts streams within a second."""
    pack = policy_or_exit(policy)
    with control_db(db, data_dir) as handle, evidence_ledger(db, data_dir) as ledger:
        switch = KillSwitch(IncidentStore(handle, pack, ledger))
        try:
            _, incident = switch.engage(reason, actor=actor, clocks=clock or None)
        except IncidentError as exc:
            fail(escape(str(exc)))
    console.print(f"[bold red]kill switch ENGAGED[/]: {escape(reason)}")
    console.print(f"incident {incident.id} opened; reporting clocks:")
    for deadline in incident.deadlines:
        console.print(
            f"  {deadline.clock}: due {deadline.due:%Y-%m-%d %H:%M}Z ({deadline.hours:g} h)"
        )


@app.command("off")
def off_command(
    reason: Annotated[str, typer.Option("--reason", help="Why service resumes.")] = "",
    actor: Annotated[str, typer.Option("--actor", help="Who releases it.")] = "operator",
    policy: PolicyOption = "cn",
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Release: service resumes; the incident stays open until closed."""
    pack = policy_or_exit(policy)
    with control_db(db, data_dir) as handle, evidence_ledger(db, data_dir) as ledger:
        try:
            state = KillSwitch(IncidentStore(handle, pack, ledger)).release(reason, actor=actor)
        except IncidentError as exc:
            fail(escape(str(exc)))
    console.print("kill switch released; service resumes")
    if state.incident_id:
        console.print(f"incident {state.incident_id} stays open: `hegui incidents close` it")


@app.command("status")
def status_command(db: DbOption = None, data_dir: DataDirOption = None) -> None:
    """Show the switch; exit 1 while it is engaged."""
    from hegui.incidents import read_switch

    with control_db(db, data_dir) as handle:
        state = read_switch(handle)
    if not state.engaged:
        console.print("kill switch: off")
        return
    when = f"{state.changed:%Y-%m-%d %H:%M:%S}Z" if state.changed else "?"
    console.print(
        f"[bold red]kill switch: ENGAGED[/] since {when} by {escape(state.actor)}:"
        f" {escape(state.reason)} (incident {state.incident_id})"
    )
    raise typer.Exit(1)
