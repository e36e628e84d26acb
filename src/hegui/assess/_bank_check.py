"""How banks measure up to a policy: sizes, per-risk minimums, topics, near-duplicates."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hegui.assess._bank import BankItem, Kind

if TYPE_CHECKING:
    from hegui.policy import Policy

NEAR_DUPLICATE = 0.8  # character 3-gram Jaccard at or above which two prompts count as one
_COMMON_GRAM = 300  # grams in more prompts than this do not propose candidate pairs


@dataclass(frozen=True, slots=True)
class Shortfall:
    """One minimum a bank does not meet."""

    kind: str
    what: str
    have: int
    need: int


@dataclass(frozen=True, slots=True)
class BankReport:
    """Counts per kind and risk or topic, what is short, and near-duplicate pairs."""

    totals: dict[str, int]
    per_risk: dict[str, dict[str, int]]
    per_topic: dict[str, int]
    shortfalls: tuple[Shortfall, ...]
    near_duplicates: tuple[tuple[str, str, float], ...]
    max_similarity: float
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """True when every minimum is met and no two prompts are near-duplicates."""
        return not self.shortfalls and not self.near_duplicates


def _grams(text: str) -> set[str]:
    t = "".join(text.split()).lower()
    return {t[i : i + 3] for i in range(max(len(t) - 2, 1))}


def near_duplicates(
    items: Sequence[BankItem], threshold: float = NEAR_DUPLICATE
) -> tuple[list[tuple[str, str, float]], float]:
    """Pairs of items whose prompts share at least ``threshold`` of their 3-grams.

    Candidate pairs come from an inverted index of grams (very common grams are left
    out of the index but still count in the similarity), so banks of thousands of
    items are checked in seconds. Also returns the highest similarity of any pair.
    """
    grams = [_grams(it.text) for it in items]
    postings: dict[str, list[int]] = defaultdict(list)
    for i, g in enumerate(grams):
        for gram in g:
            postings[gram].append(i)
    pairs: list[tuple[str, str, float]] = []
    best = 0.0
    for i, g in enumerate(grams):
        shared: Counter[int] = Counter()
        for gram in g:
            plist = postings[gram]
            if len(plist) <= _COMMON_GRAM:
                shared.update(j for j in plist if j > i)
        for j in shared:
            inter = len(g & grams[j])
            sim = inter / (len(g) + len(grams[j]) - inter)
            best = max(best, sim)
            if sim >= threshold:
                pairs.append((items[i].id, items[j].id, round(sim, 3)))
    return pairs, best


def check_bank(
    items: Sequence[BankItem], policy: Policy, threshold: float = NEAR_DUPLICATE
) -> BankReport:
    """Compare a bank with the policy's minimums (GB/T 45654 in ``cn``)."""
    totals = Counter(it.kind.value for it in items)
    per_risk: dict[str, dict[str, int]] = defaultdict(dict)
    for it in items:
        if it.risk:
            per_risk[it.kind.value][it.risk] = per_risk[it.kind.value].get(it.risk, 0) + 1
    per_topic = Counter(it.topic or "(none)" for it in items if it.kind is Kind.SHOULD_ANSWER)
    short: list[Shortfall] = []
    notes: list[str] = []
    unknown = sorted({it.risk for it in items if it.risk and it.risk not in policy.risks})
    if unknown:
        notes.append(f"risk IDs not in policy {policy.id!r}: {', '.join(unknown)}")
    banks = policy.banks
    if banks is not None:
        leaves = [r.id for r in policy.leaf_risks()]
        for kind, rules, bank_name in (
            (Kind.GENERATE, banks.generation, "generation"),
            (Kind.SHOULD_REFUSE, banks.should_refuse, "should_refuse"),
        ):
            if totals[kind.value] < rules.total_min:
                short.append(Shortfall(kind.value, "total", totals[kind.value], rules.total_min))
            for rid in leaves:
                need = policy.bank_minimum(bank_name, rid)  # type: ignore[arg-type]
                have = per_risk[kind.value].get(rid, 0)
                if have < need:
                    short.append(Shortfall(kind.value, rid, have, need))
        answer = banks.should_answer
        if totals[Kind.SHOULD_ANSWER.value] < answer.total_min:
            short.append(
                Shortfall(
                    Kind.SHOULD_ANSWER.value,
                    "total",
                    totals[Kind.SHOULD_ANSWER.value],
                    answer.total_min,
                )
            )
        for topic in answer.topics:
            if not per_topic.get(topic.id):
                short.append(Shortfall(Kind.SHOULD_ANSWER.value, f"topic {topic.id}", 0, 1))
    dupes, best = near_duplicates(items, threshold)
    return BankReport(
        totals=dict(totals),
        per_risk={k: dict(v) for k, v in per_risk.items()},
        per_topic=dict(per_topic),
        shortfalls=tuple(short),
        near_duplicates=tuple(dupes),
        max_similarity=best,
        notes=tuple(notes),
    )
