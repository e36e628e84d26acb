"""``hegui audit``: keys, verification, retention, legal holds and regulator exports."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.markup import escape
from rich.table import Table

from hegui.audit import (
    SCHEMES,
    AuditError,
    Ledger,
    Scheme,
    SigningKey,
    export_range,
    hold,
    open_ledger,
    purge,
    verify_export,
    write_key,
)
from hegui.cli._common import (
    EXIT_ERROR,
    DataDirOption,
    DbOption,
    console,
    err_console,
    fail,
    policy_or_exit,
)

app = typer.Typer(
    help="Tamper-evident audit ledger: verify, purge, hold, export.", no_args_is_help=True
)


def _open(db: str | None, data_dir: Path | None, *, need_signer: bool = False) -> Ledger:
    try:
        return open_ledger(db, data_dir, need_signer=need_signer)
    except AuditError as exc:
        fail(escape(str(exc)))


def _parse_time(text: str, option: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        fail(f"{option}: {escape(text)!r} is not an ISO 8601 date or time")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _bad(message: str) -> NoReturn:
    err_console.print(f"[bold red]FAILED[/] {escape(message)}", soft_wrap=True)
    raise typer.Exit(EXIT_ERROR)


@app.command("keygen")
def keygen_command(
    out: Annotated[Path, typer.Option("--out", help="Key directory (e.g. <data dir>/keys).")],
    scheme: Annotated[str, typer.Option("--scheme", help="ed25519 or sm2-sm3.")] = "ed25519",
) -> None:
    """Make a signing key and make it active; older public keys stay for old heads."""
    if scheme not in SCHEMES:
        fail(f"--scheme must be one of {', '.join(SCHEMES)}, not {escape(scheme)!r}")
    chosen: Scheme = "ed25519" if scheme == "ed25519" else "sm2-sm3"
    key = SigningKey.generate(chosen)
    path = write_key(key, out)
    console.print(f"key {key.key_id} ({chosen}) written to {escape(str(path))}, now active")


@app.command("verify")
def verify_command(db: DbOption = None, data_dir: DataDirOption = None) -> None:
    """Check every leaf, root and signed head; name the first bad index."""
    with _open(db, data_dir) as ledger:
        report = ledger.verify()
    if not report.ok:
        _bad(f"first bad index {report.first_bad_index}: {report.reason}")
    console.print(
        f"OK {report.tree_size} records, {report.heads_checked} signed heads, "
        f"{report.purged} purged"
    )


@app.command("stats")
def stats_command(db: DbOption = None, data_dir: DataDirOption = None) -> None:
    """Print counts and the latest signed head."""
    with _open(db, data_dir) as ledger:
        stats = ledger.stats()
        head = ledger.store.latest_head()
        url = ledger.store.url
    table = Table(title=f"audit ledger {escape(url)}", show_header=False)
    table.add_row("records", str(stats.tree_size))
    table.add_row("purged", str(stats.purged))
    table.add_row("legal holds", str(stats.held))
    table.add_row("signed heads", str(stats.heads))
    table.add_row("oldest", str(stats.oldest or "-"))
    table.add_row("newest", str(stats.newest or "-"))
    if head is not None:
        table.add_row("root", head.root_hash.hex())
        table.add_row("key", f"{head.key_id} ({head.scheme})")
    console.print(table)


@app.command("purge")
def purge_command(
    policy: Annotated[str, typer.Option("--policy", help="Pack that sets the retention.")],
    months: Annotated[
        int | None, typer.Option("--months", help="Retention; default the pack's default.")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only show what would go.")] = False,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Drop content older than the retention, keeping leaf hashes and legal holds."""
    pack = policy_or_exit(policy)
    with _open(db, data_dir) as ledger:
        try:
            plan = purge(ledger, pack, months=months, dry_run=dry_run)
        except AuditError as exc:
            fail(escape(str(exc)))
    verb = "would purge" if dry_run else "purged"
    count = len(plan.indices) if dry_run else plan.purged
    console.print(
        f"{verb} {count} records older than {plan.cutoff:%Y-%m-%d} ({plan.months} months); "
        f"{plan.held} under legal hold kept"
    )


@app.command("hold")
def hold_command(
    indices: Annotated[list[int], typer.Argument(help="Record indices to hold.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (case number...).")] = "legal hold",
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Put records under legal hold: no purge removes them."""
    with _open(db, data_dir) as ledger:
        try:
            hold(ledger, indices, reason)
        except AuditError as exc:
            fail(escape(str(exc)))
    console.print(f"held {len(indices)} records")


@app.command("export")
def export_command(
    start: Annotated[str, typer.Option("--from", help="ISO start (inclusive, UTC if bare).")],
    end: Annotated[str, typer.Option("--to", help="ISO end (exclusive).")],
    out: Annotated[Path, typer.Option("--out", help="New folder for the export.")],
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Write records of a time range with a signed head, proofs, keys and a README."""
    first, last = _parse_time(start, "--from"), _parse_time(end, "--to")
    with _open(db, data_dir) as ledger:
        try:
            count = export_range(ledger, first, last, out)
        except AuditError as exc:
            fail(escape(str(exc)))
    console.print(f"exported {count} records to {escape(str(out))}")


@app.command("verify-export")
def verify_export_command(
    folder: Annotated[Path, typer.Argument(help="An export folder.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check an export offline, using only the folder."""
    report = verify_export(folder)
    if as_json:
        typer.echo(json.dumps(report.__dict__, indent=2))
    if not report.ok:
        for problem in report.problems[:20]:
            err_console.print(f"[bold red]FAILED[/] {escape(problem)}", soft_wrap=True)
        raise typer.Exit(EXIT_ERROR)
    if not as_json:
        console.print(
            f"OK {report.records} records ({report.purged} purged) proven in the signed "
            f"tree of {report.tree_size}"
        )
