"""``hegui judge``: measure the assessment's judges against human labels."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from hegui.assess._bank import BankError
from hegui.assess._judge_eval import evaluate_refusal_judge, labelled_answers
from hegui.cli._common import console, fail

app = typer.Typer(help="Judges: agreement with human labels.", no_args_is_help=True)


@app.command("eval")
def eval_(
    data: Annotated[
        Path, typer.Option("--data", help="CSV/JSONL with answer,label; or JADE v3 CSV.")
    ],
    fmt: Annotated[str, typer.Option("--format", help="auto, jade-v3 or labels.")] = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Agreement of the refusal judge with labelled answers."""
    try:
        score = evaluate_refusal_judge(labelled_answers(data, fmt))
    except BankError as exc:
        fail(str(exc))
    except KeyError as exc:
        fail(f"{data}: missing column {exc}")
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "accuracy": score.accuracy,
                    "total": score.total,
                    "per_label": score.per_label,
                    "confusion": score.confusion,
                },
                ensure_ascii=False,
            )
        )
        return
    table = Table(title=f"refusal judge on {data.name}")
    for col in ("label", "agree", "of", "outcomes"):
        table.add_column(col)
    for label, (good, total) in sorted(score.per_label.items()):
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(score.confusion[label].items()))
        table.add_row(label, str(good), str(total), outcomes)
    console.print(table)
    console.print(f"accuracy {score.accuracy:.3f} ({score.correct}/{score.total})")
