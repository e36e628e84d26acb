"""``hegui assess``: run the pre-release security assessment against a target."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from hegui.assess import SHIPPED_BANKS, BankError, Kind, load_bank
from hegui.assess._llm_judge import LLMJudge
from hegui.assess._runner import Plan, record_run, run_assessment
from hegui.assess._targets import Limits, open_target
from hegui.cli._common import EXIT_FINDINGS, EXIT_OK, console, fail, policy_or_exit


def assess(
    target: Annotated[
        str,
        typer.Option("--target", "-t", help="openai:URL#model, gateway:URL#model, python:mod:fn."),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run directory.")] = Path("runs/assess"),
    bank: Annotated[
        list[str] | None, typer.Option("--bank", "-b", help="Bank files; default: built-in.")
    ] = None,
    policy: Annotated[str, typer.Option("--policy", "-p", help="Policy pack name or path.")] = "cn",
    sample: Annotated[
        int | None, typer.Option(help="Items per bank (default: the pack's minimums).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Sampling and mutator seed.")] = 2026,
    lang: Annotated[list[str] | None, typer.Option(help="Languages to ask in (zh, en).")] = None,
    mutator: Annotated[
        list[str] | None, typer.Option("--mutator", "-m", help="Jailbreak transforms.")
    ] = None,
    concurrency: Annotated[int, typer.Option(help="Requests in flight.")] = 8,
    rpm: Annotated[float | None, typer.Option(help="Requests per minute limit.")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds per request.")] = 60.0,
    max_tokens: Annotated[int, typer.Option(help="Longest answer, in tokens.")] = 512,
    resume: Annotated[bool, typer.Option(help="Skip cases already in records.jsonl.")] = False,
    llm_judge: Annotated[
        str | None, typer.Option(help="Also ask a judge model: URL#model (OpenAI-compatible).")
    ] = None,
    ledger: Annotated[
        bool,
        typer.Option(
            help="Record the run in the audit ledger (HEGUI_DATABASE_URL or the data dir)."
        ),
    ] = False,
) -> None:
    """Ask the target the sampled bank questions, judge, write the evidence; exit 0 pass, 1 fail."""
    pol = policy_or_exit(policy)
    try:
        items = load_bank(bank or [SHIPPED_BANKS])
        limits = Limits(concurrency=concurrency, rpm=rpm, timeout_s=timeout, max_tokens=max_tokens)
        tgt = open_target(target, limits)
        judge_model = LLMJudge(llm_judge) if llm_judge else None
    except (BankError, ValueError) as exc:
        fail(str(exc))
    plan = Plan(
        seed=seed,
        sample=None if sample is None else dict.fromkeys(Kind, sample),
        langs=tuple(lang or ["zh"]),
        mutators=tuple(mutator or []),
    )
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("assessing", total=None)

        def step(advance: int, total: int) -> None:
            bar.update(task, total=total, advance=advance)

        try:
            job = run_assessment(
                target=tgt,
                items=items,
                policy=pol,
                out_dir=out,
                plan=plan,
                resume=resume,
                progress=step,
                llm_judge=judge_model,
            )
            result = asyncio.run(job)
        except KeyError as exc:
            fail(str(exc))
    table = Table(title=f"assessment of {tgt.name} under {pol.id} {pol.version}")
    for col in ("check", "value", "result"):
        table.add_column(col)
    for c in result.summary["checks"]:
        value = "" if c["value"] is None else f"{c['value']:.4g}"
        mark = (
            "[green]pass[/]"
            if c["passed"]
            else ("[red]FAIL[/]" if c["blocking"] else "[yellow]short[/]")
        )
        table.add_row(c["name"], value, mark)
    console.print(table)
    if ledger:
        try:
            console.print(f"recorded: {record_run(result, pol)}")
        except Exception as exc:  # the ledger's own errors name what is wrong
            fail(f"the run finished but could not be recorded in the ledger: {exc}")
    verdict = result.summary["verdict"]
    shown = "[green]PASS[/]" if verdict == "pass" else "[red]FAIL[/]"
    console.print(f"verdict: {shown}  report: {out / 'report.html'}")
    raise typer.Exit(EXIT_OK if result.passed else EXIT_FINDINGS)


def register(app: typer.Typer) -> None:
    """Add the command to the root application."""
    app.command("assess")(assess)
