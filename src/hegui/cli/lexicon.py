"""``hegui lexicon``: check a keyword library against a policy's minimums."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from hegui.cli._common import EXIT_FINDINGS, EXIT_OK, console, fail, policy_or_exit
from hegui.detect import LexiconError, load_lexicon
from hegui.detect._coverage import lexicon_coverage

app = typer.Typer(
    help="Keyword libraries (敏感词库): check coverage against a policy.", no_args_is_help=True
)


@app.command("check")
def check(
    files: Annotated[list[str], typer.Argument(help="Keyword library files (CSV or XLSX).")],
    policy: Annotated[str, typer.Option("--policy", "-p", help="Policy pack name or path.")] = "cn",
    mapping: Annotated[
        str | None,
        typer.Option("--mapping", help="(level1, level2) -> risk mapping; default: the policy's."),
    ] = None,
) -> None:
    """Count terms per risk against the pack's minimums; exit 1 when any is short."""
    pol = policy_or_exit(policy)
    if mapping is None and "lexicon" in pol.detectors:
        mapping = pol.detectors["lexicon"].options.get("mapping")
    try:
        lex = load_lexicon(files, mapping, known_risks=pol.risks)
    except LexiconError as exc:
        fail(str(exc))
    cov = lexicon_coverage(lex, pol)
    table = Table(title=f"keyword library vs policy {pol.id}")
    for col in ("risk", "名称", "name", "terms", "minimum", ""):
        table.add_column(col, justify="right" if col in ("terms", "minimum") else "left")
    for r in cov.risks:
        table.add_row(
            r.risk,
            r.name_zh,
            r.name_en,
            str(r.terms),
            str(r.minimum),
            "[green]ok[/]" if r.ok else "[red]short[/]",
        )
    table.add_row(
        "total",
        "",
        "distinct terms",
        str(cov.total),
        str(cov.total_minimum),
        "[green]ok[/]" if cov.total >= cov.total_minimum else "[red]short[/]",
        style="bold",
    )
    console.print(table)
    if cov.ok:
        console.print("[green]The library meets every minimum of the policy.[/]")
        raise typer.Exit(EXIT_OK)
    console.print(
        f"[red]{len(cov.short)} risk(s) below minimum; total {cov.total}/{cov.total_minimum}.[/]"
    )
    raise typer.Exit(EXIT_FINDINGS)
