"""``hegui killswitch``: suspend the whole service, open an incident, and resume."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from hegui.cli._common import DataDirOption, DbOption, console
from hegui.cli._control import ClockOption, PolicyOption, control_db, incident_store
from hegui.incidents import KillSwitch, read_switch

app = typer.Typer(help="The kill switch: suspend the whole service.", no_args_is_help=True)
ActorOption = Annotated[str, typer.Option("--actor", help="Who changes it.")]


@app.command("on")
def on_command(
    reason: Annotated[str, typer.Option("--reason", help="Why the service is stopped.")],
    clock: ClockOption = None,
    actor: ActorOption = "operator",
    policy: PolicyOption = "cn",
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Engage: every replica refuses new requests and cuts streams within a second."""
    with incident_store(policy, db, data_dir) as store:
        _, incident = KillSwitch(store).engage(reason, actor=actor, clocks=clock or None)
    console.print(f"[bold red]kill switch ENGAGED[/]: {escape(reason)}")
    console.print(f"incident {incident.id} opened; reporting clocks:")
    for deadline in incident.deadlines:
        console.print(
            f"  {deadline.clock}: due {deadline.due:%Y-%m-%d %H:%M}Z ({deadline.hours:g} h)"
        )


@app.command("off")
def off_command(
    reason: Annotated[str, typer.Option("--reason", help="Why service resumes.")] = "",
    actor: ActorOption = "operator",
    policy: PolicyOption = "cn",
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Release: service resumes; the incident stays open until closed."""
    with incident_store(policy, db, data_dir) as store:
        state = KillSwitch(store).release(reason, actor=actor)
    console.print("kill switch released; service resumes")
    if state.incident_id:
        console.print(f"incident {state.incident_id} stays open: `hegui incidents close` it")


@app.command("status")
def status_command(db: DbOption = None, data_dir: DataDirOption = None) -> None:
    """Show the switch; exit 1 while it is engaged."""
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
