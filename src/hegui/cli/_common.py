"""Helpers every command group shares: consoles, policy loading, error exits."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from hegui.policy import Policy, PolicyError, load_policy

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2

DbOption = Annotated[
    str | None,
    typer.Option("--db", envvar="HEGUI_DATABASE_URL", help="postgresql://... or SQLite path."),
]
DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data directory (audit.db, keys/); default: user data dir."),
]


def fail(message: str) -> NoReturn:
    """Print an error to stderr and exit with the error code."""
    err_console.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    raise typer.Exit(EXIT_ERROR)


def policy_or_exit(name: str) -> Policy:
    """Load a policy pack, or exit 2 naming the file and field that is wrong."""
    try:
        return load_policy(name)
    except PolicyError as exc:
        fail(str(exc))
