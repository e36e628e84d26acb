"""``hegui label``: AI-content labels (GB 45438) in files: add, check, propagate."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from hegui.audit import AuditError, Keyring, PublicKey, SigningKey
from hegui.cli._common import EXIT_ERROR, EXIT_FINDINGS, console, err_console, fail, policy_or_exit
from hegui.policy import LabelSpec
from hegui.trace import (
    C2paSigner,
    Explicit,
    FileCheck,
    FileLabeler,
    LabeledFile,
    TraceError,
    load_public_keys,
    load_signing_key,
)

app = typer.Typer(help="AI-content labels (GB 45438) in files and text.", no_args_is_help=True)

FilesArg = Annotated[list[Path], typer.Argument(help="Files to label or check.")]
PolicyOption = Annotated[str, typer.Option("--policy", help="Policy pack name or folder.")]
KeyOption = Annotated[
    Path | None,
    typer.Option(
        "--key",
        help="Signing key: a key file from `hegui audit keygen`, or a key folder (active key).",
    ),
]


def _spec(policy: str) -> LabelSpec:
    spec = policy_or_exit(policy).labels
    if spec is None:
        fail(f"policy {escape(policy)!r} has no label spec")
    return spec


def _signer(path: Path | None) -> SigningKey | None:
    if path is None:
        return None
    try:
        if path.is_dir():
            signer = Keyring.load(path).signer
            if signer is None:
                fail(f"{escape(str(path))}: no active signing key")
            return signer
        return load_signing_key(path)
    except (AuditError, TraceError) as exc:
        fail(escape(str(exc)))


def _public_keys(paths: list[Path]) -> list[PublicKey]:
    try:
        return [key for path in paths for key in load_public_keys(path)]
    except TraceError as exc:
        fail(escape(str(exc)))


def _written_table(done: list[LabeledFile], title: str) -> Table:
    table = Table(title=title)
    for column in ("File", "Format", "ProduceID", "Propagator", "Signed by", "Notice"):
        table.add_column(column)
    for item in done:
        label = item.label
        signed = label.reserved2 if label.reserved1 and not label.propagated else ""
        notice = "drawn" if item.drawn else ("added" if item.explicit_added else "")
        table.add_row(
            escape(str(item.path)),
            item.format,
            label.produce_id,
            label.propagator if label.propagated else "",
            signed or ("signed" if label.propagated and label.reserved2 else ""),
            notice,
        )
    return table


def _c2pa(cert: Path | None, key: Path | None, algorithm: str) -> C2paSigner | None:
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        fail("--c2pa-cert and --c2pa-key go together")
    return C2paSigner(cert, key, algorithm)


@app.command("add")
def add_command(
    files: FilesArg,
    producer: Annotated[str, typer.Option("--producer", help="ContentProducer code.")],
    key: KeyOption = None,
    policy: PolicyOption = "cn",
    produce_id: Annotated[
        str | None, typer.Option("--produce-id", help="ProduceID (one file only).")
    ] = None,
    value: Annotated[str, typer.Option("--label", help="Label value: 1, 2 or 3.")] = "1",
    explicit: Annotated[
        str, typer.Option("--explicit", help="Visible notice: auto (text only), yes, no.")
    ] = "auto",
    language: Annotated[str, typer.Option("--language", help="Notice wording: zh or en.")] = "zh",
    c2pa_cert: Annotated[
        Path | None, typer.Option("--c2pa-cert", help="PEM certificate chain: add C2PA.")
    ] = None,
    c2pa_key: Annotated[
        Path | None, typer.Option("--c2pa-key", help="PEM private key of the C2PA cert.")
    ] = None,
    c2pa_alg: Annotated[str, typer.Option("--c2pa-alg", help="C2PA signature alg.")] = "es256",
    replace: Annotated[
        bool, typer.Option("--replace", help="Overwrite another producer's label.")
    ] = False,
) -> None:
    """Write the signed implicit label into each file (and the notice where asked)."""
    if explicit not in ("auto", "yes", "no"):
        fail(f"--explicit must be auto, yes or no, not {escape(explicit)!r}")
    if language not in ("zh", "en"):
        fail(f"--language must be zh or en, not {escape(language)!r}")
    if produce_id is not None and len(files) > 1:
        fail("--produce-id names one file's content; give one file")
    mode: Explicit = "yes" if explicit == "yes" else ("no" if explicit == "no" else "auto")
    labeler = FileLabeler(_spec(policy), signer=_signer(key))
    signer = _c2pa(c2pa_cert, c2pa_key, c2pa_alg)
    done = _each(
        files,
        lambda path: labeler.add(
            path,
            producer,
            produce_id=produce_id,
            value=value,
            explicit=mode,
            language=language,
            c2pa=signer,
            replace=replace,
        ),
    )
    _finish(done, len(files), "Labels written")


def _each(files: list[Path], action: Callable[[Path], LabeledFile]) -> list[LabeledFile]:
    """Run ``action`` on every file; a file that fails is reported and the batch goes on."""
    done: list[LabeledFile] = []
    for path in files:
        try:
            done.append(action(path))
        except TraceError as exc:
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
    return done


def _finish(done: list[LabeledFile], total: int, title: str) -> None:
    if done:
        console.print(_written_table(done, title))
    console.print(f"{len(done)} of {total} files labeled")
    if len(done) < total:
        raise typer.Exit(EXIT_ERROR)


@app.command("propagate")
def propagate_command(
    files: FilesArg,
    propagator: Annotated[str, typer.Option("--propagator", help="ContentPropagator code.")],
    key: KeyOption = None,
    policy: PolicyOption = "cn",
    propagate_id: Annotated[
        str | None, typer.Option("--propagate-id", help="PropagateID (one file only).")
    ] = None,
) -> None:
    """Add this platform as propagator, keeping the producer's fields and signature."""
    if propagate_id is not None and len(files) > 1:
        fail("--propagate-id names one file's content; give one file")
    labeler = FileLabeler(_spec(policy), signer=_signer(key))
    done = _each(files, lambda path: labeler.propagate(path, propagator, propagate_id=propagate_id))
    _finish(done, len(files), "Labels propagated")


def _signature_text(check: FileCheck) -> str:
    if check.signature is None:
        return "-"
    text: str = check.signature.producer
    if check.signature.propagator is not None:
        text += f" / propagator {check.signature.propagator}"
    return text


def _check_row(check: FileCheck) -> list[str]:
    label = check.label
    fields = "ok" if label is not None and not check.problems else "; ".join(check.problems)
    explicit = {True: "yes", False: "no", None: "-"}[check.explicit]
    return [
        escape(str(check.path)),
        check.format or "?",
        label.label if label is not None else "no",
        escape(fields or "-") if check.error is None else f"[red]{escape(check.error)}[/]",
        _signature_text(check),
        explicit,
        "[green]PASS[/]" if check.ok else "[bold red]FAIL[/]",
    ]


def _check_json(check: FileCheck) -> dict[str, Any]:
    signature = check.signature
    return {
        "path": str(check.path),
        "format": check.format,
        "ok": check.ok,
        "label": check.label.fields() if check.label is not None else None,
        "problems": list(check.problems),
        "signature": None if signature is None else asdict(signature),
        "explicit": check.explicit,
        "source_type": check.source_type,
        "error": check.error,
    }


@app.command("check")
def check_command(
    files: FilesArg,
    keys: Annotated[
        list[Path] | None,
        typer.Option("--key", help="Public key file or folder (repeat); checks signatures."),
    ] = None,
    policy: PolicyOption = "cn",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Read and verify each file's label; exit 1 when any file fails."""
    labeler = FileLabeler(_spec(policy), keys=_public_keys(keys or []))
    checks = [labeler.check(path) for path in files]
    if as_json:
        typer.echo(json.dumps([_check_json(c) for c in checks], ensure_ascii=False, indent=2))
    else:
        table = Table(title="Label check")
        for column in ("File", "Format", "Label", "Fields", "Signature", "Notice", "Result"):
            table.add_column(column)
        for check in checks:
            table.add_row(*_check_row(check))
        console.print(table)
        if not keys:
            console.print("signatures not checked: give the provider's public key with --key")
    failed = sum(not c.ok for c in checks)
    if failed:
        if not as_json:
            console.print(f"{failed} of {len(checks)} files failed")
        raise typer.Exit(EXIT_FINDINGS)
