"""``hegui keys``: API keys of the gateway's principals, verification and suspension."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from hegui.cli._common import DataDirOption, DbOption, console
from hegui.cli._control import control_db
from hegui.control import KeyStore

app = typer.Typer(help="API keys of the gateway's principals.", no_args_is_help=True)


@app.command("create")
def create_command(
    principal: Annotated[str, typer.Option("--principal", help="Who holds the key.")],
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant or team.")] = "default",
    verified: Annotated[
        bool, typer.Option("--verified", help="Real-name / KYC verification is done.")
    ] = False,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Make a key; the secret is printed once and only its hash is kept."""
    with control_db(db, data_dir) as handle:
        info, secret = KeyStore(handle).create(principal, tenant, verified=verified)
    console.print(f"key {info.key_id} for {escape(principal)} (tenant {escape(tenant)})")
    console.print(secret, soft_wrap=True)
    console.print("[dim]store it now: it cannot be shown again[/]")


@app.command("list")
def list_command(db: DbOption = None, data_dir: DataDirOption = None) -> None:
    """Every key with its principal's verification and suspension."""
    with control_db(db, data_dir) as handle:
        store = KeyStore(handle)
        keys, principals = store.all_keys(), store.principals()
    now = datetime.now(UTC)
    table = Table("key", "principal", "tenant", "created", "state", "verified", "suspended")
    for key in keys:
        who = principals.get(key.principal)
        suspended = "-"
        if who is not None and who.suspended_at(now):
            until = (
                "until lifted"
                if who.suspended_until is None
                else f"until {who.suspended_until:%Y-%m-%d %H:%M}Z"
            )
            suspended = f"{until}: {who.suspended_reason}"
        table.add_row(
            key.key_id,
            escape(key.principal),
            escape(key.tenant),
            f"{key.created:%Y-%m-%d %H:%M}Z",
            "revoked" if key.revoked else "live",
            "yes" if who is not None and who.verified else "no",
            escape(suspended),
        )
    console.print(table)


@app.command("revoke")
def revoke_command(
    key_id: Annotated[str, typer.Argument(help="Key id from `hegui keys list`.")],
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Revoke a key; every gateway replica refuses it within a second."""
    with control_db(db, data_dir) as handle:
        KeyStore(handle).revoke(key_id)
    console.print(f"key {escape(key_id)} revoked")


@app.command("verify")
def verify_command(
    principal: Annotated[str, typer.Argument(help="The principal.")],
    undo: Annotated[bool, typer.Option("--undo", help="Mark as not verified.")] = False,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Record that a principal's real-name or KYC verification is done (or undo it)."""
    with control_db(db, data_dir) as handle:
        KeyStore(handle).set_verified(principal, not undo)
    console.print(f"{escape(principal)}: verified = {not undo}")


@app.command("suspend")
def suspend_command(
    principal: Annotated[str, typer.Argument(help="The principal.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept with the suspension).")],
    hours: Annotated[
        float | None, typer.Option("--hours", help="Length; default: until lifted.")
    ] = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Suspend a principal by hand."""
    with control_db(db, data_dir) as handle:
        KeyStore(handle).suspend(principal, reason, hours)
    console.print(f"{escape(principal)} suspended")


@app.command("lift")
def lift_command(
    principal: Annotated[str, typer.Argument(help="The principal.")],
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Lift a principal's suspension."""
    with control_db(db, data_dir) as handle:
        KeyStore(handle).lift(principal)
    console.print(f"{escape(principal)}: suspension lifted")
