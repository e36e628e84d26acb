"""The ``hegui`` console script: one module per command group, each thin."""

from __future__ import annotations

import typer

from hegui import __version__
from hegui.cli import (
    assess,
    audit,
    bank,
    classifier,
    compare,
    corpus,
    incidents,
    judge,
    keys,
    killswitch,
    label,
    lexicon,
    policy,
    scan,
    serve,
    watermark,
)

app = typer.Typer(
    name="hegui",
    help="hegui (合规): compliance engine for generative-AI services.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"hegui {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Hegui (合规): compliance engine for generative-AI services."""


app.add_typer(policy.app, name="policy")
app.add_typer(lexicon.app, name="lexicon")
app.add_typer(bank.app, name="bank")
app.add_typer(judge.app, name="judge")
app.add_typer(audit.app, name="audit")
app.add_typer(classifier.app, name="classifier")
app.add_typer(keys.app, name="keys")
app.add_typer(killswitch.app, name="killswitch")
app.add_typer(incidents.app, name="incidents")
app.add_typer(label.app, name="label")
app.add_typer(watermark.app, name="watermark")
app.add_typer(corpus.app, name="corpus")
scan.register(app)
assess.register(app)
compare.register(app)
serve.register(app)


def main() -> None:
    """Entry point of the console script."""
    app()
