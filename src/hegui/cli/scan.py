"""``hegui scan``: scan files or standard input with a policy's detectors."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from hegui.cli._common import (
    EXIT_ERROR,
    EXIT_FINDINGS,
    EXIT_OK,
    console,
    err_console,
    fail,
    policy_or_exit,
)
from hegui.detect import LexiconError, Scanner
from hegui.detect._files import FileReport, scan_paths


class Format(StrEnum):
    """Output formats."""

    table = "table"
    json = "json"
    jsonl = "jsonl"


def _rows(report: FileReport) -> list[dict[str, object]]:
    rows = []
    for f in report.findings:
        line, col = report.position(f.start)
        rows.append({"file": report.path, "line": line, "column": col, **f.to_dict()})
    return rows


def scan(
    paths: Annotated[
        list[str] | None, typer.Argument(help="Files to scan; '-' or nothing reads stdin.")
    ] = None,
    policy: Annotated[str, typer.Option("--policy", "-p", help="Policy pack name or path.")] = "cn",
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.table,
    direction: Annotated[
        str, typer.Option(help="Use the detectors for 'input' or 'output' text.")
    ] = "output",
) -> None:
    """Scan text for what the policy forbids; exit 0 clean, 1 findings, 2 error."""
    pol = policy_or_exit(policy)
    if direction not in ("input", "output"):
        fail(f"--direction must be 'input' or 'output', not {direction!r}")
    try:
        scanner = Scanner.from_policy(pol, direction)  # type: ignore[arg-type]
    except (LexiconError, KeyError, ValueError) as exc:
        fail(f"policy {pol.id!r}: {exc}")
    reports = list(scan_paths(scanner, paths or ["-"]))
    rows = [row for r in reports for row in _rows(r)]
    errors = [{"file": r.path, "error": r.error} for r in reports if r.error]
    for e in errors:
        err_console.print(
            f"[bold red]error:[/] {escape(str(e['file']))}: {escape(str(e['error']))}"
        )
    if fmt is Format.jsonl:
        for row in rows:
            typer.echo(json.dumps(row, ensure_ascii=False))
    elif fmt is Format.json:
        doc = {
            "policy": {"id": pol.id, "version": pol.version},
            "files": [
                {"path": r.path, "findings": len(r.findings), "error": r.error} for r in reports
            ],
            "findings": rows,
        }
        typer.echo(json.dumps(doc, ensure_ascii=False, indent=2))
    else:
        _table(rows, pol.id, len(reports))
    raise typer.Exit(EXIT_ERROR if errors else EXIT_FINDINGS if rows else EXIT_OK)


def _table(rows: list[dict[str, object]], policy_id: str, n_files: int) -> None:
    table = Table(title=f"hegui scan — policy {policy_id}", show_lines=False)
    table.add_column("where", overflow="fold")
    for col in ("detector", "risk", "action", "term", "matched"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(
            f"{r['file']}:{r['line']}:{r['column']}",
            str(r["detector"]),
            str(r["risk"]),
            str(r["action"]),
            escape(str(r["term"])),
            escape(repr(r["matched"])),
        )
    if rows:
        console.print(table)
    console.print(f"{len(rows)} finding(s) in {n_files} file(s)")


def register(app: typer.Typer) -> None:
    """Add the command to the root application."""
    app.command("scan")(scan)
