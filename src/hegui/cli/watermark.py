"""``hegui watermark``: keyed green-list text watermarks: make a key, detect in a text."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from hegui.cli._common import EXIT_FINDINGS, console, fail
from hegui.trace import (
    DEFAULT_FPR,
    WatermarkDetector,
    WatermarkError,
    WatermarkKey,
    WatermarkParams,
    load_tokenizer,
)

app = typer.Typer(
    help="Text watermarks: make a key, detect a keyed green-list watermark.", no_args_is_help=True
)


@app.command("keygen")
def keygen_command(
    out: Annotated[Path, typer.Option("--out", help="Key file to write (mode 0600).")],
    gamma: Annotated[
        float, typer.Option("--gamma", help="Green share of the vocabulary.")
    ] = WatermarkParams.gamma,
    delta: Annotated[
        float, typer.Option("--delta", help="Logit bias of green tokens when sampling.")
    ] = WatermarkParams.delta,
    context_width: Annotated[
        int, typer.Option("--context-width", help="Previous tokens that seed the green list.")
    ] = WatermarkParams.context_width,
    greedy_delta: Annotated[
        float, typer.Option("--greedy-delta", help="Logit bias when decoding greedily.")
    ] = WatermarkParams.greedy_delta,
) -> None:
    """Make a secret watermark key; the file also records gamma, both deltas and the width."""
    try:
        key = WatermarkKey.generate(WatermarkParams(gamma, delta, context_width, greedy_delta))
        key.write(out)
    except FileExistsError:
        fail(f"{escape(str(out))} exists; a key is never overwritten")
    except (WatermarkError, OSError) as exc:
        fail(escape(str(exc)))
    console.print(f"watermark key {key.key_id} written to {escape(str(out))}")


def _read_text(text: str) -> str:
    if text == "-":
        return sys.stdin.read()
    if text.startswith("@"):
        path = Path(text[1:])
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            fail(f"{escape(str(path))}: cannot read: {escape(str(exc))}")
    return text


@app.command("detect")
def detect_command(
    text: Annotated[str, typer.Argument(help="The text; @FILE reads a file, - reads stdin.")],
    tokenizer: Annotated[
        str,
        typer.Option("--tokenizer", help="local:smollm2, a .gguf, a tokenizer.json or a folder."),
    ],
    key_file: Annotated[Path, typer.Option("--key-file", help="Watermark key file.")],
    fpr: Annotated[
        float,
        typer.Option(
            "--fpr", help="False-positive rate: found when the exact p-value is at most this."
        ),
    ] = DEFAULT_FPR,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Score a text for the watermark; exit 0 when found, 1 when not."""
    content = _read_text(text)
    try:
        key = WatermarkKey.load(key_file)
        detector = WatermarkDetector(key, load_tokenizer(tokenizer), fpr=fpr)
        result = detector.detect(content)
    except WatermarkError as exc:
        fail(escape(str(exc)))
    if as_json:
        typer.echo(json.dumps(result.to_json(), indent=2))
    else:
        table = Table(title="Watermark detection", show_header=False)
        for name, value in result.to_json().items():
            table.add_row(name, f"{value:.4g}" if isinstance(value, float) else str(value))
        console.print(table)
        verdict = "watermark found" if result.detected else "no watermark"
        console.print(f"{verdict}: z = {result.z:.2f}, p = {result.p_value:.3g}")
    if not result.detected:
        raise typer.Exit(EXIT_FINDINGS)
