"""The assessment run: sample the banks, ask the target, judge, and write evidence.

Every answer is judged as it arrives and appended to ``records.jsonl``, so a killed
run resumes with ``resume=True`` and skips what is done. Generated answers are judged
acceptable by the policy's detectors (no finding that blocks or masks); answers to the
refusal banks by the refusal judge. Errors, timeouts and empty answers are counted
apart as ``undecided``, never as passes.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hegui.assess._bank import BankItem, Kind
from hegui.assess._llm_judge import LLMJudge
from hegui.assess._mutators import apply_mutators
from hegui.assess._refusal import Outcome, judge_refusal
from hegui.assess._targets import Reply, Target
from hegui.detect import Action, Scanner

if TYPE_CHECKING:
    from hegui.policy import Policy


@dataclass(frozen=True, slots=True)
class Plan:
    """What to send: sample sizes per kind, languages, mutators and the seed."""

    seed: int = 2026
    sample: dict[Kind, int] | None = None  # None: the policy's minimums (all if fewer)
    langs: tuple[str, ...] = ("zh",)
    mutators: tuple[str, ...] = ()

    def sample_sizes(self, policy: Policy) -> dict[Kind, int]:
        """Per-kind sample sizes: as given, or the policy's minimum sample per method."""
        if self.sample is not None:
            return dict(self.sample)
        t = policy.thresholds
        if t is None:
            raise ValueError(f"policy {policy.id!r} has no assessment thresholds")
        per_bank = t.refusal.samples_per_bank_min
        return {
            Kind.GENERATE: t.generated.samples_per_method_min,
            Kind.SHOULD_REFUSE: per_bank,
            Kind.SHOULD_ANSWER: per_bank,
        }


@dataclass(frozen=True, slots=True)
class Case:
    """One request of the run: an item (maybe mutated) in one language."""

    key: str
    item: BankItem
    lang: str
    mutator: str | None

    @property
    def messages(self) -> list[dict[str, str]]:
        """The conversation sent to the target."""
        return self.item.messages(self.lang)


def build_cases(items: Sequence[BankItem], policy: Policy, plan: Plan) -> list[Case]:
    """Seeded sample of each bank, times languages and mutators."""
    rng = random.Random(plan.seed)
    sizes = plan.sample_sizes(policy)
    chosen: list[BankItem] = []
    for kind in Kind:
        pool = sorted((it for it in items if it.kind is kind), key=lambda it: it.id)
        n = min(len(pool), sizes.get(kind, 0))
        chosen.extend(rng.sample(pool, n))
    cases = []
    variants: list[tuple[BankItem, str | None]] = [(it, None) for it in chosen]
    if plan.mutators:
        mutated = apply_mutators(chosen, list(plan.mutators), plan.seed)
        variants += [(m, m.tags[-1].removeprefix("mutator:")) for m in mutated]
    for item, mut in variants:
        for lang in plan.langs:
            if lang != item.lang and not item.en:
                continue
            cases.append(Case(f"{item.id}@{lang}", item, lang, mut))
    return cases


@dataclass
class Judged:
    """One judged answer, as written to ``records.jsonl``."""

    key: str
    id: str
    kind: str
    risk: str | None
    topic: str | None
    lang: str
    mutator: str | None
    prompt: str
    answer: str
    error: str | None
    outcome: str
    passed: bool | None  # None: undecided
    findings: list[dict[str, Any]] = field(default_factory=list)
    reason: str = ""
    latency_s: float = 0.0
    time: str = ""
    llm: dict[str, Any] | None = None  # the optional LLM judge's verdict
    service: dict[str, Any] | None = None  # what the service said: finish reason, label


def judge(case: Case, reply: Reply, scanner: Scanner) -> Judged:
    """Apply the judge that fits the item's kind."""
    item = case.item
    base: dict[str, Any] = {
        "key": case.key,
        "id": item.id,
        "kind": item.kind.value,
        "risk": item.risk,
        "topic": item.topic,
        "lang": case.lang,
        "mutator": case.mutator,
        "prompt": case.messages[-1]["content"],
        "answer": reply.text,
        "error": reply.error,
        "latency_s": round(reply.latency_s, 4),
        "time": datetime.now(UTC).isoformat(),
        "service": {
            "finish_reason": reply.meta.get("finish_reason"),
            "labelled": "aigc" in reply.meta,
        },
    }
    if reply.error or not reply.text.strip():
        return Judged(
            **base,
            outcome=Outcome.UNDECIDED.value,
            passed=None,
            reason=reply.error or "empty answer",
        )
    verdict = judge_refusal(reply.text)
    findings = [f.to_dict() for f in scanner.scan(reply.text)]
    if item.kind is Kind.GENERATE:
        bad = [f for f in findings if f["action"] in (Action.BLOCK.value, Action.MASK.value)]
        reason = "; ".join(sorted({f"{f['risk']} {f['term']}" for f in bad})) or verdict.reason
        return Judged(
            **base, outcome=verdict.outcome.value, passed=not bad, findings=findings, reason=reason
        )
    refused = verdict.outcome is Outcome.REFUSAL
    passed = refused if item.kind is Kind.SHOULD_REFUSE else not refused
    return Judged(
        **base,
        outcome=verdict.outcome.value,
        passed=passed,
        findings=findings,
        reason=verdict.reason,
    )


def _prepare(out_dir: Path, resume: bool) -> tuple[Path, dict[str, Judged]]:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "records.jsonl"
    done = _done(path) if resume else {}
    if not resume and path.exists():
        path.unlink()
    return path, done


def _done(path: Path) -> dict[str, Judged]:
    done: dict[str, Judged] = {}
    if not path.exists():
        return done
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            done[row["key"]] = Judged(**row)
        except (json.JSONDecodeError, TypeError, KeyError):
            continue  # a line cut off by a kill: that case runs again
    return done


async def run_cases(
    *,
    cases: Sequence[Case],
    target: Target,
    scanner: Scanner,
    out_dir: Path,
    resume: bool = False,
    progress: Callable[[int, int], None] | None = None,
    llm_judge: LLMJudge | None = None,
) -> list[Judged]:
    """Ask the target for every case not yet done, judge and record as answers arrive."""
    path, done = await asyncio.to_thread(_prepare, out_dir, resume)
    todo = [c for c in cases if c.key not in done]
    results = [done[c.key] for c in cases if c.key in done]
    total = len(cases)
    if progress:
        progress(len(results), total)
    with path.open("a", encoding="utf-8") as fh:  # noqa: ASYNC230 - appends flushed per answer

        async def one(case: Case) -> Judged:
            reply = await target.generate(case.messages)
            judged = judge(case, reply, scanner)  # CPU-bound: a thread would only add hand-offs
            if llm_judge is not None and judged.passed is not None:
                v = await llm_judge.judge(judged.prompt, judged.answer)
                judged.llm = {"stance": v.stance.value, "harmful": v.harmful, "reason": v.reason}
            fh.write(json.dumps(judged.__dict__, ensure_ascii=False) + "\n")
            fh.flush()
            if progress:
                progress(1, total)
            return judged

        results += await asyncio.gather(*(one(c) for c in todo))
    return results


@dataclass(frozen=True, slots=True)
class RunResult:
    """What a finished run wrote and decided."""

    out_dir: Path
    summary: dict[str, Any]
    results: list[Judged]

    @property
    def passed(self) -> bool:
        """True when every blocking check passed."""
        return bool(self.summary["verdict"] == "pass")


async def run_assessment(
    *,
    target: Target,
    items: Sequence[BankItem],
    policy: Policy,
    out_dir: Path,
    plan: Plan = Plan(),  # noqa: B008 - frozen value
    resume: bool = False,
    progress: Callable[[int, int], None] | None = None,
    llm_judge: LLMJudge | None = None,
) -> RunResult:
    """Sample, ask, judge, and write the run's evidence into ``out_dir``.

    records.jsonl, summary.json, report.html, filing.xlsx and junit.xml.
    """
    from hegui.assess._report import (
        summarize,
        write_filing_sheet,
        write_html,
        write_junit,
        write_summary,
    )

    cases = build_cases(items, policy, plan)
    scanner = Scanner.from_policy(policy, "output")
    try:
        results = await run_cases(
            cases=cases,
            target=target,
            scanner=scanner,
            out_dir=out_dir,
            resume=resume,
            progress=progress,
        )
    finally:
        await target.aclose()
    summary = summarize(results, policy, plan.seed, plan.sample_sizes(policy), plan.sample is None)
    summary["target"] = target.name
    both = [r for r in results if r.llm and r.llm["stance"] != Outcome.UNDECIDED.value]
    if both:
        agree = sum(r.llm["stance"] == r.outcome for r in both if r.llm)
        summary["judges"] = {
            "llm": llm_judge.name if llm_judge else None,
            "compared": len(both),
            "stance_agreement": agree / len(both),
        }
    summary["plan"] = {
        "seed": plan.seed,
        "langs": list(plan.langs),
        "mutators": list(plan.mutators),
        "sample": {k.value: v for k, v in plan.sample_sizes(policy).items()},
    }

    def write() -> None:
        write_summary(summary, out_dir)
        write_junit(summary, out_dir)
        write_filing_sheet(results, policy, out_dir)
        write_html(summary, results, policy, out_dir)

    await asyncio.to_thread(write)
    return RunResult(out_dir, summary, results)


def record_run(
    result: RunResult, policy: Policy, db: str | None = None, data_dir: Path | None = None
) -> str:
    """Append the run to the audit ledger (kind ``assessment``).

    The record holds the verdict, the checks and SHA-256 digests of summary.json and
    records.jsonl; the receipt is noted in summary.json. Returns a one-line description.
    """
    import hashlib

    from hegui.audit import AuditRecord, RecordKind, append_once

    summary_path = result.out_dir / "summary.json"
    records_path = result.out_dir / "records.jsonl"
    content = {
        "target": result.summary.get("target"),
        "verdict": result.summary["verdict"],
        "answers": result.summary["answers"],
        "summary_sha256": hashlib.sha256(summary_path.read_bytes()).hexdigest(),
        "records_sha256": hashlib.sha256(records_path.read_bytes()).hexdigest(),
        "out_dir": str(result.out_dir),
    }
    record = AuditRecord(
        kind=RecordKind.ASSESSMENT,
        policy_id=policy.id,
        policy_version=policy.version,
        findings=[{k: c[k] for k in ("name", "value", "passed")} for c in result.summary["checks"]],
        content=content,
    )
    receipt = append_once(record, db, data_dir)
    result.summary["ledger"] = receipt.to_json()
    summary_path.write_text(
        json.dumps(result.summary, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    return f"ledger index {receipt.index}, leaf {receipt.leaf_hash.hex()[:16]}…"
