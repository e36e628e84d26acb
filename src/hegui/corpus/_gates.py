"""The pack's corpus gates: seeded samples, rates with intervals, checks and verdict.

Every number comes from the policy pack's ``corpus`` section (source gate, manual
sample, automated sample); nothing here is a threshold of its own.
"""

from __future__ import annotations

import hashlib
import math
import zlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from hegui.policy import CorpusRules

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]

METHOD_DETECTORS = {"keyword": "lexicon", "classifier": "classifier"}
"""Pack method names (GB/T 45654 wording) -> the hegui detector that implements them."""


def wilson(hits: int, n: int, z: float = 1.96) -> tuple[float | None, float | None]:
    """Wilson score 95% interval of a proportion (``None`` for an empty sample)."""
    if n == 0:
        return None, None
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return round(max(centre - half, 0.0), 6), round(min(centre + half, 1.0), 6)


def seeded_sample(n: int, k: int, seed: int, label: str) -> I64:
    """``min(k, n)`` distinct positions out of ``n``, sorted; the same for the same inputs.

    The generator is seeded with the run's seed and a CRC of ``label`` (a source id),
    so a source's sample does not change when other sources are added or reordered.
    """
    if k >= n:
        return np.arange(n, dtype=np.int64)
    rng = np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(label.encode())]))
    return np.sort(rng.choice(n, size=k, replace=False)).astype(np.int64)


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # 2**64 / golden ratio, odd: spreads line numbers


def _mix64(x: U64) -> U64:
    """The SplitMix64 finaliser (Steele, Lea & Flood 2014), element-wise, wrapping."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def priorities(files: Sequence[str], lines: I64, seed: int, label: str) -> U64:
    """A pseudo-random 64-bit priority for each document, from where it is and the seed.

    A document is named by its input file (as reported, relative to the manifest) and
    its line or row, so its priority does not depend on which shard or worker read it,
    nor on the other documents. The ``k`` documents of lowest priority are a uniform
    random sample of ``k`` without replacement (a bottom-k sample): a worker can keep
    its shard's candidates as it scans, and the sample of the whole corpus is the
    lowest ``k`` of theirs.
    """
    salt = np.random.SeedSequence([seed, zlib.crc32(label.encode())]).generate_state(2, np.uint64)
    names: dict[str, np.uint64] = {}
    for name in dict.fromkeys(files):
        digest = hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest()
        names[name] = np.uint64(int.from_bytes(digest, "little"))
    keys = np.fromiter((names[f] for f in files), dtype=np.uint64, count=len(files))
    with np.errstate(over="ignore"):
        mixed = _mix64(keys ^ salt[0])
        return _mix64(mixed ^ (np.asarray(lines, dtype=np.uint64) * _GOLDEN) ^ salt[1])


def lowest(prio: U64, k: int) -> I64:
    """Positions of the ``min(k, n)`` lowest priorities, in position order.

    Ties (two equal 64-bit values) go to the lower position.
    """
    if k >= len(prio):
        return np.arange(len(prio), dtype=np.int64)
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    kth = np.partition(prio, k - 1)[k - 1]  # the k-th lowest value: a selection, no sort
    below = np.flatnonzero(prio < kth)
    tied = np.flatnonzero(prio == kth)[: k - len(below)]
    return np.sort(np.concatenate([below, tied])).astype(np.int64)


def rate(hits: int, n: int) -> dict[str, Any]:
    """A share with its interval, JSON-ready."""
    low, high = wilson(hits, n)
    return {"value": None if n == 0 else round(hits / n, 6), "ci95": [low, high], "n": n}


def check(
    name: str,
    scope: str,
    value: float | None,
    threshold: float,
    op: str,
    *,
    blocking: bool = True,
    passed: bool | None = None,
) -> dict[str, Any]:
    """One check; ``passed`` is worked out from value and threshold unless given."""
    if passed is None and value is not None:
        passed = value <= threshold if op == "<=" else value >= threshold
    return {
        "name": name,
        "scope": scope,
        "value": value,
        "threshold": threshold,
        "op": op,
        "passed": passed,
        "blocking": blocking,
    }


def source_check(
    source_id: str, rejected: npt.NDArray[np.bool_], rules: CorpusRules, size: int, seed: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The source gate: illegal share of a seeded sample of the source's documents."""
    picked = seeded_sample(len(rejected), size, seed, source_id)
    hits = int(rejected[picked].sum())
    sample = {**rate(hits, len(picked)), "illegal": hits, "positions": len(picked)}
    limit = rules.source_gate.max_illegal_share
    name = f"source {source_id}: illegal share of a {len(picked)}-document sample <= {limit}"
    unread = False if not len(picked) else None  # nothing readable cannot pass (fail closed)
    return sample, check(name, source_id, sample["value"], limit, "<=", passed=unread)


def corpus_checks(
    *,
    rules: CorpusRules,
    docs: int,
    rejected: int,
    unread_records: int,
    detectors: tuple[str, ...],
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The automated check over the whole corpus: coverage, qualified rate, methods."""
    auto = rules.automated_sample
    total = docs + unread_records
    coverage = None if total == 0 else round(docs / total, 6)
    qualified = rate(docs - rejected, docs)
    wanted = [METHOD_DETECTORS.get(m, m) for m in auto.methods]
    missing = [m for m, d in zip(auto.methods, wanted, strict=True) if d not in detectors]
    summary = {
        "checked": docs,
        "coverage": coverage,
        "qualified_rate": qualified,
        "methods_required": list(auto.methods),
        "detectors_used": list(detectors),
        "methods_missing": missing,
    }
    nothing = False if docs == 0 else None  # nothing readable cannot pass (fail closed)
    checks = [
        check(
            f"automated check covers >= {auto.min_share} of the corpus",
            "corpus",
            coverage,
            auto.min_share,
            ">=",
            passed=nothing,
        ),
        check(
            f"automated qualified rate >= {auto.qualified_rate_min}",
            "corpus",
            qualified["value"],
            auto.qualified_rate_min,
            ">=",
            passed=nothing,
        ),
        check(
            f"automated methods include {', '.join(auto.methods)}",
            "corpus",
            None if missing else 1.0,
            1.0,
            ">=",
            blocking=False,
            passed=not missing,
        ),
    ]
    return summary, checks


def manual_checks(
    rules: CorpusRules, population: int, review: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """The manual check: pending until labels are imported, then labeled count and rate."""
    manual = rules.manual_sample
    need = min(manual.min_items, population)
    labeled = None if review is None else review["labeled"]
    value = None if review is None else review["qualified_rate"]["value"]
    return [
        check(f"manual review labels >= {need}", "corpus", labeled, need, ">="),
        check(
            f"manual qualified rate >= {manual.qualified_rate_min}",
            "corpus",
            value,
            manual.qualified_rate_min,
            ">=",
            passed=None
            if review is None
            else (value is not None and value >= manual.qualified_rate_min),
        ),
    ]


def verdict(checks: list[dict[str, Any]]) -> str:
    """``fail`` when a blocking check failed, ``pending`` while one awaits review, else ``pass``."""
    blocking = [c for c in checks if c["blocking"]]
    if any(c["passed"] is False for c in blocking):
        return "fail"
    if any(c["passed"] is None for c in blocking):
        return "pending"
    return "pass"
