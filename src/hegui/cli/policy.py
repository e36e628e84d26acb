"""``hegui policy``: list, show and validate policy packs."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, NoReturn

import typer
import yaml
from rich.markup import escape
from rich.table import Table

from hegui.cli._common import EXIT_ERROR, console, err_console
from hegui.policy import PolicyError, list_packs, load_policy

app = typer.Typer(
    help="Policy packs: the rules as data (cn, eu, us, or your own pack.yaml).",
    no_args_is_help=True,
)


class OutputFormat(StrEnum):
    """How ``show`` prints a pack."""

    YAML = "yaml"
    JSON = "json"


def _fail(error: PolicyError) -> NoReturn:
    for problem in error.problems:
        err_console.print(f"[bold red]error:[/] {escape(str(problem))}", soft_wrap=True)
    raise typer.Exit(code=EXIT_ERROR)


@app.command("list")
def list_command() -> None:
    """List the packs shipped with hegui."""
    try:
        packs = list_packs()
    except PolicyError as error:
        _fail(error)
    table = Table(title="Shipped policy packs")
    for column in ("id", "version", "name", "path"):
        table.add_column(column)
    for pack in packs:
        name = escape(f"{pack.name.en}\n{pack.name.zh}")
        table.add_row(pack.id, escape(pack.version), name, escape(str(pack.path)))
    console.print(table)


@app.command("show")
def show_command(
    name_or_path: Annotated[str, typer.Argument(help="Shipped pack name or path to a pack.")],
    output: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="Output format.")
    ] = OutputFormat.YAML,
) -> None:
    """Print a pack after ``extends`` is merged and paths are resolved."""
    try:
        data = load_policy(name_or_path).to_dict()
    except PolicyError as error:
        _fail(error)
    if output is OutputFormat.JSON:
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        typer.echo(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), nl=False)


@app.command("validate")
def validate_command(
    path: Annotated[str, typer.Argument(help="Path to a pack.yaml or its folder (or a name).")],
) -> None:
    """Check a pack; exit 2 and name the file and field of every problem if it is broken."""
    try:
        policy = load_policy(path)
    except PolicyError as error:
        _fail(error)
    leaves = len(policy.leaf_risks())
    typer.echo(
        f"OK {policy.id} {policy.version}: {len(policy.risks)} risks ({leaves} leaf), "
        f"{len(policy.detectors)} detectors ({policy.source})"
    )
