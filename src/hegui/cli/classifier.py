"""``hegui classifier``: train, evaluate and try the n-gram content classifier."""

from __future__ import annotations

import shlex
from typing import Annotated

import typer
from rich.table import Table

from hegui.cli._common import EXIT_FINDINGS, EXIT_OK, console, fail, policy_or_exit
from hegui.detect._classifier import SHIPPED_MODEL
from hegui.detect._classifier_data import train_shipped
from hegui.detect._classifier_features import FeatureParams
from hegui.detect._classifier_model import ClassifierModel, ModelError
from hegui.detect._classifier_rows import DataError, LabelledText, load_label_map, read_labelled
from hegui.detect._classifier_train import TrainConfig, TrainReport, evaluate, train

app = typer.Typer(
    help="Content classifier (分类模型): train, evaluate, score.", no_args_is_help=True
)

TextCol = Annotated[str, typer.Option("--text-col", help="Column holding the text.")]
LabelCol = Annotated[
    str,
    typer.Option("--label-col", help="Label column; several comma-separated are joined by '/'."),
]
LabelMap = Annotated[
    str | None,
    typer.Option("--label-map", help="YAML label -> risk id ('safe' for none)."),
]
Policy = Annotated[str, typer.Option("--policy", "-p", help="Policy pack name or path.")]


def _read(
    files: list[str], text_col: str, label_col: str, label_map: str | None, known: list[str]
) -> list[LabelledText]:
    try:
        mapping = load_label_map(label_map) if label_map else None
        rows: list[LabelledText] = []
        for f in files:
            rows += read_labelled(f, text_col, label_col, mapping, known)
    except DataError as exc:
        fail(str(exc))
    if not rows:
        fail("no labelled rows in the data files")
    return rows


def _figures(title: str, figures: dict[str, float]) -> None:
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in figures.items():
        table.add_row(key, f"{value:g}")
    console.print(table)


@app.command("train")
def train_cmd(
    data: Annotated[
        list[str],
        typer.Option("--data", help="CSV or JSONL files (repeat); with --recipe, one folder."),
    ],
    out: Annotated[str, typer.Option("--out", help="Folder to write the model into.")],
    recipe: Annotated[
        str | None,
        typer.Option(
            "--recipe",
            help="'cn': the shipped model's recipe, reading the public sets under --data.",
        ),
    ] = None,
    text_col: TextCol = "text",
    label_col: LabelCol = "label",
    label_map: LabelMap = None,
    policy: Policy = "cn",
    bits: Annotated[int, typer.Option(help="Hash buckets are 2**bits.")] = 17,
    min_examples: Annotated[int, typer.Option(help="Rarer risks merge into their group.")] = 60,
) -> None:
    """Fit one-vs-rest logistic regression; C and thresholds chosen on out-of-fold scores."""
    pol = policy_or_exit(policy)
    parents = {rid: r.parent for rid, r in pol.risks.items()}
    args = ["hegui", "classifier", "train", *(a for d in data for a in ("--data", d))]
    args += ["--out", out]
    if recipe is not None:
        if recipe != "cn":
            fail(f"unknown recipe {recipe!r}; known: cn")
        if len(data) != 1 or (bits, min_examples, label_map) != (17, 60, None):
            fail("--recipe cn takes one --data folder and fixes its own columns and settings")
        command = shlex.join([*args[:3], "--recipe", recipe, *args[3:]])
        try:
            with console.status("training the cn recipe (several minutes)"):
                model, report, corpus = train_shipped(data[0], parents, command)
        except DataError as exc:
            fail(str(exc))
        for source, n in corpus.sources.items():
            console.print(f"  {source}: {n}")
    else:
        args += ["--text-col", text_col, "--label-col", label_col, "--policy", policy]
        args += ["--label-map", label_map] if label_map else []
        args += ["--bits", str(bits), "--min-examples", str(min_examples)]
        rows = _read(data, text_col, label_col, label_map, list(pol.risks))
        cfg = TrainConfig(features=FeatureParams(bits=bits), min_examples=min_examples)
        info = {"command": shlex.join(args), "data": data, "policy": pol.id}
        try:
            model, report = train(rows, parents, cfg, info=info)
        except DataError as exc:
            fail(str(exc))
    model.save(out)
    _summary(report)
    console.print(f"[green]model written to {out}[/]")


def _summary(report: TrainReport) -> None:
    console.print(f"classes: {', '.join(f'{c} ({n})' for c, n in report.classes.items())}")
    if report.merged:
        console.print(f"merged: {', '.join(f'{r}->{c}' for r, c in report.merged.items())}")
    if report.dropped:
        console.print(f"[yellow]too rare, left out:[/] {', '.join(report.dropped)}")
    console.print(f"C = {report.chosen_c:g}; rows {report.rows}")
    table = Table(title="out-of-fold calibration scores, by source")
    for col in ("source", "rows", "harmful flagged", "safe passed"):
        table.add_column(col)
    for source, fig in report.calibration_by_source.items():
        cells = [f"{fig[k]:.3f}" if k in fig else "" for k in ("harmful_flagged", "safe_passed")]
        table.add_row(source, f"{fig['rows']:g}", *cells)
    console.print(table)
    if report.test:
        _figures("held-out test split", report.test)


@app.command("eval")
def eval_cmd(
    data: Annotated[str, typer.Option("--data", help="CSV or JSONL file with labels.")],
    model: Annotated[str, typer.Option("--model", help="Model folder.")] = str(SHIPPED_MODEL),
    text_col: TextCol = "text",
    label_col: LabelCol = "label",
    label_map: LabelMap = None,
    policy: Policy = "cn",
) -> None:
    """Measure a model on labelled data (whole texts, each as one window)."""
    pol = policy_or_exit(policy)
    rows = _read([data], text_col, label_col, label_map, list(pol.risks))
    try:
        loaded = ClassifierModel.load(model)
    except ModelError as exc:
        fail(str(exc))
    _figures(f"{model} on {data}", evaluate(loaded, rows))


@app.command("score")
def score_cmd(
    text: Annotated[str, typer.Argument(help="Text to score.")],
    model: Annotated[str, typer.Option("--model", help="Model folder.")] = str(SHIPPED_MODEL),
) -> None:
    """Per-risk scores of one text; exit 1 when any reaches its threshold."""
    try:
        loaded = ClassifierModel.load(model)
    except ModelError as exc:
        fail(str(exc))
    scores = loaded.score(text)
    table = Table(title="classifier scores")
    for col in ("risk", "score", "threshold", ""):
        table.add_column(col)
    hit = False
    for (cls, score), limit in zip(scores.items(), loaded.thresholds, strict=True):
        over = score >= limit
        hit |= over
        table.add_row(cls, f"{score:.3f}", f"{limit:.3f}", "[red]over[/]" if over else "")
    console.print(table)
    raise typer.Exit(EXIT_FINDINGS if hit else EXIT_OK)
