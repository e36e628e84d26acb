"""``hegui corpus``: training-corpus governance: scan, gate, evidence."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from hegui.cli._common import EXIT_FINDINGS, EXIT_OK, console, err_console, fail
from hegui.corpus import (
    DedupParams,
    DiffError,
    Executor,
    ExecutorError,
    ManifestError,
    ReviewError,
    RunDirError,
    RunResult,
    ScanOptions,
    apply_review,
    diff_runs,
    load_manifest,
    make_executor,
    record_run,
    scan_corpus,
    write_template,
)
from hegui.corpus._plan import discover
from hegui.policy import PolicyError

app = typer.Typer(help="Training-corpus governance: scan, gate, evidence.", no_args_is_help=True)
review_app = typer.Typer(help="The manual check: import reviewers' labels.", no_args_is_help=True)
app.add_typer(review_app, name="review")


def _manifest_fail(exc: PolicyError) -> NoReturn:
    """Print every problem found, in file order, then exit 2."""
    *first, last = exc.problems
    for problem in first:
        err_console.print(f"[bold red]error:[/] {escape(str(problem))}", soft_wrap=True)
    fail(escape(str(last)))


@app.command("init")
def init_command(
    path: Annotated[Path, typer.Argument(help="Where to write the manifest.")] = Path(
        "corpus.yaml"
    ),
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented manifest template to fill in."""
    try:
        write_template(path, force=force)
    except FileExistsError as exc:
        fail(escape(str(exc)))
    console.print(f"wrote {escape(str(path))}; fill it in, then: hegui corpus validate {path}")


@app.command("validate")
def validate_command(
    manifest: Annotated[Path, typer.Argument(help="The manifest (YAML).")],
) -> None:
    """Check a manifest and list each source's files; exit 0 valid, 2 invalid."""
    try:
        found = discover(load_manifest(manifest), manifest)
    except PolicyError as exc:
        _manifest_fail(exc)
    table = Table(title=f"{escape(str(manifest))}: valid")
    for col in ("source", "files", "formats", "MB", "licence", "legal basis"):
        table.add_column(col)
    by: dict[str, list[Any]] = {}
    for src, path, _, fmt in found:
        by.setdefault(src.id, [src, [], set()])
        by[src.id][1].append(Path(path).stat().st_size)
        by[src.id][2].add(fmt)
    for sid, (src, sizes, fmts) in by.items():
        mb = f"{sum(sizes) / 1e6:,.1f}"
        row = [sid, str(len(sizes)), ", ".join(sorted(fmts)), mb, src.license, src.legal_basis]
        table.add_row(*map(escape, row))
    console.print(table)


def _detectors(value: str | None) -> tuple[str, ...] | None:
    if value is None or value.strip() in ("", "all"):
        return None
    return tuple(v.strip() for v in value.split(",") if v.strip())


def _progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )


def _print_result(summary: dict[str, Any], out: Path) -> None:
    table = Table(title=f"{summary['corpus']['name']} {summary['corpus']['version']}")
    for col in ("source", "docs", "MB", "rejected", "sample illegal", "gate", "dup exact/near"):
        table.add_column(col)
    for s in summary["sources"]:
        d = s["duplicates"]
        table.add_row(
            escape(s["id"]),
            f"{s['docs']:,}",
            f"{s['bytes'] / 1e6:,.1f}",
            f"{s['status']['rejected']:,}",
            _pct(s["sample"]["value"]),
            "[green]pass[/]" if s["gate"]["passed"] else "[red]FAIL[/]",
            f"{d['exact_within'] + d['exact_across']}/{d['near_within'] + d['near_across']}",
        )
    console.print(table)
    _print_checks(summary)
    unread = summary["unread"]
    if unread["records"] or unread["files"]:
        console.print(
            f"[yellow]could not read[/] {unread['records']} record(s), {unread['files']} "
            f"file(s): {escape(json.dumps(unread['problems']))}; see {out / 'problems.jsonl'}"
        )
    shown = {"pass": "[green]PASS[/]", "fail": "[red]FAIL[/]"}.get(
        summary["verdict"], "[yellow]PENDING manual review[/]"
    )
    console.print(f"verdict: {shown}  report: {escape(str(out / 'report.html'))}")
    if summary["verdict"] == "pending":
        console.print(
            f"fill in {escape(str(out / 'review.xlsx'))}, then: "
            f"hegui corpus review import {escape(str(out))} LABELS.xlsx"
        )


def _print_checks(summary: dict[str, Any]) -> None:
    table = Table(title="checks")
    for col in ("check", "value", "result"):
        table.add_column(col)
    for c in summary["checks"]:
        value = "" if c["value"] is None else f"{c['value']:.4g}"
        if c["passed"] is None:
            mark = "[yellow]pending[/]"
        elif c["passed"]:
            mark = "[green]pass[/]"
        else:
            mark = "[red]FAIL[/]" if c["blocking"] else "[yellow]short[/]"
        table.add_row(escape(c["name"]), value, mark)
    console.print(table)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.2f}%"


def _exit_for(summary: dict[str, Any]) -> NoReturn:
    raise typer.Exit(EXIT_FINDINGS if summary["verdict"] == "fail" else EXIT_OK)


def _run_scan(manifest: Path, out: Path, options: ScanOptions, runner: Executor) -> RunResult:
    """scan_corpus with a progress bar (bytes hashed, then bytes scanned); errors exit 2."""
    with _progress_bar() as bar:
        hashing = bar.add_task("hashing inputs", total=None)
        scanning = bar.add_task("scanning", total=None, visible=False)

        def step(stage: str, done: int, total: int) -> None:
            if stage == "hash":
                bar.update(hashing, completed=done)
            else:
                bar.update(hashing, visible=False)
                bar.update(scanning, completed=done, total=total, visible=True)

        try:
            return scan_corpus(manifest, out, options, runner, step)
        except (ManifestError, PolicyError) as exc:
            _manifest_fail(exc)
        except (RunDirError, ExecutorError, KeyError, ValueError, OSError) as exc:
            fail(escape(str(exc).strip("'\"")))


@app.command("scan")
def scan_command(
    manifest: Annotated[Path, typer.Argument(help="The manifest (YAML).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run directory.")] = Path("runs/corpus"),
    policy: Annotated[str, typer.Option("--policy", "-p", help="Policy pack name or path.")] = "cn",
    detectors: Annotated[
        str | None,
        typer.Option(help="Comma-separated detectors, e.g. lexicon,pii (default: all enabled)."),
    ] = None,
    executor: Annotated[str, typer.Option(help="local (processes) or ray.")] = "local",
    processes: Annotated[
        int | None, typer.Option(help="Processes or Ray workers (default: all cores).")
    ] = None,
    address: Annotated[str | None, typer.Option(help="Ray cluster address (ray only).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of every sample.")] = 2026,
    shard_mb: Annotated[float, typer.Option(help="Target shard size in MiB.")] = 64.0,
    source_sample: Annotated[
        int | None, typer.Option(help="Documents sampled per source (default: the pack's).")
    ] = None,
    manual_sample: Annotated[
        int | None, typer.Option(help="Documents in the review sheet (default: the pack's).")
    ] = None,
    near_threshold: Annotated[
        float, typer.Option(help="Jaccard similarity from which documents are near-duplicates.")
    ] = 0.7,
    minhash: Annotated[
        str,
        typer.Option(
            help="MinHash signatures: oph (one permutation hashing, fast) or rensa (classic)."
        ),
    ] = "oph",
    fresh: Annotated[bool, typer.Option(help="Discard an earlier run in --out.")] = False,
    ledger: Annotated[bool, typer.Option(help="Record the run in the audit ledger.")] = False,
    db: Annotated[
        str | None, typer.Option("--db", envvar="HEGUI_DATABASE_URL", help="Ledger database.")
    ] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Ledger data directory.")] = None,
) -> None:
    """Scan a corpus, apply the pack's gates, write the evidence; exit 0 pass, 1 fail."""
    try:
        options = ScanOptions(
            policy=policy,
            detectors=_detectors(detectors),
            seed=seed,
            shard_mb=shard_mb,
            dedup=DedupParams(threshold=near_threshold, method=minhash),
            source_sample=source_sample,
            manual_sample=manual_sample,
            fresh=fresh,
        )
        runner = make_executor(executor, processes, address)
    except (ValueError, ExecutorError) as exc:
        fail(escape(str(exc)))
    result = _run_scan(manifest, out, options, runner)
    _print_result(result.summary, out)
    console.print(
        f"{result.shards_run} of {result.shards_total} shard(s) scanned"
        + (" (resumed)" if result.resumed else "")
        + f" in {result.seconds:.1f}s"
    )
    if ledger:
        try:
            console.print(f"recorded: {record_run(out, db, data_dir)}")
        except Exception as exc:  # the ledger's own errors name what is wrong
            fail(f"the run finished but could not be recorded in the ledger: {escape(str(exc))}")
    _exit_for(result.summary)


@review_app.command("import")
def review_import_command(
    run: Annotated[Path, typer.Argument(help="The run directory of hegui corpus scan.")],
    labels: Annotated[Path, typer.Argument(help="The filled-in review sheet (.xlsx).")],
) -> None:
    """Read reviewers' labels, compute the manual qualified rate, decide again."""
    try:
        summary = apply_review(run, labels)
    except (ReviewError, RunDirError, PolicyError) as exc:
        fail(escape(str(exc)))
    manual = summary["manual"]
    console.print(
        f"{manual['labeled']} of {manual['sample_size']} labeled; qualified "
        f"{_pct(manual['qualified_rate']['value'])}; agreement with the automated verdict "
        f"{_pct(manual['agreement']['rate'])}"
    )
    _print_checks(summary)
    shown_verdict = "[green]PASS[/]" if summary["verdict"] == "pass" else "[red]FAIL[/]"
    console.print(f"verdict: {shown_verdict}  report: {escape(str(run / 'report.html'))}")
    _exit_for(summary)


@app.command("diff")
def diff_command(
    run_a: Annotated[Path, typer.Argument(help="The older run directory.")],
    run_b: Annotated[Path, typer.Argument(help="The newer run directory.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the full diff as JSON.")] = False,
) -> None:
    """What changed between two corpus runs; exit 0 same data, 1 data or terms changed."""
    try:
        diff = diff_runs(run_a, run_b)
    except DiffError as exc:
        fail(escape(str(exc)))
    if as_json:
        typer.echo(json.dumps(diff, ensure_ascii=False, indent=2))
    else:
        _print_diff(diff)
    raise typer.Exit(EXIT_FINDINGS if diff["new_filing_suggested"] else EXIT_OK)


def _print_diff(diff: dict[str, Any]) -> None:
    a, b = diff["a"], diff["b"]
    console.print(f"{escape(a['name'])} {escape(a['version'])} -> {escape(b['version'])}")
    for sid in diff["sources_added"]:
        console.print(f"[green]+ source {escape(sid)}[/]")
    for sid in diff["sources_removed"]:
        console.print(f"[red]- source {escape(sid)}[/]")
    table = Table()
    for col in ("source", "docs", "MB", "files +/-/changed", "rejected share", "terms changed"):
        table.add_column(col)
    for sid, d in diff["sources"].items():
        files = f"{len(d['files_added'])}/{len(d['files_removed'])}/{len(d['files_changed'])}"
        share = " -> ".join(_pct(v) for v in d["rejected_share"])
        table.add_row(
            escape(sid),
            f"{d['docs'][0]:,} -> {d['docs'][1]:,}",
            f"{d['bytes'][0] / 1e6:,.1f} -> {d['bytes'][1] / 1e6:,.1f}",
            files,
            share,
            escape(", ".join(d["terms_changed"])) or "–",
        )
    console.print(table)
    verdict = "yes" if diff["new_filing_suggested"] else "no"
    console.print(f"training data changed: {diff['data_changed']}; new filing suggested: {verdict}")
