"""``hegui compare``: assessment runs side by side (the bare model and the gateway)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from hegui.assess import CompareError, compare, load_run
from hegui.cli._common import console, fail


def _cell(cell: dict[str, object] | None) -> str:
    if cell is None:
        return "-"
    value = cell["value"]
    shown = f"{value:.3f}" if isinstance(value, float) else str(value)
    if cell["passed"] is None:
        return shown
    return f"{shown} [green]pass[/]" if cell["passed"] else f"{shown} [red]FAIL[/]"


def compare_command(
    runs: Annotated[list[Path], typer.Argument(help="Run folders of `hegui assess --out`.")],
    output: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """Show the checks and verdicts of several assessment runs side by side."""
    if len(runs) < 2:
        fail("give at least two run folders")
    try:
        loaded = [load_run(folder) for folder in runs]
    except CompareError as exc:
        fail(escape(str(exc)))
    rows = compare(loaded)
    if output == "json":
        doc = {
            "runs": [
                {"folder": str(r.folder), "target": r.target, "verdict": r.verdict} for r in loaded
            ],
            "checks": rows,
        }
        typer.echo(json.dumps(doc, ensure_ascii=False, indent=2))
        return
    table = Table("check", *(escape(f"{r.target}\n{r.folder}") for r in loaded))
    for row in rows:
        table.add_row(escape(row["check"]), *(_cell(c) for c in row["runs"]))
    verdicts = [
        "[bold green]PASS[/]" if r.verdict == "pass" else "[bold red]FAIL[/]" for r in loaded
    ]
    table.add_row("[bold]verdict[/]", *verdicts)
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add ``compare`` to the root command."""
    app.command("compare")(compare_command)
