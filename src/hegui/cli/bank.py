"""``hegui bank``: check question banks against a policy, import public sets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from hegui.assess import (
    IMPORTERS,
    SHIPPED_BANKS,
    BankError,
    BankReport,
    Columns,
    Kind,
    check_bank,
    import_generic,
    load_bank,
    write_bank,
)
from hegui.cli._common import EXIT_FINDINGS, EXIT_OK, console, fail, policy_or_exit
from hegui.policy import Policy

app = typer.Typer(help="Question banks: coverage checks and importers.", no_args_is_help=True)


@app.command("check")
def check(
    paths: Annotated[
        list[str] | None, typer.Argument(help="Bank files or folders; default: the built-in banks.")
    ] = None,
    policy: Annotated[str, typer.Option("--policy", "-p", help="Policy pack name or path.")] = "cn",
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Report bank sizes per risk and topic against the pack's minimums; exit 1 when short."""
    pol = policy_or_exit(policy)
    try:
        items = load_bank(paths or [SHIPPED_BANKS])
    except BankError as exc:
        fail(str(exc))
    report = check_bank(items, pol)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "policy": pol.id,
                    "totals": report.totals,
                    "per_risk": report.per_risk,
                    "per_topic": report.per_topic,
                    "max_similarity": report.max_similarity,
                    "near_duplicates": report.near_duplicates,
                    "shortfalls": [
                        {"kind": s.kind, "what": s.what, "have": s.have, "need": s.need}
                        for s in report.shortfalls
                    ],
                    "notes": report.notes,
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        _print(report, pol)
    raise typer.Exit(EXIT_OK if report.ok else EXIT_FINDINGS)


def _print(report: BankReport, pol: Policy) -> None:
    short = {(s.kind, s.what): s for s in report.shortfalls}
    table = Table(title=f"question banks vs policy {pol.id}")
    for col in ("risk", "名称", "generate", "should_refuse"):
        table.add_column(col)
    for risk in pol.leaf_risks():
        cells = []
        for kind, bank in ((Kind.GENERATE, "generation"), (Kind.SHOULD_REFUSE, "should_refuse")):
            have = report.per_risk.get(kind.value, {}).get(risk.id, 0)
            need = pol.bank_minimum(bank, risk.id)  # type: ignore[arg-type]
            mark = "[red]" if (kind.value, risk.id) in short else ""
            cells.append(f"{mark}{have}/{need}")
        table.add_row(risk.id, risk.name_zh, *cells)
    totals = [f"{report.totals.get(k.value, 0)}" for k in (Kind.GENERATE, Kind.SHOULD_REFUSE)]
    table.add_row("total", "", *totals, style="bold")
    console.print(table)
    topics = ", ".join(f"{t}: {n}" for t, n in sorted(report.per_topic.items()))
    console.print(
        f"should_answer: {report.totals.get(Kind.SHOULD_ANSWER.value, 0)} items ({topics})"
    )
    console.print(f"highest similarity between two prompts: {report.max_similarity:.2f}")
    for note in report.notes:
        console.print(f"[yellow]note:[/] {note}")
    for a, b, sim in report.near_duplicates[:20]:
        console.print(f"[red]near-duplicate[/] {a} ~ {b} ({sim:.2f})")
    if len(report.near_duplicates) > 20:
        console.print(f"... and {len(report.near_duplicates) - 20} more near-duplicate pairs")
    for s in report.shortfalls:
        if s.kind == Kind.SHOULD_ANSWER.value or s.what == "total":
            console.print(f"[red]short[/] {s.kind} {s.what}: {s.have} of {s.need}")
    if report.ok:
        console.print("[green]The banks meet every minimum of the policy.[/]")
    else:
        console.print(
            f"[red]{len(report.shortfalls)} minimum(s) not met, "
            f"{len(report.near_duplicates)} near-duplicate pair(s).[/]"
        )


@app.command("import")
def import_(
    fmt: Annotated[str, typer.Argument(help="xstest, jade, flames or generic.")],
    source: Annotated[Path, typer.Argument(help="The public file to import (read by path).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="JSONL bank to write.")],
    prompt_col: Annotated[str, typer.Option(help="generic: prompt column.")] = "prompt",
    id_col: Annotated[str, typer.Option(help="generic: id column.")] = "id",
    risk_col: Annotated[str, typer.Option(help="generic: risk column.")] = "risk",
    kind: Annotated[str | None, typer.Option(help="generic: kind of every item.")] = None,
    lang: Annotated[str, typer.Option(help="generic: language.")] = "zh",
) -> None:
    """Convert a public question set into a hegui bank file."""
    try:
        if fmt == "generic":
            items = list(
                import_generic(
                    source,
                    Columns(prompt=prompt_col, id=id_col, risk=risk_col),
                    Kind(kind) if kind else None,
                    lang,
                )
            )
        elif fmt in IMPORTERS:
            items = list(IMPORTERS[fmt](source))
        else:
            fail(f"unknown format {fmt!r}: use one of {', '.join([*IMPORTERS, 'generic'])}")
    except BankError as exc:
        fail(str(exc))
    except ValueError as exc:
        fail(f"{source}: {exc}")
    write_bank(items, out)
    console.print(f"wrote {len(items)} items to {out}")
